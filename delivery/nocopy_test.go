package delivery_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// TestOnEmitAllocsWithoutCopy: with WithoutCopy, queuing a record with
// more than five attributes (the SDK keeps those beyond five in an array
// of their own) allocates nothing, where a processor that copies
// allocates the copy of that array; with and without stream numbering.
func TestOnEmitAllocsWithoutCopy(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts are not meaningful under -race")
	}
	checkGoroutines(t)
	ctx := context.Background()
	big := sdkRecord(t, semconv.EventHTTPResponseClientError)
	big.AddAttributes(
		semconv.HTTPRequestMethodKey.String("GET"), semconv.HTTPResponseStatusCodeKey.Int(403),
		semconv.HTTPRouteKey.String("/api/accounts/{id}"), semconv.URLPathKey.String("/api/accounts/2"),
		semconv.UserIDKey.String("1"), semconv.AuditDurationKey.Int64(1843211),
	)
	for _, tc := range []struct {
		name string
		opts []delivery.Option
		want float64
	}{
		{"copy", nil, 1},
		{"copy, stream", []delivery.Option{delivery.WithStream("s")}, 1},
		{"WithoutCopy", []delivery.Option{delivery.WithoutCopy()}, 0},
		{"WithoutCopy, stream", []delivery.Option{delivery.WithoutCopy(), delivery.WithStream("s")}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp := &memExporter{}
			p := newProcessor(t, exp, append([]delivery.Option{delivery.WithQueueSize(10_000)}, tc.opts...)...)
			if got := p.CopiesRecords(); got != (tc.want == 1) {
				t.Errorf("CopiesRecords() = %v", got)
			}
			exp.setStall(true) // nothing leaves the queue: only OnEmit's own allocations count
			first := big.Clone()
			if err := p.OnEmit(ctx, &first); err != nil {
				t.Fatal(err)
			}
			<-exp.entered
			// A record of its own per call, as the SDK gives each Emit;
			// made outside the measured function.
			recs := make([]sdklog.Record, 101)
			for i := range recs {
				recs[i] = big.Clone()
			}
			i := 0
			if allocs := testing.AllocsPerRun(100, func() {
				if err := p.OnEmit(ctx, &recs[i]); err != nil {
					t.Fatal(err)
				}
				i++
			}); allocs != tc.want {
				t.Errorf("OnEmit allocates %v times, want %v", allocs, tc.want)
			}
			exp.setStall(false)
			if err := p.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// wideRecord is record i of writer w with eleven attributes, eight of
// which name w and i, so that a record changed or mixed with another
// shows. The SDK holds the six beyond its five inline ones in an array it
// grew by doubling: with room for two more, so that stream numbering
// appends in place.
const wideAttrs = 8

func wideRecord(w, i int) log.Record {
	r := event(semconv.EventHTTPResponseSuccess)
	for k := range wideAttrs {
		r.AddAttributes(attribute.String(fmt.Sprintf("test.k%d", k), fmt.Sprintf("w%d-i%d-k%d", w, i, k)))
	}
	return r
}

// checkWide reports what is wrong with an exported wideRecord: each test.k
// attribute once, all naming the same writer and record, and, when stream
// is not empty, exactly one audit.stream.id (stream) and audit.sequence.
func checkWide(r *sdklog.Record, stream string) error {
	var owner string
	seen := map[string]int{}
	var bad error
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		k := string(kv.Key)
		seen[k]++
		switch {
		case k == string(semconv.AuditStreamIDKey):
			if got := kv.Value.AsString(); got != stream {
				bad = fmt.Errorf("audit.stream.id %q, want %q", got, stream)
			}
		case len(k) == 7 && k[:6] == "test.k":
			v := kv.Value.AsString()
			var w, i, n int
			if _, err := fmt.Sscanf(v, "w%d-i%d-k%d", &w, &i, &n); err != nil || fmt.Sprintf("test.k%d", n) != k {
				bad = fmt.Errorf("%s = %q", k, v)
			} else if o := fmt.Sprintf("w%d-i%d", w, i); owner == "" {
				owner = o
			} else if o != owner {
				bad = fmt.Errorf("%s = %q in a record of %s", k, v, owner)
			}
		}
		return bad == nil
	})
	if bad != nil {
		return bad
	}
	for k := range wideAttrs {
		if n := seen[fmt.Sprintf("test.k%d", k)]; n != 1 {
			return fmt.Errorf("test.k%d %d times", k, n)
		}
	}
	want := 0
	if stream != "" {
		want = 1
	}
	if seen[string(semconv.AuditStreamIDKey)] != want || seen[string(semconv.AuditSequenceKey)] != want {
		return fmt.Errorf("audit.stream.id %d times, audit.sequence %d times, want %d",
			seen[string(semconv.AuditStreamIDKey)], seen[string(semconv.AuditSequenceKey)], want)
	}
	return nil
}

// readingProcessor walks every record it is given, as the detection
// processor does after the delivery processors, and counts them.
type readingProcessor struct{ n, attrs atomic.Int64 }

func (p *readingProcessor) OnEmit(_ context.Context, r *sdklog.Record) error {
	var n int64
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		n += int64(len(kv.Value.String()))
		return true
	})
	p.n.Add(1)
	p.attrs.Add(n)
	return nil
}
func (*readingProcessor) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (*readingProcessor) Shutdown(context.Context) error                         { return nil }
func (*readingProcessor) ForceFlush(context.Context) error                       { return nil }

// TestWithoutCopyRecordsIntact: records queued without a copy reach the
// exporter intact, numbered, while their emitters return and emit more,
// and while a processor after the delivery processor reads them (run with
// -race: the worker's numbering appends to the array the SDK's record
// still holds); in every mode.
func TestWithoutCopyRecordsIntact(t *testing.T) {
	checkGoroutines(t)
	for _, tc := range []struct {
		mode delivery.Mode
		each int
	}{{delivery.ModeAsync, 300}, {delivery.ModeBlocking, 50}, {delivery.ModeStrict, 50}} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			ctx := context.Background()
			exp := &memExporter{keep: true}
			p := newProcessor(t, exp, delivery.WithoutCopy(), delivery.WithStream("s"), delivery.WithMode(tc.mode),
				delivery.WithBatchSize(16), delivery.WithLinger(0), delivery.WithQueueSize(10_000))
			reader := &readingProcessor{}
			prov := testsupport.NewProvider(p, reader)
			logger := prov.Logger("test")
			const writers = 4
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := range tc.each {
						logger.Emit(ctx, wideRecord(w, i))
					}
				})
			}
			wg.Wait()
			if err := prov.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			total := uint64(writers * tc.each)
			if st := p.Stats(); st.Exported != total || st.Dropped != 0 {
				t.Fatalf("exported %d, dropped %d, want %d and 0", st.Exported, st.Dropped, total)
			}
			if got := reader.n.Load(); got != int64(total) {
				t.Errorf("the reader saw %d records, want %d", got, total)
			}
			_, seqs := numbers(exp.records)
			for i := range exp.records {
				if err := checkWide(&exp.records[i], "s"); err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if seqs[i] != int64(i+1) {
					t.Fatalf("record %d: audit.sequence %d, want %d", i, seqs[i], i+1)
				}
			}
		})
	}
}

// TestTwoStreamsOneWithoutCopy: two numbering processors, the first
// copying and the last WithoutCopy (as setup wires two exporters): each
// exporter gets every record intact, with its own stream id only and a
// contiguous sequence, whether the first moves the SDK's array into its
// queue and hands the next processor a copy (a record taken with the next
// batch) or queues a copy (a record behind a batch or more).
func TestTwoStreamsOneWithoutCopy(t *testing.T) {
	checkGoroutines(t)
	for _, batch := range []int{1, 4, 64} {
		t.Run(fmt.Sprint("batch ", batch), func(t *testing.T) {
			ctx := context.Background()
			expA, expB := &memExporter{keep: true}, &memExporter{keep: true}
			opts := []delivery.Option{delivery.WithBatchSize(batch), delivery.WithQueueSize(10_000)}
			a := newProcessor(t, expA, append(opts, delivery.WithName("a"), delivery.WithStream("sa"))...)
			b := newProcessor(t, expB, append(opts, delivery.WithName("b"), delivery.WithStream("sb"), delivery.WithoutCopy())...)
			if !a.CopiesRecords() || b.CopiesRecords() {
				t.Fatalf("CopiesRecords: a %v, b %v", a.CopiesRecords(), b.CopiesRecords())
			}
			prov := testsupport.NewProvider(a, b, &readingProcessor{})
			logger := prov.Logger("test")
			const writers, each = 3, 200
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						logger.Emit(ctx, wideRecord(w, i))
					}
				})
			}
			wg.Wait()
			if err := prov.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			for _, x := range []struct {
				stream string
				exp    *memExporter
			}{{"sa", expA}, {"sb", expB}} {
				if len(x.exp.records) != writers*each {
					t.Fatalf("stream %s: %d records exported, want %d", x.stream, len(x.exp.records), writers*each)
				}
				_, seqs := numbers(x.exp.records)
				for i := range x.exp.records {
					if err := checkWide(&x.exp.records[i], x.stream); err != nil {
						t.Fatalf("stream %s, record %d: %v", x.stream, i, err)
					}
					if seqs[i] != int64(i+1) {
						t.Fatalf("stream %s, record %d: audit.sequence %d, want %d", x.stream, i, seqs[i], i+1)
					}
				}
			}
		})
	}
}
