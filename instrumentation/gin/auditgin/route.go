package auditgin

import (
	"github.com/gin-gonic/gin"

	"github.com/secaudit/secaudit"
)

// Route is gin middleware (r.Use(auditgin.Route)) that records gin's full
// path of the matched route in the request facts of the audit middleware
// in front of the engine, for the response event and every event of the
// request.
func Route(c *gin.Context) {
	req := secaudit.RequestForUpdate(c.Request.Context())
	if req == nil {
		return
	}
	req.SetRouteSource((*source)(c))
	// Before gin puts its context back in its pool.
	defer req.SetRouteSource(nil)
	c.Next()
}

// source reads the route from the gin context: a conversion, so recording
// it costs no allocation.
type source gin.Context

var _ secaudit.RouteSource = (*source)(nil)

// Route returns the full path of the route gin matched ("" for none): a
// string of gin's tree, which outlives the request.
func (s *source) Route() string { return (*gin.Context)(s).FullPath() }
