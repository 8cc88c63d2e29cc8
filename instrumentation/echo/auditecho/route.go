package auditecho

import (
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"weak"

	"github.com/labstack/echo/v4"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/internal/routes"
)

// Route is echo middleware (e.Use(auditecho.Route)) that records echo's
// route path in the request facts of the audit middleware in front of
// the Echo, for the response event and every event of the request.
func Route(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if req := secaudit.RequestFromContext(c.Request().Context()); req != nil {
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

// route is the route source of a route path; unrouted when only
// e.RouteNotFound registered the path.
type route struct {
	path     string
	unrouted bool
}

var _ secaudit.RouteSource = (*route)(nil)

// Route returns the path.
func (r *route) Route() string { return r.path }

// caches holds a routes.Cache[route] per Echo, under a weak pointer to
// it: an Echo no longer used is not kept alive, and its cache is dropped
// with it.
var caches sync.Map

// perEcho is an Echo's cache.
type perEcho struct {
	echo  weak.Pointer[echo.Echo]
	cache *routes.Cache[route]
}

// last is the cache looked up last: a service has one Echo, which then
// costs neither a weak pointer nor a map lookup per request.
var last atomic.Pointer[perEcho]

// cacheOf returns e's cache.
func cacheOf(e *echo.Echo) *routes.Cache[route] {
	if p := last.Load(); p != nil && p.echo.Value() == e {
		return p.cache
	}
	key := weak.Make(e)
	cache, ok := caches.Load(key)
	if !ok {
		var loaded bool
		if cache, loaded = caches.LoadOrStore(key, new(routes.Cache[route])); !loaded {
			runtime.AddCleanup(e, func(k weak.Pointer[echo.Echo]) { caches.Delete(k) }, key)
		}
	}
	p := &perEcho{echo: key, cache: cache.(*routes.Cache[route])}
	last.Store(p)
	return p.cache
}

// routeOf returns the route source of the route echo matched for c, or
// nil when it matched none.
func routeOf(c echo.Context) *route {
	path := c.Path()
	if path == "" || c.Get(echo.ContextKeyHeaderAllow) != nil { // 405, OPTIONS
		return nil
	}
	if reflect.ValueOf(c.Handler()).Pointer() == reflect.ValueOf(echo.NotFoundHandler).Pointer() {
		return nil // a path of the tree that no route of the method ends at
	}
	routes := cacheOf(c.Echo())
	r, ok := routes.Load(path)
	if !ok { // the closure only when it is needed: it costs an allocation
		e := c.Echo()
		r = routes.Get(path, func(path string) *route { return newRoute(e, path) })
	}
	if r.unrouted {
		return nil
	}
	return r
}

// newRoute is the route of path: unrouted when the routes of e (of every
// host) have path only as a RouteNotFound handler's.
func newRoute(e *echo.Echo, path string) *route {
	notFound, routed := false, false
	check := func(rs []*echo.Route) {
		for _, r := range rs {
			if r.Path != path {
				continue
			}
			if r.Method == echo.RouteNotFound {
				notFound = true
			} else {
				routed = true
			}
		}
	}
	check(e.Routes())
	for _, router := range e.Routers() {
		check(router.Routes())
	}
	return &route{path: path, unrouted: notFound && !routed}
}
