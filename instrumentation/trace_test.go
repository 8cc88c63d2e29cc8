package instrumentation

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/semconv"
)

// TestEventsCarryTheServerSpan: with a real sdk/trace provider and otelhttp
// around the middleware, every event's trace and span ids are the server
// span's, and an auth event emitted in the handler shares the response
// event's trace and request id. An incoming traceparent is continued.
func TestEventsCarryTheServerSpan(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	defer tp.Shutdown(context.Background())

	h := newHarness(t, false, WithLogOKResponses(true), WithSuspiciousRequests(true))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		h.a.LoginFailed(r.Context(), secaudit.User{Name: "alice"}, "bad_password")
		w.WriteHeader(http.StatusUnauthorized)
	})
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		h.a.ModelAccessed(r.Context(), secaudit.Model{Name: "item", ID: r.PathValue("id")})
	})
	srv := otelhttp.NewHandler(h.m.Wrap(mux), "server",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(propagation.TraceContext{}))

	const parentTrace = "4bf92f3577b34da6a00000000000004e"
	tests := []struct {
		name, method, target, traceparent string
		wantEvents                        []string
	}{
		{"login failure", "POST", "/login", "", []string{semconv.EventLoginFailed, semconv.EventHTTPResponseClientError}},
		{"model access, continued trace", "GET", "/items/5?../x", "00-" + parentTrace + "-00f067aa0ba902b7-01",
			[]string{semconv.EventModelAccess, semconv.EventSuspiciousRequest, semconv.EventHTTPResponseSuccess}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sr.Reset()
			req := httptest.NewRequest(tt.method, tt.target, nil)
			if tt.traceparent != "" {
				req.Header.Set("Traceparent", tt.traceparent)
			}
			srv.ServeHTTP(httptest.NewRecorder(), req)

			spans := sr.Ended()
			if len(spans) != 1 {
				t.Fatalf("%d spans", len(spans))
			}
			server := spans[0].SpanContext()
			if tt.traceparent != "" && server.TraceID().String() != parentTrace {
				t.Fatalf("trace %s did not continue the caller's %s", server.TraceID(), parentTrace)
			}
			recs := h.records()
			if len(recs) != len(tt.wantEvents) {
				t.Fatalf("%d records, want %v", len(recs), tt.wantEvents)
			}
			requestID := ""
			for i, r := range recs {
				if r.EventName != tt.wantEvents[i] {
					t.Fatalf("event %d is %s, want %s", i, r.EventName, tt.wantEvents[i])
				}
				sc := trace.SpanContextFromContext(r.Context)
				if sc.TraceID() != server.TraceID() || sc.SpanID() != server.SpanID() {
					t.Fatalf("%s: trace %s span %s, want the server span's %s %s", r.EventName, sc.TraceID(), sc.SpanID(), server.TraceID(), server.SpanID())
				}
				id, _ := str(r, semconv.AuditRequestIDKey)
				if id == "" || (requestID != "" && id != requestID) {
					t.Fatalf("%s: request id %q, others %q", r.EventName, id, requestID)
				}
				requestID = id
			}
		})
	}
}
