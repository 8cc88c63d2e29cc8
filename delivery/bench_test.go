package delivery_test

import (
	"context"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// TestOnEmitAllocs: queuing a record costs no allocation when the record
// keeps its attributes inline (up to five), and one (the copy of the
// rest) beyond.
func TestOnEmitAllocs(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts are not meaningful under -race")
	}
	checkGoroutines(t)
	exp := &memExporter{}
	p := newProcessor(t, exp, delivery.WithQueueSize(10_000))
	exp.setStall(true) // nothing leaves the queue: only OnEmit's own allocations count
	ctx := context.Background()
	small := sdkRecord(t, semconv.EventLoginFailed) // 3 attributes
	if err := p.OnEmit(ctx, &small); err != nil {
		t.Fatal(err)
	}
	<-exp.entered
	big := sdkRecord(t, semconv.EventHTTPResponseClientError)
	big.AddAttributes(
		semconv.HTTPRequestMethodKey.String("GET"), semconv.HTTPResponseStatusCodeKey.Int(403),
		semconv.HTTPRouteKey.String("/api/accounts/{id}"), semconv.URLPathKey.String("/api/accounts/2"),
		semconv.UserIDKey.String("1"), semconv.AuditDurationKey.Int64(1843211),
	)
	for _, tc := range []struct {
		name string
		rec  *sdklog.Record
		want float64
	}{{"3 attributes", &small, 0}, {"9 attributes", &big, 1}} {
		if allocs := testing.AllocsPerRun(1000, func() {
			if err := p.OnEmit(ctx, tc.rec); err != nil {
				t.Fatal(err)
			}
		}); allocs > tc.want {
			t.Errorf("%s: OnEmit allocates %v times, want at most %v", tc.name, allocs, tc.want)
		}
	}
	exp.setStall(false)
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// discardExporter accepts everything.
type discardExporter struct{}

func (discardExporter) Export(context.Context, []sdklog.Record) error { return nil }
func (discardExporter) Shutdown(context.Context) error                { return nil }
func (discardExporter) ForceFlush(context.Context) error              { return nil }

// countingExporter counts what reaches the exporter it wraps.
type countingExporter struct {
	sdklog.Exporter
	n atomic.Uint64
}

func (c *countingExporter) Export(ctx context.Context, records []sdklog.Record) error {
	c.n.Add(uint64(len(records)))
	return c.Exporter.Export(ctx, records)
}

// BenchmarkEmit compares the request-path cost of one audit record through
// a LoggerProvider with this processor against the SDK's batch and simple
// processors, with a no-op exporter and with the JSONL exporter writing to
// io.Discard. exported/op < 1 means records were dropped: counted by this
// processor, silently (the oldest) by the SDK's batch processor.
func BenchmarkEmit(b *testing.B) {
	newJSONL := func(b *testing.B) sdklog.Exporter {
		e, err := exporter.NewJSONL(exporter.WithWriter(io.Discard))
		if err != nil {
			b.Fatal(err)
		}
		return e
	}
	noop := func(*testing.B) sdklog.Exporter { return discardExporter{} }
	processors := []struct {
		name  string
		build func(sdklog.Exporter) sdklog.Processor
	}{
		{"delivery-async", func(e sdklog.Exporter) sdklog.Processor {
			p, err := delivery.New(e, delivery.WithoutEnv())
			if err != nil {
				panic(err)
			}
			return p
		}},
		{"sdk-batch", func(e sdklog.Exporter) sdklog.Processor { return sdklog.NewBatchProcessor(e) }},
		{"sdk-simple", func(e sdklog.Exporter) sdklog.Processor { return sdklog.NewSimpleProcessor(e) }},
	}
	for _, exp := range []struct {
		name string
		new  func(*testing.B) sdklog.Exporter
	}{{"noop", noop}, {"jsonl", newJSONL}} {
		for _, proc := range processors {
			for _, parallel := range []bool{false, true} {
				name := exp.name + "/" + proc.name
				if parallel {
					name += "/parallel"
				}
				b.Run(name, func(b *testing.B) {
					counted := &countingExporter{Exporter: exp.new(b)}
					provider := newProvider(proc.build(counted))
					logger := provider.Logger("bench")
					rec := event(semconv.EventHTTPResponseClientError)
					b.ReportAllocs()
					if parallel {
						b.RunParallel(func(pb *testing.PB) {
							ctx := context.Background()
							for pb.Next() {
								logger.Emit(ctx, rec)
							}
						})
					} else {
						ctx := context.Background()
						for b.Loop() {
							logger.Emit(ctx, rec)
						}
					}
					b.StopTimer()
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					if err := provider.Shutdown(ctx); err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64(counted.n.Load())/float64(b.N), "exported/op")
				})
			}
		}
	}
}

// TestStreamNumberingAllocs: numbering the records of a stream
// (audit.stream.id and audit.sequence, added by the worker as it takes a
// batch) costs no allocation and no byte over queuing them unnumbered, for
// a record of the middleware's 14 attributes emitted through the SDK.
// Before, the queue held a clone sized to fit, which the worker grew to
// twice its size for the two attributes: one allocation and 1.1 KB more
// per record, each of them more work for the GC.
func TestStreamNumberingAllocs(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts are not meaningful under -race")
	}
	checkGoroutines(t)
	ctx := context.Background()
	const n = 512
	recs := make([]log.Record, n)
	for i := range recs {
		recs[i] = responseRecord(i)
	}
	measure := func(opts ...delivery.Option) (allocs, bytes float64) {
		exp := &countingExporter{Exporter: discardExporter{}}
		p := newProcessor(t, exp, append([]delivery.Option{delivery.WithQueueSize(2 * n), delivery.WithBatchSize(64)}, opts...)...)
		prov := newProvider(p)
		l := prov.Logger("t")
		// In runs of half a batch, so that every record is queued for
		// the next batch (deeper in the queue, records are held as
		// clones).
		run := func() {
			for i := range recs {
				l.Emit(ctx, recs[i])
				if i%32 == 31 {
					if err := prov.ForceFlush(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		run() // the worker's batch buffers grow
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		run()
		runtime.ReadMemStats(&m1)
		if err := prov.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if got := exp.n.Load(); got != 2*n {
			t.Fatalf("%d records exported, want %d", got, 2*n)
		}
		return float64(m1.Mallocs-m0.Mallocs) / n, float64(m1.TotalAlloc-m0.TotalAlloc) / n
	}
	a0, b0 := measure()
	a1, b1 := measure(delivery.WithStream("s"))
	t.Logf("per record: %.2f allocations, %.0f B unnumbered; %.2f, %.0f B numbered", a0, b0, a1, b1)
	if a1-a0 > 0.1 || b1-b0 > 64 {
		t.Errorf("numbering adds %.2f allocations and %.0f B per record, want none", a1-a0, b1-b0)
	}
}
