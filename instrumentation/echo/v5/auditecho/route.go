package auditecho

import (
	"github.com/labstack/echo/v5"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/internal/routes"
)

// Route is echo middleware (e.Use(auditecho.Route)) that records echo's
// route path in the request facts of the audit middleware in front of
// the Echo, for the response event and every event of the request.
func Route(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		if req := secaudit.RequestForUpdate(c.Request().Context()); req != nil {
			if r := routeOf(c); r != nil {
				req.SetRouteSource(r)
			} else {
				// Unmatched: not the path echo leaves on the request
				// (Request.Pattern) either.
				req.SetPatternSource(nil)
			}
		}
		return next(c)
	}
}

// caches holds the routes seen per Echo: a routes.Route per path, unrouted
// when only e.RouteNotFound registered it.
var caches routes.PerOwner[echo.Echo, routes.Route]

// routeOf returns the route source of the route echo matched for c, or
// nil when it matched none.
func routeOf(c *echo.Context) *routes.Route {
	path := c.Path()
	if path == "" || c.Get(echo.ContextKeyHeaderAllow) != nil { // 404, 405, OPTIONS
		return nil
	}
	cache := caches.Of(c.Echo())
	r, ok := cache.Load(path)
	if !ok { // the closure only when it is needed: it costs an allocation
		e := c.Echo()
		r = cache.Get(path, func(path string) *routes.Route { return newRoute(e, path) })
	}
	if r.Unrouted {
		return nil
	}
	return r
}

// newRoute is the route of path: unrouted when the routes of e have path
// only as a RouteNotFound handler's.
func newRoute(e *echo.Echo, path string) *routes.Route {
	notFound, routed := false, false
	for _, r := range e.Router().Routes() {
		if r.Path != path {
			continue
		}
		if r.Method == echo.RouteNotFound {
			notFound = true
		} else {
			routed = true
		}
	}
	return &routes.Route{Path: path, Unrouted: notFound && !routed}
}
