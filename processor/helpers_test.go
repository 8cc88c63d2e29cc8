package processor

import (
	"context"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// recorder is an exporting-processor stand-in that keeps clones.
type recorder struct {
	mu       sync.Mutex
	records  []sdklog.Record
	disabled bool
	shutdown int
	flushed  int
}

func (r *recorder) Enabled(context.Context, sdklog.EnabledParameters) bool { return !r.disabled }

func (r *recorder) OnEmit(_ context.Context, rec *sdklog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	return nil
}

func (r *recorder) Shutdown(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.shutdown++
	return nil
}

func (r *recorder) ForceFlush(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushed++
	return nil
}

func (r *recorder) all() []sdklog.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sdklog.Record(nil), r.records...)
}

func (r *recorder) last(t testing.TB) sdklog.Record {
	t.Helper()
	all := r.all()
	if len(all) == 0 {
		t.Fatal("no record reached the recorder")
	}
	return all[len(all)-1]
}

// provider builds a LoggerProvider configured like secaudit's setup
// (duplicate keys allowed, no SDK attribute limits) with the processors.
func provider(procs ...sdklog.Processor) *sdklog.LoggerProvider {
	opts := []sdklog.LoggerProviderOption{
		sdklog.WithAllowKeyDuplication(),
		sdklog.WithAttributeCountLimit(-1),
	}
	for _, p := range procs {
		opts = append(opts, sdklog.WithProcessor(p))
	}
	return sdklog.NewLoggerProvider(opts...)
}

// capture emits rec through procs followed by a recorder and returns what
// the recorder saw.
func capture(t testing.TB, rec log.Record, procs ...sdklog.Processor) sdklog.Record {
	t.Helper()
	rr := &recorder{}
	lp := provider(append(procs, rr)...)
	lp.Logger("test").Emit(context.Background(), rec)
	return rr.last(t)
}

// sdkRecord turns an API record into the SDK record a processor receives.
func sdkRecord(t testing.TB, rec log.Record) sdklog.Record {
	t.Helper()
	return capture(t, rec)
}

func apiRecord(event string, body attribute.Value, attrs ...attribute.KeyValue) log.Record {
	var r log.Record
	r.SetEventName(event)
	r.SetBody(body)
	r.AddAttributes(attrs...)
	return r
}

func attrsOf(r *sdklog.Record) []attribute.KeyValue {
	var out []attribute.KeyValue
	r.WalkAttributes(func(kv attribute.KeyValue) bool { out = append(out, kv); return true })
	return out
}

// attrMap returns the record's attributes; duplicated keys keep the last.
func attrMap(r *sdklog.Record) map[string]attribute.Value {
	m := map[string]attribute.Value{}
	for _, kv := range attrsOf(r) {
		m[string(kv.Key)] = kv.Value
	}
	return m
}

func mustScrubber(t testing.TB, opts ...ScrubOption) *Scrubber {
	t.Helper()
	s, err := NewScrubber(append([]ScrubOption{WithoutEnv()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustLimiter(t testing.TB, opts ...LimitOption) *Limiter {
	t.Helper()
	l, err := NewLimiter(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
