package instrumentation

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/otel/log/logtest"

	"github.com/secaudit/secaudit/detect/guard"
	"github.com/secaudit/secaudit/semconv"
)

// TestRateLimitFloodIsBounded: 10 000 refused requests of one address in
// one window (detect/guard's rate limit, fake clock) yield one full
// client_error event and, at the first request after the window, one
// security.rate_limited summary, whose counts add up to 10 000.
func TestRateLimitFloodIsBounded(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	grec := logtest.NewRecorder()
	g, err := guard.New(guard.WithoutEnv(), guard.WithRateLimit(5, time.Minute),
		guard.WithClock(func() time.Time { return now }), guard.WithLogger(grec.Logger("guard")))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, false, WithGuard(g))
	called := 0
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called++ })
	serve := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/api/x", nil)
		req.RemoteAddr = "203.0.113.7:4000"
		return h.serve(next, req)
	}
	for range 5 {
		if w := serve(); w.Code != http.StatusOK {
			t.Fatalf("allowed request: %d", w.Code)
		}
	}
	h.records()
	const flood = 10000
	for i := range flood {
		w := serve()
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "60" {
			t.Fatalf("request %d: %d Retry-After %q", i, w.Code, w.Header().Get("Retry-After"))
		}
	}
	if called != 5 {
		t.Fatalf("handler ran %d times", called)
	}
	recs := h.records()
	if len(recs) != 1 || recs[0].EventName != semconv.EventHTTPResponseClientError {
		t.Fatalf("%d records, want one client_error", len(recs))
	}
	if rule, _ := str(recs[0], semconv.SecurityRuleNameKey); rule != guard.RuleRateLimit {
		t.Errorf("security_rule.name %q", rule)
	}
	if s := h.m.Stats(); s.Blocked != flood || s.BlockedQuiet != flood-1 {
		t.Errorf("Stats Blocked %d BlockedQuiet %d", s.Blocked, s.BlockedQuiet)
	}
	now = now.Add(time.Minute) // a new window: N allowed again
	for range 5 {
		if w := serve(); w.Code != http.StatusOK {
			t.Fatalf("new window: %d", w.Code)
		}
	}
	var sums []logtest.Record
	for _, rs := range grec.Result() {
		sums = append(sums, rs...)
	}
	if len(sums) != 1 || sums[0].EventName != semconv.EventRateLimited {
		t.Fatalf("guard records %v, want one security.rate_limited", sums)
	}
	count := attrsOf(sums[0])[semconv.AuditDetectCountKey].AsInt64()
	if total := int64(len(recs)) + count; total != flood {
		t.Errorf("1 event + summary count %d = %d, want %d", count, total, flood)
	}
}
