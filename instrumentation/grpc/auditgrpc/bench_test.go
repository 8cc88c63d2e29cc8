package auditgrpc_test

import (
	"context"
	"net"
	"testing"

	"go.opentelemetry.io/otel/log/noop"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/instrumentation/grpc/auditgrpc"
	"github.com/secaudit/secaudit/internal/testsupport"
)

// discard is an sdk/log processor that drops every record: the cost of the
// pipeline up to the exporter, without an exporter.
type discard struct{}

func (discard) OnEmit(context.Context, *sdklog.Record) error { return nil }
func (discard) Enabled(context.Context, sdklog.EnabledParameters) bool {
	return true
}
func (discard) Shutdown(context.Context) error   { return nil }
func (discard) ForceFlush(context.Context) error { return nil }

type plainHealth struct {
	healthpb.UnimplementedHealthServer
}

func (plainHealth) Check(_ context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if req.GetService() == "denied" {
		return nil, status.Error(codes.PermissionDenied, "not yours")
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

// BenchmarkUnaryCall: a whole unary call over loopback, without the audit
// interceptor and with it (records built by the SDK and discarded); an OK
// call (counted, not logged) and a PermissionDenied one (one event).
// Compare with benchstat -col /interceptor.
func BenchmarkUnaryCall(b *testing.B) {
	for _, audited := range []bool{false, true} {
		var opts []grpc.ServerOption
		name := "interceptor=none"
		if audited {
			lp := testsupport.NewProvider(discard{})
			b.Cleanup(func() { _ = lp.Shutdown(context.Background()) })
			a, _ := secaudit.New(secaudit.WithLoggerProvider(lp), secaudit.WithoutEnv())
			ai, err := auditgrpc.New(auditgrpc.WithAuditor(a))
			if err != nil {
				b.Fatal(err)
			}
			opts = append(opts, grpc.ChainUnaryInterceptor(ai.UnaryServerInterceptor()))
			name = "interceptor=audit"
		}
		srv := grpc.NewServer(opts...)
		healthpb.RegisterHealthServer(srv, plainHealth{})
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go func() { _ = srv.Serve(lis) }()
		conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		client := healthpb.NewHealthClient(conn)
		for _, svc := range []string{"ok", "denied"} {
			b.Run(name+"/call="+svc, func(b *testing.B) {
				req := &healthpb.HealthCheckRequest{Service: svc}
				b.ReportAllocs()
				for b.Loop() {
					_, _ = client.Check(context.Background(), req)
				}
			})
		}
		_ = conn.Close()
		srv.Stop()
	}
}

// callFunc invokes the unary interceptor directly, with a peer in the
// context, as the server would; the handler allocates nothing.
func callFunc(t testing.TB, ai *auditgrpc.Interceptor, fail bool) func() {
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}})
	info := &grpc.UnaryServerInfo{FullMethod: "/grpc.health.v1.Health/Check"}
	denied := status.Error(codes.PermissionDenied, "not yours")
	handler := func(context.Context, any) (any, error) {
		if fail {
			return nil, denied
		}
		return nil, nil
	}
	if ai == nil {
		return func() { _, _ = handler(ctx, nil) }
	}
	intercept := ai.UnaryServerInterceptor()
	return func() {
		if _, err := intercept(ctx, nil, info, handler); (err != nil) != fail {
			t.Fatalf("err %v", err)
		}
	}
}

// TestInterceptorAllocs locks the allocations the interceptor adds per
// call. Always 3: the call state (request facts, id, context node, rpc
// attributes: one allocation), the route's copy, the peer address's text.
// A failed call that a real pipeline records adds 7: the record's
// attributes growing in the Logs API and the SDK (5, as for every event
// of that size), the SDK's record, and the one copy of the request facts
// the record carries.
func TestInterceptorAllocs(t *testing.T) {
	if testsupport.Race {
		t.Skip("the race detector changes allocation counts")
	}
	lp := testsupport.NewProvider(discard{})
	t.Cleanup(func() { _ = lp.Shutdown(context.Background()) })
	tests := []struct {
		name     string
		provider bool // an SDK provider, else a no-op one
		fail     bool
		budget   float64
	}{
		{"OK call, not logged", true, false, 3},
		{"denied call, no-op provider", false, true, 3},
		{"denied call, SDK provider", true, true, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := secaudit.WithLoggerProvider(noop.NewLoggerProvider())
			if tt.provider {
				opt = secaudit.WithLoggerProvider(lp)
			}
			a, _ := secaudit.New(opt, secaudit.WithoutEnv())
			ai, err := auditgrpc.New(auditgrpc.WithAuditor(a))
			if err != nil {
				t.Fatal(err)
			}
			bare := testing.AllocsPerRun(200, callFunc(t, nil, tt.fail))
			got := testing.AllocsPerRun(200, callFunc(t, ai, tt.fail)) - bare
			t.Logf("%.0f allocations per call over the bare handler", got)
			if got > tt.budget {
				t.Errorf("%.0f allocations per call, budget %.0f", got, tt.budget)
			}
		})
	}
}

// BenchmarkInterceptor: the interceptor alone, called as the server calls
// it, over a bare handler (records built by the SDK and discarded).
// Compare with benchstat -col /interceptor.
func BenchmarkInterceptor(b *testing.B) {
	lp := testsupport.NewProvider(discard{})
	b.Cleanup(func() { _ = lp.Shutdown(context.Background()) })
	a, _ := secaudit.New(secaudit.WithLoggerProvider(lp), secaudit.WithoutEnv())
	ai, err := auditgrpc.New(auditgrpc.WithAuditor(a))
	if err != nil {
		b.Fatal(err)
	}
	for _, v := range []struct {
		name string
		ai   *auditgrpc.Interceptor
	}{{"interceptor=none", nil}, {"interceptor=audit", ai}} {
		for _, fail := range []bool{false, true} {
			name := v.name + "/call=ok"
			if fail {
				name = v.name + "/call=denied"
			}
			b.Run(name, func(b *testing.B) {
				f := callFunc(b, v.ai, fail)
				b.ReportAllocs()
				for b.Loop() {
					f()
				}
			})
		}
	}
}
