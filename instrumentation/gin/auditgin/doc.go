// Package auditgin adapts secaudit's audit middleware to gin
// (github.com/gin-gonic/gin): http.route is gin's full path
// ("/accounts/:id") on the response event and on every event emitted
// during the request.
//
// The audit middleware (instrumentation.Middleware) stays outermost,
// around the engine, inside otelhttp; [Route] is the engine's first
// middleware, so that what the later ones answer (a 401 from
// authentication) carries the route too:
//
//	r := gin.New()
//	r.Use(auditgin.Route)
//	r.Use(authenticate) // names the user with secaudit.SetUser(c.Request.Context(), …)
//	r.GET("/accounts/:id", getAccount)
//	srv.Handler = otelhttp.NewHandler(audit.Wrap(r), "server")
//
// gin matches before it runs the engine's middlewares, so the route is
// known to Route; it records the gin context as the request facts' route
// source (secaudit.RouteSource) and keeps the path when the chain returns,
// before gin reuses the context. A request gin does not match (its NoRoute
// and NoMethod handlers, 404 and 405) has no route, so detection's
// scanner rule sees its 404s as unrouted. gin answers a method the route
// lacks with 404 unless Engine.HandleMethodNotAllowed is set.
//
// Route does nothing without the audit middleware in front.
package auditgin
