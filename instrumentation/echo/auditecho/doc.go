// Package auditecho adapts secaudit's audit middleware to echo v4
// (github.com/labstack/echo/v4): http.route is echo's route path
// ("/accounts/:id") on the response event and on every event emitted
// during the request. For echo v5 see instrumentation/echo/v5/auditecho.
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
// match has no route, although echo gives it a path of the tree: a 404
// (echo.NotFoundHandler, or a handler of e.RouteNotFound), a 405 and the
// automatic answer to OPTIONS; so detection's scanner rule sees its 404s
// as unrouted. Recording a route costs no allocation: the adapter keeps
// one value per route of each Echo.
//
// Route does nothing without the audit middleware in front.
package auditecho
