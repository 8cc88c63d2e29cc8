// Package auditecho adapts secaudit's audit middleware to echo v5
// (github.com/labstack/echo/v5): http.route is echo's route path
// ("/accounts/:id") on the response event and on every event emitted
// during the request. For echo v4 see instrumentation/echo/auditecho.
//
// The audit middleware (instrumentation.Middleware) stays outermost,
// around the Echo, inside otelhttp; [Route] is the first middleware of
// e.Use, so that what the later ones answer (a 401 from authentication)
// carries the route too:
//
//	e := echo.New()
//	e.Use(auditecho.Route)
//	e.Use(authenticate) // names the user with secaudit.SetUser(c.Request().Context(), …)
//	e.GET("/accounts/:id", getAccount)
//	srv.Handler = otelhttp.NewHandler(audit.Wrap(e), "server")
//
// echo runs the middlewares of e.Use after it matched (those of e.Pre
// before: a request they answer has no route). A request echo does not
// match has no route: a 404 (also one answered by a handler of
// e.RouteNotFound, which echo gives that handler's path), a 405 and the
// automatic answer to OPTIONS; so detection's scanner rule sees its 404s
// as unrouted. Recording a route costs no allocation: the adapter keeps
// one value per route of each Echo.
//
// Route does nothing without the audit middleware in front.
package auditecho
