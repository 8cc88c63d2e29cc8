// Package auditchi adapts secaudit's audit middleware to the chi router
// (github.com/go-chi/chi/v5): http.route is chi's pattern
// ("/accounts/{id}", a mounted router's prefix included) on the response
// event and on every event emitted during the request.
//
// The audit middleware (instrumentation.Middleware) stays outermost,
// around the router, inside otelhttp; [Route] is the first middleware of
// the router:
//
//	r := chi.NewRouter()
//	r.Use(auditchi.Route)
//	r.Use(authenticate) // names the user with secaudit.SetUser
//	r.Get("/accounts/{id}", getAccount)
//	srv.Handler = otelhttp.NewHandler(audit.Wrap(r), "server")
//
// chi runs the middlewares of r.Use before it matches, and routes a copy
// of the request, so neither the audit middleware nor a route function
// (instrumentation.WithRouteFunc) sees chi's route context. Route records
// it in the request facts as their route source (secaudit.RouteSource):
// an event reads the pattern chi has matched by then, and when Route
// returns — before chi reuses its route context — the pattern is kept for
// the response event. An event emitted before chi routed (a 401 from an
// authentication middleware of r.Use) carries the route the request
// matches, looked up in the router's tree; a request chi does not match
// (404, 405, also inside a mounted router) has no route, so detection's
// scanner rule sees its 404s as unrouted.
//
// Route does nothing without the audit middleware in front.
package auditchi
