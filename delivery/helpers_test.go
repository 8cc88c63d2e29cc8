package delivery_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// memExporter keeps the event names of exported records. It can be slowed
// down, stalled until released, or made to fail.
type memExporter struct {
	mu       sync.Mutex
	names    []string
	records  []sdklog.Record // only when keep is set
	keep     bool
	exports  int
	delay    time.Duration
	fail     func(n int) error // called with the 1-based Export number
	stall    chan struct{}     // when non-nil, Export blocks until it is closed (or ctx ends)
	entered  chan struct{}     // receives once per stalled Export
	shutdown int
	flushes  int
}

var _ sdklog.Exporter = (*memExporter)(nil)

func (e *memExporter) Export(ctx context.Context, records []sdklog.Record) error {
	e.mu.Lock()
	e.exports++
	n, stall, delay, fail := e.exports, e.stall, e.delay, e.fail
	e.mu.Unlock()
	if stall != nil {
		if e.entered != nil {
			select {
			case e.entered <- struct{}{}:
			default:
			}
		}
		select {
		case <-stall:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	if fail != nil {
		if err := fail(n); err != nil {
			return err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range records {
		e.names = append(e.names, records[i].EventName())
		if e.keep {
			e.records = append(e.records, records[i].Clone())
		}
	}
	return nil
}

func (e *memExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.shutdown++
	return nil
}

func (e *memExporter) ForceFlush(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.flushes++
	return nil
}

// setStall starts (true) or ends (false) stalling.
func (e *memExporter) setStall(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if on && e.stall == nil {
		e.stall = make(chan struct{})
		e.entered = make(chan struct{}, 1)
	}
	if !on && e.stall != nil {
		close(e.stall)
		e.stall = nil
	}
}

// counts returns exported records by event name, and the total.
func (e *memExporter) counts() (map[string]int, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := map[string]int{}
	for _, n := range e.names {
		m[n]++
	}
	return m, len(e.names)
}

// userRecords counts exported records other than summaries.
func (e *memExporter) userRecords() int {
	m, total := e.counts()
	return total - m[delivery.EventPipelineDropped]
}

var shopResource = resource.NewSchemaless(semconv.ServiceNameKey.String("shop"))

// newProvider builds a LoggerProvider whose only processor is p.
func newProvider(p sdklog.Processor) *sdklog.LoggerProvider {
	return sdklog.NewLoggerProvider(
		sdklog.WithResource(shopResource),
		sdklog.WithAllowKeyDuplication(),
		sdklog.WithProcessor(p),
	)
}

// event builds an API record for name at the catalogue's severity.
func event(name string) log.Record {
	var r log.Record
	r.SetEventName(name)
	now := time.Now()
	r.SetTimestamp(now)
	r.SetObservedTimestamp(now)
	sev := semconv.SeverityInfo
	switch name {
	case semconv.EventHTTPResponseClientError, semconv.EventLoginFailed, semconv.EventAuthzDenied, semconv.EventRateLimited:
		sev = semconv.SeverityWarning
	case semconv.EventHTTPResponseServerError:
		sev = semconv.SeverityError
	}
	r.SetSeverity(sev)
	r.SetBody(attribute.StringValue(name))
	r.AddAttributes(
		semconv.AuditSchemaVersionKey.String(semconv.SchemaVersion),
		semconv.AuditRequestIDKey.String("8f14e45fceea167a5a36dedd4bea2543"),
		semconv.ClientAddressKey.String("203.0.113.7"),
	)
	return r
}

// sdkRecord builds an SDK record, for calling OnEmit directly.
func sdkRecord(t testing.TB, name string) sdklog.Record {
	t.Helper()
	return testsupport.SDKRecord(t, event(name), sdklog.WithResource(shopResource))
}

// newProcessor builds a processor that ignores the environment.
func newProcessor(t testing.TB, exp sdklog.Exporter, opts ...delivery.Option) *delivery.Processor {
	t.Helper()
	p, err := delivery.New(exp, append([]delivery.Option{delivery.WithoutEnv()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkIdentity asserts emitted = exported + dropped and that the exporter
// saw exactly the exported records.
func checkIdentity(t *testing.T, st delivery.Stats, exp *memExporter) {
	t.Helper()
	var sum uint64
	for _, d := range st.Drops {
		sum += d.Count
	}
	if sum != st.Dropped {
		t.Errorf("Drops sum to %d, Dropped = %d", sum, st.Dropped)
	}
	if st.Exported+st.Dropped != st.Emitted {
		t.Errorf("exported %d + dropped %d != emitted %d", st.Exported, st.Dropped, st.Emitted)
	}
	if exp != nil {
		if got := exp.userRecords(); uint64(got) != st.Exported {
			t.Errorf("exporter received %d records, Stats.Exported = %d", got, st.Exported)
		}
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// checkGoroutines fails t if goroutines it starts outlive it (see
// testsupport.CheckGoroutines).
func checkGoroutines(t *testing.T) {
	t.Helper()
	testsupport.CheckGoroutines(t)
}

var errUnavailable = errors.New("backend unavailable")
