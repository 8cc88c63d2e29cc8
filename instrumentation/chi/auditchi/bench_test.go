package auditchi_test

import (
	"net/http"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/secaudit/secaudit/instrumentation/chi/auditchi"
	"github.com/secaudit/secaudit/internal/testsupport"
)

// stacks are chi under the benchmarks and the allocation budget
// (testsupport.RouterStacks): routes flat or in a mounted router.
func stacks() testsupport.RouterStacks {
	ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }
	return testsupport.RouterStacks{
		Router: "chi", Adapter: "auditchi", Nested: "mounted", Audit: plainAudit,
		Build: func(mounted, adapter bool) http.Handler {
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
		},
	}
}

// BenchmarkRouter: a routed request through chi alone and with the audit
// middleware and the adapter (compare with benchstat -col /stack).
func BenchmarkRouter(b *testing.B) { testsupport.RouterBenchmark(b, stacks()) }

// TestAdapterAllocations locks the allocations per request: the adapter
// adds none over the audit middleware for a flat route, and two for a
// route in a mounted router (chi's RoutePattern joins the patterns and
// drops the mount's "/*/", as chi itself does once more for
// Request.Pattern); the audit middleware's own are its package's budget.
func TestAdapterAllocations(t *testing.T) { testsupport.RouterAllocations(t, stacks(), 0, 2) }
