package secaudit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"go.opentelemetry.io/otel/attribute"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/semconv"
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

// routeSource is a router's state as a route source: the pattern it has
// matched so far.
type routeSource struct{ pattern string }

func (s *routeSource) Route() string { return s.pattern }

// TestRouteSource: a route source is read at each Route call (so an event
// during the handler sees what the router matched by then), SetRoute wins
// over it, SetRouteSource(nil) keeps what it gives at that moment, and a
// source with nothing falls back to the pattern source.
func TestRouteSource(t *testing.T) {
	var req secaudit.Request
	pat := httptest.NewRequest("GET", "/x", nil)
	req.SetPatternSource(pat)
	src := &routeSource{}
	req.SetRouteSource(src)
	if got := req.Route(); got != "" {
		t.Fatalf("route before routing = %q", got)
	}
	src.pattern = "/accounts/{id}"
	if got := req.Route(); got != "/accounts/{id}" {
		t.Fatalf("route after matching = %q", got)
	}
	req.SetRouteSource(nil)
	src.pattern = "/reused/by/the/router"
	if got := req.Route(); got != "/accounts/{id}" {
		t.Fatalf("route after the source was removed = %q, want the one it gave then", got)
	}

	var explicit secaudit.Request
	explicit.SetRouteSource(&routeSource{pattern: "/from/source"})
	explicit.SetRoute("/explicit")
	explicit.SetRouteSource(nil)
	if got := explicit.Route(); got != "/explicit" {
		t.Fatalf("SetRoute did not win over the source: %q", got)
	}

	var unmatched secaudit.Request
	unmatched.SetPatternSource(pat)
	pat.Pattern = "GET /x"
	unmatched.SetRouteSource(&routeSource{})
	if got := unmatched.Route(); got != "/x" {
		t.Fatalf("an empty source did not fall back to the pattern: %q", got)
	}
	unmatched.SetRouteSource(nil)
	if got := unmatched.Route(); got != "/x" {
		t.Fatalf("after the source: %q", got)
	}

	var nilReq *secaudit.Request
	nilReq.SetRouteSource(src)
	nilReq.SetRouteSource(nil)
	if nilReq.Route() != "" {
		t.Fatal("nil request has a route")
	}
}

// pooledSource is a router's per-request state as a route source: the
// router writes it again for its next request once SetRouteSource(nil)
// has returned.
type pooledSource struct {
	entered chan struct{}
	once    sync.Once
	pattern string
}

func (s *pooledSource) Route() string {
	s.once.Do(func() { close(s.entered) })
	return s.pattern
}

// TestRouteSourceReadsFinishBeforeRemoval: an event reading the route
// source on another goroutine has finished reading it when
// SetRouteSource(nil) returns, so the router may reuse its state. The race
// detector (go test -race) judges: the read and the router's next write
// must be ordered.
func TestRouteSourceReadsFinishBeforeRemoval(t *testing.T) {
	var req secaudit.Request
	src := &pooledSource{entered: make(chan struct{}), pattern: "/accounts/{id}"}
	req.SetRouteSource(src)
	done := make(chan string)
	go func() { done <- req.Route() }()
	<-src.entered
	req.SetRouteSource(nil)
	src.pattern = "/the/next/request" // the router reuses its state
	if got := <-done; got != "/accounts/{id}" {
		t.Fatalf("route read during removal %q", got)
	}
	if got := req.Route(); got != "/accounts/{id}" {
		t.Fatalf("route after removal %q", got)
	}
}

// TestRecordsCarryCopiesOfRequestFacts: every string a record takes from
// the request (facts, route) is a copy, so that a record waiting in a queue
// does not keep the request's memory alive (the method and path are
// substrings of the request line, which holds the query too). Short facts
// share one copy; a long one gets a copy of its own for each event.
func TestRecordsCarryCopiesOfRequestFacts(t *testing.T) {
	line := "GET /items/42 " + strings.Repeat("q", 1<<10) + " 0123456789abcdef0123456789abcdef 203.0.113.7 10.0.0.2 s3ss10n /orders/{id}"
	field := func(s string) string {
		i := strings.Index(line, s)
		return line[i : i+len(s)]
	}
	long := "/" + strings.Repeat("p", 600)
	longLine := "GET " + long + "?q=1"
	tests := []struct {
		name string
		req  *secaudit.Request
	}{
		{"short facts", &secaudit.Request{
			ID: field("0123456789abcdef0123456789abcdef"), ClientAddress: field("203.0.113.7"),
			PeerAddress: field("10.0.0.2"), Method: field("GET"), Path: field("/items/42"),
			SessionID: field("s3ss10n"),
		}},
		{"long path", &secaudit.Request{
			ID: field("0123456789abcdef0123456789abcdef"), Method: longLine[:3], Path: longLine[4 : 4+len(long)],
		}},
	}
	inside := func(s, of string) bool {
		if s == "" || of == "" {
			return false
		}
		p, lo := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.StringData(of)))
		return p >= lo && p < lo+uintptr(len(of))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, rec := newAuditor(t)
			tt.req.SetRoute(field("/orders/{id}"))
			ctx := secaudit.ContextWithRequest(context.Background(), tt.req)
			for range 2 { // the second event reuses the copies
				a.ModelAccessed(ctx, secaudit.Model{Name: "order", ID: "42"})
			}
			n := 0
			for _, rs := range rec.Result() {
				for _, r := range rs {
					n++
					for _, kv := range r.Attributes {
						s := kv.Value.AsString()
						if inside(s, line) || inside(s, longLine) {
							t.Errorf("%s = %.40q shares memory with the request", kv.Key, s)
						}
					}
				}
			}
			if n != 2 {
				t.Fatalf("%d records, want 2", n)
			}
		})
	}
}

// TestRequestFactsConcurrentSafe: events emitted at once from many
// goroutines of one request all carry its facts.
func TestRequestFactsConcurrentSafe(t *testing.T) {
	a, rec := newAuditor(t)
	req := &secaudit.Request{ID: "0123456789abcdef0123456789abcdef", Method: "GET", Path: "/p"}
	ctx := secaudit.ContextWithRequest(context.Background(), req)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { a.ModelAccessed(ctx, secaudit.Model{Name: "m"}) })
	}
	wg.Wait()
	for _, rs := range rec.Result() {
		for _, r := range rs {
			got := map[attribute.Key]string{}
			for _, kv := range r.Attributes {
				got[kv.Key] = kv.Value.AsString()
			}
			if got[semconv.AuditRequestIDKey] != req.ID || got[semconv.HTTPRequestMethodKey] != "GET" || got[semconv.URLPathKey] != "/p" {
				t.Fatalf("facts = %v", got)
			}
		}
	}
}

// TestRequestAttributesOnEveryEvent: the facts an adapter puts in
// Request.Attributes (the gRPC interceptors' rpc.*) are on every event of
// the request; an event's own attribute of the same key wins, and an empty
// key is left out.
func TestRequestAttributesOnEveryEvent(t *testing.T) {
	a, rec := newAuditor(t)
	req := &secaudit.Request{
		ID: "0123456789abcdef0123456789abcdef",
		Attributes: []attribute.KeyValue{
			semconv.RPCSystemNameGRPC,
			semconv.RPCMethodKey.String("shop.Accounts/Get"),
			{Key: "", Value: attribute.StringValue("dropped")},
		},
	}
	ctx := secaudit.ContextWithRequest(context.Background(), req)
	a.LoginFailed(ctx, secaudit.User{}, "bad_password")
	a.ModelAccessed(ctx, secaudit.Model{Name: "account", ID: "1"}, semconv.RPCMethodKey.String("override"))
	var got []map[attribute.Key]string
	for _, rs := range rec.Result() {
		for _, r := range rs {
			m := map[attribute.Key]string{}
			n := 0
			for _, kv := range r.Attributes {
				if kv.Key == semconv.RPCMethodKey {
					n++
				}
				m[kv.Key] = kv.Value.String()
			}
			if n != 1 {
				t.Errorf("%s: rpc.method %d times, want once", r.EventName, n)
			}
			if _, ok := m[""]; ok {
				t.Errorf("%s: an attribute with an empty key", r.EventName)
			}
			got = append(got, m)
		}
	}
	if len(got) != 2 {
		t.Fatalf("%d records, want 2", len(got))
	}
	for i, want := range []string{"shop.Accounts/Get", "override"} {
		if got[i][semconv.RPCSystemNameKey] != "grpc" || got[i][semconv.RPCMethodKey] != want {
			t.Errorf("event %d: rpc.system.name %q, rpc.method %q, want grpc, %q", i,
				got[i][semconv.RPCSystemNameKey], got[i][semconv.RPCMethodKey], want)
		}
	}
}

// RequestForUpdate finds the same Request as RequestFromContext, and
// nothing where there is none.
func TestRequestForUpdate(t *testing.T) {
	req := &secaudit.Request{Method: "GET", Path: "/x"}
	ctx := secaudit.ContextWithRequest(context.Background(), req)
	if got := secaudit.RequestForUpdate(ctx); got != req || got != secaudit.RequestFromContext(ctx) {
		t.Fatalf("RequestForUpdate = %p, want %p", got, req)
	}
	//lint:ignore SA1012 a nil context is part of the contract
	if secaudit.RequestForUpdate(nil) != nil || secaudit.RequestForUpdate(context.Background()) != nil {
		t.Fatal("a request found in a context without one")
	}
}
