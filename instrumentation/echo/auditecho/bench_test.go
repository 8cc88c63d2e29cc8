package auditecho_test

import (
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/secaudit/secaudit/instrumentation/echo/auditecho"
	"github.com/secaudit/secaudit/internal/testsupport"
)

// stacks are echo under the benchmarks and the allocation budget
// (testsupport.RouterStacks): routes flat or in a group.
func stacks() testsupport.RouterStacks {
	ok := func(c echo.Context) error { return c.NoContent(http.StatusOK) }
	return testsupport.RouterStacks{
		Router: "echo", Adapter: "auditecho", Nested: "group", Audit: plainAudit,
		Build: func(group, adapter bool) http.Handler {
			e := echo.New()
			if adapter {
				e.Use(auditecho.Route)
			}
			if group {
				e.Group("/api").GET("/accounts/:id", ok)
			} else {
				e.GET("/api/accounts/:id", ok)
			}
			return e
		},
	}
}

// BenchmarkRouter: a routed request through echo alone and with the audit
// middleware and the adapter (compare with benchstat -col /stack).
func BenchmarkRouter(b *testing.B) { testsupport.RouterBenchmark(b, stacks()) }

// TestAdapterAllocations locks the allocations per request: the adapter
// adds one over the audit middleware, the closure echo v4 makes of every
// middleware of e.Use for every request (it builds the chain per request);
// recording the route costs none (one route source per route, kept). The
// audit middleware's own are its package's budget.
func TestAdapterAllocations(t *testing.T) { testsupport.RouterAllocations(t, stacks(), 1, 1) }
