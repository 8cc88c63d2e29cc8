package auditchi

import (
	"net/http"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/secaudit/secaudit"
)

// Route is chi middleware (r.Use(auditchi.Route)) that records chi's route
// pattern in the request facts of the audit middleware in front of the
// router, for the response event and every event of the request.
func Route(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := secaudit.RequestForUpdate(r.Context())
		if req == nil || chi.RouteContext(r.Context()) == nil {
			next.ServeHTTP(w, r)
			return
		}
		req.SetRouteSource((*source)(r))
		// Before chi puts its route context back in its pool.
		defer req.SetRouteSource(nil)
		next.ServeHTTP(w, r)
	})
}

// source reads the route from the request's chi route context: a
// conversion of the request chi passed to Route, so recording it costs no
// allocation.
type source http.Request

var _ secaudit.RouteSource = (*source)(nil)

// Route returns the pattern chi matched; before chi has routed, the
// pattern the request matches in the router's tree; "" when it matches
// none.
func (s *source) Route() string {
	r := (*http.Request)(s)
	rctx := chi.RouteContext(r.Context())
	if rctx == nil {
		return ""
	}
	if rctx.RouteMethod == "" { // chi sets it when it starts routing
		return find(rctx.Routes, r)
	}
	route := rctx.RoutePattern()
	if strings.HasSuffix(route, "*") {
		// A mounted router's prefix ("/api/*") is there too when the
		// mounted router matched nothing: only the tree can tell that
		// from a wildcard route.
		return find(rctx.Routes, r)
	}
	return route
}

// scratch holds route contexts for lookups in the tree.
var scratch = sync.Pool{New: func() any { return chi.NewRouteContext() }}

// find returns the pattern r matches in routes, as chi's RoutePattern
// would give it, or "".
func find(routes chi.Routes, r *http.Request) string {
	if routes == nil {
		return ""
	}
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	if path == "" {
		path = "/"
	}
	rctx := scratch.Get().(*chi.Context)
	rctx.Reset()
	route := routes.Find(rctx, r.Method, path)
	rctx.Reset()
	scratch.Put(rctx)
	for strings.Contains(route, "/*/") {
		route = strings.ReplaceAll(route, "/*/", "/")
	}
	if route != "/" {
		route = strings.TrimSuffix(strings.TrimSuffix(route, "//"), "/")
	}
	return route
}
