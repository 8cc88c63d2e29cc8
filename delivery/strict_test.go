package delivery_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/otel/log"

	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/semconv"
)

// gatedServer is the shape of the middleware integration: fail-closed
// routes ask the gate before the handler; every route emits its events.
func gatedServer(gate delivery.Gate, logger log.Logger) *httptest.Server {
	mux := http.NewServeMux()
	strict := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if err := gate.Admit(r.Context()); err != nil {
				http.Error(w, "audit unavailable", http.StatusServiceUnavailable)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("POST /admin/users", strict(func(w http.ResponseWriter, r *http.Request) {
		logger.Emit(r.Context(), event(semconv.EventModelUpdate))
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		logger.Emit(r.Context(), event(semconv.EventHTTPResponseSuccess))
		_, _ = io.WriteString(w, "ok")
	})
	mux.Handle("GET /healthz/audit", delivery.HealthHandler(gate.(*delivery.Processor)))
	return httptest.NewServer(mux)
}

func do(t *testing.T, client *http.Client, method, url string) (int, time.Duration) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

// TestStrictRoutesFailClosed: with the exporter stalled, strict routes
// answer 503 within the deadline while other routes keep serving; when the
// exporter recovers, strict routes serve again.
func TestStrictRoutesFailClosed(t *testing.T) {
	checkGoroutines(t)
	const timeout = 100 * time.Millisecond
	exp := &memExporter{}
	p := newProcessor(t, exp,
		delivery.WithTimeout(timeout),
		delivery.WithQueueSize(64),
		delivery.WithStrictEvents("model.*", semconv.EventAuthzDenied),
	)
	provider := newProvider(p)
	srv := gatedServer(p, provider.Logger("test"))
	defer srv.Close()
	client := srv.Client()

	// Healthy: the strict route serves, and its event is exported before
	// the handler returns.
	if code, _ := do(t, client, http.MethodPost, srv.URL+"/admin/users"); code != http.StatusNoContent {
		t.Fatalf("healthy strict route: %d", code)
	}
	if got, _ := exp.counts(); got[semconv.EventModelUpdate] != 1 {
		t.Fatalf("strict event not exported when the handler returned: %v", got)
	}

	// Stall the exporter with one record in its hands.
	exp.setStall(true)
	if code, _ := do(t, client, http.MethodGet, srv.URL+"/page"); code != http.StatusOK {
		t.Fatalf("page: %d", code)
	}
	<-exp.entered
	stallStart := time.Now()

	for i := range 3 {
		code, took := do(t, client, http.MethodPost, srv.URL+"/admin/users")
		if code != http.StatusServiceUnavailable {
			t.Fatalf("strict route #%d with the exporter stalled: %d, want 503", i, code)
		}
		// The first request waits for the stalled export up to the timeout;
		// the next ones are refused at once. Slack for a loaded machine.
		if limit := timeout + 400*time.Millisecond; took > limit {
			t.Errorf("strict route #%d answered after %v, want within %v", i, took, limit)
		}
	}
	if time.Since(stallStart) < timeout {
		t.Errorf("refused before the export had run for the timeout")
	}
	// Other routes keep serving, fast, even while the queue overflows.
	for i := range 100 {
		code, took := do(t, client, http.MethodGet, srv.URL+"/page")
		if code != http.StatusOK || took > time.Second {
			t.Fatalf("page #%d while stalled: %d after %v", i, code, took)
		}
	}
	st := p.Stats()
	if st.Rejected != 3 || st.DroppedFor(delivery.ReasonQueueFull)+st.DroppedFor(delivery.ReasonEvicted) == 0 {
		t.Errorf("Stats = %+v, want 3 rejections and counted overflow", st)
	}

	// The health handler reports it, as a readiness check would read it.
	resp, err := client.Get(srv.URL + "/healthz/audit")
	if err != nil {
		t.Fatal(err)
	}
	var rep delivery.HealthReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || rep.Ready || len(rep.Pipelines) != 1 ||
		rep.Pipelines[0].Status != delivery.StatusUnavailable || rep.Pipelines[0].QueueFill != 1 {
		t.Errorf("health while stalled: %d %+v", resp.StatusCode, rep)
	}

	// Recovery: the stalled export completes, the gate opens again.
	exp.setStall(false)
	waitFor(t, "the queue to drain", func() bool { return p.Stats().Queued == 0 })
	if code, _ := do(t, client, http.MethodPost, srv.URL+"/admin/users"); code != http.StatusNoContent {
		t.Fatalf("strict route after recovery: %d", code)
	}
	if code, _ := do(t, client, http.MethodGet, srv.URL+"/healthz/audit"); code != http.StatusOK {
		t.Errorf("health after recovery: %d", code)
	}
	if err := provider.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkIdentity(t, p.Stats(), exp)
}

// TestStrictRecordMissesDeadline: a strict record emitted while the
// exporter stalls (before the gate could know) makes OnEmit fail after the
// timeout, stays queued, and closes the gate at once; it is exported when
// the exporter recovers.
func TestStrictRecordMissesDeadline(t *testing.T) {
	checkGoroutines(t)
	const timeout = 50 * time.Millisecond
	exp := &memExporter{}
	p := newProcessor(t, exp, delivery.WithTimeout(timeout), delivery.WithStrictEvents(semconv.EventAuthzDenied))
	exp.setStall(true)
	ctx := context.Background()

	rec := sdkRecord(t, semconv.EventAuthzDenied)
	start := time.Now()
	err := p.OnEmit(ctx, &rec)
	if !errors.Is(err, delivery.ErrNotDelivered) {
		t.Fatalf("OnEmit = %v, want ErrNotDelivered", err)
	}
	if took := time.Since(start); took < timeout || took > timeout+time.Second {
		t.Errorf("OnEmit returned after %v, want about %v", took, timeout)
	}
	// A known failure is refused at once, without waiting: with a context
	// that is already cancelled, an Admit that waited would report the
	// cancellation instead.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := p.Admit(cancelled); !errors.Is(err, delivery.ErrUnavailable) || errors.Is(err, context.Canceled) {
		t.Fatalf("Admit after a strict miss = %v, want ErrUnavailable for the miss, not for the context", err)
	}
	if st := p.Stats(); st.WaitTimeouts != 1 || st.Dropped != 0 {
		t.Errorf("Stats = %+v, want 1 wait timeout and nothing dropped", st)
	}

	exp.setStall(false)
	waitFor(t, "the strict record's export", func() bool { return p.Stats().Exported == 1 })
	if err := p.Admit(ctx); err != nil {
		t.Errorf("Admit after recovery = %v", err)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	checkIdentity(t, p.Stats(), exp)
}

// TestAdmitWaitsForInFlightExport: under normal load Admit waits for the
// export in progress to finish and admits; it never starves behind a
// stream of exports (five exports of 100 ms each queued: it returns while
// most are still waiting).
func TestAdmitWaitsForInFlightExport(t *testing.T) {
	checkGoroutines(t)
	exp := &memExporter{delay: 100 * time.Millisecond}
	p := newProcessor(t, exp, delivery.WithTimeout(time.Second), delivery.WithBatchSize(1))
	ctx := context.Background()
	for range 5 {
		rec := sdkRecord(t, semconv.EventHTTPResponseSuccess)
		if err := p.OnEmit(ctx, &rec); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "an export in progress", func() bool { return p.Health().ExportInFlightS > 0 })
	if err := p.Admit(ctx); err != nil {
		t.Fatalf("Admit under load = %v", err)
	}
	if n := exp.userRecords(); n >= 5 {
		t.Errorf("Admit returned after %d of 5 exports; it should wait for the one in progress only", n)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	checkIdentity(t, p.Stats(), exp)
}

// TestAdmitHonoursContext: a cancelled request stops waiting.
func TestAdmitHonoursContext(t *testing.T) {
	checkGoroutines(t)
	exp := &memExporter{}
	p := newProcessor(t, exp, delivery.WithTimeout(10*time.Second))
	exp.setStall(true)
	rec := sdkRecord(t, semconv.EventHTTPResponseSuccess)
	if err := p.OnEmit(context.Background(), &rec); err != nil {
		t.Fatal(err)
	}
	<-exp.entered
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := p.Admit(ctx); !errors.Is(err, delivery.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Admit = %v, want ErrUnavailable wrapping DeadlineExceeded", err)
	}
	exp.setStall(false)
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestAllGates: All admits only when every gate does; nil gates are
// skipped.
func TestAllGates(t *testing.T) {
	checkGoroutines(t)
	good := newProcessor(t, &memExporter{})
	bad := newProcessor(t, &memExporter{})
	if err := bad.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = good.Shutdown(context.Background()) }()
	var nilProc *delivery.Processor
	tests := []struct {
		name  string
		gate  delivery.Gate
		admit bool
	}{
		{"none", delivery.All(), true},
		{"good", delivery.All(good, nil), true},
		{"nil processor", delivery.All(nilProc, good), true},
		{"one bad", delivery.All(good, bad), false},
	}
	for _, tt := range tests {
		err := tt.gate.Admit(context.Background())
		if (err == nil) != tt.admit {
			t.Errorf("%s: Admit = %v, want admit %v", tt.name, err, tt.admit)
		}
		if err != nil && !errors.Is(err, delivery.ErrUnavailable) {
			t.Errorf("%s: error %v does not wrap ErrUnavailable", tt.name, err)
		}
	}
}
