package setup_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/secaudit/secaudit/detect/guard"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/setup"
)

// TestShutdownFlushesRefusals: when the traffic stops inside a window,
// Shutdown writes the window's security.rate_limited summary, so that the
// refused requests (one client_error event, the rest counted) add up — for
// the rate limit and for a blocked address. Before, the quiet refusals of
// a window that had not ended were lost at Shutdown.
func TestShutdownFlushesRefusals(t *testing.T) {
	const addr = "203.0.113.7"
	tests := []struct {
		name    string
		opts    []guard.Option
		block   bool
		served  int // of the requests, before the refusals
		refused int
		rule    string
	}{
		{"rate limit", []guard.Option{guard.WithRateLimit(2, time.Hour)}, false, 2, 50, guard.RuleRateLimit},
		{"blocked address", []guard.Option{guard.WithEnabled(true)}, true, 0, 50, guard.RuleManual},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			var out syncBuffer
			p, err := setup.New(context.Background(), setup.WithoutEnv(), setup.WithJSONLWriter(&out),
				setup.WithGuardOptions(append([]guard.Option{guard.WithClock(clk.now)}, tt.opts...)...))
			if err != nil {
				t.Fatal(err)
			}
			if tt.block {
				if err := p.Guard().Block(context.Background(), guard.ScopeAddress, guard.Subject{Address: addr}, time.Hour, "test"); err != nil {
					t.Fatal(err)
				}
			}
			m, err := instrumentation.New(instrumentation.WithoutEnv(), instrumentation.WithAuditor(p.Auditor()),
				instrumentation.WithGuard(p.Guard()))
			if err != nil {
				t.Fatal(err)
			}
			h := m.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			// a span, as behind otelhttp: no notice of its absence on stderr
			traced := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled}))
			refused := 0
			for range tt.served + tt.refused {
				w := httptest.NewRecorder()
				req := httptest.NewRequestWithContext(traced, http.MethodGet, "/accounts/1", nil)
				req.RemoteAddr = addr + ":4711"
				h.ServeHTTP(w, req)
				if w.Code == http.StatusTooManyRequests {
					refused++
				}
				clk.advance(time.Second)
			}
			if refused != tt.refused {
				t.Fatalf("%d refused, want %d", refused, tt.refused)
			}
			if err := p.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			out.mu.Lock()
			lines := jsonlLines(t, bytes.Clone(out.buf.Bytes()))
			out.mu.Unlock()
			events, summaries, counted := 0, 0, 0
			for _, l := range lines {
				switch l["event_name"] {
				case "http.response.client_error":
					events++
				case "security.rate_limited":
					if attrOf(l, "security_rule.name") != tt.rule || attrOf(l, "audit.block.scope") != "address" {
						t.Errorf("summary %v", l)
					}
					var n int
					_, _ = fmt.Sscan(fmt.Sprint(attrOf(l, "audit.detect.count")), &n)
					summaries++
					counted += n
				}
			}
			if events != 1 || summaries != 1 || events+counted != tt.refused {
				t.Errorf("%d client_error events, %d summaries counting %d; want 1, 1 and %d in all", events, summaries, counted, tt.refused)
			}
		})
	}
}
