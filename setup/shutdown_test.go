package setup_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/semconv"
	"github.com/secaudit/secaudit/setup"
)

// syncBuffer is a JSONL writer the test reads while the exporter may
// write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the number of lines written and of summary lines among
// them.
func (b *syncBuffer) lines() (all, summaries int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Count(b.buf.Bytes(), []byte("\n")),
		bytes.Count(b.buf.Bytes(), []byte(`"event_name":"`+delivery.EventPipelineDropped+`"`))
}

// checkAccount asserts, for every delivery processor of p, emitted =
// exported + spilled + dropped and emitted = what the Auditor emitted.
func checkAccount(t *testing.T, p *setup.Pipeline) {
	t.Helper()
	auditorEmitted := p.Auditor().Stats().Emitted
	if det := p.Detector(); det != nil {
		// The detection processor's alerts go through the same provider.
		st := det.Stats()
		for _, n := range st.Alerts {
			auditorEmitted += uint64(n)
		}
		auditorEmitted -= uint64(st.Unemitted)
	}
	for _, d := range p.Delivery() {
		st := d.Stats()
		if st.Exported+st.Spilled+st.Dropped != st.Emitted {
			t.Errorf("%s: exported %d + spilled %d + dropped %d != emitted %d",
				d.Health().Name, st.Exported, st.Spilled, st.Dropped, st.Emitted)
		}
		if st.Emitted != auditorEmitted {
			t.Errorf("%s: delivery emitted %d, Auditor (and detection) emitted %d", d.Health().Name, st.Emitted, auditorEmitted)
		}
	}
}

// TestEventsAfterShutdownAreCounted: after Shutdown, a request answered
// 403 that emits authz.denied and a LoginFailed are written nowhere, and
// each delivery processor counts each of their records as dropped (reason
// closed); the middleware, the Auditor and delivery agree on what was
// emitted.
func TestEventsAfterShutdownAreCounted(t *testing.T) {
	clearEnv(t)
	sink := &otlpSink{}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	ctx := context.Background()
	var out syncBuffer
	p, err := setup.New(ctx, setup.WithExporters(setup.ExporterJSONL, setup.ExporterOTLP), setup.WithJSONLWriter(&out))
	if err != nil {
		t.Fatal(err)
	}
	audit := p.Auditor()
	mw, err := instrumentation.New(instrumentation.WithAuditor(audit))
	if err != nil {
		t.Fatal(err)
	}
	h := mw.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		audit.AuthzDenied(r.Context(), secaudit.Model{Name: "account", ID: "2"}, "not_owner")
		w.WriteHeader(http.StatusForbidden)
	}))
	serve := func() {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/accounts/2", nil))
		if rec.Code != http.StatusForbidden {
			t.Fatalf("status %d", rec.Code)
		}
	}

	serve() // delivered: authz.denied and the client_error
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	written, _ := out.lines()
	if written != 2 {
		t.Fatalf("%d lines written before Shutdown returned, want 2", written)
	}
	serve()
	audit.LoginFailed(ctx, secaudit.User{Name: "mallory"}, "bad_password")

	if got, _ := out.lines(); got != written {
		t.Errorf("%d lines written after Shutdown", got-written)
	}
	sink.mu.Lock()
	if sink.records != 2 {
		t.Errorf("collector received %d records, want the 2 emitted before Shutdown", sink.records)
	}
	sink.mu.Unlock()
	if ms, as := mw.Stats(), audit.Stats(); ms.Emitted != 2 || as.Emitted != 5 || as.Panics != 0 {
		t.Errorf("middleware emitted %d (want 2), Auditor %+v (want 5 emitted)", ms.Emitted, as)
	}
	if len(p.Delivery()) != 2 {
		t.Fatalf("%d delivery processors, want 2", len(p.Delivery()))
	}
	for _, d := range p.Delivery() {
		st := d.Stats()
		want := []delivery.Drop{
			{Reason: delivery.ReasonClosed, EventName: semconv.EventLoginFailed, Count: 1},
			{Reason: delivery.ReasonClosed, EventName: semconv.EventAuthzDenied, Count: 1},
			{Reason: delivery.ReasonClosed, EventName: semconv.EventHTTPResponseClientError, Count: 1},
		}
		if st.Exported != 2 || st.Dropped != 3 || len(st.Drops) != len(want) {
			t.Errorf("%s: Stats = %+v, want 2 exported and 3 dropped (closed)", d.Health().Name, st)
			continue
		}
		for i, d2 := range st.Drops {
			if d2 != want[i] {
				t.Errorf("%s: drop %d = %+v, want %+v", d.Health().Name, i, d2, want[i])
			}
		}
	}
	checkAccount(t, p)
}

// TestShutdownConcurrentSafe: goroutines serve requests and report failed
// logins while Shutdown runs, and go on after it returned. At the end the
// middleware's and the test's count of emitted events equals the
// Auditor's, which equals delivery's emitted, which equals exported +
// spilled + dropped; what was exported is what was written.
func TestShutdownConcurrentSafe(t *testing.T) {
	clearEnv(t)
	ctx := context.Background()
	var out syncBuffer
	p, err := setup.New(ctx, setup.WithJSONLWriter(&out))
	if err != nil {
		t.Fatal(err)
	}
	audit := p.Auditor()
	mw, err := instrumentation.New(instrumentation.WithAuditor(audit))
	if err != nil {
		t.Fatal(err)
	}
	h := mw.Wrap(http.NotFoundHandler()) // the response event only

	const workers, after = 8, 20
	var calls, logins atomic.Uint64
	shutDown := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := httptest.NewRequest(http.MethodGet, "/nothing", nil)
			for n, left := 0, after; left > 0; n++ {
				select {
				case <-shutDown:
					left--
				default:
				}
				if n%2 == 0 {
					h.ServeHTTP(httptest.NewRecorder(), req)
				} else {
					audit.LoginFailed(ctx, secaudit.User{Name: "u"}, "bad_password")
					logins.Add(1)
				}
				calls.Add(1)
			}
		}()
	}
	for calls.Load() < 200 {
		runtime.Gosched()
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Error(err)
	}
	close(shutDown)
	wg.Wait()

	ms, as := mw.Stats(), audit.Stats()
	if ms.Emitted+logins.Load() != as.Emitted || as.Panics != 0 || ms.AuditPanics != 0 {
		t.Errorf("middleware emitted %d + logins %d != Auditor emitted %d (Auditor %+v, middleware %+v)",
			ms.Emitted, logins.Load(), as.Emitted, as, ms)
	}
	checkAccount(t, p)
	st := p.Delivery()[0].Stats()
	if closed := st.DroppedFor(delivery.ReasonClosed); closed < workers*after {
		t.Errorf("%d records counted as dropped (closed), want at least the %d emitted after Shutdown returned", closed, workers*after)
	}
	lines, summaries := out.lines()
	if uint64(lines) != st.Exported+st.Summaries || uint64(summaries) != st.Summaries {
		t.Errorf("%d lines (%d summaries) written, Stats: %d exported, %d summaries", lines, summaries, st.Exported, st.Summaries)
	}
	t.Logf("emitted %d: exported %d, dropped %d (%d closed)", st.Emitted, st.Exported, st.Dropped, st.DroppedFor(delivery.ReasonClosed))
}

// blockingWriter blocks every Write until release is closed.
type blockingWriter struct {
	entered chan struct{} // closed by the first Write
	once    sync.Once
	release chan struct{}
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	<-w.release
	return len(p), nil
}

// TestShutdownContextEndsDuringEmit: a blocking-mode record waits for an
// export that hangs when Shutdown's context ends. Shutdown returns the
// context's error at once and shuts the delivery processor down, which
// counts the waiting record as dropped (reason shutdown) and releases its
// emitter; a record emitted after is counted as closed, and a later
// Shutdown finishes stopping the pipeline.
func TestShutdownContextEndsDuringEmit(t *testing.T) {
	clearEnv(t)
	w := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	defer func() {
		select {
		case <-w.release:
		default:
			close(w.release)
		}
	}()
	p, err := setup.New(context.Background(), setup.WithJSONLWriter(w),
		setup.WithDeliveryOptions(delivery.WithMode(delivery.ModeBlocking), delivery.WithTimeout(5*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	audit := p.Auditor()
	emitted := make(chan struct{})
	go func() {
		defer close(emitted)
		audit.LoginFailed(context.Background(), secaudit.User{Name: "u"}, "bad_password")
	}()
	<-w.entered // the record is in the exporter's hands; its emitter waits

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown = %v, want context.Canceled", err)
	}
	select {
	case <-emitted:
	case <-time.After(4 * time.Second): // before the record's own 5 s timeout
		t.Fatal("the emitter still waits after Shutdown returned")
	}
	close(w.release)
	audit.LoginFailed(context.Background(), secaudit.User{Name: "u"}, "bad_password")
	if err := p.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown = %v", err)
	}

	st := p.Delivery()[0].Stats()
	if st.Emitted != 2 || st.DroppedFor(delivery.ReasonShutdown) != 1 || st.DroppedFor(delivery.ReasonClosed) != 1 {
		t.Errorf("Stats = %+v, want 2 emitted: 1 dropped (shutdown), 1 dropped (closed)", st)
	}
	checkAccount(t, p)
}
