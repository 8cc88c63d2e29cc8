package auditgin_test

import (
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/secaudit/secaudit/instrumentation/gin/auditgin"
	"github.com/secaudit/secaudit/internal/testsupport"
)

// stacks are gin under the benchmarks and the allocation budget
// (testsupport.RouterStacks): routes flat or in a group.
func stacks() testsupport.RouterStacks {
	ok := func(c *gin.Context) { c.Status(http.StatusOK) }
	return testsupport.RouterStacks{
		Router: "gin", Adapter: "auditgin", Nested: "group", Audit: plainAudit,
		Build: func(group, adapter bool) http.Handler {
			gin.SetMode(gin.ReleaseMode)
			r := gin.New()
			if adapter {
				r.Use(auditgin.Route)
			}
			if group {
				r.Group("/api").GET("/accounts/:id", ok)
			} else {
				r.GET("/api/accounts/:id", ok)
			}
			return r
		},
	}
}

// BenchmarkRouter: a routed request through gin alone and with the audit
// middleware and the adapter (compare with benchstat -col /stack).
func BenchmarkRouter(b *testing.B) { testsupport.RouterBenchmark(b, stacks()) }

// TestAdapterAllocations locks the allocations per request: the adapter
// adds none over the audit middleware (the route is gin's own string);
// the audit middleware's own are its package's budget.
func TestAdapterAllocations(t *testing.T) { testsupport.RouterAllocations(t, stacks(), 0, 0) }
