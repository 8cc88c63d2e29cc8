package auditgrpc_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	sdklog "go.opentelemetry.io/otel/sdk/log"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/secaudit/secaudit/instrumentation/grpc/auditgrpc"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestCalls: unary and stream calls that end OK, PermissionDenied,
// Unauthenticated (after a failed login the service audits) and in a
// panic, over a real loopback gRPC server with otelgrpc's stats handler:
// one response event per call with the rpc facts, the route, the peer,
// the user and the trace of otelgrpc's server span, and the same facts on
// the event the service emitted during the call.
func TestCalls(t *testing.T) {
	tests := []struct {
		name      string
		service   string
		recover   bool // WithRecoverPanics instead of a recovery interceptor outside
		wantCode  codes.Code
		wantEvent string
		wantSev   string
		wantUser  string
		wantInner string // an event the service emitted first
		wantPanic bool
	}{
		{"ok", "ok", false, codes.OK, semconv.EventHTTPResponseSuccess, "INFO", "7", "", false},
		{"permission denied", "denied", false, codes.PermissionDenied, semconv.EventHTTPResponseClientError, "WARNING", "7", "", false},
		{"unauthenticated", "login", false, codes.Unauthenticated, semconv.EventHTTPResponseClientError, "WARNING", "", semconv.EventLoginFailed, false},
		{"panic re-raised to the recovery interceptor", "panic", false, codes.Internal, semconv.EventHTTPResponseServerError, "ERROR", "", "", true},
		{"panic recovered (WithRecoverPanics)", "panic", true, codes.Internal, semconv.EventHTTPResponseServerError, "ERROR", "", "", true},
	}
	for _, kind := range []struct {
		stream bool
		method string
	}{{false, "grpc.health.v1.Health/Check"}, {true, "grpc.health.v1.Health/Watch"}} {
		for _, tt := range tests {
			name := "unary/" + tt.name
			if kind.stream {
				name = "stream/" + tt.name
			}
			t.Run(name, func(t *testing.T) {
				s := startServer(t, !tt.recover, auditgrpc.WithLogOKResponses(true), auditgrpc.WithRecoverPanics(tt.recover))
				if got := s.call(t, context.Background(), kind.stream, tt.service); got != tt.wantCode {
					t.Fatalf("client got %v, want %v", got, tt.wantCode)
				}
				if tt.recover { // the server still serves
					if got := s.call(t, context.Background(), kind.stream, "denied"); got != codes.PermissionDenied {
						t.Fatalf("after the panic: %v", got)
					}
				}
				recs := s.capture.Records()
				want := 1
				if tt.wantInner != "" {
					want = 2
				}
				if tt.recover {
					want++ // the second call's
				}
				if len(recs) != want {
					t.Fatalf("%d records, want %d: %v", len(recs), want, names(recs))
				}
				resp := recs[0]
				if tt.wantInner != "" {
					if recs[0].EventName() != tt.wantInner {
						t.Fatalf("first event %q, want %q", recs[0].EventName(), tt.wantInner)
					}
					resp = recs[1]
				}
				if resp.EventName() != tt.wantEvent || resp.SeverityText() != tt.wantSev {
					t.Errorf("response event %q %s, want %q %s", resp.EventName(), resp.SeverityText(), tt.wantEvent, tt.wantSev)
				}
				span := s.svc.span(tt.service)
				if !span.IsValid() {
					t.Fatal("the handler saw no span: otelgrpc is not in front")
				}
				var reqID string
				for _, r := range recs[:want-btoi(tt.recover)] {
					m := testsupport.AttrMap(&r)
					str := func(k string) string { return m[k].String() }
					for k, v := range map[string]string{
						"rpc.system.name":      "grpc",
						"rpc.method":           kind.method,
						"http.route":           "/" + kind.method,
						"client.address":       "127.0.0.1",
						"network.peer.address": "127.0.0.1",
					} {
						if str(k) != v {
							t.Errorf("%s: %s = %q, want %q", r.EventName(), k, str(k), v)
						}
					}
					if _, ok := m["http.request.method"]; ok {
						t.Errorf("%s: http.request.method on a gRPC call", r.EventName())
					}
					if id := str("audit.request_id"); !hexID.MatchString(id) || (reqID != "" && id != reqID) {
						t.Errorf("%s: audit.request_id %q (call's %q)", r.EventName(), id, reqID)
					} else {
						reqID = id
					}
					if r.TraceID() != span.TraceID() || r.SpanID() != span.SpanID() {
						t.Errorf("%s: trace %s/%s, want otelgrpc's server span %s/%s",
							r.EventName(), r.TraceID(), r.SpanID(), span.TraceID(), span.SpanID())
					}
				}
				m := testsupport.AttrMap(&resp)
				if got := m["user.id"].String(); got != tt.wantUser {
					t.Errorf("user.id %q, want %q", got, tt.wantUser)
				}
				wantStatus := strings.ToUpper(map[codes.Code]string{
					codes.OK: "OK", codes.PermissionDenied: "PERMISSION_DENIED",
					codes.Unauthenticated: "UNAUTHENTICATED", codes.Internal: "INTERNAL"}[tt.wantCode])
				if tt.wantPanic && !tt.recover {
					wantStatus = "" // the recovery interceptor outside chose it
				}
				if got := m["rpc.response.status_code"].String(); got != wantStatus {
					t.Errorf("rpc.response.status_code %q, want %q", got, wantStatus)
				}
				if _, ok := m["audit.duration_ns"]; !ok {
					t.Error("no audit.duration_ns")
				}
				if got := m["exception.message"].String(); tt.wantPanic != (got == "handler exploded") {
					t.Errorf("exception.message %q (panic: %v)", got, tt.wantPanic)
				}
				if tt.wantPanic && !strings.Contains(m["exception.stacktrace"].String(), "answer") {
					t.Error("exception.stacktrace does not show the handler")
				}
				st := s.ai.Stats()
				if st.Calls != uint64(1+btoi(tt.recover)) || st.Emitted != st.Calls || st.Panics != uint64(btoi(tt.wantPanic)) {
					t.Errorf("stats %+v", st)
				}
			})
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func names(recs []sdklog.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.EventName())
	}
	return out
}

// TestOKNotLoggedByDefault: like the HTTP middleware, a successful call is
// counted, not logged, unless OK responses are enabled.
func TestOKNotLoggedByDefault(t *testing.T) {
	s := startServer(t, true)
	for _, stream := range []bool{false, true} {
		if got := s.call(t, context.Background(), stream, "ok"); got != codes.OK {
			t.Fatal(got)
		}
	}
	if n := s.capture.Len(); n != 0 {
		t.Fatalf("%d records, want none", n)
	}
	if st := s.ai.Stats(); st.Calls != 2 || st.OKNotLogged != 2 || st.Emitted != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestClientAddress: client.address is the peer unless trusted proxies are
// configured and the peer is one; then it is x-forwarded-for's entry
// before the trusted hops, never its leftmost.
func TestClientAddress(t *testing.T) {
	tests := []struct {
		name string
		opts []auditgrpc.Option
		xff  []string
		want string
	}{
		{"no proxy trusted", nil, []string{"203.0.113.7"}, "127.0.0.1"},
		{"loopback proxy trusted", []auditgrpc.Option{auditgrpc.WithTrustedProxies([]string{"127.0.0.1/32"}, 1)},
			[]string{"198.51.100.1, 203.0.113.7"}, "203.0.113.7"},
		{"other proxy trusted", []auditgrpc.Option{auditgrpc.WithTrustedProxies([]string{"10.0.0.0/8"}, 1)},
			[]string{"203.0.113.7"}, "127.0.0.1"},
		{"trusted, no header", []auditgrpc.Option{auditgrpc.WithTrustedProxies([]string{"127.0.0.1"}, 1)},
			nil, "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, true, tt.opts...)
			ctx := context.Background()
			for _, v := range tt.xff {
				ctx = metadata.AppendToOutgoingContext(ctx, "x-forwarded-for", v)
			}
			if got := s.call(t, ctx, false, "denied"); got != codes.PermissionDenied {
				t.Fatal(got)
			}
			r := s.capture.Only(t)
			m := testsupport.AttrMap(&r)
			if got := m["client.address"].String(); got != tt.want {
				t.Errorf("client.address %q, want %q", got, tt.want)
			}
			if got := m["network.peer.address"].String(); got != "127.0.0.1" {
				t.Errorf("network.peer.address %q", got)
			}
		})
	}
}

// TestStatusClasses pins the mapping of every status code to the event's
// class (the table in the package documentation).
func TestStatusClasses(t *testing.T) {
	server := map[codes.Code]bool{
		codes.Unknown: true, codes.DeadlineExceeded: true, codes.Unimplemented: true,
		codes.Internal: true, codes.Unavailable: true, codes.DataLoss: true,
	}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if got := auditgrpc.IsServerError(c); got != server[c] {
			t.Errorf("IsServerError(%v) = %v", c, got)
		}
	}
	if auditgrpc.IsServerError(codes.Code(99)) {
		t.Error("IsServerError(99): an unknown code is a client error")
	}
}

func TestOptionsValidated(t *testing.T) {
	tests := []struct {
		opt  auditgrpc.Option
		want string
	}{
		{auditgrpc.WithTrustedProxies([]string{"nope"}, 1), `secaudit: WithTrustedProxies("nope"): want CIDRs`},
		{auditgrpc.WithTrustedProxies([]string{"10.0.0.0/8"}, 0), `secaudit: WithTrustedProxies(1 networks, count 0): want networks and a count >= 1`},
		{auditgrpc.WithTrustedProxies(nil, 2), `secaudit: WithTrustedProxies(0 networks, count 2)`},
	}
	for _, tt := range tests {
		_, err := auditgrpc.New(tt.opt)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("error %v, want prefix %q", err, tt.want)
		}
	}
	if _, err := auditgrpc.New(auditgrpc.WithTrustedProxies(nil, 0)); err != nil {
		t.Errorf("no proxies: %v", err)
	}
}
