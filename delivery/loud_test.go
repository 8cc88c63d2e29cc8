package delivery_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/semconv"
)

// TestLossIsLoud: with an exporter that always fails, the first failure
// reaches the OTel error handler at once, naming the processor and the
// error; the failures that follow within delivery.LossReportInterval do
// not add a line each. A Shutdown that cannot deliver says how many
// records were lost, and the last losses are reported.
func TestLossIsLoud(t *testing.T) {
	checkGoroutines(t)
	h := &errorHandler{}
	otel.SetErrorHandler(h)
	t.Cleanup(func() { otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {})) })

	exp := &memExporter{fail: func(int) error { return errors.New("dial tcp 127.0.0.1:4318: connection refused") }}
	p := newProcessor(t, exp, delivery.WithName("otlp"), delivery.WithQueueSize(8),
		delivery.WithRetry(time.Millisecond, 2*time.Millisecond, time.Hour), delivery.WithSummaryInterval(0))
	provider := newProvider(p)
	logger := provider.Logger("test")
	for range 20 { // 8 queued, 12 dropped (queue full)
		logger.Emit(context.Background(), event(semconv.EventLoginFailed))
	}
	waitFor(t, "several failed exports", func() bool { return p.Stats().ExportErrors >= 5 })
	h.mu.Lock()
	reports := append([]error(nil), h.errs...)
	h.mu.Unlock()
	if len(reports) != 1 {
		t.Fatalf("%d reports for %d failed exports, want 1 (rate-limited): %q", len(reports), p.Stats().ExportErrors, reports)
	}
	if msg := reports[0].Error(); !strings.Contains(msg, "otlp") || !strings.Contains(msg, "connection refused") {
		t.Errorf("first report %q does not name the processor and the error", msg)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := provider.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "20 records lost") {
		t.Fatalf("Shutdown error %v, want one naming the 20 records lost", err)
	}
	st := p.Stats()
	if st.Dropped != 20 || st.Emitted != 20 {
		t.Errorf("stats %+v, want 20 emitted and 20 dropped", st)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.errs) != 2 || !strings.Contains(h.errs[1].Error(), "records dropped") {
		t.Errorf("reports after Shutdown %q, want a second one counting the drops", h.errs)
	}
}
