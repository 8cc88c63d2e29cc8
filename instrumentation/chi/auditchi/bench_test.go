package auditchi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/log/noop"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/instrumentation/chi/auditchi"
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

// stacks are what the benchmarks and the allocation budget compare: chi
// alone, chi behind the audit middleware, and the same with the adapter;
// routes flat or in a mounted router. The Auditor records nothing (a
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
	ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }
	router := func(adapter bool) http.Handler {
		r := chi.NewRouter()
		if adapter {
			r.Use(auditchi.Route)
		}
		if mounted {
			r.Route("/api", func(r chi.Router) { r.Get("/accounts/{id}", ok) })
		} else {
			r.Get("/api/accounts/{id}", ok)
		}
		return r
	}
	return map[string]http.Handler{
		"chi":                router(false),
		"chi+audit":          m.Wrap(router(false)),
		"chi+audit+auditchi": m.Wrap(router(true)),
	}
}

func serve(tb testing.TB, h http.Handler, w *discardWriter, req *http.Request) {
	w.code = 0
	h.ServeHTTP(w, req)
	if w.code != http.StatusOK {
		tb.Fatalf("status %d", w.code)
	}
}

// BenchmarkRouter: a routed request through chi alone and with the audit
// middleware and the adapter (compare with benchstat -col /stack).
func BenchmarkRouter(b *testing.B) {
	testsupport.ClearEnv(b)
	for _, layout := range []string{"flat", "mounted"} {
		s := stacks(b, layout == "mounted")
		for _, name := range []string{"chi", "chi+audit", "chi+audit+auditchi"} {
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
// adds none over the audit middleware for a flat route, and two for a
// route in a mounted router (chi's RoutePattern joins the patterns and
// drops the mount's "/*/", as chi itself does once more for
// Request.Pattern); the audit middleware's own are its package's budget.
func TestAdapterAllocations(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts differ under -race")
	}
	testsupport.ClearEnv(t)
	for _, tt := range []struct {
		layout string
		budget float64
	}{{"flat", 0}, {"mounted", 2}} {
		s := stacks(t, tt.layout == "mounted")
		req := httptest.NewRequest("GET", "/api/accounts/7", nil)
		w := &discardWriter{h: http.Header{}}
		allocs := func(h http.Handler) float64 {
			return testing.AllocsPerRun(200, func() { serve(t, h, w, req) })
		}
		alone, audited, adapted := allocs(s["chi"]), allocs(s["chi+audit"]), allocs(s["chi+audit+auditchi"])
		if adapted-audited > tt.budget {
			t.Errorf("%s: the adapter adds %v allocations per request, budget %v", tt.layout, adapted-audited, tt.budget)
		}
		t.Logf("%s: chi %v, +audit %v, +auditchi %v allocations per request", tt.layout, alone, audited, adapted)
	}
}
