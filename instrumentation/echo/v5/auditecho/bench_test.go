package auditecho_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v5"
	"go.opentelemetry.io/otel/log/noop"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/instrumentation/echo/v5/auditecho"
	"github.com/secaudit/secaudit/internal/testsupport"
)

// discardWriter is a ResponseWriter that allocates nothing per request.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// stacks are what the benchmarks and the allocation budget compare: echo
// alone, echo behind the audit middleware, and the same with the adapter;
// routes flat or in a group. The Auditor records nothing (a
// no-op provider) and OK responses are not logged: the cost measured is
// the request's, not an event's.
func stacks(t testing.TB, mounted bool) map[string]http.Handler {
	a, err := secaudit.New(secaudit.WithLoggerProvider(noop.NewLoggerProvider()), secaudit.WithoutEnv())
	if err != nil {
		t.Fatal(err)
	}
	m, err := instrumentation.New(instrumentation.WithAuditor(a), instrumentation.WithoutEnv())
	if err != nil {
		t.Fatal(err)
	}
	ok := func(c *echo.Context) error { return c.NoContent(http.StatusOK) }
	router := func(adapter bool) http.Handler {
		e := echo.New()
		if adapter {
			e.Use(auditecho.Route)
		}
		if mounted {
			e.Group("/api").GET("/accounts/:id", ok)
		} else {
			e.GET("/api/accounts/:id", ok)
		}
		return e
	}
	return map[string]http.Handler{
		"echo":                 router(false),
		"echo+audit":           m.Wrap(router(false)),
		"echo+audit+auditecho": m.Wrap(router(true)),
	}
}

func serve(tb testing.TB, h http.Handler, w *discardWriter, req *http.Request) {
	w.code = 0
	h.ServeHTTP(w, req)
	if w.code != http.StatusOK {
		tb.Fatalf("status %d", w.code)
	}
}

// BenchmarkRouter: a routed request through echo alone and with the audit
// middleware and the adapter (compare with benchstat -col /stack).
func BenchmarkRouter(b *testing.B) {
	testsupport.ClearEnv(b)
	for _, layout := range []string{"flat", "group"} {
		s := stacks(b, layout == "group")
		for _, name := range []string{"echo", "echo+audit", "echo+audit+auditecho"} {
			b.Run("layout="+layout+"/stack="+name, func(b *testing.B) {
				req := httptest.NewRequest("GET", "/api/accounts/7", nil)
				w := &discardWriter{h: http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					serve(b, s[name], w, req)
				}
			})
		}
	}
}

// TestAdapterAllocations locks the allocations per request: the adapter
// adds one over the audit middleware, the closure echo v5 makes of every
// middleware of e.Use for every request (it builds the chain per request);
// recording the route costs none (one route source per route, kept). The
// audit middleware's own are its package's budget.
func TestAdapterAllocations(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts differ under -race")
	}
	testsupport.ClearEnv(t)
	for _, tt := range []struct {
		layout string
		budget float64
	}{{"flat", 0}, {"group", 0}} {
		s := stacks(t, tt.layout == "group")
		req := httptest.NewRequest("GET", "/api/accounts/7", nil)
		w := &discardWriter{h: http.Header{}}
		allocs := func(h http.Handler) float64 {
			return testing.AllocsPerRun(200, func() { serve(t, h, w, req) })
		}
		alone, audited, adapted := allocs(s["echo"]), allocs(s["echo+audit"]), allocs(s["echo+audit+auditecho"])
		if adapted-audited > tt.budget {
			t.Errorf("%s: the adapter adds %v allocations per request, budget %v", tt.layout, adapted-audited, tt.budget)
		}
		t.Logf("%s: echo %v, +audit %v, +auditecho %v allocations per request", tt.layout, alone, audited, adapted)
	}
}
