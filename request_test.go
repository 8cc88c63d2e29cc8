package secaudit_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/secaudit/secaudit"
)

func TestRouteFromPattern(t *testing.T) {
	tests := []struct{ pattern, want string }{
		{"GET /api/accounts/{id}", "/api/accounts/{id}"},
		{"example.com/static/", "/static/"},
		{"POST example.com/login", "/login"},
		{"/", "/"},
		{"", ""},
		{"GET", ""},
	}
	for _, tt := range tests {
		if got := secaudit.RouteFromPattern(tt.pattern); got != tt.want {
			t.Errorf("RouteFromPattern(%q) = %q, want %q", tt.pattern, got, tt.want)
		}
	}
}

func TestRouteFallsBackToThePatternSource(t *testing.T) {
	var req secaudit.Request
	r := httptest.NewRequest("GET", "/api/accounts/7", nil)
	req.SetPatternSource(r)
	if got := req.Route(); got != "" {
		t.Fatalf("route before routing = %q", got)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/accounts/{id}", func(http.ResponseWriter, *http.Request) {
		if got := req.Route(); got != "/api/accounts/{id}" {
			t.Errorf("route during the handler = %q", got)
		}
	})
	mux.ServeHTTP(httptest.NewRecorder(), r)
	req.SetRoute("/explicit")
	if got := req.Route(); got != "/explicit" {
		t.Fatalf("SetRoute did not win: %q", got)
	}
	var nilReq *secaudit.Request
	nilReq.SetPatternSource(r)
	if nilReq.Route() != "" {
		t.Fatal("nil request has a route")
	}
}
