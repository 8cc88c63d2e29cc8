// Package auditmux adapts secaudit's audit middleware to gorilla/mux
// (github.com/gorilla/mux): http.route is the matched route's path
// template ("/accounts/{id}", a subrouter's prefix included) on the
// response event and on every event emitted during the request.
//
// The audit middleware (instrumentation.Middleware) stays outermost,
// around the router, inside otelhttp; [Route] is the router's first
// middleware, so that what the later ones answer (a 401 from
// authentication) carries the route too:
//
//	r := mux.NewRouter()
//	r.Use(auditmux.Route)
//	r.Use(authenticate) // names the user with secaudit.SetUser
//	r.HandleFunc("/accounts/{id}", getAccount).Methods("GET")
//	srv.Handler = otelhttp.NewHandler(audit.Wrap(r), "server")
//
// gorilla/mux runs the middlewares of r.Use after it matched, and only for
// a match: a request it does not match (404, 405) reaches no middleware of
// the router and has no route, so detection's scanner rule sees its 404s
// as unrouted. A route without a path template (matched on host or
// headers only) has no route either. Recording a route costs no
// allocation: the adapter keeps one value per template.
//
// Route does nothing without the audit middleware in front.
package auditmux
