package testsupport

import (
	"context"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// Capture is an sdk/log Processor that keeps a clone of every record it is
// given, as an exporting processor at the end of a chain would. It is safe
// for concurrent use; its zero value is enabled and empty.
type Capture struct {
	mu        sync.Mutex
	records   []sdklog.Record
	disabled  bool
	shutdowns int
	flushes   int
}

var _ sdklog.Processor = (*Capture)(nil)

// SetEnabled sets what Enabled reports (true until it is called).
func (c *Capture) SetEnabled(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.disabled = !on
}

// Enabled reports what SetEnabled last set (true by default).
func (c *Capture) Enabled(context.Context, sdklog.EnabledParameters) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.disabled
}

// OnEmit keeps a clone of r.
func (c *Capture) OnEmit(_ context.Context, r *sdklog.Record) error {
	rec := r.Clone()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, rec)
	return nil
}

// Shutdown counts the call (see [Capture.Shutdowns]).
func (c *Capture) Shutdown(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shutdowns++
	return nil
}

// ForceFlush counts the call (see [Capture.Flushes]).
func (c *Capture) ForceFlush(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushes++
	return nil
}

// Records returns the records kept so far, oldest first.
func (c *Capture) Records() []sdklog.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sdklog.Record(nil), c.records...)
}

// Len returns how many records have been kept.
func (c *Capture) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.records)
}

// Reset forgets the records kept so far (and the memory they hold).
func (c *Capture) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = nil
}

// Last returns the newest record; it fails t if there is none.
func (c *Capture) Last(t testing.TB) sdklog.Record {
	t.Helper()
	all := c.Records()
	if len(all) == 0 {
		t.Fatal("no record reached the capture")
	}
	return all[len(all)-1]
}

// Only returns the one record kept; it fails t unless there is exactly one.
func (c *Capture) Only(t testing.TB) sdklog.Record {
	t.Helper()
	all := c.Records()
	if len(all) != 1 {
		t.Fatalf("captured %d records, want 1", len(all))
	}
	return all[0]
}

// Shutdowns returns how many times Shutdown was called.
func (c *Capture) Shutdowns() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.shutdowns
}

// Flushes returns how many times ForceFlush was called.
func (c *Capture) Flushes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushes
}

// NewProvider builds a LoggerProvider configured like secaudit's setup
// builds it (duplicate keys allowed, no SDK attribute count limit) whose
// processors are procs, in order.
func NewProvider(procs ...sdklog.Processor) *sdklog.LoggerProvider {
	return newProvider(procs, nil)
}

func newProvider(procs []sdklog.Processor, opts []sdklog.LoggerProviderOption) *sdklog.LoggerProvider {
	all := append([]sdklog.LoggerProviderOption{
		sdklog.WithAllowKeyDuplication(),
		sdklog.WithAttributeCountLimit(-1),
	}, opts...)
	for _, p := range procs {
		all = append(all, sdklog.WithProcessor(p))
	}
	return sdklog.NewLoggerProvider(all...)
}

// SDKRecord returns the SDK record a processor receives when rec is
// emitted through the logger "test" of a [NewProvider] provider, with opts
// (a resource, say) added: what a test calling OnEmit directly needs.
func SDKRecord(t testing.TB, rec log.Record, opts ...sdklog.LoggerProviderOption) sdklog.Record {
	t.Helper()
	c := &Capture{}
	lp := newProvider([]sdklog.Processor{c}, opts)
	lp.Logger("test").Emit(context.Background(), rec)
	if err := lp.Shutdown(context.Background()); err != nil {
		t.Fatalf("provider shutdown: %v", err)
	}
	return c.Only(t)
}

// AttrMap returns a record's attributes by key; of duplicated keys, the
// last one's value.
func AttrMap(r *sdklog.Record) map[string]attribute.Value {
	m := map[string]attribute.Value{}
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		m[string(kv.Key)] = kv.Value
		return true
	})
	return m
}
