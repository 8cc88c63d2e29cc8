package main

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/go-chi/chi/v5"
	"github.com/labstack/echo/v4"

	"github.com/secaudit/secaudit/instrumentation/chi/auditchi"
	"github.com/secaudit/secaudit/instrumentation/echo/auditecho"
	"github.com/secaudit/secaudit/instrumentation/gin/auditgin"
)

// routerNames are the values of -router: the same endpoints, status codes
// and events through net/http's ServeMux or another router with its audit
// adapter; only http.route differs, in the router's own syntax
// (/api/accounts/{id} for std and chi, /api/accounts/:id for gin and echo).
var routerNames = []string{"std", "chi", "gin", "echo"}

// endpoint is one route of the demo, its pattern in ServeMux syntax.
type endpoint struct {
	method, path string
	handler      http.Handler
}

// endpoints are the demo's routes, each handler behind authentication
// (which names the session's user, if any).
func (a *app) endpoints() []endpoint {
	list := []struct {
		method, path string
		h            http.HandlerFunc
	}{
		{"GET", "/healthz", healthz},
		{"POST", "/login", a.login},
		{"POST", "/logout", a.logout},
		{"GET", "/api/accounts/{id}", a.getAccount},
		{"PATCH", "/api/accounts/{id}", a.patchAccount},
		{"POST", "/api/transfers", a.createTransfer},
		{"GET", "/panic", func(http.ResponseWriter, *http.Request) { panic("demo: deliberate panic") }},
		{"GET", "/slow", slow},
	}
	out := make([]endpoint, len(list))
	for i, e := range list {
		out[i] = endpoint{e.method, e.path, a.authenticate(e.h)}
	}
	return out
}

// newRouter serves eps through the named router, with its audit adapter
// as its first middleware; the audit middleware goes around it.
func newRouter(name string, eps []endpoint) (http.Handler, error) {
	switch name {
	case "std":
		mux := http.NewServeMux()
		for _, e := range eps {
			mux.Handle(e.method+" "+e.path, e.handler)
		}
		return mux, nil
	case "chi":
		r := chi.NewRouter()
		r.Use(auditchi.Route)
		for _, e := range eps {
			r.Method(e.method, e.path, e.handler) // chi sets the request's path values
		}
		return r, nil
	case "gin":
		gin.SetMode(gin.ReleaseMode)
		r := gin.New()
		// As the ServeMux: 405 for a known path, no trailing-slash redirects.
		r.HandleMethodNotAllowed = true
		r.RedirectTrailingSlash = false
		r.Use(auditgin.Route)
		for _, e := range eps {
			h := e.handler
			r.Handle(e.method, colonParams(e.path), func(c *gin.Context) {
				for _, p := range c.Params {
					c.Request.SetPathValue(p.Key, p.Value)
				}
				h.ServeHTTP(c.Writer, c.Request)
			})
		}
		return r, nil
	case "echo":
		e := echo.New()
		e.Use(auditecho.Route)
		for _, ep := range eps {
			h := ep.handler
			e.Add(ep.method, colonParams(ep.path), func(c echo.Context) error {
				for i, name := range c.ParamNames() {
					c.Request().SetPathValue(name, c.ParamValues()[i])
				}
				h.ServeHTTP(c.Response(), c.Request())
				return nil
			})
		}
		return e, nil
	}
	return nil, fmt.Errorf("-router=%q: want one of %s", name, strings.Join(routerNames, ", "))
}

// colonParams writes a ServeMux pattern's {name} segments as gin and echo
// do (:name).
func colonParams(path string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(path, '{')
		j := strings.IndexByte(path, '}')
		if i < 0 || j < i {
			b.WriteString(path)
			return b.String()
		}
		b.WriteString(path[:i])
		b.WriteByte(':')
		b.WriteString(path[i+1 : j])
		path = path[j+1:]
	}
}
