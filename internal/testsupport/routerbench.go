package testsupport

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/log/noop"
)

// RouterStacks is a router under the benchmarks of [RouterBenchmark] and
// the allocation budget of [RouterAllocations]: three stacks, the router
// alone ("chi"), behind the audit middleware ("chi+audit") and the same
// with the adapter ("chi+audit+auditchi"), each with its routes flat or
// in a nested router. The router-specific parts are the adapter's test's.
type RouterStacks struct {
	// Router names the router in the stacks: "chi", "gin", "echo", "mux".
	Router string
	// Adapter names the adapter in the stacks: "auditchi".
	Adapter string
	// Nested names the layout with the routes in a nested router, as the
	// router calls one: "mounted", "group", "subrouter".
	Nested string
	// Build returns the router answering GET /api/accounts/{id} (in its
	// own syntax) 200 and nothing else, with the route in a router nested
	// under /api when nested, and with the adapter wired as its
	// documentation says when adapter.
	Build func(nested, adapter bool) http.Handler
	// Audit returns the audit middleware (instrumentation.New) recording
	// through lp, without the environment and otherwise with its
	// defaults: OK responses are not logged.
	Audit func(t testing.TB, lp log.LoggerProvider) func(http.Handler) http.Handler
}

// names are the stacks' names: the router alone, with the audit
// middleware, and with the adapter too.
func (s RouterStacks) names() [3]string {
	return [3]string{s.Router, s.Router + "+audit", s.Router + "+audit+" + s.Adapter}
}

// stacks returns the three stacks of a layout, in the order of names. The
// audit middleware records nothing (a no-op provider) and OK responses
// are not logged: the cost measured is the request's, not an event's.
func (s RouterStacks) stacks(tb testing.TB, nested bool) [3]http.Handler {
	wrap := s.Audit(tb, noop.NewLoggerProvider())
	return [3]http.Handler{s.Build(nested, false), wrap(s.Build(nested, false)), wrap(s.Build(nested, true))}
}

// discardWriter is a ResponseWriter that allocates nothing per request.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// serveOK serves req through h and fails unless h answered 200.
func serveOK(tb testing.TB, h http.Handler, w *discardWriter, req *http.Request) {
	w.code = 0
	h.ServeHTTP(w, req)
	if w.code != http.StatusOK {
		tb.Fatalf("status %d", w.code)
	}
}

// RouterBenchmark benchmarks a routed request (GET /api/accounts/7)
// through each stack of s, in sub-benchmarks
// "layout=flat/stack=chi+audit" and "layout=mounted/stack=…" (the
// layout s.Nested): compare the stacks with benchstat -col /stack.
func RouterBenchmark(b *testing.B, s RouterStacks) {
	b.Helper()
	ClearEnv(b)
	for _, layout := range []string{"flat", s.Nested} {
		stacks := s.stacks(b, layout == s.Nested)
		for i, name := range s.names() {
			b.Run("layout="+layout+"/stack="+name, func(b *testing.B) {
				h := stacks[i]
				req := httptest.NewRequest("GET", "/api/accounts/7", nil)
				w := &discardWriter{h: http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					serveOK(b, h, w, req)
				}
			})
		}
	}
}

// RouterAllocations locks the allocations per request that the adapter
// adds over the audit middleware (the stack with the adapter against the
// one without): at most flat with the routes flat, at most nested with
// them in a nested router; it logs the three stacks' counts. The audit
// middleware's own are its package's budget. It is skipped under -race,
// which changes the counts.
func RouterAllocations(t *testing.T, s RouterStacks, flat, nested float64) {
	t.Helper()
	if Race {
		t.Skip("allocation counts differ under -race")
	}
	ClearEnv(t)
	for _, tt := range []struct {
		layout string
		budget float64
	}{{"flat", flat}, {s.Nested, nested}} {
		stacks := s.stacks(t, tt.layout == s.Nested)
		req := httptest.NewRequest("GET", "/api/accounts/7", nil)
		w := &discardWriter{h: http.Header{}}
		allocs := func(h http.Handler) float64 {
			return testing.AllocsPerRun(200, func() { serveOK(t, h, w, req) })
		}
		alone, audited, adapted := allocs(stacks[0]), allocs(stacks[1]), allocs(stacks[2])
		if adapted-audited > tt.budget {
			t.Errorf("%s: the adapter adds %v allocations per request, budget %v", tt.layout, adapted-audited, tt.budget)
		}
		t.Logf("%s: %s %v, +audit %v, +%s %v allocations per request", tt.layout, s.Router, alone, audited, s.Adapter, adapted)
	}
}
