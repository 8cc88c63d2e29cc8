package auditgrpc_test

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/instrumentation/grpc/auditgrpc"
	"github.com/secaudit/secaudit/internal/testsupport"
)

// service is a health service whose answer depends on the service name
// asked for: "ok" (after naming the user), "denied" (PermissionDenied),
// "login" (a failed login, then Unauthenticated), "panic".
type service struct {
	healthpb.UnimplementedHealthServer
	audit *secaudit.Auditor

	mu    sync.Mutex
	spans map[string]trace.SpanContext // the span each call's handler saw, by name
}

func (s *service) answer(ctx context.Context, name string) error {
	s.mu.Lock()
	s.spans[name] = trace.SpanContextFromContext(ctx)
	s.mu.Unlock()
	switch name {
	case "ok":
		secaudit.SetUser(ctx, secaudit.User{ID: "7"})
		return nil
	case "denied":
		secaudit.SetUser(ctx, secaudit.User{ID: "7"})
		return status.Error(codes.PermissionDenied, "not yours")
	case "login":
		s.audit.LoginFailed(ctx, secaudit.User{Name: "mallory"}, "bad_password")
		return status.Error(codes.Unauthenticated, "who are you")
	case "panic":
		panic("handler exploded")
	}
	return status.Error(codes.NotFound, "unknown")
}

func (s *service) span(name string) trace.SpanContext {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spans[name]
}

func (s *service) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if err := s.answer(ctx, req.GetService()); err != nil {
		return nil, err
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func (s *service) Watch(req *healthpb.HealthCheckRequest, stream grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	if err := s.answer(stream.Context(), req.GetService()); err != nil {
		return err
	}
	return stream.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING})
}

// recovering stands for the application's recovery interceptor, outermost:
// it turns a panic into codes.Internal.
func recoverUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if recover() != nil {
			resp, err = nil, status.Error(codes.Internal, "recovered")
		}
	}()
	return h(ctx, req)
}

func recoverStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if recover() != nil {
			err = status.Error(codes.Internal, "recovered")
		}
	}()
	return h(srv, ss)
}

type server struct {
	capture *testsupport.Capture
	svc     *service
	ai      *auditgrpc.Interceptor
	client  healthpb.HealthClient
}

// startServer serves the health service on a loopback listener through
// otelgrpc's stats handler (a real sdk/trace provider) and the audit
// interceptors; recovery puts a recovery interceptor outside them.
func startServer(t *testing.T, recovery bool, opts ...auditgrpc.Option) *server {
	t.Helper()
	s := &server{capture: &testsupport.Capture{}}
	lp := testsupport.NewProvider(s.capture)
	tp := sdktrace.NewTracerProvider()
	a, err := secaudit.New(secaudit.WithLoggerProvider(lp), secaudit.WithoutEnv())
	if err != nil {
		t.Fatal(err)
	}
	s.ai, err = auditgrpc.New(append([]auditgrpc.Option{auditgrpc.WithAuditor(a)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	unary := []grpc.UnaryServerInterceptor{s.ai.UnaryServerInterceptor()}
	stream := []grpc.StreamServerInterceptor{s.ai.StreamServerInterceptor()}
	if recovery {
		unary = append([]grpc.UnaryServerInterceptor{recoverUnary}, unary...)
		stream = append([]grpc.StreamServerInterceptor{recoverStream}, stream...)
	}
	srv := grpc.NewServer(
		grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp))),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
	)
	s.svc = &service{audit: a, spans: map[string]trace.SpanContext{}}
	healthpb.RegisterHealthServer(srv, s.svc)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	s.client = healthpb.NewHealthClient(conn)
	t.Cleanup(func() {
		_ = conn.Close()
		srv.Stop()
		<-served
		_ = tp.Shutdown(context.Background())
		_ = lp.Shutdown(context.Background())
	})
	return s
}

// call makes one unary (Check) or server-streaming (Watch) call and
// returns its status code.
func (s *server) call(t *testing.T, ctx context.Context, stream bool, name string) codes.Code {
	t.Helper()
	req := &healthpb.HealthCheckRequest{Service: name}
	if !stream {
		_, err := s.client.Check(ctx, req)
		return status.Code(err)
	}
	w, err := s.client.Watch(ctx, req)
	if err != nil {
		return status.Code(err)
	}
	for {
		if _, err := w.Recv(); err == io.EOF {
			return codes.OK
		} else if err != nil {
			return status.Code(err)
		}
	}
}
