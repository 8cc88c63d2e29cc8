package auditmux_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"
	"go.opentelemetry.io/otel/log/noop"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/instrumentation/gorilla/auditmux"
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

// stacks are what the benchmarks and the allocation budget compare: gorilla/mux
// alone, gorilla/mux behind the audit middleware, and the same with the adapter;
// routes flat or in a subrouter. The Auditor records nothing (a
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
		r := mux.NewRouter()
		if adapter {
			r.Use(auditmux.Route)
		}
		if mounted {
			r.PathPrefix("/api").Subrouter().HandleFunc("/accounts/{id}", ok).Methods("GET")
		} else {
			r.HandleFunc("/api/accounts/{id}", ok).Methods("GET")
		}
		return r
	}
	return map[string]http.Handler{
		"mux":                router(false),
		"mux+audit":          m.Wrap(router(false)),
		"mux+audit+auditmux": m.Wrap(router(true)),
	}
}

func serve(tb testing.TB, h http.Handler, w *discardWriter, req *http.Request) {
	w.code = 0
	h.ServeHTTP(w, req)
	if w.code != http.StatusOK {
		tb.Fatalf("status %d", w.code)
	}
}

// BenchmarkRouter: a routed request through gorilla/mux alone and with the audit
// middleware and the adapter (compare with benchstat -col /stack).
func BenchmarkRouter(b *testing.B) {
	testsupport.ClearEnv(b)
	for _, layout := range []string{"flat", "subrouter"} {
		s := stacks(b, layout == "subrouter")
		for _, name := range []string{"mux", "mux+audit", "mux+audit+auditmux"} {
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
// adds one over the audit middleware, the handler gorilla/mux makes of
// every middleware of r.Use for every request (it applies them per
// match); recording the route costs none (one route source per template,
// kept). The audit middleware's own are its package's budget.
func TestAdapterAllocations(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts differ under -race")
	}
	testsupport.ClearEnv(t)
	for _, tt := range []struct {
		layout string
		budget float64
	}{{"flat", 1}, {"subrouter", 1}} {
		s := stacks(t, tt.layout == "subrouter")
		req := httptest.NewRequest("GET", "/api/accounts/7", nil)
		w := &discardWriter{h: http.Header{}}
		allocs := func(h http.Handler) float64 {
			return testing.AllocsPerRun(200, func() { serve(t, h, w, req) })
		}
		alone, audited, adapted := allocs(s["mux"]), allocs(s["mux+audit"]), allocs(s["mux+audit+auditmux"])
		if adapted-audited > tt.budget {
			t.Errorf("%s: the adapter adds %v allocations per request, budget %v", tt.layout, adapted-audited, tt.budget)
		}
		t.Logf("%s: mux %v, +audit %v, +auditmux %v allocations per request", tt.layout, alone, audited, adapted)
	}
}
