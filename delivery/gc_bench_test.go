package delivery_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"go.opentelemetry.io/otel/log"

	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/semconv"
)

// responseRecord is an http.response.success record with the 14
// attributes of the middleware's, its values built at run time (heap
// strings, as a request's are).
func responseRecord(i int) log.Record {
	r := event(semconv.EventHTTPResponseSuccess)
	r.AddAttributes(
		semconv.AuditActionKey.String(semconv.ActionResponse),
		semconv.AuditOutcomeKey.String(semconv.OutcomeSuccess),
		semconv.UserIDKey.String(fmt.Sprint(i%100)),
		semconv.NetworkPeerAddressKey.String(fmt.Sprintf("198.51.100.%d", i%256)),
		semconv.HTTPRequestMethodKey.String("GET"),
		semconv.URLPathKey.String(fmt.Sprintf("/api/v1/items/%d", i)),
		semconv.HTTPRouteKey.String("/api/v1/items/{id}"),
		semconv.HTTPResponseStatusCodeKey.Int(200),
		semconv.URLFullKey.String(fmt.Sprintf("http://127.0.0.1:8080/api/v1/items/%d", i)),
		semconv.AuditDurationKey.Int64(int64(1000+i)),
		semconv.UserAgentOriginalKey.String("secaudit-load/1.0"),
	)
	return r
}

// BenchmarkQueueHeld is GC-sensitive: one 14-attribute record through a
// LoggerProvider and a delivery processor whose exporter takes everything,
// while another delivery processor holds held records in its queue (its
// exporter stalled), as a burst or a slow collector leaves them. Every
// garbage collection marks what the held queue points to, so what a held
// record costs the GC shows as the difference between held=0 and
// held=512 (instructions under cachegrind, or ns/op).
func BenchmarkQueueHeld(b *testing.B) {
	ctx := context.Background()
	for _, held := range []int{0, 512} {
		b.Run(fmt.Sprintf("held=%d", held), func(b *testing.B) {
			stalled := &memExporter{}
			hp := newProcessor(b, stalled, delivery.WithQueueSize(4096))
			hprov := newProvider(hp)
			stalled.setStall(true)
			hl := hprov.Logger("held")
			if held > 0 {
				hl.Emit(ctx, responseRecord(0))
				<-stalled.entered // the exporter holds the first batch; the rest wait
				for i := range held {
					hl.Emit(ctx, responseRecord(i+1))
				}
			}
			flowing := newProcessor(b, discardExporter{})
			prov := newProvider(flowing)
			logger := prov.Logger("bench")
			recs := make([]log.Record, 256)
			for i := range recs {
				recs[i] = responseRecord(i)
			}
			b.ReportAllocs()
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			i := 0
			for b.Loop() {
				logger.Emit(ctx, recs[i%len(recs)])
				i++
			}
			b.StopTimer()
			runtime.ReadMemStats(&m1)
			b.ReportMetric(float64(m1.NumGC-m0.NumGC)*1000/float64(b.N), "gc/kop")
			b.ReportMetric(float64(m0.HeapAlloc)/1024, "live-KiB")
			_ = prov.Shutdown(ctx)
			if st := hp.Stats(); held > 0 && st.Emitted != uint64(held+1) {
				b.Fatalf("held queue: %d emitted, want %d", st.Emitted, held+1)
			}
			stalled.setStall(false)
			_ = hprov.Shutdown(ctx)
		})
	}
}
