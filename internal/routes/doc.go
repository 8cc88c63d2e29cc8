// Package routes keeps, per route pattern, the value a router adapter
// records in a request's facts (a secaudit.RouteSource giving the
// pattern), so that recording a route costs no allocation per request:
// the adapters of instrumentation/echo and instrumentation/gorilla, whose
// routers give the pattern as a string, share one such value per route.
package routes
