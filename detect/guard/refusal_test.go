package guard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/detect"
	"github.com/secaudit/secaudit/detect/guard"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// TestBlockedFloodIsBounded: 10 000 requests of a blocked address through
// the audit middleware (instrumentation.WithGuard), spread over 3½ minutes
// (fake clock), are all answered 429 with Retry-After before the handler,
// and yield per minute of refusals one full client_error event (the
// block's rule and scope) and one security.rate_limited summary (the
// block's rule and scope, audit.detect.count), whose counts add up to
// 10 000 — however the refusals end: the block expires (its summary comes
// before its security.block.lifted), it is lifted from Go, or the traffic
// stops and the guard is flushed (setup's Shutdown). Before, each refusal
// was a full event: 10 000 of them.
func TestBlockedFloodIsBounded(t *testing.T) {
	const (
		flood = 10000
		addr  = "203.0.113.66"
		step  = 21 * time.Millisecond // 10 000 requests: 3.5 minutes
	)
	tests := []struct {
		name   string
		block  func(*guard.Guard) error
		rule   string
		end    func(t *testing.T, g *guard.Guard, c *clock, serve func() *httptest.ResponseRecorder)
		lifted string // the reason of the security.block.lifted after the flood; "" for none
	}{
		{
			name: "expires",
			block: func(g *guard.Guard) error {
				return g.Block(context.Background(), guard.ScopeAddress, guard.Subject{Address: addr}, flood*step, "flood")
			},
			rule: guard.RuleManual,
			end: func(t *testing.T, _ *guard.Guard, _ *clock, serve func() *httptest.ResponseRecorder) {
				// the clock is at the block's expiry: served again
				if w := serve(); w.Code != http.StatusOK {
					t.Fatalf("after the block: %d", w.Code)
				}
			},
			lifted: "expired",
		},
		{
			name: "lifted",
			block: func(g *guard.Guard) error {
				g.Responder()(context.Background(), detect.Fired{Rule: detect.RuleScanner, Alert: detect.Alert{Count: 10, Window: time.Minute, Address: addr}})
				return nil
			},
			rule: detect.RuleScanner,
			end: func(t *testing.T, g *guard.Guard, _ *clock, _ func() *httptest.ResponseRecorder) {
				if !g.Lift(context.Background(), guard.ScopeAddress, guard.Subject{Address: addr}) {
					t.Fatal("Lift: no block")
				}
			},
			lifted: "lifted",
		},
		{
			name: "traffic stops",
			block: func(g *guard.Guard) error {
				return g.Block(context.Background(), guard.ScopeAddress, guard.Subject{Address: addr}, time.Hour, "flood")
			},
			rule: guard.RuleManual,
			end: func(t *testing.T, g *guard.Guard, c *clock, serve func() *httptest.ResponseRecorder) {
				g.Flush()
				c.advance(10 * time.Second) // later refusals in the same window: counted again
				for range 3 {
					if w := serve(); w.Code != http.StatusTooManyRequests {
						t.Fatalf("after Flush: %d", w.Code)
					}
				}
				g.Flush()
				g.Flush() // nothing left: no summary
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testsupport.ClearEnv(t)
			c := newClock()
			got := &testsupport.Capture{}
			provider := testsupport.NewProvider(got)
			t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
			g, err := guard.New(guard.WithoutEnv(), guard.WithEnabled(true), guard.WithClock(c.now),
				guard.WithLogger(provider.Logger("github.com/secaudit/secaudit/detect/guard")))
			if err != nil {
				t.Fatal(err)
			}
			a, err := secaudit.New(secaudit.WithLoggerProvider(provider))
			if err != nil {
				t.Fatal(err)
			}
			m, err := instrumentation.New(instrumentation.WithAuditor(a), instrumentation.WithGuard(g))
			if err != nil {
				t.Fatal(err)
			}
			// a span, as behind otelhttp: no notice of its absence on stderr
			traced := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled}))
			called := 0
			h := m.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called++ }))
			serve := func() *httptest.ResponseRecorder {
				req := httptest.NewRequestWithContext(traced, http.MethodGet, "/api/x", nil)
				req.RemoteAddr = addr + ":4000"
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				return w
			}
			if err := tt.block(g); err != nil {
				t.Fatal(err)
			}
			until := g.List()[0].Until
			for i := range flood {
				w := serve()
				want := strconv.Itoa(int((until.Sub(c.now()) + time.Second - 1) / time.Second))
				if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != want {
					t.Fatalf("request %d: %d Retry-After %q, want 429 %s", i, w.Code, w.Header().Get("Retry-After"), want)
				}
				c.advance(step)
			}
			extra := 0
			if tt.name == "traffic stops" {
				extra = 3
			}
			tt.end(t, g, c, serve)
			if want := map[string]int{"expires": 1}[tt.name]; called != want {
				t.Fatalf("the handler ran %d times, want %d", called, want)
			}

			var events, summaries, counted int64
			var names []string
			for _, rec := range got.Records() {
				attrs := testsupport.AttrMap(&rec)
				rule := attrs[string(semconv.SecurityRuleNameKey)].AsString()
				scope := attrs[string(semconv.AuditBlockScopeKey)].AsString()
				names = append(names, rec.EventName())
				switch rec.EventName() {
				case semconv.EventHTTPResponseClientError:
					if rule != tt.rule || scope != "address" {
						t.Fatalf("client_error rule %q scope %q", rule, scope)
					}
					events++
				case semconv.EventRateLimited:
					n := attrs[string(semconv.AuditDetectCountKey)].AsInt64()
					if rule != tt.rule || scope != "address" || attrs[string(semconv.ClientAddressKey)].AsString() != addr || n < 1 {
						t.Fatalf("summary %v", attrs)
					}
					summaries++
					counted += n
				case semconv.EventBlockApplied, semconv.EventHTTPResponseSuccess:
				case semconv.EventBlockLifted:
					if reason := attrs[string(semconv.AuditBlockReasonKey)].AsString(); reason != tt.lifted {
						t.Fatalf("lifted reason %q, want %q", reason, tt.lifted)
					}
					if names[len(names)-2] != semconv.EventRateLimited {
						t.Fatalf("events %v: the last summary does not come before the lift", names[len(names)-2:])
					}
				default:
					t.Fatalf("unexpected %s", rec.EventName())
				}
			}
			// 3.5 minutes of refusals: 4 windows, each one event and one
			// summary (the last at the end).
			if events != 4 || summaries != 4+int64(extra/3) {
				t.Errorf("%d client_error events, %d summaries for %d refusals (events %v)", events, summaries, flood+extra, len(names))
			}
			if total := events + counted; total != flood+int64(extra) {
				t.Errorf("%d events + %d counted = %d, want %d", events, counted, total, flood+extra)
			}
			if s := g.Stats(); s.Refused != flood+int64(extra) || s.RefusedQuiet != counted {
				t.Errorf("stats Refused %d RefusedQuiet %d, want %d %d", s.Refused, s.RefusedQuiet, flood+extra, counted)
			}
			if s := m.Stats(); s.Blocked != flood+uint64(extra) || s.BlockedQuiet != uint64(counted) {
				t.Errorf("middleware stats Blocked %d BlockedQuiet %d", s.Blocked, s.BlockedQuiet)
			}
		})
	}
}

// TestBlockedRefusalWindows: RefuseAddr's refusals of a blocked address,
// request by request: the first of each minute loud, the rest quiet and
// summed into one security.rate_limited at the first refusal after the
// minute; a block replaced by one of another rule ends the window (each
// summary names one rule); CheckAddress and CheckLogin count nothing;
// other, allowlisted and rate-limited addresses keep their answers.
func TestBlockedRefusalWindows(t *testing.T) {
	r := newRig(t, guard.WithRateLimit(1, time.Hour), guard.WithAllowCIDRs("10.0.0.0/8"))
	const a = "203.0.113.7"
	ip := netip.MustParseAddr(a)
	if err := r.g.Block(ctx, guard.ScopeAddress, guard.Subject{Address: a}, time.Hour, ""); err != nil {
		t.Fatal(err)
	}
	r.got.Reset()
	type step struct {
		at         time.Duration
		rule       string // the block's rule expected
		quiet      bool
		summary    int64 // a summary of this count before the answer
		summaryFor string
	}
	steps := []step{
		{0, "manual", false, 0, ""},
		{time.Second, "manual", true, 0, ""},
		{59 * time.Second, "manual", true, 0, ""},
		{time.Minute - 1, "manual", true, 0, ""},
		{time.Minute, "manual", false, 3, "manual"}, // the window ends exactly a minute after its first
		{time.Minute + 1, "manual", true, 0, ""},
	}
	for _, s := range steps {
		r.clock.set(t0.Add(s.at))
		if !r.g.CheckAddress(a).Blocked || !r.g.CheckLogin("alice", a).Blocked {
			t.Fatal("not blocked")
		}
		refused, _, rule, scope, quiet := r.g.RefuseAddr(ip)
		if !refused || rule != s.rule || scope != "address" || quiet != s.quiet {
			t.Fatalf("at %v: refused %v rule %q scope %q quiet %v, want %+v", s.at, refused, rule, scope, quiet, s)
		}
		checkSummaries(t, r, a, s.summaryFor, s.summary)
	}
	// a new block of another rule: the manual window's quiet refusal is
	// reported, and the scanner's first refusal is loud
	r.g.Responder()(ctx, detect.Fired{Rule: detect.RuleScanner, Alert: detect.Alert{Address: a}})
	if refused, _, rule, _, quiet := r.g.RefuseAddr(ip); !refused || rule != detect.RuleScanner || quiet {
		t.Fatalf("scanner block: refused %v rule %q quiet %v", refused, rule, quiet)
	}
	var names []string
	for _, e := range r.events() {
		names = append(names, e.name+"/"+e.rule)
	}
	if want := "[security.block.applied/scanner security.rate_limited/manual]"; fmt.Sprint(names) != want {
		t.Fatalf("events %v, want %s", names, want)
	}
	r.got.Reset()
	// the rate limit and the allowlist are unchanged
	for _, other := range []struct {
		addr        string
		refused     bool
		rule        string
		quiet       bool
		description string
	}{
		{"198.51.100.1", false, "", false, "first request"},
		{"198.51.100.1", true, guard.RuleRateLimit, false, "first refusal"},
		{"198.51.100.1", true, guard.RuleRateLimit, true, "quiet"},
		{"10.1.2.3", false, "", false, "allowlisted"},
		{"10.1.2.3", false, "", false, "allowlisted"},
	} {
		refused, _, rule, _, quiet := r.g.RefuseAddr(netip.MustParseAddr(other.addr))
		if refused != other.refused || rule != other.rule || quiet != other.quiet {
			t.Fatalf("%s %s: refused %v rule %q quiet %v", other.addr, other.description, refused, rule, quiet)
		}
	}
	if s := r.g.Stats(); s.RefusedQuiet != 4 || s.RateQuiet != 1 {
		t.Fatalf("stats %+v", s)
	}
	if err := r.g.Block(ctx, guard.ScopeAddress, guard.Subject{Address: "10.1.2.3"}, 0, ""); err != guard.ErrAllowlisted {
		t.Fatalf("allowlisted block: %v", err)
	}
	// Flush reports both kinds, each once
	r.g.Flush()
	r.g.Flush()
	var got []string
	for _, e := range r.events() {
		got = append(got, e.name+"/"+e.rule+"/"+e.addr)
	}
	if len(got) != 1 || got[0] != "security.rate_limited/rate_limit/198.51.100.1" {
		// the scanner window has no quiet refusal yet: nothing to report
		t.Fatalf("Flush: %v", got)
	}
}

// checkSummaries checks that the records since the last call are one
// security.rate_limited of rule and count for addr, or none when rule is
// "", and resets them.
func checkSummaries(t *testing.T, r *rig, addr, rule string, count int64) {
	t.Helper()
	recs := r.got.Records()
	r.got.Reset()
	if rule == "" {
		if len(recs) != 0 {
			t.Fatalf("%d records, want none", len(recs))
		}
		return
	}
	if len(recs) != 1 {
		t.Fatalf("%d records, want one summary", len(recs))
	}
	m := testsupport.AttrMap(&recs[0])
	if recs[0].EventName() != semconv.EventRateLimited || m[string(semconv.SecurityRuleNameKey)].AsString() != rule ||
		m[string(semconv.AuditBlockScopeKey)].AsString() != "address" || m[string(semconv.ClientAddressKey)].AsString() != addr ||
		m[string(semconv.AuditDetectCountKey)].AsInt64() != count {
		t.Fatalf("summary %s %v, want rule %s count %d", recs[0].EventName(), m, rule, count)
	}
}
