package auditgrpc_test

import (
	"context"
	"fmt"
	"net"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/log/logtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/instrumentation/grpc/auditgrpc"
)

// A service answering PermissionDenied: its call is audited as a client
// error with the rpc facts and the route.
func Example() {
	provider := logtest.NewRecorder() // an sdk/log LoggerProvider in production (setup.New)
	auditor, err := secaudit.New(secaudit.WithLoggerProvider(provider))
	if err != nil {
		panic(err)
	}

	ai, err := auditgrpc.New(auditgrpc.WithAuditor(auditor), auditgrpc.WithRecoverPanics(true))
	if err != nil {
		panic(err)
	}
	srv := grpc.NewServer(
		grpc.StatsHandler(otelgrpc.NewServerHandler()),
		grpc.ChainUnaryInterceptor(ai.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(ai.StreamServerInterceptor()),
	)
	healthpb.RegisterHealthServer(srv, deny{})
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(lis)
	defer srv.Stop()

	conn, _ := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	defer conn.Close()
	_, err = healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	fmt.Println("client:", status.Code(err))

	for _, records := range provider.Result() {
		for _, r := range records {
			fmt.Println(r.EventName, r.SeverityText)
			for _, kv := range r.Attributes {
				switch kv.Key {
				case "rpc.system.name", "rpc.method", "http.route", "rpc.response.status_code", "user.id":
					fmt.Printf("%s=%s\n", kv.Key, kv.Value.String())
				}
			}
		}
	}
	// Output:
	// client: PermissionDenied
	// http.response.client_error WARNING
	// user.id=42
	// http.route=/grpc.health.v1.Health/Check
	// rpc.system.name=grpc
	// rpc.method=grpc.health.v1.Health/Check
	// rpc.response.status_code=PERMISSION_DENIED
}

type deny struct {
	healthpb.UnimplementedHealthServer
}

func (deny) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	secaudit.SetUser(ctx, secaudit.User{ID: "42"}) // an authentication step names the user
	return nil, status.Error(codes.PermissionDenied, "not yours")
}
