package delivery_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/log"

	"github.com/secaudit/secaudit/delivery"
)

// BenchmarkStreamEmit is one 14-attribute record through a LoggerProvider
// and a delivery processor that numbers its stream (audit.stream.id,
// audit.sequence: setup's pipelines do), to an exporter that takes
// everything: the SDK's record, the queue, the worker's numbering.
func BenchmarkStreamEmit(b *testing.B) {
	ctx := context.Background()
	p := newProcessor(b, discardExporter{}, delivery.WithStream("s"))
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
		i++
	}
	b.StopTimer()
	_ = prov.Shutdown(ctx)
}
