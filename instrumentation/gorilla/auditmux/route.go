package auditmux

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/internal/routes"
)

// Route is gorilla/mux middleware (r.Use(auditmux.Route)) that records the
// matched route's path template in the request facts of the audit
// middleware in front of the router, for the response event and every
// event of the request.
func Route(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if req := secaudit.RequestForUpdate(r.Context()); req != nil {
			if route := mux.CurrentRoute(r); route != nil {
				if tpl, err := route.GetPathTemplate(); err == nil && tpl != "" {
					t, ok := templates.Load(tpl)
					if !ok {
						t = templates.Get(tpl, newTemplate)
					}
					req.SetRouteSource(t)
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// template is the route source of a path template: gorilla/mux's own
// string.
type template struct{ path string }

var _ secaudit.RouteSource = (*template)(nil)

// Route returns the template.
func (t *template) Route() string { return t.path }

func newTemplate(path string) *template { return &template{path: path} }

// templates keeps one route source per template.
var templates routes.Cache[template]
