package instrumentation

import (
	"net/http"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/internal/reqctx"
)

// Route marks where the router is, for a net/http ServeMux (or any handler
// that records the matched pattern on its request, as ServeMux does with
// Request.Pattern) behind middlewares that pass copies of the request on:
//
//	srv.Handler = otelhttp.NewHandler(audit.Wrap(auth(instrumentation.Route(mux))), "server")
//
// The audit middleware reads the pattern from the request it passed on,
// but a mux records it on the request it is given: when an authentication
// or rate-limiting middleware between them calls r.WithContext, the
// pattern lands on that copy and no event would carry http.route. Route
// makes the request it passes to next the request facts' pattern source
// (secaudit.Request.SetPatternSource), so the response event and every
// event emitted during the handler carry the mux's pattern. A request
// answered before it reaches Route (a 401 from the middleware in front)
// was never routed and has no route. Without the audit middleware in
// front, Route only calls next.
func Route(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The raw lookup: recording the route reads none of the facts
		// filled when first asked for.
		req, _ := r.Context().Value(reqctx.RawKey{}).(*secaudit.Request)
		req.SetPatternSource(r)
		next.ServeHTTP(w, r)
	})
}
