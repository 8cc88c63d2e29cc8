package delivery_test

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"testing"

	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/internal/testsupport"
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

// heldQueue is a processor whose exporter is stalled on its first record
// while held more records wait in its queue, as a slow or unreachable
// collector leaves them (the processor deems the export stalled at once,
// where it waits stallAfter otherwise); release lets the exporter go and
// shuts it down.
func heldQueue(tb testing.TB, held int) (p *delivery.Processor, release func()) {
	tb.Helper()
	ctx := context.Background()
	stalled := &memExporter{}
	p = newProcessor(tb, stalled, delivery.WithQueueSize(4096))
	delivery.DeemStalledAfter(p, 0)
	prov := newProvider(p)
	stalled.setStall(true)
	l := prov.Logger("held")
	l.Emit(ctx, responseRecord(0))
	<-stalled.entered // the exporter holds the first record; the rest wait
	for i := range held {
		l.Emit(ctx, responseRecord(i+1))
	}
	if st := p.Stats(); st.Emitted != uint64(held+1) {
		tb.Fatalf("held queue: %d emitted, want %d", st.Emitted, held+1)
	}
	return p, func() {
		stalled.setStall(false)
		if err := prov.Shutdown(ctx); err != nil {
			tb.Error(err)
		}
	}
}

// scannableHeap returns the heap bytes that a garbage collection scans
// (runtime/metrics /gc/scan/heap:bytes) after a full collection.
func scannableHeap() uint64 {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/scan/heap:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// heldScanPerRecord returns the scannable heap that each of held queued
// records adds: what every garbage collection must scan for it, measured
// against a processor holding none (the smaller of three rounds each, so
// that a collection of the test's own garbage does not count).
func heldScanPerRecord(tb testing.TB, held int) float64 {
	tb.Helper()
	measure := func(n int) uint64 {
		_, release := heldQueue(tb, n)
		defer release()
		return scannableHeap()
	}
	best := func(n int) uint64 {
		v := measure(n)
		for range 2 {
			v = min(v, measure(n))
		}
		return v
	}
	empty, full := best(0), best(held)
	if full < empty {
		return 0
	}
	return float64(full-empty) / float64(held)
}

// heldScanBudget is what each record held in a stalled processor's queue
// may add to the heap a garbage collection scans. A record held as an SDK
// record (its struct, attribute array and strings, 1.3 KB of pointer-bearing
// memory for the 14 attributes of responseRecord) far exceeds it.
const heldScanBudget = 192

// TestQueueHeldScan: 512 records of 14 attributes waiting behind a
// stalled exporter add at most heldScanBudget bytes each to what every
// garbage collection scans: the queue holds them in pointer-free memory,
// not as SDK records.
func TestQueueHeldScan(t *testing.T) {
	if testsupport.Race {
		t.Skip("the race detector changes what the heap holds")
	}
	checkGoroutines(t)
	got := heldScanPerRecord(t, 512)
	t.Logf("scannable heap per held record: %.0f B", got)
	if got > heldScanBudget {
		t.Errorf("each held record adds %.0f B to the scannable heap, want at most %d", got, heldScanBudget)
	}
}

// BenchmarkQueueHeld is GC-sensitive: one 14-attribute record through a
// LoggerProvider and a delivery processor whose exporter takes everything,
// while another delivery processor holds held records in its queue (its
// exporter stalled), as a burst or a slow collector leaves them. Every
// garbage collection marks what the held queue points to, so what a held
// record costs the GC shows as the difference between held=0 and
// held=512 (instructions under cachegrind, or ns/op). scan-B/held is
// what each held record adds to the heap every collection scans (see
// heldScanPerRecord).
func BenchmarkQueueHeld(b *testing.B) {
	ctx := context.Background()
	for _, held := range []int{0, 512} {
		b.Run(fmt.Sprintf("held=%d", held), func(b *testing.B) {
			_, release := heldQueue(b, held)
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
			if held > 0 {
				b.ReportMetric(heldScanPerRecord(b, held), "scan-B/held")
			}
			_ = prov.Shutdown(ctx)
			release()
		})
	}
}

// TestPackedOnEmitAllocs: queuing a record behind a stalled export, where
// the queue packs it (see TestQueueHeldScan), allocates only a 32 KiB
// chunk every fifty records or so and the queue's growth: at most one
// allocation per twenty OnEmit calls (0.03 measured), where holding the
// SDK record costs one per call (the copy of its attributes beyond the
// fifth).
func TestPackedOnEmitAllocs(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts are not meaningful under -race")
	}
	checkGoroutines(t)
	p, release := heldQueue(t, 64) // past the records held unpacked
	defer release()
	ctx := context.Background()
	rec := testsupport.SDKRecord(t, responseRecord(7), sdklog.WithResource(shopResource))
	const runs = 1000
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range runs {
		if err := p.OnEmit(ctx, &rec); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&m1)
	allocs := float64(m1.Mallocs-m0.Mallocs) / runs
	t.Logf("per record: %.3f allocations, %.0f B", allocs, float64(m1.TotalAlloc-m0.TotalAlloc)/runs)
	if allocs > 0.05 {
		t.Errorf("OnEmit of a packed record allocates %.3f times, want at most 0.05", allocs)
	}
}
