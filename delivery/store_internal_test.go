package delivery

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"

	"github.com/secaudit/secaudit/internal/testsupport"
)

// randomRecords emits n random records through a provider built with opts
// and the processors then, and returns what a processor receives: every
// attribute value kind, nesting, empty strings, strings longer than a
// packing chunk, timestamps zero, local and UTC, with and without trace
// context.
func randomRecords(t testing.TB, rng *rand.Rand, n int, then []sdklog.Processor, opts ...sdklog.LoggerProviderOption) []sdklog.Record {
	t.Helper()
	c := &testsupport.Capture{}
	res := resource.NewSchemaless(attribute.String("service.name", "shop"))
	opts = append(opts, sdklog.WithResource(res), sdklog.WithProcessor(c))
	for _, p := range then {
		opts = append(opts, sdklog.WithProcessor(p))
	}
	lp := sdklog.NewLoggerProvider(opts...)
	loggers := []log.Logger{
		lp.Logger("a"),
		lp.Logger("b", log.WithInstrumentationVersion("1.2"), log.WithInstrumentationAttributes(attribute.Int("n", 1))),
	}
	for range n {
		var r log.Record
		if rng.IntN(4) != 0 {
			r.SetEventName(randomString(rng))
		}
		r.SetTimestamp(randomTime(rng))
		r.SetObservedTimestamp(randomTime(rng))
		r.SetSeverity(log.Severity(rng.IntN(26)))
		if rng.IntN(2) == 0 {
			r.SetSeverityText(randomString(rng))
		}
		if rng.IntN(3) != 0 {
			r.SetBody(randomValue(rng, 3))
		}
		kvs := make([]attribute.KeyValue, rng.IntN(20))
		for i := range kvs {
			kvs[i] = attribute.KeyValue{Key: attribute.Key(fmt.Sprintf("k%d", rng.IntN(24))), Value: randomValue(rng, 3)}
		}
		r.AddAttributes(kvs...)
		ctx := context.Background()
		if rng.IntN(2) == 0 {
			var tid trace.TraceID
			var sid trace.SpanID
			for i := range tid {
				tid[i] = byte(rng.IntN(256))
			}
			for i := range sid {
				sid[i] = byte(rng.IntN(256))
			}
			ctx = trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: tid, SpanID: sid, TraceFlags: trace.TraceFlags(rng.IntN(2)),
			}))
		}
		loggers[rng.IntN(len(loggers))].Emit(ctx, r)
	}
	if len(then) == 0 { // the caller shuts its processors down
		if err := lp.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return c.Records()
}

func randomTime(rng *rand.Rand) time.Time {
	switch rng.IntN(5) {
	case 0:
		return time.Time{}
	case 1:
		return time.Unix(rng.Int64N(1<<40)-1<<39, rng.Int64N(1e9)).UTC()
	case 2:
		return time.Now() // local, with a monotonic reading
	}
	return time.Unix(rng.Int64N(4e9), rng.Int64N(1e9))
}

func randomString(rng *rand.Rand) string {
	switch rng.IntN(8) {
	case 0:
		return ""
	case 1:
		return strings.Repeat("long ", chunkSize/5+rng.IntN(100)) // bigger than a chunk
	case 2:
		return "héllo\x00wörld"
	}
	return fmt.Sprintf("s%d", rng.IntN(1000))
}

func randomValue(rng *rand.Rand, depth int) attribute.Value {
	kinds := 12
	if depth == 0 {
		kinds = 10 // no SLICE, MAP
	}
	n := rng.IntN(4)
	switch attribute.Type(rng.IntN(kinds)) {
	case attribute.EMPTY:
		return attribute.Value{}
	case attribute.BOOL:
		return attribute.BoolValue(rng.IntN(2) == 0)
	case attribute.INT64:
		return attribute.Int64Value(rng.Int64() - math.MaxInt64/2)
	case attribute.FLOAT64:
		return attribute.Float64Value([]float64{rng.NormFloat64(), math.Inf(-1), math.NaN(), 0}[rng.IntN(4)])
	case attribute.STRING:
		return attribute.StringValue(randomString(rng))
	case attribute.BOOLSLICE:
		s := make([]bool, n)
		for i := range s {
			s[i] = rng.IntN(2) == 0
		}
		return attribute.BoolSliceValue(s)
	case attribute.INT64SLICE:
		s := make([]int64, n+rng.IntN(4))
		for i := range s {
			s[i] = rng.Int64()
		}
		return attribute.Int64SliceValue(s)
	case attribute.FLOAT64SLICE:
		s := make([]float64, n)
		for i := range s {
			s[i] = rng.NormFloat64()
		}
		return attribute.Float64SliceValue(s)
	case attribute.STRINGSLICE:
		s := make([]string, n)
		for i := range s {
			s[i] = randomString(rng)
		}
		return attribute.StringSliceValue(s)
	case attribute.BYTESLICE:
		return attribute.ByteSliceValue([]byte(randomString(rng)))
	case attribute.SLICE:
		s := make([]attribute.Value, n+rng.IntN(5))
		for i := range s {
			s[i] = randomValue(rng, depth-1)
		}
		return attribute.SliceValue(s...)
	default:
		s := make([]attribute.KeyValue, n+rng.IntN(5))
		for i := range s {
			s[i] = attribute.KeyValue{Key: attribute.Key(fmt.Sprintf("m%d", rng.IntN(5))), Value: randomValue(rng, depth-1)}
		}
		return attribute.MapValue(s...)
	}
}

// sameRecord reports how got differs from want in anything an exporter
// can read, or "".
func sameRecord(want, got *sdklog.Record) string {
	switch {
	case want.EventName() != got.EventName():
		return fmt.Sprintf("event name %q, want %q", got.EventName(), want.EventName())
	case !sameTime(want.Timestamp(), got.Timestamp()):
		return fmt.Sprintf("timestamp %v, want %v", got.Timestamp(), want.Timestamp())
	case !sameTime(want.ObservedTimestamp(), got.ObservedTimestamp()):
		return fmt.Sprintf("observed timestamp %v, want %v", got.ObservedTimestamp(), want.ObservedTimestamp())
	case want.Severity() != got.Severity() || want.SeverityText() != got.SeverityText():
		return fmt.Sprintf("severity %v %q, want %v %q", got.Severity(), got.SeverityText(), want.Severity(), want.SeverityText())
	case !sameValue(want.Body(), got.Body()):
		return fmt.Sprintf("body %v, want %v", got.Body().String(), want.Body().String())
	case want.TraceID() != got.TraceID() || want.SpanID() != got.SpanID() || want.TraceFlags() != got.TraceFlags():
		return "trace context differs"
	case want.Resource() != got.Resource():
		return "resource differs"
	case want.DroppedAttributes() != got.DroppedAttributes():
		return fmt.Sprintf("%d dropped attributes, want %d", got.DroppedAttributes(), want.DroppedAttributes())
	case want.AttributesLen() != got.AttributesLen():
		return fmt.Sprintf("%d attributes, want %d", got.AttributesLen(), want.AttributesLen())
	}
	ws, gs := want.InstrumentationScope(), got.InstrumentationScope()
	if ws.Name != gs.Name || ws.Version != gs.Version || ws.SchemaURL != gs.SchemaURL || !ws.Attributes.Equals(&gs.Attributes) {
		return fmt.Sprintf("scope %+v, want %+v", gs, ws)
	}
	var wa, ga []attribute.KeyValue
	want.WalkAttributes(func(kv attribute.KeyValue) bool { wa = append(wa, kv); return true })
	got.WalkAttributes(func(kv attribute.KeyValue) bool { ga = append(ga, kv); return true })
	for i := range wa {
		if wa[i].Key != ga[i].Key || !sameValue(wa[i].Value, ga[i].Value) {
			return fmt.Sprintf("attribute %d: %s=%s, want %s=%s", i, ga[i].Key, ga[i].Value.String(), wa[i].Key, wa[i].Value.String())
		}
	}
	return ""
}

// sameTime: the same instant in the same location (packing keeps no
// monotonic clock reading, which only orders times within one process).
func sameTime(a, b time.Time) bool { return a.Equal(b) && a.Location() == b.Location() }

func sameValue(a, b attribute.Value) bool {
	if a.Type() != b.Type() {
		return false
	}
	switch a.Type() {
	case attribute.FLOAT64:
		return math.Float64bits(a.AsFloat64()) == math.Float64bits(b.AsFloat64())
	case attribute.FLOAT64SLICE:
		x, y := a.AsFloat64Slice(), b.AsFloat64Slice()
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if math.Float64bits(x[i]) != math.Float64bits(y[i]) {
				return false
			}
		}
		return true
	case attribute.SLICE:
		x, y := a.AsSlice(), b.AsSlice()
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case attribute.MAP:
		x, y := a.AsMap(), b.AsMap()
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i].Key != y[i].Key || !sameValue(x[i].Value, y[i].Value) {
				return false
			}
		}
		return true
	}
	return a.String() == b.String()
}

// FuzzPackRoundTrip: random records packed into a store, some released
// along the way, rebuild equal to the originals in everything an exporter
// reads, under the limits of secaudit's providers and the SDK's defaults.
func FuzzPackRoundTrip(f *testing.F) {
	for seed := range uint64(8) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, seed^0x5eca))
		for _, opts := range [][]sdklog.LoggerProviderOption{
			{sdklog.WithAllowKeyDuplication(), sdklog.WithAttributeCountLimit(-1)},
			{sdklog.WithAttributeValueLengthLimit(40)},
		} {
			recs := randomRecords(t, rng, 40, nil, opts...)
			var st store
			hs := make([]held, len(recs))
			for i := range recs {
				h, ok := st.pack(&recs[i])
				if !ok {
					if recs[i].DroppedAttributes() == 0 {
						t.Fatalf("record %d not packed", i)
					}
					h = st.hold(&recs[i], false)
				}
				hs[i] = h
				if j := rng.IntN(i + 1); rng.IntN(3) == 0 && hs[j] != (held{}) {
					checkLoad(t, &st, &recs[j], hs[j], j)
					st.release(hs[j])
					hs[j] = held{}
				}
			}
			for i, h := range hs {
				if h != (held{}) {
					checkLoad(t, &st, &recs[i], h, i)
					st.release(h)
				}
			}
			live := 0
			for _, c := range st.chunks {
				if c.buf != nil {
					live++
				}
			}
			if live > 1 {
				t.Errorf("%d chunks kept after every record left, want at most the current one", live)
			}
		}
	})
}

func checkLoad(t *testing.T, st *store, want *sdklog.Record, h held, i int) {
	t.Helper()
	var got sdklog.Record
	st.load(&got, h)
	if d := sameRecord(want, &got); d != "" {
		t.Fatalf("record %d: %s", i, d)
	}
	if name := st.eventName(h); name != want.EventName() {
		t.Fatalf("record %d: eventName %q, want %q", i, name, want.EventName())
	}
}

// keepExporter keeps a clone of every record exported; its first Export
// waits for release, and its second fails with failSecond.
type keepExporter struct {
	mu         sync.Mutex
	records    []sdklog.Record
	exports    int
	entered    chan struct{}
	release    chan struct{}
	failSecond error
}

func (e *keepExporter) Export(ctx context.Context, recs []sdklog.Record) error {
	e.mu.Lock()
	e.exports++
	n := e.exports
	e.mu.Unlock()
	switch {
	case n == 1:
		close(e.entered)
		<-e.release
	case n == 2 && e.failSecond != nil:
		return e.failSecond
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range recs {
		e.records = append(e.records, recs[i].Clone())
	}
	return nil
}

func (e *keepExporter) Shutdown(context.Context) error   { return nil }
func (e *keepExporter) ForceFlush(context.Context) error { return nil }

// TestPackedRecordsExported: records queued behind a stalled export are
// held packed, and reach the exporter as they were emitted, in order,
// numbered by the stream if there is one, also when a batch of them
// after it fails and is put back (packed again).
func TestPackedRecordsExported(t *testing.T) {
	testsupport.CheckGoroutines(t)
	for _, tc := range []struct {
		name   string
		stream string
		fail   error
	}{
		{"plain", "", nil},
		{"stream", "s1", nil},
		{"retried", "s1", errors.New("backend unavailable")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp := &keepExporter{entered: make(chan struct{}), release: make(chan struct{}), failSecond: tc.fail}
			opts := []Option{WithoutEnv(), WithQueueSize(4096), WithBatchSize(64), WithRetry(time.Millisecond, time.Millisecond, 0)}
			if tc.stream != "" {
				opts = append(opts, WithStream(tc.stream))
			}
			p, err := New(exp, opts...)
			if err != nil {
				t.Fatal(err)
			}
			p.stallAfter = 0 // stalled from the start
			rng := rand.New(rand.NewPCG(7, 11))
			// The first record's export stalls; the rest wait.
			first := randomRecords(t, rng, 1, []sdklog.Processor{p}, sdklog.WithAllowKeyDuplication(), sdklog.WithAttributeCountLimit(-1))
			<-exp.entered
			rest := randomRecords(t, rng, 300, []sdklog.Processor{p}, sdklog.WithAllowKeyDuplication(), sdklog.WithAttributeCountLimit(-1))
			p.mu.Lock()
			packed := 0
			for i := range p.q.slots {
				if p.q.slots[i].rec.chunk != 0 {
					packed++
				}
			}
			p.mu.Unlock()
			if packed < len(rest)-packBeyond {
				t.Errorf("%d records held packed, want at least %d", packed, len(rest)-packBeyond)
			}
			close(exp.release)
			if err := p.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			want := append(first, rest...)
			var got []sdklog.Record
			for i := range exp.records {
				if exp.records[i].EventName() != EventPipelineDropped {
					got = append(got, exp.records[i])
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%d records exported, want %d", len(got), len(want))
			}
			for i := range want {
				g := &got[i]
				if tc.stream != "" {
					m := testsupport.AttrMap(g)
					if id, seq := m["audit.stream.id"], m["audit.sequence"]; id.AsString() != tc.stream || seq.AsInt64() != int64(i+1) {
						t.Fatalf("record %d: stream %q sequence %d, want %q %d", i, id.AsString(), seq.AsInt64(), tc.stream, i+1)
					}
					var kvs []attribute.KeyValue
					g.WalkAttributes(func(kv attribute.KeyValue) bool {
						if kv.Key != "audit.stream.id" && kv.Key != "audit.sequence" {
							kvs = append(kvs, kv)
						}
						return true
					})
					c := g.Clone()
					c.SetAttributes(kvs...)
					g = &c
				}
				if d := sameRecord(&want[i], g); d != "" {
					t.Fatalf("record %d: %s", i, d)
				}
			}
		})
	}
}

// BenchmarkPackedRecord: what packing costs a record of the middleware's
// 14 attributes (pack, on the emitting goroutine) and rebuilding it
// (unpack, on the worker), against holding it as an SDK record (clone,
// then the copy into the batch).
func BenchmarkPackedRecord(b *testing.B) {
	var api log.Record
	api.SetEventName("http.response.success")
	api.SetTimestamp(time.Now())
	api.SetSeverity(log.SeverityInfo)
	api.SetBody(attribute.StringValue("http.response.success"))
	for _, kv := range [][2]string{
		{"audit.schema.version", "1"}, {"audit.request.id", "8f14e45fceea167a5a36dedd4bea2543"},
		{"client.address", "203.0.113.7"}, {"audit.action", "response"}, {"audit.outcome", "success"},
		{"user.id", "42"}, {"network.peer.address", "198.51.100.7"}, {"http.request.method", "GET"},
		{"url.path", "/api/v1/items/7"}, {"http.route", "/api/v1/items/{id}"},
		{"url.full", "http://127.0.0.1:8080/api/v1/items/7"}, {"user_agent.original", "secaudit-load/1.0"},
	} {
		api.AddAttributes(attribute.String(kv[0], kv[1]))
	}
	api.AddAttributes(attribute.Int("http.response.status_code", 200), attribute.Int64("audit.duration", 1843))
	rec := testsupport.SDKRecord(b, api)
	var st store
	var dst sdklog.Record
	b.Run("pack", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h, _ := st.pack(&rec)
			st.release(h)
		}
	})
	h, _ := st.pack(&rec)
	b.Run("unpack", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			st.load(&dst, h)
		}
	})
	b.Run("clone", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h := st.newFull()
			cloneInto(st.fullSlot(h), &rec)
			st.load(&dst, h)
			st.release(h)
		}
	})
}

// TestPackedDropsCounted: records held packed that a more valuable record
// evicts are counted under their event names, and the drop account keeps
// interned copies of the names, not the chunks they were packed in (a
// map updates a string key on every assignment).
func TestPackedDropsCounted(t *testing.T) {
	testsupport.CheckGoroutines(t)
	exp := &keepExporter{entered: make(chan struct{}), release: make(chan struct{})}
	p, err := New(exp, WithoutEnv(), WithQueueSize(64), WithBatchSize(8))
	if err != nil {
		t.Fatal(err)
	}
	p.stallAfter = 0 // stalled from the start
	ctx := context.Background()
	emit := func(name string, n int) {
		for i := range n {
			var r log.Record
			r.SetEventName(name)
			r.AddAttributes(attribute.String("client.address", fmt.Sprintf("203.0.113.%d", i%200)))
			rec := testsupport.SDKRecord(t, r)
			if err := p.OnEmit(ctx, &rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	emit("http.response.success", 1)
	<-exp.entered
	emit("http.response.redirect", packBeyond)   // held as SDK records
	emit("http.response.success", 64-packBeyond) // packed; the queue is full
	p.mu.Lock()
	packed := 0
	for i := range p.q.slots {
		if p.q.slots[i].rec.chunk != 0 {
			packed++
		}
	}
	p.mu.Unlock()
	if packed != 64-packBeyond {
		t.Fatalf("%d records packed, want %d", packed, 64-packBeyond)
	}
	emit("login.failed", 64-packBeyond) // each evicts a packed response, the lowest priority
	st := p.Stats()
	want := Drop{Reason: ReasonEvicted, EventName: "http.response.success", Count: 64 - packBeyond}
	if len(st.Drops) != 1 || st.Drops[0] != want {
		t.Errorf("Drops = %+v, want [%+v]", st.Drops, want)
	}
	p.mu.Lock()
	for k := range p.ledger.byKey {
		for _, c := range p.q.st.chunks {
			if within(k.event, c.buf) {
				t.Errorf("the drop account's name %q points into a packing chunk", k.event)
			}
		}
	}
	p.mu.Unlock()
	close(exp.release)
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// within reports whether s's bytes lie in buf's array.
func within(s string, buf []byte) bool {
	if len(s) == 0 || cap(buf) == 0 {
		return false
	}
	p, lo := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	return p >= lo && p < lo+uintptr(cap(buf))
}
