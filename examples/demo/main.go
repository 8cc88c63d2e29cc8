package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"

	_ "github.com/secaudit/secaudit/detect/redisstate" // SECAUDIT_STATE=redis://… shares detection and blocks
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/setup"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	traffic := flag.Duration("traffic", 0, "drive a mix of normal use and attacks for this long, print a summary and exit")
	router := flag.String("router", "std", "the router serving the endpoints, with its audit adapter: "+strings.Join(routerNames, ", "))
	flag.Parse()
	if !slices.Contains(routerNames, *router) {
		return fmt.Errorf("-router=%q: want one of %s", *router, strings.Join(routerNames, ", "))
	}

	ctx := context.Background()
	counter := newEventCounter()
	// WithTracing: server spans and trace links without a TracerProvider of
	// the demo's own; spans go over OTLP when the logs do.
	opts := []setup.Option{setup.WithProcessor(counter), setup.WithTracing()}
	// The demo's own name, unless the environment names the service.
	if _, ok := os.LookupEnv("OTEL_SERVICE_NAME"); !ok && !strings.Contains(os.Getenv("OTEL_RESOURCE_ATTRIBUTES"), "service.name=") {
		opts = append(opts, setup.WithServiceName("secaudit-demo"))
	}
	pipeline, err := setup.New(ctx, opts...)
	if err != nil {
		return err
	}
	handler, err := newRouterHandler(pipeline, *router)
	if err != nil {
		_ = pipeline.Shutdown(ctx)
		return err
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		_ = pipeline.Shutdown(ctx)
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(os.Stderr, "demo: serving on http://%s (router: %s, exporters: %v)\n", ln.Addr(), *router, pipeline.Exporters())

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(stop)

	var serveErr error
	if *traffic > 0 {
		trafficDone := make(chan struct{})
		trafficCtx, cancel := context.WithTimeout(ctx, *traffic)
		go func() {
			defer close(trafficDone)
			driveTraffic(trafficCtx, "http://"+ln.Addr().String())
		}()
		select {
		case <-trafficDone:
		case <-stop:
		}
		cancel()
		<-trafficDone
	} else {
		select {
		case <-stop:
		case err := <-served:
			// The server failed: still flush what its requests emitted.
			serveErr = err
		}
	}

	// Drain requests, then flush every pending event and span.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	errs := []error{serveErr, srv.Shutdown(shutdownCtx)}
	errs = append(errs, pipeline.Shutdown(shutdownCtx))
	if *traffic > 0 {
		events, alerts := counter.snapshot()
		printSummary(os.Stderr, events, alerts)
	}
	return errors.Join(errs...)
}

// newHandler is the demo's whole HTTP stack with net/http's ServeMux.
func newHandler(pipeline *setup.Pipeline) (http.Handler, error) {
	return newRouterHandler(pipeline, "std")
}

// newRouterHandler is the demo's whole HTTP stack: otelhttp (server spans,
// incoming traceparent) around a panic recoverer around secaudit's audit
// middleware around the named router (see routerNames), whose audit
// adapter records its route pattern.
func newRouterHandler(pipeline *setup.Pipeline, router string) (http.Handler, error) {
	app := newApp(pipeline.Auditor(), pipeline.Guard())
	audit, err := instrumentation.New(
		instrumentation.WithAuditor(pipeline.Auditor()),
		instrumentation.WithSuspiciousRequests(true),
		// Strict routes (SECAUDIT_DELIVERY_STRICT_ROUTES) answer 503 while
		// the pipeline cannot record their events.
		instrumentation.WithGate(pipeline.Gate()),
		// Blocked addresses (SECAUDIT_BLOCK=true) are answered 429 with
		// Retry-After before the handler.
		instrumentation.WithGuard(pipeline.Guard()),
	)
	if err != nil {
		return nil, err
	}
	eps := append(app.endpoints(), endpoint{"GET", "/healthz/audit", pipeline.HealthHandler()})
	routes, err := newRouter(router, eps)
	if err != nil {
		return nil, err
	}
	return otelhttp.NewHandler(recoverPanics(audit.Wrap(routes)), "demo",
		otelhttp.WithTracerProvider(pipeline.TracerProvider()),
		otelhttp.WithPropagators(propagation.TraceContext{}),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }),
	), nil
}

// recoverPanics answers 500 to a request whose handler panicked (after the
// audit middleware has recorded it), so one bad handler never takes the
// connection down silently. http.ErrAbortHandler keeps its meaning.
func recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				http.Error(w, "internal server error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
