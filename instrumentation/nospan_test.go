package instrumentation

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// captureOTelErrors routes the OTel error handler to a list for the test
// and restores the previous handler after it.
func captureOTelErrors(t *testing.T) func() []string {
	t.Helper()
	var mu sync.Mutex
	var got []string
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, err.Error())
	}))
	t.Cleanup(func() { otel.SetErrorHandler(prev) })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
}

// noSpanMessages are the captured messages about span-less requests.
func noSpanMessages(msgs []string) []string {
	var out []string
	for _, m := range msgs {
		if strings.Contains(m, "without a span") {
			out = append(out, m)
		}
	}
	return out
}

// TestRequestsWithoutSpanSaidOnce: a Middleware that audits requests
// without a span (no otelhttp, or otelhttp under the no-op global
// TracerProvider) says so once through the OTel error handler, however many
// requests, concurrent or not, arrive; each Middleware says it once; behind
// otelhttp with a real TracerProvider nothing is said.
func TestRequestsWithoutSpanSaidOnce(t *testing.T) {
	errs := captureOTelErrors(t)
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	tests := []struct {
		name string
		wrap func(http.Handler) http.Handler
		want int
	}{
		{"bare", func(h http.Handler) http.Handler { return h }, 1},
		{"otelhttp, no-op TracerProvider", func(h http.Handler) http.Handler {
			return otelhttp.NewHandler(h, "server")
		}, 1},
		{"otelhttp, real TracerProvider", func(h http.Handler) http.Handler {
			return otelhttp.NewHandler(h, "server", otelhttp.WithTracerProvider(tp),
				otelhttp.WithPropagators(propagation.TraceContext{}))
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs()
			for range 2 { // each Middleware says it once
				h := newHarness(t, false)
				srv := tt.wrap(h.m.Wrap(status(404)))
				var wg sync.WaitGroup
				for range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range 25 {
							srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/missing", nil))
						}
					}()
				}
				wg.Wait()
				if n := len(h.records()); n != 100 {
					t.Fatalf("%d records, want 100", n)
				}
				got := noSpanMessages(errs())
				if len(got) != tt.want {
					t.Fatalf("%d messages %q, want %d", len(got), got, tt.want)
				}
				if tt.want > 0 && !strings.Contains(got[0], "setup.WithTracing") {
					t.Fatalf("message %q does not say how to fix it", got[0])
				}
			}
		})
	}
}

// TestTracedFirstRequestSettlesSpanCheck: once a traced request came first,
// a later request that otelhttp filters out (a health check) raises
// nothing.
func TestTracedFirstRequestSettlesSpanCheck(t *testing.T) {
	errs := captureOTelErrors(t)
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	h := newHarness(t, false, WithLogOKResponses(true))
	srv := otelhttp.NewHandler(h.m.Wrap(status(200)), "server", otelhttp.WithTracerProvider(tp),
		otelhttp.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" }))
	for _, path := range []string{"/a", "/healthz", "/b", "/healthz"} {
		srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	if got := noSpanMessages(errs()); len(got) != 0 {
		t.Fatalf("messages %q", got)
	}
	if n := len(h.records()); n != 4 {
		t.Fatalf("%d records", n)
	}
}
