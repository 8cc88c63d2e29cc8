package delivery_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/semconv"
)

// TestHealthHidesExportErrors: an export error that names the Collector's
// URL, host and port and a file path shows in the health report only as
// its kind ("connection refused"); the full error reaches the OTel error
// handler.
func TestHealthHidesExportErrors(t *testing.T) {
	checkGoroutines(t)
	handler := &errorHandler{}
	otel.SetErrorHandler(handler)
	t.Cleanup(func() { otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {})) })

	exportErr := errors.Join(
		&url.Error{Op: "Post", URL: "http://collector.internal:4318/v1/logs", Err: &net.OpError{
			Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 4318},
			Err: os.NewSyscallError("connect", syscall.ECONNREFUSED),
		}},
		&fs.PathError{Op: "open", Path: "/var/lib/app/audit-spill/otlp.spill.jsonl", Err: syscall.EIO},
	)
	exp := &memExporter{fail: func(int) error { return exportErr }}
	p := newProcessor(t, exp, delivery.WithName("otlp"), delivery.WithRetry(time.Hour, time.Hour, 0))
	rec := sdkRecord(t, semconv.EventLoginFailed)
	if err := p.OnEmit(context.Background(), &rec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a failed export", func() bool { return p.Stats().ExportErrors > 0 })

	rr := httptest.NewRecorder()
	delivery.HealthHandler(p).ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/healthz/audit", nil))
	body := rr.Body.String()
	if rr.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503 while exports fail", rr.Code)
	}
	for _, leak := range []string{"collector.internal", "4318", "10.1.2.3", "/v1/logs", "http://", "dial tcp", "/var/lib", "spill.jsonl"} {
		if strings.Contains(body, leak) {
			t.Errorf("the health report quotes %q:\n%s", leak, body)
		}
	}
	h := p.Health()
	if h.LastError != "export failed: connection refused" || !strings.HasSuffix(h.Reason, ": export failed: connection refused") {
		t.Errorf("last_error %q, reason %q; want the kind of error", h.LastError, h.Reason)
	}
	handler.mu.Lock()
	got := errors.Join(handler.errs...).Error()
	handler.mu.Unlock()
	if !strings.Contains(got, "http://collector.internal:4318/v1/logs") || !strings.Contains(got, "/var/lib/app/audit-spill/otlp.spill.jsonl") {
		t.Errorf("the error handler got %q, want the full error", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_ = p.Shutdown(ctx) // the exporter keeps failing: the record is dropped
}
