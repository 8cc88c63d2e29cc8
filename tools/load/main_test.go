package main

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestModes serves one item request and one missing-item request through
// every mode and checks what each mode's server reports: the statuses the
// load process expects, and the audit events each mode is meant to emit.
func TestModes(t *testing.T) {
	for _, k := range []string{"OTEL_LOGS_EXPORTER", "SECAUDIT_LOG_OK_RESPONSES", "SECAUDIT_SAMPLE_RATE"} {
		t.Setenv(k, "")
	}
	defer func(v string) { *rateLimit = v }(*rateLimit)
	*rateLimit = "100/1m"
	// Events per mode for one 200 and one 404.
	wantEvents := map[string]uint64{
		"bare": 0, "slog": 0, "otelhttp": 0,
		"otelhttp+secaudit": 2, "secaudit": 2, "secaudit-simple": 2,
		"secaudit-default": 1, "otelhttp+secaudit-default": 1,
		"sdklog-floor": 2, "otelhttp+passthrough": 0,
		"secaudit-block": 2, "secaudit-block-default": 1, "secaudit-ratelimit": 1,
		"setup-default": 1, "otelhttp+setup-default": 1,
	}
	if len(wantEvents) != len(allModes) {
		t.Fatalf("modes %v, table covers %d", allModes, len(wantEvents))
	}
	for _, mode := range allModes {
		t.Run(mode, func(t *testing.T) {
			want, ok := wantEvents[mode]
			if !ok {
				t.Fatalf("mode %q not in the table", mode)
			}
			h, stop, err := buildMode(mode, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			for path, status := range map[string]int{itemPath: http.StatusOK, missingPath: http.StatusNotFound} {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
				if w.Code != status {
					t.Errorf("GET %s: %d, want %d", path, w.Code, status)
				}
			}
			var rep serverReport
			if stop != nil {
				if err := stop(context.Background(), &rep); err != nil {
					t.Fatal(err)
				}
			}
			if rep.Emitted != want || rep.Exported != want || rep.Dropped != 0 {
				t.Errorf("report %+v, want %d events emitted and exported", rep, want)
			}
		})
	}
	if _, _, err := buildMode("nonsense", t.TempDir()); err == nil {
		t.Error("an unknown mode was accepted")
	}
}

func TestQuantileBounds(t *testing.T) {
	for _, d := range []time.Duration{time.Microsecond, 37 * time.Microsecond, time.Millisecond, 1234567 * time.Nanosecond, 80 * time.Millisecond} {
		var h histogram
		h[bucket(d)]++
		got := h.quantile(0.5)
		us := float64(d) / 1e3
		if got < us || got >= us*1.19 {
			t.Errorf("%v reported as %.1f µs, want within [%.1f, %.1f)", d, got, us, us*1.19)
		}
	}
	var h histogram
	for i := 1; i <= 100; i++ {
		h[bucket(time.Duration(i)*time.Millisecond)]++
	}
	if p50, p99 := h.quantile(0.5), h.quantile(0.99); p50 < 50e3 || p50 >= 51e3*1.19 || p99 < 99e3 || p99 >= 100e3*1.19 {
		t.Errorf("p50 %.0f µs, p99 %.0f µs for 1..100 ms", p50, p99)
	}
	if (&histogram{}).quantile(0.5) != 0 {
		t.Error("an empty histogram has a quantile")
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		give []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.give); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.give, got, tt.want)
		}
	}
}

func TestRoundOrder(t *testing.T) {
	modes := []string{"a", "b", "c"}
	tests := []struct {
		round int
		want  []string
	}{
		{1, []string{"a", "b", "c"}},
		{2, []string{"b", "c", "a"}},
		{3, []string{"c", "a", "b"}},
		{4, []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		if got := roundOrder(modes, tt.round); !slices.Equal(got, tt.want) {
			t.Errorf("roundOrder(round %d) = %v, want %v", tt.round, got, tt.want)
		}
	}
	if !slices.Equal(modes, []string{"a", "b", "c"}) {
		t.Errorf("roundOrder changed its argument: %v", modes)
	}
	if got := roundOrder(nil, 3); len(got) != 0 {
		t.Errorf("roundOrder(nil) = %v", got)
	}
}

func TestPairedRatios(t *testing.T) {
	runs := []run{
		{Mode: "bare", Round: 1, RPS: 100},
		{Mode: "x", Round: 1, RPS: 90},
		{Mode: "x", Round: 2, RPS: 40}, // bare did not run in round 2
		{Mode: "bare", Round: 3, RPS: 50},
		{Mode: "x", Round: 3, RPS: 50},
	}
	got := pairedRatios(runs, "x", "bare")
	if want := []float64{0.9, 1}; !slices.Equal(got, want) {
		t.Errorf("pairedRatios = %v, want %v", got, want)
	}
}

func TestQuartiles(t *testing.T) {
	tests := []struct {
		give   []float64
		q1, q3 float64
	}{
		{nil, 0, 0},
		{[]float64{7}, 7, 7},
		{[]float64{2, 1}, 1, 2},
		{[]float64{5, 1, 3, 2, 4}, 1.5, 4.5},
		{[]float64{8, 1, 7, 2, 6, 3, 5, 4}, 2.5, 6.5},
	}
	for _, tt := range tests {
		if q1, q3 := quartiles(tt.give); q1 != tt.q1 || q3 != tt.q3 {
			t.Errorf("quartiles(%v) = %v, %v, want %v, %v", tt.give, q1, q3, tt.q1, tt.q3)
		}
	}
}

func TestReadPerfCounts(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, text string
		want       map[string]uint64
		wantErr    bool
	}{
		{
			name: "counted",
			text: "# started on Sun Nov 22 14:00:00 2026\n\n1000,,instructions,2000,100.00,,\n1500,,cycles,2000,100.00,,\n",
			want: map[string]uint64{"instructions": 1000, "cycles": 1500},
		},
		{
			name: "modifiers dropped",
			text: "1000,,instructions:u,2000,100.00,,\n1500,,cycles:u,2000,100.00,,\n",
			want: map[string]uint64{"instructions": 1000, "cycles": 1500},
		},
		{name: "not counted", text: "<not counted>,,instructions,0,0.00,,\n", wantErr: true},
		{name: "not supported", text: "<not supported>,,cycles,0,0.00,,\n", wantErr: true},
		{name: "no instructions", text: "1500,,cycles,2000,100.00,,\n", wantErr: true},
		{name: "empty", text: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".csv")
			if err := os.WriteFile(path, []byte(tt.text), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := readPerfCounts(path)
			if (err != nil) != tt.wantErr {
				t.Fatalf("readPerfCounts: %v, %v; want error %v", got, err, tt.wantErr)
			}
			if !tt.wantErr && !maps.Equal(got, tt.want) {
				t.Errorf("readPerfCounts = %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := readPerfCounts(filepath.Join(dir, "missing.csv")); err == nil {
		t.Error("a missing file read without error")
	}
}

// TestRateLimitMode: in secaudit-ratelimit, the requests beyond the limit
// are answered 429 with Retry-After before the handler; the first refusal
// of the window is an event, the others quiet, and the server reports both.
func TestRateLimitMode(t *testing.T) {
	defer func(v string) { *rateLimit = v }(*rateLimit)
	*rateLimit = "2/1h"
	h, stop, err := buildMode("secaudit-ratelimit", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{http.StatusOK, http.StatusOK, http.StatusTooManyRequests, http.StatusTooManyRequests, http.StatusTooManyRequests} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, itemPath, nil))
		if w.Code != want {
			t.Errorf("request %d: %d, want %d", i+1, w.Code, want)
		}
		if want == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
			t.Errorf("request %d: 429 without Retry-After", i+1)
		}
	}
	var rep serverReport
	if err := stop(context.Background(), &rep); err != nil {
		t.Fatal(err)
	}
	// The OK responses are not audited (defaults); the first refusal is,
	// and the shutdown emits the security.rate_limited summary of the two
	// quiet ones (the window has not ended).
	if rep.Refused != 3 || rep.Quiet != 2 || rep.Emitted != 2 || rep.Exported != 2 || rep.Dropped != 0 {
		t.Errorf("report %+v, want 3 refused, 2 quiet, 2 records exported (an event and a summary)", rep)
	}
}

func TestParseRateLimit(t *testing.T) {
	tests := []struct {
		give    string
		n       int
		per     time.Duration
		wantErr bool
	}{
		{give: "100/1m", n: 100, per: time.Minute},
		{give: "5/s", n: 5, per: time.Second},
		{give: "7/250ms", n: 7, per: 250 * time.Millisecond},
		{give: "100", wantErr: true},
		{give: "0/1m", wantErr: true},
		{give: "x/1m", wantErr: true},
		{give: "10/fortnight", wantErr: true},
		{give: "10/-1m", wantErr: true},
	}
	for _, tt := range tests {
		n, per, err := parseRateLimit(tt.give)
		if (err != nil) != tt.wantErr || n != tt.n || per != tt.per {
			t.Errorf("parseRateLimit(%q) = %d, %v, %v; want %d, %v, error %v", tt.give, n, per, err, tt.n, tt.per, tt.wantErr)
		}
	}
}

func TestReadCachegrind(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, text string
		want       uint64
		wantErr    bool
	}{
		{name: "summary", text: "desc: I1 cache: none\ncmd: ./x -serve bare\nevents: Ir\nfl=a.go\nfn=main\n1 5\nsummary: 123456789\n", want: 123456789},
		{name: "no summary", text: "events: Ir\n", wantErr: true},
		{name: "empty summary", text: "summary:\n", wantErr: true},
		{name: "not a number", text: "summary: lots\n", wantErr: true},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, tt.name)
		if err := os.WriteFile(path, []byte(tt.text), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readCachegrind(path)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: readCachegrind = %d, %v; want %d, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
	if _, err := readCachegrind(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file read without error")
	}
}

func TestPickCounterRejectsUnknown(t *testing.T) {
	if _, err := pickCounter("sometimes", t.TempDir()); err == nil {
		t.Error("-counter=sometimes accepted")
	}
}
