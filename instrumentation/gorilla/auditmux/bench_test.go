package auditmux_test

import (
	"net/http"
	"testing"

	"github.com/gorilla/mux"

	"github.com/secaudit/secaudit/instrumentation/gorilla/auditmux"
	"github.com/secaudit/secaudit/internal/testsupport"
)

// stacks are gorilla/mux under the benchmarks and the allocation budget
// (testsupport.RouterStacks): routes flat or in a subrouter.
func stacks() testsupport.RouterStacks {
	ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }
	return testsupport.RouterStacks{
		Router: "mux", Adapter: "auditmux", Nested: "subrouter", Audit: plainAudit,
		Build: func(subrouter, adapter bool) http.Handler {
			r := mux.NewRouter()
			if adapter {
				r.Use(auditmux.Route)
			}
			if subrouter {
				r.PathPrefix("/api").Subrouter().HandleFunc("/accounts/{id}", ok).Methods("GET")
			} else {
				r.HandleFunc("/api/accounts/{id}", ok).Methods("GET")
			}
			return r
		},
	}
}

// BenchmarkRouter: a routed request through gorilla/mux alone and with the
// audit middleware and the adapter (compare with benchstat -col /stack).
func BenchmarkRouter(b *testing.B) { testsupport.RouterBenchmark(b, stacks()) }

// TestAdapterAllocations locks the allocations per request: the adapter
// adds one over the audit middleware, the handler gorilla/mux makes of
// every middleware of r.Use for every request (it applies them per
// match); recording the route costs none (one route source per template,
// kept). The audit middleware's own are its package's budget.
func TestAdapterAllocations(t *testing.T) { testsupport.RouterAllocations(t, stacks(), 1, 1) }
