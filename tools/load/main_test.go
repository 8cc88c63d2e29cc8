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
	// Events per mode for one 200 and one 404.
	wantEvents := map[string]uint64{
		"bare": 0, "slog": 0, "otelhttp": 0,
		"otelhttp+secaudit": 2, "secaudit": 2, "secaudit-simple": 2,
		"secaudit-default": 1, "otelhttp+secaudit-default": 1,
		"sdklog-floor": 2, "otelhttp+passthrough": 0,
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
