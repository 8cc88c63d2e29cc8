package instrumentation

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secaudit/secaudit/semconv"
)

// fakeGuard refuses the addresses it holds, for the time given.
type fakeGuard struct {
	blocked map[string]time.Duration
	calls   atomic.Int64
}

func (g *fakeGuard) RefuseAddress(addr string) (bool, time.Duration, string, string) {
	g.calls.Add(1)
	d, ok := g.blocked[addr]
	if !ok {
		return false, 0, "", ""
	}
	return true, d, "scanner", "address"
}

func TestGuardRefusesBlockedAddressesBeforeTheHandler(t *testing.T) {
	g := &fakeGuard{blocked: map[string]time.Duration{
		"203.0.113.7": 90*time.Second + time.Millisecond, // rounded up: 91
		"203.0.113.8": 10 * time.Millisecond,             // at least 1
	}}
	tests := []struct {
		name, remote, path string
		wantStatus         int
		wantRetry          string
		wantCalled         bool
		wantEvent          bool
	}{
		{"blocked address", "203.0.113.7:4000", "/api/x", http.StatusTooManyRequests, "91", false, true},
		{"block ending soon", "203.0.113.8:4000", "/api/x", http.StatusTooManyRequests, "1", false, true},
		{"other address", "198.51.100.1:4000", "/api/x", http.StatusOK, "", true, false},
		{"ignored path", "203.0.113.7:4000", "/healthz", http.StatusOK, "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, false, WithGuard(g), WithIgnorePaths("^/healthz$"))
			called := false
			next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { called = true })
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			req.RemoteAddr = tt.remote
			w := h.serve(next, req)
			if w.Code != tt.wantStatus || called != tt.wantCalled {
				t.Fatalf("status %d, handler called %v; want %d, %v", w.Code, called, tt.wantStatus, tt.wantCalled)
			}
			if got := w.Header().Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("Retry-After %q, want %q", got, tt.wantRetry)
			}
			recs := h.records()
			if !tt.wantEvent {
				if len(recs) != 0 {
					t.Fatalf("%d records, want none", len(recs))
				}
				return
			}
			if len(recs) != 1 || recs[0].EventName != semconv.EventHTTPResponseClientError {
				t.Fatalf("records %v, want one client_error", recs)
			}
			if rule, _ := str(recs[0], semconv.SecurityRuleNameKey); rule != "scanner" {
				t.Errorf("security_rule.name %q, want scanner", rule)
			}
			if scope, _ := str(recs[0], semconv.AuditBlockScopeKey); scope != "address" {
				t.Errorf("audit.block.scope %q, want address", scope)
			}
			if h.m.Stats().Blocked != 1 {
				t.Errorf("Stats().Blocked = %d, want 1", h.m.Stats().Blocked)
			}
		})
	}
}

// An ignored path never asks the guard; without a guard nothing is refused
// and the event carries no block attributes.
func TestGuardNotAskedOnIgnoredPathsAndOptional(t *testing.T) {
	g := &fakeGuard{blocked: map[string]time.Duration{"203.0.113.7": time.Minute}}
	h := newHarness(t, false, WithGuard(g), WithIgnorePaths("^/healthz$"))
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	req.RemoteAddr = "203.0.113.7:1"
	h.serve(status(200), req)
	if n := g.calls.Load(); n != 0 {
		t.Fatalf("guard asked %d times for an ignored path", n)
	}

	for _, opt := range []Option{WithGuard(nil), WithLogOKResponses(false)} {
		h := newHarness(t, false, opt)
		req := httptest.NewRequest(http.MethodGet, "/x", nil)
		req.RemoteAddr = "203.0.113.7:1"
		if w := h.serve(status(404), req); w.Code != 404 {
			t.Fatalf("status %d without a guard", w.Code)
		}
		r := h.only()
		if _, ok := str(r, semconv.AuditBlockScopeKey); ok {
			t.Error("audit.block.scope without a guard")
		}
	}
}

// switchedGuard is a fakeGuard with detect/guard's Active method.
type switchedGuard struct {
	fakeGuard
	enabled bool
}

func (g *switchedGuard) Active() bool { return g.enabled }

// A guard that says it refuses nothing (detect/guard's with neither
// blocking nor a rate limit, which setup hands the middleware by default) is not asked, and the
// request's origin is left for when it is asked for, as without a guard;
// an enabled one is asked for every request, its origin resolved at once.
func TestGuardThatRefusesNothingNotAsked(t *testing.T) {
	for _, tc := range []struct {
		enabled   bool
		wantCalls int64
		wantState uint32
	}{
		{enabled: false, wantCalls: 0, wantState: factsPending},
		{enabled: true, wantCalls: 1, wantState: factsPending},
	} {
		g := &switchedGuard{fakeGuard: fakeGuard{blocked: map[string]time.Duration{}}, enabled: tc.enabled}
		m, err := New(WithAuditor(noopAuditor(t)), WithGuard(g))
		if err != nil {
			t.Fatal(err)
		}
		var x *exchange
		h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			x = r.Context().(*exchange)
		}))
		req := httptest.NewRequest(http.MethodGet, "/x", nil)
		req.RemoteAddr = "198.51.100.7:5555"
		h.ServeHTTP(httptest.NewRecorder(), req)
		if n := g.calls.Load(); n != tc.wantCalls {
			t.Errorf("enabled=%v: guard asked %d times, want %d", tc.enabled, n, tc.wantCalls)
		}
		if got := x.filled.Load(); got != tc.wantState {
			t.Errorf("enabled=%v: facts state %d, want %d", tc.enabled, got, tc.wantState)
		}
		if lazy := x.req.ClientAddress == ""; lazy == tc.enabled {
			t.Errorf("enabled=%v: client address %q before anybody asked", tc.enabled, x.req.ClientAddress)
		}
	}
}
