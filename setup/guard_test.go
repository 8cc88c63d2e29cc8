package setup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/detect/guard"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/setup"
)

// fakeClock is the guard's clock, moved by the test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestPipelineGuard: with blocking on, five failed logins of alice from
// one address through the pipeline's Auditor lock out that pair (the
// sixth CheckLogin is refused, bob and other addresses are not); an
// address blocked from Go is answered 429 by the middleware before the
// handler, and served again after the block's duration.
func TestPipelineGuard(t *testing.T) {
	clearEnv(t)
	clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	var out syncBuffer
	p, err := setup.New(context.Background(), setup.WithJSONLWriter(&out),
		setup.WithGuardOptions(guard.WithEnabled(true), guard.WithClock(clk.now)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	g := p.Guard()
	if !g.Enabled() {
		t.Fatal("guard not enabled by WithGuardOptions")
	}

	const addr = "203.0.113.7"
	req := &secaudit.Request{ID: strings.Repeat("ab", 16), ClientAddress: addr, Method: "POST", Path: "/login"}
	ctx := secaudit.ContextWithRequest(context.Background(), req)
	for i := range 5 {
		if d := g.CheckLogin("alice", addr); d.Blocked {
			t.Fatalf("login %d refused before the lockout", i+1)
		}
		p.Auditor().LoginFailed(ctx, secaudit.User{Name: "alice"}, "bad_password")
	}
	for _, tt := range []struct {
		user, addr string
		refused    bool
	}{
		{"alice", addr, true},
		{"bob", addr, false},
		{"alice", "198.51.100.2", false},
	} {
		if d := g.CheckLogin(tt.user, tt.addr); d.Blocked != tt.refused {
			t.Errorf("CheckLogin(%s, %s) = %+v, want refused %v", tt.user, tt.addr, d, tt.refused)
		}
	}

	// An address block from Go, enforced by the middleware.
	const blockedAddr = "198.51.100.9"
	if err := g.Block(context.Background(), guard.ScopeAddress, guard.Subject{Address: blockedAddr}, time.Minute, "test"); err != nil {
		t.Fatal(err)
	}
	m, err := instrumentation.New(instrumentation.WithoutEnv(), instrumentation.WithAuditor(p.Auditor()),
		instrumentation.WithGuard(g))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	h := m.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls++ }))
	serve := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/api/accounts/1", nil)
		r.RemoteAddr = blockedAddr + ":5000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := serve(); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "60" || calls != 0 {
		t.Fatalf("blocked address: status %d, Retry-After %q, handler calls %d", w.Code, w.Header().Get("Retry-After"), calls)
	}
	clk.advance(time.Minute)
	if w := serve(); w.Code != http.StatusOK || calls != 1 {
		t.Fatalf("after the block's duration: status %d, handler calls %d", w.Code, calls)
	}

	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	out.mu.Lock()
	lines := jsonlLines(t, bytes.Clone(out.buf.Bytes()))
	out.mu.Unlock()
	count := map[string]int{}
	var refusal map[string]any
	for _, l := range lines {
		name, _ := l["event_name"].(string)
		count[name]++
		if name == "http.response.client_error" {
			refusal = l
		}
	}
	if count["security.block.applied"] != 2 || count["security.block.lifted"] != 1 {
		t.Errorf("block records %v, want 2 applied (brute_force, manual) and 1 lifted", count)
	}
	if refusal == nil || attrOf(refusal, "security_rule.name") != guard.RuleManual || attrOf(refusal, "audit.block.scope") != "address" {
		t.Errorf("the 429's event: %v", refusal)
	}
}

// With blocking off (the default) nothing is refused, and the health
// report shows the guard's counters.
func TestPipelineGuardOffByDefault(t *testing.T) {
	clearEnv(t)
	t.Setenv("SECAUDIT_BLOCK", "true")
	p, err := setup.New(context.Background(), setup.WithoutEnv(), setup.WithJSONLWriter(&syncBuffer{}))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	if p.Guard().Enabled() {
		t.Fatal("WithoutEnv: SECAUDIT_BLOCK read")
	}
	if err := p.Guard().Block(context.Background(), guard.ScopeAddress, guard.Subject{Address: "203.0.113.1"}, time.Minute, ""); err == nil {
		t.Error("Block with blocking off succeeded")
	}
	var nilPipeline *setup.Pipeline
	if nilPipeline.Guard() != nil {
		t.Error("nil Pipeline has a guard")
	}
	w := httptest.NewRecorder()
	p.HealthHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if !strings.Contains(w.Body.String(), `"blocking": {`) || !strings.Contains(w.Body.String(), `"refused": 0`) {
		t.Errorf("health report without the guard's counters:\n%s", w.Body.String())
	}
}

// The guard reads SECAUDIT_BLOCK* unless WithoutEnv is given; a bad value
// fails setup.New naming the variable.
func TestPipelineGuardEnv(t *testing.T) {
	for _, tt := range []struct {
		name, block, duration string
		noEnv                 bool
		on                    bool
		want                  time.Duration
		err                   string
	}{
		{name: "default", want: 15 * time.Minute},
		{name: "on", block: "true", duration: "2m", on: true, want: 2 * time.Minute},
		{name: "WithoutEnv", block: "true", duration: "2m", noEnv: true, want: 15 * time.Minute},
		{name: "bad duration", block: "true", duration: "soon", err: "SECAUDIT_BLOCK_DURATION"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			if tt.block != "" {
				t.Setenv("SECAUDIT_BLOCK", tt.block)
				t.Setenv("SECAUDIT_BLOCK_DURATION", tt.duration)
			}
			opts := []setup.Option{setup.WithJSONLWriter(io.Discard)}
			if tt.noEnv {
				opts = append(opts, setup.WithoutEnv())
			}
			p, err := setup.New(context.Background(), opts...)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one naming %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown(context.Background())
			if g := p.Guard(); g.Enabled() != tt.on || g.Duration() != tt.want {
				t.Errorf("enabled %v, duration %v; want %v, %v", g.Enabled(), g.Duration(), tt.on, tt.want)
			}
		})
	}
}

// TestHealthShowsRateLimit: the health report counts the rate limit's
// refusals, those after the first of a window (quiet) among them.
func TestHealthShowsRateLimit(t *testing.T) {
	clearEnv(t)
	p, err := setup.New(context.Background(), setup.WithoutEnv(), setup.WithJSONLWriter(io.Discard),
		setup.WithGuardOptions(guard.WithRateLimit(1, time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Shutdown(context.Background()) }()
	m, err := instrumentation.New(instrumentation.WithAuditor(p.Auditor()), instrumentation.WithoutEnv(),
		instrumentation.WithGuard(p.Guard()))
	if err != nil {
		t.Fatal(err)
	}
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	codes := []int{}
	for range 4 {
		w := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/accounts/1", nil)
		req.RemoteAddr = "203.0.113.7:4711"
		h.ServeHTTP(w, req)
		codes = append(codes, w.Code)
	}
	if want := []int{200, 429, 429, 429}; !slices.Equal(codes, want) {
		t.Fatalf("status codes %v, want %v", codes, want)
	}
	w := httptest.NewRecorder()
	p.HealthHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/healthz/audit", nil))
	var rep struct {
		Detection struct {
			Blocking struct {
				RateLimited int64 `json:"rate_limited"`
				RateQuiet   int64 `json:"rate_quiet"`
			} `json:"blocking"`
		} `json:"detection"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if b := rep.Detection.Blocking; b.RateLimited != 3 || b.RateQuiet != 2 {
		t.Errorf("health blocking %+v, want 3 rate-limited, 2 of them quiet\n%s", b, w.Body)
	}
	if strings.Contains(w.Body.String(), "203.0.113.7") {
		t.Error("the health report shows the address")
	}
}

// TestHealthShowsQuietBlockRefusals: the refusals of a blocked address
// after the first of its minute are counted quiet in the health report
// (they have no event each, only a security.rate_limited summary), and the
// report names no address.
func TestHealthShowsQuietBlockRefusals(t *testing.T) {
	clearEnv(t)
	p, err := setup.New(context.Background(), setup.WithoutEnv(), setup.WithJSONLWriter(io.Discard),
		setup.WithGuardOptions(guard.WithEnabled(true)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Shutdown(context.Background()) }()
	if err := p.Guard().Block(context.Background(), guard.ScopeAddress, guard.Subject{Address: "203.0.113.7"}, time.Hour, "manual"); err != nil {
		t.Fatal(err)
	}
	m, err := instrumentation.New(instrumentation.WithAuditor(p.Auditor()), instrumentation.WithoutEnv(),
		instrumentation.WithGuard(p.Guard()))
	if err != nil {
		t.Fatal(err)
	}
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	for range 4 {
		w := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/accounts/1", nil)
		req.RemoteAddr = "203.0.113.7:4711"
		h.ServeHTTP(w, req)
		if w.Code != http.StatusTooManyRequests {
			t.Fatalf("status %d, want 429", w.Code)
		}
	}
	w := httptest.NewRecorder()
	p.HealthHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/healthz/audit", nil))
	var rep struct {
		Detection struct {
			Blocking struct {
				Refused      int64 `json:"refused"`
				RefusedQuiet int64 `json:"refused_quiet"`
			} `json:"blocking"`
		} `json:"detection"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if b := rep.Detection.Blocking; b.Refused != 4 || b.RefusedQuiet != 3 {
		t.Errorf("health blocking %+v, want 4 refused, 3 of them quiet\n%s", b, w.Body)
	}
	if strings.Contains(w.Body.String(), "203.0.113.7") {
		t.Error("the health report shows the address")
	}
}
