package delivery_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/log"

	"github.com/secaudit/secaudit/delivery"
)

// BenchmarkDelivered is the whole per-record cost of delivery while the
// exporter keeps up: one 14-attribute record through a LoggerProvider,
// the processor's queue and its worker to an exporter that takes
// everything, flushed every 64 records so that none is dropped (under
// one CPU the worker runs only when the emitter waits).
func BenchmarkDelivered(b *testing.B) { benchDelivered(b) }

// BenchmarkDeliveredWithoutCopy is BenchmarkDelivered with
// delivery.WithoutCopy: the record is queued without a copy of its
// attributes.
func BenchmarkDeliveredWithoutCopy(b *testing.B) { benchDelivered(b, delivery.WithoutCopy()) }

// BenchmarkDeliveredStream and BenchmarkDeliveredStreamWithoutCopy number
// the records (delivery.WithStream), as every setup pipeline does.
func BenchmarkDeliveredStream(b *testing.B) { benchDelivered(b, delivery.WithStream("s")) }

func BenchmarkDeliveredStreamWithoutCopy(b *testing.B) {
	benchDelivered(b, delivery.WithStream("s"), delivery.WithoutCopy())
}

func benchDelivered(b *testing.B, opts ...delivery.Option) {
	ctx := context.Background()
	exp := &countingExporter{Exporter: discardExporter{}}
	p := newProcessor(b, exp, append([]delivery.Option{delivery.WithBatchSize(64)}, opts...)...)
	prov := newProvider(p)
	logger := prov.Logger("bench")
	recs := make([]log.Record, 256)
	for i := range recs {
		recs[i] = responseRecord(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		logger.Emit(ctx, recs[i%len(recs)])
		if i++; i%64 == 0 {
			if err := prov.ForceFlush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	if err := prov.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(exp.n.Load())/float64(b.N), "exported/op")
}
