package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// TestEvictionOrder: with the exporter holding one record, a full queue
// gives way to more valuable records, lowest and newest first, and
// refuses records no more valuable than everything queued.
func TestEvictionOrder(t *testing.T) {
	checkGoroutines(t)
	exp := &memExporter{keep: true}
	p := newProcessor(t, exp, delivery.WithQueueSize(4), delivery.WithBatchSize(1))
	exp.setStall(true)
	ctx := context.Background()
	emit := func(name string, id int) {
		t.Helper()
		rec := sdkRecord(t, name)
		rec.AddAttributes(semconv.AuditRequestIDKey.String(fmt.Sprint(id)))
		if err := p.OnEmit(ctx, &rec); err != nil {
			t.Fatalf("OnEmit(%s): %v", name, err)
		}
	}
	emit(semconv.EventHTTPResponseSuccess, 0) // the record in the exporter's hands
	<-exp.entered

	steps := []struct {
		name   string
		reason string // the drop this record causes ("" for none)
	}{
		{semconv.EventHTTPResponseSuccess, ""},            // 1
		{semconv.EventHTTPResponseSuccess, ""},            // 2
		{semconv.EventHTTPResponseRedirect, ""},           // 3
		{semconv.EventModelUpdate, ""},                    // 4: queue full now
		{semconv.EventLoginFailed, "evicted"},             // 5 evicts 2 (newest success)
		{semconv.EventHTTPResponseSuccess, "queue_full"},  // 6 refused
		{semconv.EventAuthzDenied, "evicted"},             // 7 evicts 1
		{semconv.EventModelCreate, "evicted"},             // 8 evicts 3 (redirect)
		{semconv.EventModelAccess, "queue_full"},          // 9 refused: 4, 8 are as valuable
		{semconv.EventHTTPResponseServerError, "evicted"}, // 10 evicts 8 (newest audit)
	}
	for i, s := range steps {
		before := p.Stats()
		emit(s.name, i+1)
		after := p.Stats()
		if s.reason == "" && after.Dropped != before.Dropped {
			t.Fatalf("step %d (%s) dropped a record", i+1, s.name)
		}
		if s.reason != "" && after.DroppedFor(s.reason) != before.DroppedFor(s.reason)+1 {
			t.Fatalf("step %d (%s): drops %v, want one more %s", i+1, s.name, after.Drops, s.reason)
		}
	}
	exp.setStall(false)
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range exp.records {
		if v, ok := testsupport.AttrMap(&exp.records[i])[string(semconv.AuditRequestIDKey)]; ok {
			ids = append(ids, v.AsString())
		}
	}
	// Survivors in arrival order; the summary record has no request id.
	if want := []string{"0", "4", "5", "7", "10"}; !slices.Equal(ids, want) {
		t.Errorf("exported request ids %v, want %v", ids, want)
	}
	st := p.Stats()
	checkIdentity(t, st, exp)
	want := []delivery.Drop{
		{Reason: "evicted", EventName: semconv.EventHTTPResponseRedirect, Count: 1},
		{Reason: "evicted", EventName: semconv.EventHTTPResponseSuccess, Count: 2},
		{Reason: "evicted", EventName: semconv.EventModelCreate, Count: 1},
		{Reason: "queue_full", EventName: semconv.EventHTTPResponseSuccess, Count: 1},
		{Reason: "queue_full", EventName: semconv.EventModelAccess, Count: 1},
	}
	if !slices.Equal(st.Drops, want) {
		t.Errorf("Drops = %v\nwant %v", st.Drops, want)
	}
}

// TestBlockingModeWaits: a blocking emitter waits for room and for the
// export, loses nothing, and after the timeout leaves its record queued.
func TestBlockingModeWaits(t *testing.T) {
	checkGoroutines(t)
	exp := &memExporter{delay: time.Millisecond}
	p := newProcessor(t, exp, delivery.WithMode(delivery.ModeBlocking), delivery.WithQueueSize(2), delivery.WithBatchSize(2))
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 25 {
				rec := sdkRecord(t, semconv.EventHTTPResponseSuccess)
				if err := p.OnEmit(ctx, &rec); err != nil {
					t.Errorf("OnEmit: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if st := p.Stats(); st.Exported != 100 || st.Dropped != 0 {
		t.Errorf("Stats = %+v, want 100 exported before OnEmit returned, none dropped", st)
	}

	// Stalled: the record times out but stays queued.
	exp.setStall(true)
	q := newProcessor(t, exp, delivery.WithMode(delivery.ModeBlocking), delivery.WithTimeout(20*time.Millisecond))
	rec := sdkRecord(t, semconv.EventModelUpdate)
	if err := q.OnEmit(ctx, &rec); !errors.Is(err, delivery.ErrNotDelivered) {
		t.Errorf("OnEmit with a stalled exporter = %v, want ErrNotDelivered", err)
	}
	if st := q.Stats(); st.WaitTimeouts != 1 || st.Dropped != 0 {
		t.Errorf("Stats = %+v, want a timeout and no drop", st)
	}
	// The gate refuses because the export is stalled, not because of the
	// blocking record: only strict misses close it by themselves.
	if err := q.Admit(ctx); err == nil || strings.Contains(err.Error(), "strict") {
		t.Errorf("Admit with the export stalled = %v, want a refusal for the stall", err)
	}
	exp.setStall(false)
	for _, pr := range []*delivery.Processor{p, q} {
		if err := pr.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if st := q.Stats(); st.Exported != 1 {
		t.Errorf("the timed-out record was not exported later: %+v", st)
	}
}

// TestBlockingEventsOverride: WithBlockingEvents makes some events wait in
// async mode; full queues then do not drop them.
func TestBlockingEventsOverride(t *testing.T) {
	checkGoroutines(t)
	exp := &memExporter{delay: time.Millisecond}
	p := newProcessor(t, exp, delivery.WithQueueSize(1), delivery.WithBatchSize(1),
		delivery.WithBlockingEvents("auth.*"), delivery.WithTimeout(5*time.Second))
	ctx := context.Background()
	for range 30 {
		rec := sdkRecord(t, semconv.EventLoginSuccess)
		if err := p.OnEmit(ctx, &rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Exported != 30 || st.Dropped != 0 {
		t.Errorf("Stats = %+v, want every blocking record exported", st)
	}
}

// TestRetries: failures keep records queued and retried; giving up after
// the retry limit, an exporter shut down and a panicking exporter each
// drop and count the batch.
func TestRetries(t *testing.T) {
	fast := delivery.WithRetry(time.Millisecond, 5*time.Millisecond, 0)
	tests := []struct {
		name         string
		fail         func(n int) error
		opts         []delivery.Option
		wantExported uint64
		wantFailed   uint64
	}{
		{
			name:         "transient",
			fail:         func(n int) error { return map[bool]error{true: errUnavailable}[n <= 3] },
			opts:         []delivery.Option{fast},
			wantExported: 10,
		},
		{
			name:       "exporter shut down",
			fail:       func(int) error { return fmt.Errorf("closed: %w", sdklog.ErrExporterShutdown) },
			opts:       []delivery.Option{fast},
			wantFailed: 10,
		},
		{
			name:       "retry limit",
			fail:       func(int) error { return errUnavailable },
			opts:       []delivery.Option{delivery.WithRetry(time.Millisecond, 2*time.Millisecond, 20*time.Millisecond)},
			wantFailed: 10,
		},
		{
			name: "panic",
			fail: func(n int) error {
				map[bool]func(){true: func() { panic("boom") }, false: func() {}}[n == 1]()
				return nil
			},
			opts:         []delivery.Option{fast},
			wantExported: 10,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			exp := &memExporter{fail: tt.fail}
			p := newProcessor(t, exp, append(tt.opts, delivery.WithBatchSize(10))...)
			ctx := context.Background()
			exp.setStall(true) // gather the 10 records into one batch
			first := sdkRecord(t, semconv.EventLoginFailed)
			if err := p.OnEmit(ctx, &first); err != nil {
				t.Fatal(err)
			}
			<-exp.entered
			for range 9 {
				rec := sdkRecord(t, semconv.EventLoginFailed)
				if err := p.OnEmit(ctx, &rec); err != nil {
					t.Fatal(err)
				}
			}
			exp.setStall(false)
			waitFor(t, "the outcome", func() bool {
				st := p.Stats()
				return st.Exported+st.Dropped == 10
			})
			st := p.Stats()
			if st.Exported != tt.wantExported || st.DroppedFor(delivery.ReasonExportFailed) != tt.wantFailed || st.ExportErrors == 0 {
				t.Errorf("Stats = %+v, want %d exported, %d export_failed, some export errors", st, tt.wantExported, tt.wantFailed)
			}
			if h := p.Health(); h.LastError == "" || h.LastErrorAt == nil {
				t.Errorf("health does not report the export error: %+v", h)
			}
			if err := p.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			checkIdentity(t, p.Stats(), exp)
		})
	}
}

// TestShutdownDeadline: the exporter is stalled when Shutdown's context
// ends. Shutdown returns the context's error promptly; every record not
// exported is counted as dropped, or, with a spill exporter, spilled; a
// record after Shutdown is refused and counted; later calls are harmless.
func TestShutdownDeadline(t *testing.T) {
	for _, withSpill := range []bool{false, true} {
		t.Run(map[bool]string{false: "dropped", true: "spilled"}[withSpill], func(t *testing.T) {
			checkGoroutines(t)
			exp, spill := &memExporter{}, &memExporter{}
			opts := []delivery.Option{delivery.WithBatchSize(3)}
			if withSpill {
				opts = append(opts, delivery.WithSpill(spill))
			}
			p := newProcessor(t, exp, opts...)
			provider := newProvider(p)
			logger := provider.Logger("test")
			exp.setStall(true)
			defer exp.setStall(false)
			ctx := context.Background()
			logger.Emit(ctx, event(semconv.EventLoginFailed))
			<-exp.entered
			for range 9 {
				logger.Emit(ctx, event(semconv.EventModelUpdate))
			}
			sctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
			defer cancel()
			start := time.Now()
			if err := provider.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Shutdown = %v, want DeadlineExceeded", err)
			}
			if took := time.Since(start); took > delivery.SpillGrace {
				t.Errorf("Shutdown took %v", took)
			}
			st := p.Stats()
			lost, want := st.DroppedFor(delivery.ReasonShutdown), uint64(10)
			if withSpill {
				lost = 0
				for _, d := range st.Spills {
					if d.Reason == delivery.ReasonShutdown {
						lost += d.Count
					}
				}
				if st.Dropped != 0 {
					t.Errorf("dropped %d with a spill exporter: %v", st.Dropped, st.Drops)
				}
				checkSpillIdentity(t, st, exp, spill)
			} else {
				checkIdentity(t, st, exp)
			}
			if lost != want || st.Exported != 0 {
				t.Errorf("Stats = %+v, want all 10 lost at shutdown", st)
			}
			if exp.shutdown != 1 || spill.shutdown != map[bool]int{false: 0, true: 1}[withSpill] {
				t.Errorf("Shutdown calls: exporter %d, spill exporter %d", exp.shutdown, spill.shutdown)
			}
			// After Shutdown: records are refused and counted (not spilled:
			// the spill exporter is shut down too); calls are harmless.
			rec := sdkRecord(t, semconv.EventLoginFailed)
			if err := p.OnEmit(ctx, &rec); !errors.Is(err, delivery.ErrShutdown) {
				t.Errorf("OnEmit after Shutdown = %v", err)
			}
			if p.Enabled(ctx, sdklog.EnabledParameters{}) {
				t.Error("Enabled after Shutdown")
			}
			if err := p.Shutdown(ctx); err != nil {
				t.Errorf("second Shutdown = %v", err)
			}
			if err := p.ForceFlush(ctx); err != nil {
				t.Errorf("ForceFlush after Shutdown = %v", err)
			}
			if st := p.Stats(); st.DroppedFor(delivery.ReasonClosed) != 1 || st.Emitted != 11 {
				t.Errorf("record after Shutdown not counted: %+v", st)
			}
		})
	}
}

// TestForceFlush: ForceFlush returns once every earlier record is
// exported, and flushes the exporter; it honours its context.
func TestForceFlush(t *testing.T) {
	checkGoroutines(t)
	exp := &memExporter{delay: 2 * time.Millisecond}
	p := newProcessor(t, exp, delivery.WithBatchSize(4))
	ctx := context.Background()
	for range 20 {
		rec := sdkRecord(t, semconv.EventModelUpdate)
		if err := p.OnEmit(ctx, &rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := exp.userRecords(); got != 20 || exp.flushes != 1 {
		t.Errorf("after ForceFlush: %d exported, %d exporter flushes; want 20, 1", got, exp.flushes)
	}
	exp.setStall(true)
	rec := sdkRecord(t, semconv.EventModelUpdate)
	if err := p.OnEmit(ctx, &rec); err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := p.ForceFlush(fctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ForceFlush with a stalled exporter = %v", err)
	}
	exp.setStall(false)
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPeriodicSummary: a summary follows drops within the interval, covers
// exactly the drops since the previous one, and none is sent without new
// drops.
func TestPeriodicSummary(t *testing.T) {
	checkGoroutines(t)
	exp := &memExporter{keep: true}
	p := newProcessor(t, exp, delivery.WithQueueSize(1), delivery.WithSummaryInterval(10*time.Millisecond), delivery.WithName("file"))
	provider := newProvider(p)
	logger := provider.Logger("test")
	ctx := context.Background()
	exp.setStall(true)
	logger.Emit(ctx, event(semconv.EventHTTPResponseSuccess)) // in the exporter's hands
	<-exp.entered
	logger.Emit(ctx, event(semconv.EventLoginFailed))         // queued
	logger.Emit(ctx, event(semconv.EventHTTPResponseSuccess)) // dropped
	logger.Emit(ctx, event(semconv.EventHTTPResponseSuccess)) // dropped
	logger.Emit(ctx, event(""))                               // dropped, unnamed
	exp.setStall(false)

	summaries := func() []sdklog.Record {
		exp.mu.Lock()
		defer exp.mu.Unlock()
		var out []sdklog.Record
		for _, r := range exp.records {
			if r.EventName() == delivery.EventPipelineDropped {
				out = append(out, r)
			}
		}
		return out
	}
	waitFor(t, "a summary", func() bool { return len(summaries()) == 1 })
	time.Sleep(50 * time.Millisecond) // several intervals without drops
	got := summaries()
	if len(got) != 1 {
		t.Fatalf("%d summaries, want 1", len(got))
	}
	attrs := testsupport.AttrMap(&got[0])
	if attrs[string(delivery.DroppedCountKey)].AsInt64() != 3 || attrs[string(delivery.DroppedTotalKey)].AsInt64() != 3 {
		t.Errorf("summary counts: %v", attrs)
	}
	events := map[string]int64{}
	for _, kv := range attrs[string(delivery.DroppedEventsKey)].AsMap() {
		events[string(kv.Key)] = kv.Value.AsInt64()
	}
	if events[semconv.EventHTTPResponseSuccess] != 2 || events[delivery.UnnamedEvents] != 1 || len(events) != 2 {
		t.Errorf("summary events = %v", events)
	}
	reasons := attrs[string(delivery.DroppedReasonsKey)].AsMap()
	if len(reasons) != 1 || string(reasons[0].Key) != delivery.ReasonQueueFull || reasons[0].Value.AsInt64() != 3 {
		t.Errorf("summary reasons = %v", reasons)
	}
	if attrs[string(delivery.PipelineNameKey)].AsString() != "file" || attrs[string(semconv.AuditSchemaVersionKey)].AsString() != semconv.SchemaVersion {
		t.Errorf("summary attributes = %v", attrs)
	}
	if start := attrs[string(delivery.WindowStartKey)].AsInt64(); start <= 0 || start > got[0].Timestamp().UnixNano() {
		t.Errorf("window start %d, record time %d", start, got[0].Timestamp().UnixNano())
	}
	if got[0].TraceID().IsValid() || got[0].Body().AsString() != delivery.EventPipelineDropped {
		t.Errorf("summary record: trace %v, body %v", got[0].TraceID(), got[0].Body())
	}
	if err := provider.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(summaries()); n != 1 {
		t.Errorf("%d summaries after Shutdown, want 1 (no drops since the last)", n)
	}
	st := p.Stats()
	checkIdentity(t, st, exp)
	if st.Summaries != 1 {
		t.Errorf("Stats.Summaries = %d", st.Summaries)
	}
}

// TestPriority: DefaultPriority for the catalogue, and custom functions.
func TestPriority(t *testing.T) {
	tests := []struct {
		name string
		sev  log.Severity
		user bool // the record has a user.id
		want delivery.Priority
	}{
		{semconv.EventHTTPResponseSuccess, semconv.SeverityInfo, true, delivery.PriorityLow},
		{"", semconv.SeverityInfo, false, delivery.PriorityLow},
		{"", log.SeverityDebug, false, delivery.PriorityLow},
		{semconv.EventHTTPResponseRedirect, semconv.SeverityInfo, false, delivery.PriorityRedirect},
		{semconv.EventHTTPResponseClientError, semconv.SeverityWarning, false, delivery.PriorityAnonymous},
		{semconv.EventLoginSuccess, semconv.SeverityInfo, true, delivery.PriorityAudit},
		{semconv.EventLogoutUnknown, semconv.SeverityInfo, false, delivery.PriorityAudit},
		{semconv.EventModelDelete, semconv.SeverityInfo, false, delivery.PriorityAudit},
		{"shop.order.refund", semconv.SeverityInfo, false, delivery.PriorityAudit},
		{semconv.EventHTTPResponseClientError, semconv.SeverityWarning, true, delivery.PrioritySecurity},
		{semconv.EventHTTPResponseServerError, semconv.SeverityError, false, delivery.PrioritySecurity},
		{semconv.EventLoginFailed, semconv.SeverityWarning, false, delivery.PrioritySecurity},
		{semconv.EventAuthzDenied, semconv.SeverityInfo, true, delivery.PrioritySecurity},
		{semconv.EventSuspiciousRequest, semconv.SeverityInfo, false, delivery.PrioritySecurity},
		{semconv.EventMalformedRecord, semconv.SeverityError, false, delivery.PrioritySecurity},
		{"", semconv.SeverityWarning, false, delivery.PrioritySecurity},
		{"shop.order.refund", semconv.SeverityError, false, delivery.PrioritySecurity},
	}
	for _, tt := range tests {
		rec := sdkRecord(t, tt.name)
		rec.SetSeverity(tt.sev)
		if tt.user {
			rec.AddAttributes(semconv.UserIDKey.String("1"))
		}
		if got := delivery.DefaultPriority(&rec); got != tt.want {
			t.Errorf("DefaultPriority(%q, %v, user %v) = %v, want %v", tt.name, tt.sev, tt.user, got, tt.want)
		}
	}
	if s := delivery.PrioritySecurity.String() + delivery.Priority(9).String(); s != "securityPriority(9)" {
		t.Errorf("String = %q", s)
	}

	// A custom priority that panics counts as audit: it outranks a redirect.
	checkGoroutines(t)
	exp := &memExporter{}
	p := newProcessor(t, exp, delivery.WithQueueSize(1), delivery.WithPriority(func(r *sdklog.Record) delivery.Priority {
		if r.EventName() == "panic" {
			panic("bad priority")
		}
		return delivery.DefaultPriority(r)
	}))
	exp.setStall(true)
	ctx := context.Background()
	for _, name := range []string{semconv.EventLoginFailed, semconv.EventHTTPResponseRedirect, "panic"} {
		rec := sdkRecord(t, name)
		if err := p.OnEmit(ctx, &rec); err != nil {
			t.Fatal(err)
		}
		if name == semconv.EventLoginFailed {
			<-exp.entered
		}
	}
	if st := p.Stats(); st.DroppedFor(delivery.ReasonEvicted) != 1 {
		t.Errorf("Drops = %v, want the redirect evicted", st.Drops)
	}
	exp.setStall(false)
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestModeAllStrict: ModeStrict makes every record strict.
func TestModeAllStrict(t *testing.T) {
	checkGoroutines(t)
	exp := &memExporter{}
	p := newProcessor(t, exp, delivery.WithMode(delivery.ModeStrict), delivery.WithTimeout(20*time.Millisecond))
	exp.setStall(true)
	rec := sdkRecord(t, semconv.EventHTTPResponseSuccess)
	if err := p.OnEmit(context.Background(), &rec); !errors.Is(err, delivery.ErrNotDelivered) {
		t.Errorf("OnEmit = %v", err)
	}
	if err := p.Admit(context.Background()); err == nil {
		t.Error("gate open after a strict miss")
	}
	exp.setStall(false)
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestNilAndZero(t *testing.T) {
	var p *delivery.Processor
	ctx := context.Background()
	rec := sdkRecord(t, semconv.EventLoginFailed)
	if p.OnEmit(ctx, &rec) != nil || p.Admit(ctx) != nil || p.ForceFlush(ctx) != nil || p.Shutdown(ctx) != nil {
		t.Error("nil processor returned an error")
	}
	if p.Enabled(ctx, sdklog.EnabledParameters{}) {
		t.Error("nil processor enabled")
	}
	if st := p.Stats(); st.Emitted != 0 || st.Drops != nil {
		t.Errorf("nil Stats = %+v", st)
	}
	if h := p.Health(); !h.Ready {
		t.Errorf("nil Health = %+v", h)
	}
	if _, err := delivery.New(nil); err == nil || !strings.Contains(err.Error(), "exporter is nil") {
		t.Errorf("New(nil) = %v", err)
	}
	checkGoroutines(t)
	q := newProcessor(t, &memExporter{})
	if err := q.OnEmit(ctx, nil); err != nil {
		t.Errorf("OnEmit(nil) = %v", err)
	}
	if err := q.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestHealthHandler: JSON body, status codes and methods.
func TestHealthHandler(t *testing.T) {
	checkGoroutines(t)
	exp := &memExporter{}
	a := newProcessor(t, exp, delivery.WithName("jsonl"))
	b := newProcessor(t, &memExporter{}, delivery.WithName("otlp"), delivery.WithQueueSize(10))
	h := delivery.HealthHandler(a, nil, b)
	get := func(method string) *httptest.ResponseRecorder {
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest(method, "/healthz", nil))
		return rr
	}
	rr := get(http.MethodGet)
	body := rr.Body.String()
	if rr.Code != http.StatusOK || rr.Header().Get("Content-Type") != "application/json" ||
		!strings.Contains(body, `"name": "jsonl"`) || !strings.Contains(body, `"name": "otlp"`) || !strings.Contains(body, `"status": "ok"`) {
		t.Errorf("GET: %d %q", rr.Code, body)
	}
	if rr := get(http.MethodHead); rr.Code != http.StatusOK || rr.Body.Len() != 0 {
		t.Errorf("HEAD: %d, %d bytes", rr.Code, rr.Body.Len())
	}
	if rr := get(http.MethodPost); rr.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rr.Code)
	}
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	rr = get(http.MethodGet)
	if rr.Code != http.StatusServiceUnavailable || !strings.Contains(rr.Body.String(), `"status": "unavailable"`) {
		t.Errorf("after one pipeline shut down: %d %s", rr.Code, rr.Body.String())
	}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestHealthDegraded: a nearly full queue or recent drops degrade the
// status but keep the pipeline ready.
func TestHealthDegraded(t *testing.T) {
	checkGoroutines(t)
	exp := &memExporter{}
	p := newProcessor(t, exp, delivery.WithQueueSize(5), delivery.WithTimeout(time.Hour))
	exp.setStall(true)
	ctx := context.Background()
	for i := range 7 { // one in the exporter's hands, five queued, one dropped
		rec := sdkRecord(t, semconv.EventHTTPResponseSuccess)
		if err := p.OnEmit(ctx, &rec); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			<-exp.entered
		}
	}
	if h := p.Health(); h.Status != delivery.StatusDegraded || !h.Ready || h.QueueFill != 1 || h.Reason != "queue nearly full" {
		t.Errorf("full queue: %+v", h)
	}
	exp.setStall(false)
	waitFor(t, "the queue to drain", func() bool { return p.Stats().Queued == 0 })
	if h := p.Health(); h.Status != delivery.StatusDegraded || h.DroppedRecently != 1 || h.Reason != "records dropped since the last summary" {
		t.Errorf("after drops: %+v", h)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentUse: emitters, flushes, stats, health and gate calls at
// once, then Shutdown; the books balance and no goroutine is left.
func TestConcurrentUse(t *testing.T) {
	checkGoroutines(t)
	exp := &memExporter{}
	p := newProcessor(t, exp, delivery.WithQueueSize(64), delivery.WithBatchSize(8),
		delivery.WithStrictEvents(semconv.EventModelDelete), delivery.WithSummaryInterval(time.Millisecond))
	provider := newProvider(p)
	logger := provider.Logger("test")
	names := []string{semconv.EventHTTPResponseSuccess, semconv.EventLoginFailed, semconv.EventModelDelete, semconv.EventHTTPResponseRedirect}
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for i := range 300 {
				logger.Emit(ctx, event(names[(g+i)%len(names)]))
				switch i % 50 {
				case 0:
					_ = p.ForceFlush(ctx)
				case 10:
					_ = p.Stats()
					_ = p.Health()
				case 20:
					_ = p.Admit(ctx)
				}
			}
		})
	}
	wg.Wait()
	if err := provider.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	if st.Emitted != 1800 {
		t.Errorf("Emitted = %d", st.Emitted)
	}
	checkIdentity(t, st, exp)
}

// TestLinger: async records wait up to the linger time to fill a batch;
// strict records, ForceFlush and Shutdown never wait for it.
func TestLinger(t *testing.T) {
	checkGoroutines(t)
	ctx := context.Background()

	exp := &memExporter{}
	p := newProcessor(t, exp, delivery.WithLinger(50*time.Millisecond), delivery.WithBatchSize(100))
	for range 10 {
		rec := sdkRecord(t, semconv.EventHTTPResponseSuccess)
		if err := p.OnEmit(ctx, &rec); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the lingering batch", func() bool { return exp.userRecords() == 10 })
	exp.mu.Lock()
	exports := exp.exports
	exp.mu.Unlock()
	if exports != 1 {
		t.Errorf("%d exports for 10 records within the linger time, want 1", exports)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	exp = &memExporter{}
	p = newProcessor(t, exp, delivery.WithLinger(time.Hour), delivery.WithStrictEvents("model.*"), delivery.WithTimeout(5*time.Second))
	start := time.Now()
	rec := sdkRecord(t, semconv.EventModelUpdate)
	if err := p.OnEmit(ctx, &rec); err != nil {
		t.Fatalf("strict OnEmit = %v", err)
	}
	async := sdkRecord(t, semconv.EventHTTPResponseSuccess)
	if err := p.OnEmit(ctx, &async); err != nil {
		t.Fatal(err)
	}
	if err := p.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	if exp.userRecords() != 2 {
		t.Errorf("after ForceFlush: %d exported, want 2", exp.userRecords())
	}
	async = sdkRecord(t, semconv.EventHTTPResponseSuccess)
	if err := p.OnEmit(ctx, &async); err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second || exp.userRecords() != 3 {
		t.Errorf("with a 1 h linger: %d exported after %v; strict, ForceFlush and Shutdown must not linger", exp.userRecords(), took)
	}
}

// TestBlockingWaitsForRoom: a blocking record that finds the queue full of
// records it may not evict waits for room until its deadline (or its
// context), is queued when room appears, and is counted as lost
// (queue_full) when none does; after Shutdown it is refused and counted.
func TestBlockingWaitsForRoom(t *testing.T) {
	checkGoroutines(t)
	ctx := context.Background()
	// emitAsync starts a blocking OnEmit and returns its result channel.
	emitAsync := func(p *delivery.Processor, ctx context.Context, name string) <-chan error {
		rec := sdkRecord(t, name)
		done := make(chan error, 1)
		go func() { done <- p.OnEmit(ctx, &rec) }()
		return done
	}
	// fill stalls exp, puts one record in the exporter's hands and one in
	// the queue (size 1), and returns their results.
	fill := func(exp *memExporter, p *delivery.Processor) (<-chan error, <-chan error) {
		exp.setStall(true)
		inflight := emitAsync(p, ctx, semconv.EventModelUpdate)
		<-exp.entered // the worker holds it in Export
		queued := emitAsync(p, ctx, semconv.EventModelUpdate)
		for p.Stats().Queued != 1 {
			time.Sleep(time.Millisecond)
		}
		return inflight, queued
	}
	opts := []delivery.Option{delivery.WithMode(delivery.ModeBlocking), delivery.WithQueueSize(1), delivery.WithBatchSize(1), delivery.WithLinger(0)}

	t.Run("room appears", func(t *testing.T) {
		exp := &memExporter{}
		p := newProcessor(t, exp, append(opts, delivery.WithTimeout(5*time.Second))...)
		inflight, queued := fill(exp, p)
		waiting := emitAsync(p, ctx, semconv.EventModelDelete)
		time.Sleep(20 * time.Millisecond) // let it find the queue full
		select {
		case err := <-waiting:
			t.Fatalf("a blocking OnEmit returned (%v) while the queue was full", err)
		default:
		}
		exp.setStall(false)
		for _, ch := range []<-chan error{inflight, queued, waiting} {
			if err := <-ch; err != nil {
				t.Errorf("OnEmit = %v, want nil once exported", err)
			}
		}
		if err := p.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if st := p.Stats(); st.Exported != 3 || st.Dropped != 0 {
			t.Errorf("Stats = %+v, want 3 exported, none dropped", st)
		}
	})

	t.Run("deadline or context first", func(t *testing.T) {
		exp := &memExporter{}
		p := newProcessor(t, exp, append(opts, delivery.WithTimeout(300*time.Millisecond))...)
		inflight, queued := fill(exp, p)
		start := time.Now()
		rec := sdkRecord(t, semconv.EventModelDelete)
		if err := p.OnEmit(ctx, &rec); !errors.Is(err, delivery.ErrNotDelivered) || !strings.Contains(err.Error(), "queue full") {
			t.Errorf("OnEmit with no room = %v, want ErrNotDelivered: queue full", err)
		}
		if waited := time.Since(start); waited < 250*time.Millisecond {
			t.Errorf("gave up after %v, before the 300ms deadline", waited)
		}
		cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		start = time.Now()
		rec = sdkRecord(t, semconv.EventModelDelete)
		if err := p.OnEmit(cctx, &rec); !errors.Is(err, delivery.ErrNotDelivered) {
			t.Errorf("OnEmit with a cancelled context = %v, want ErrNotDelivered", err)
		}
		if waited := time.Since(start); waited >= 250*time.Millisecond {
			t.Errorf("waited %v despite its context ending after 20ms", waited)
		}
		exp.setStall(false)
		<-inflight
		<-queued
		if err := p.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		st := p.Stats()
		if st.DroppedFor(delivery.ReasonQueueFull) != 2 || st.Exported != 2 || st.Emitted != 4 {
			t.Errorf("Stats = %+v, want 2 exported and 2 lost for queue_full of 4", st)
		}

		rec = sdkRecord(t, semconv.EventModelDelete)
		if err := p.OnEmit(ctx, &rec); !errors.Is(err, delivery.ErrShutdown) {
			t.Errorf("OnEmit after Shutdown = %v, want ErrShutdown", err)
		}
		if st := p.Stats(); st.DroppedFor(delivery.ReasonClosed) != 1 {
			t.Errorf("Stats = %+v, want the late record counted as closed", st)
		}
	})
}

// TestIdleFootprint: a processor that has exported a record holds a few
// kilobytes, not a full batch of records. A record is pointer-bearing
// memory that every GC cycle scans, so a server with few events would pay
// for an idle batch buffer (300 KB at the default batch size) on every
// collection.
func TestIdleFootprint(t *testing.T) {
	checkGoroutines(t)
	ctx := context.Background()
	rec := sdkRecord(t, semconv.EventLoginFailed)
	exp := &memExporter{}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	p := newProcessor(t, exp)
	if err := p.OnEmit(ctx, &rec); err != nil {
		t.Fatal(err)
	}
	if err := p.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	after := heap()
	if exp.userRecords() != 1 {
		t.Fatalf("%d records exported, want 1", exp.userRecords())
	}
	if grown := int64(after) - int64(before); grown > 64<<10 {
		t.Errorf("the processor holds %d bytes after exporting one record, want at most 64 KiB", grown)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
