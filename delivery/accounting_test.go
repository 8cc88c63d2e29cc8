package delivery_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// TestHundredThousandEventsThenShutdown: 100 000 events through a real
// LoggerProvider, then Shutdown. Every event is exported or counted as
// lost, and none is lost when the exporter keeps up. Four goroutines emit
// in tight loops. In async mode "keeping up" means what it means in
// production: traffic comes in bursts that fit in the queue (each
// goroutine pauses with ForceFlush after every 1024 events, so at most
// 4096 wait), and the exporter is faster on average. Without the pauses,
// four tight loops starve the worker of CPU on a 2-core machine and
// records are dropped (and counted): that is the overload test's subject.
// In blocking mode the goroutines never pause; they wait for room.
func TestHundredThousandEventsThenShutdown(t *testing.T) {
	const total = 100_000
	names := []string{
		semconv.EventHTTPResponseSuccess, semconv.EventHTTPResponseClientError,
		semconv.EventLoginFailed, semconv.EventModelUpdate, semconv.EventHTTPResponseRedirect,
	}
	const goroutines, each = 4, total / 4
	for _, tc := range []struct {
		mode  delivery.Mode
		burst int // ForceFlush after this many events; 0 = never
	}{{delivery.ModeAsync, 1024}, {delivery.ModeBlocking, 0}} {
		mode := tc.mode
		t.Run(mode.String(), func(t *testing.T) {
			checkGoroutines(t)
			exp := &memExporter{}
			p := newProcessor(t, exp, delivery.WithMode(mode), delivery.WithTimeout(10*time.Second))
			provider := newProvider(p)
			logger := provider.Logger("test")
			start := time.Now()
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					ctx := context.Background()
					for i := range each {
						logger.Emit(ctx, event(names[(g+i)%len(names)]))
						if tc.burst > 0 && (i+1)%tc.burst == 0 {
							if err := p.ForceFlush(ctx); err != nil {
								t.Errorf("ForceFlush: %v", err)
								return
							}
						}
					}
				})
			}
			wg.Wait()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := provider.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			t.Logf("%s: %d events from %d goroutines emitted and shut down in %v", mode, total, goroutines, time.Since(start).Round(time.Millisecond))

			st := p.Stats()
			if st.Emitted != total {
				t.Fatalf("Stats.Emitted = %d, want %d", st.Emitted, total)
			}
			checkIdentity(t, st, exp)
			if st.Dropped != 0 {
				t.Errorf("lost %d records (%v) although the exporter keeps up", st.Dropped, st.Drops)
			}
			byName, _ := exp.counts()
			for _, n := range names {
				if byName[n] != total/len(names) {
					t.Errorf("%s: exported %d, want %d", n, byName[n], total/len(names))
				}
			}
			if exp.shutdown != 1 {
				t.Errorf("exporter shut down %d times, want 1", exp.shutdown)
			}
		})
	}
}

// metricSums reads the processor's metrics through a ManualReader: the
// int64 sums by instrument name, and the dropped counter's points by
// (reason, event name).
func metricSums(t *testing.T, reader *sdkmetric.ManualReader) (map[string]int64, map[[2]string]int64) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	sums := map[string]int64{}
	drops := map[[2]string]int64{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != delivery.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			switch data := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range data.DataPoints {
					sums[m.Name] += dp.Value
					if m.Name == delivery.MetricDropped {
						reason, _ := dp.Attributes.Value(delivery.DropReasonKey)
						name, _ := dp.Attributes.Value(delivery.EventNameKey)
						drops[[2]string{reason.AsString(), name.AsString()}] += dp.Value
					}
				}
			case metricdata.Histogram[float64]:
				for _, dp := range data.DataPoints {
					sums[m.Name] += int64(dp.Count)
				}
			}
		}
	}
	return sums, drops
}

// TestOverloadSecurityEventsSurvive: a slow exporter and a small queue;
// sampled OK responses (and then redirects) absorb every drop, no security
// event is lost, and every drop shows in the metrics read through a real
// sdk/metric ManualReader, and in the final audit.pipeline.dropped event.
func TestOverloadSecurityEventsSurvive(t *testing.T) {
	checkGoroutines(t)
	const (
		queue    = 256
		total    = 4000
		security = 200 // fewer than the queue holds: none may be lost
	)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()

	exp := &memExporter{delay: 2 * time.Millisecond, keep: true}
	p := newProcessor(t, exp,
		delivery.WithName("jsonl"),
		delivery.WithQueueSize(queue),
		delivery.WithBatchSize(16),
		delivery.WithMeterProvider(mp),
	)
	provider := newProvider(p)
	logger := provider.Logger("test")

	securityNames := []string{semconv.EventHTTPResponseClientError, semconv.EventLoginFailed, semconv.EventAuthzDenied, semconv.EventHTTPResponseServerError}
	want := map[string]int{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for g := range 4 {
		wg.Go(func() {
			ctx := context.Background()
			local := map[string]int{}
			for i := g; i < total; i += 4 {
				var name string
				switch {
				case i%(total/security) == 0:
					name = securityNames[i/(total/security)%len(securityNames)]
				case i%10 == 1:
					name = semconv.EventHTTPResponseRedirect
				default:
					name = semconv.EventHTTPResponseSuccess
				}
				local[name]++
				logger.Emit(ctx, event(name))
			}
			mu.Lock()
			for k, v := range local {
				want[k] += v
			}
			mu.Unlock()
		})
	}
	wg.Wait()

	// Mid-run, the metrics already show the drops.
	sums, _ := metricSums(t, reader)
	if sums[delivery.MetricDropped] == 0 || sums[delivery.MetricEmitted] != total {
		t.Errorf("mid-run metrics: dropped %d, emitted %d; want drops and %d emitted", sums[delivery.MetricDropped], sums[delivery.MetricEmitted], total)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := provider.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	st := p.Stats()
	checkIdentity(t, st, exp)

	got, _ := exp.counts()
	var wantSecurity, gotSecurity int
	for _, n := range securityNames {
		wantSecurity += want[n]
		gotSecurity += got[n]
		if got[n] != want[n] {
			t.Errorf("%s: exported %d of %d; security events must not be lost", n, got[n], want[n])
		}
	}
	if wantSecurity != security {
		t.Fatalf("test emitted %d security events, meant %d", wantSecurity, security)
	}
	if st.Dropped == 0 {
		t.Fatal("no drops: the exporter was not slow enough to test overload")
	}
	successLost := uint64(want[semconv.EventHTTPResponseSuccess] - got[semconv.EventHTTPResponseSuccess])
	redirectLost := uint64(want[semconv.EventHTTPResponseRedirect] - got[semconv.EventHTTPResponseRedirect])
	if successLost+redirectLost != st.Dropped || successLost == 0 {
		t.Errorf("lost %d success + %d redirect, Stats.Dropped = %d; want the drops on OK responses", successLost, redirectLost, st.Dropped)
	}
	t.Logf("emitted %d: exported %d, dropped %d (%d success, %d redirect); drops %v", st.Emitted, st.Exported, st.Dropped, successLost, redirectLost, st.Drops)

	// Every drop is in the metrics, by reason and event name.
	sums, drops := metricSums(t, reader)
	if sums[delivery.MetricEmitted] != total || sums[delivery.MetricExported] != int64(st.Exported) || sums[delivery.MetricDropped] != int64(st.Dropped) {
		t.Errorf("metrics emitted/exported/dropped = %d/%d/%d, want %d/%d/%d",
			sums[delivery.MetricEmitted], sums[delivery.MetricExported], sums[delivery.MetricDropped], total, st.Exported, st.Dropped)
	}
	for _, d := range st.Drops {
		if drops[[2]string{d.Reason, d.EventName}] != int64(d.Count) {
			t.Errorf("metric for %s/%s = %d, Stats says %d", d.Reason, d.EventName, drops[[2]string{d.Reason, d.EventName}], d.Count)
		}
		if d.EventName != semconv.EventHTTPResponseSuccess && d.EventName != semconv.EventHTTPResponseRedirect {
			t.Errorf("dropped %d %s records", d.Count, d.EventName)
		}
	}
	if sums[delivery.MetricQueueCapacity] != queue || sums[delivery.MetricQueueSize] != 0 {
		t.Errorf("queue gauges: capacity %d, size %d; want %d, 0", sums[delivery.MetricQueueCapacity], sums[delivery.MetricQueueSize], queue)
	}
	if sums[delivery.MetricExportDuration] == 0 {
		t.Error("no export durations recorded")
	}

	// The final summary accounts for every loss.
	var summary *attribute.Value
	var summaries int
	for i := range exp.records {
		r := &exp.records[i]
		if r.EventName() != delivery.EventPipelineDropped {
			continue
		}
		summaries++
		attrs := testsupport.AttrMap(r)
		if v := attrs[string(delivery.DroppedTotalKey)]; v.AsInt64() != int64(st.Dropped) {
			t.Errorf("summary total = %d, want %d", v.AsInt64(), st.Dropped)
		}
		if v := attrs[string(delivery.PipelineNameKey)]; v.AsString() != "jsonl" {
			t.Errorf("summary pipeline name = %q", v.AsString())
		}
		ev := attrs[string(delivery.DroppedEventsKey)]
		summary = &ev
		if got := r.Resource().Attributes(); len(got) != 1 || got[0] != semconv.ServiceNameKey.String("shop") {
			t.Errorf("summary resource = %v, want the provider's", got)
		}
		if r.Severity() != semconv.SeverityError {
			t.Errorf("summary severity = %v", r.Severity())
		}
	}
	if summaries != 1 || summary == nil {
		t.Fatalf("%d summaries exported, want 1 (the final one)", summaries)
	}
	var fromSummary int64
	for _, kv := range summary.AsMap() {
		fromSummary += kv.Value.AsInt64()
	}
	if fromSummary != int64(st.Dropped) {
		t.Errorf("summary events map sums to %d, want %d", fromSummary, st.Dropped)
	}
}
