package main

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/setup"
)

// routerStep is one request of the script and what the ServeMux gives for
// it: the status, the events in order, and the route every event carries
// ("" for none), in ServeMux syntax.
type routerStep struct {
	method, path, body string
	session            bool
	status             int
	events             []string
	route              string
}

var routerScript = []routerStep{
	{method: "GET", path: "/healthz", status: 200}, // OK responses are not logged
	{method: "POST", path: "/login", body: `{"username":"alice","password":"wrong"}`, status: 401,
		events: []string{"auth.login.failed", "http.response.client_error"}, route: "/login"},
	{method: "POST", path: "/login", body: `{"username":"alice","password":"wonderland"}`, status: 200,
		events: []string{"auth.login.success"}, route: "/login"},
	{method: "GET", path: "/api/accounts/1", session: true, status: 200,
		events: []string{"model.access"}, route: "/api/accounts/{id}"},
	{method: "GET", path: "/api/accounts/2", session: true, status: 403,
		events: []string{"authz.denied", "http.response.client_error"}, route: "/api/accounts/{id}"},
	{method: "GET", path: "/api/accounts/99", session: true, status: 404,
		events: []string{"http.response.client_error"}, route: "/api/accounts/{id}"},
	{method: "PATCH", path: "/api/accounts/1", body: `{"nickname":"alice-renamed"}`, session: true, status: 200,
		events: []string{"model.update"}, route: "/api/accounts/{id}"},
	{method: "POST", path: "/api/transfers", body: `not json`, session: true, status: 400,
		events: []string{"http.response.client_error"}, route: "/api/transfers"},
	{method: "GET", path: "/api/accounts/1", status: 401,
		events: []string{"http.response.client_error"}, route: "/api/accounts/{id}"},
	{method: "GET", path: "/nowhere", session: true, status: 404,
		events: []string{"http.response.client_error"}}, // not routed: no route
	{method: "DELETE", path: "/api/accounts/1", session: true, status: 405,
		events: []string{"http.response.client_error"}},
	{method: "GET", path: "/panic", session: true, status: 500,
		events: []string{"http.response.server_error"}, route: "/panic"},
	{method: "POST", path: "/logout", session: true, status: 204,
		events: []string{"auth.logout.success"}, route: "/logout"},
}

// TestRoutersServeAlike: the script through each -router gives the same
// status codes and events as through the ServeMux, every event of a
// request carrying the route in that router's syntax (none for what no
// route matched) and the logged-in user where there is one.
func TestRoutersServeAlike(t *testing.T) {
	for _, name := range routerNames {
		t.Run(name, func(t *testing.T) {
			testsupport.ClearEnv(t)
			capture := &testsupport.Capture{}
			p, err := setup.New(context.Background(), setup.WithJSONLWriter(io.Discard), setup.WithTracing(), setup.WithProcessor(capture))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown(context.Background())
			h, err := newRouterHandler(p, name)
			if err != nil {
				t.Fatal(err)
			}
			var cookie string
			for _, step := range routerScript {
				req := httptest.NewRequest(step.method, step.path, strings.NewReader(step.body))
				if step.session && cookie != "" {
					req.Header.Set("Cookie", cookie)
				}
				w := httptest.NewRecorder()
				capture.Reset()
				h.ServeHTTP(w, req)
				if c := w.Result().Cookies(); len(c) > 0 && c[0].Name == "session" && c[0].Value != "" {
					cookie = "session=" + c[0].Value
				}
				what := step.method + " " + step.path
				if w.Code != step.status {
					t.Errorf("%s: status %d, want %d", what, w.Code, step.status)
				}
				route := step.route
				if name == "gin" || name == "echo" {
					route = colonParams(route)
				}
				var names []string
				for _, r := range capture.Records() {
					if r.EventName() == "security.alert" {
						continue // detection's, not the request's
					}
					names = append(names, r.EventName())
					attrs := testsupport.AttrMap(&r)
					if got := attrs["http.route"].AsString(); got != route {
						t.Errorf("%s: %s carries http.route %q, want %q", what, r.EventName(), got, route)
					}
					if step.session && attrs["user.id"].AsString() != "1" && step.status != 404 && step.status != 405 {
						t.Errorf("%s: %s carries user.id %q, want alice's", what, r.EventName(), attrs["user.id"].AsString())
					}
					if !r.TraceID().IsValid() {
						t.Errorf("%s: %s without a trace", what, r.EventName())
					}
				}
				if strings.Join(names, " ") != strings.Join(step.events, " ") {
					t.Errorf("%s: events %v, want %v", what, names, step.events)
				}
			}
		})
	}
}

// TestRouterFlag: an unknown router is refused, naming the choices.
func TestRouterFlag(t *testing.T) {
	if _, err := newRouter("httprouter", nil); err == nil || !strings.Contains(err.Error(), "std, chi, gin, echo") {
		t.Fatalf("newRouter(httprouter) = %v", err)
	}
	if got := colonParams("/api/{org}/accounts/{id}"); got != "/api/:org/accounts/:id" {
		t.Fatalf("colonParams = %q", got)
	}
}
