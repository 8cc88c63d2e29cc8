package guard_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/secaudit/secaudit/detect/guard"
	"github.com/secaudit/secaudit/internal/testsupport"
)

// meter is a MeterProvider whose metrics a test collects.
type meter struct {
	mp     *sdkmetric.MeterProvider
	reader *sdkmetric.ManualReader
}

func newMeter(t *testing.T) *meter {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return &meter{mp: mp, reader: reader}
}

// collect returns every secaudit.guard.* data point, keyed by the
// metric's name and its attributes ("name{quiet=true}"), and fails the
// test if an attribute value names an address or a user.
func (m *meter) collect(t *testing.T, forbidden ...string) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := m.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			if !strings.HasPrefix(mt.Name, "secaudit.guard.") {
				continue
			}
			var points []metricdata.DataPoint[int64]
			switch d := mt.Data.(type) {
			case metricdata.Sum[int64]:
				if !d.IsMonotonic {
					t.Errorf("%s: a counter that is not monotonic", mt.Name)
				}
				points = d.DataPoints
			case metricdata.Gauge[int64]:
				points = d.DataPoints
			default:
				t.Fatalf("%s: data %T", mt.Name, mt.Data)
			}
			for _, p := range points {
				var attrs []string
				for _, kv := range p.Attributes.ToSlice() {
					v := kv.Value.String()
					if _, err := netip.ParseAddr(v); err == nil {
						t.Errorf("%s: attribute %s holds an address: %q", mt.Name, kv.Key, v)
					}
					for _, f := range forbidden {
						if strings.Contains(v, f) || strings.Contains(string(kv.Key), f) {
							t.Errorf("%s: attribute %s=%q holds %q", mt.Name, kv.Key, v, f)
						}
					}
					attrs = append(attrs, string(kv.Key)+"="+v)
				}
				sort.Strings(attrs)
				name := mt.Name
				if len(attrs) > 0 {
					name += "{" + strings.Join(attrs, ",") + "}"
				}
				if _, dup := got[name]; dup {
					t.Errorf("%s: two data points", name)
				}
				got[name] = p.Value
			}
		}
	}
	return got
}

// TestMetrics: the guard's counters as OTel metrics, read from Stats at
// collection: blocks applied, held, lifted, expired, evicted and refused
// by allowlist; refusals of a blocked address and a lockout (loud and
// quiet); a rate-limited flood (loud and quiet); no attribute holds an
// address or a user.
func TestMetrics(t *testing.T) {
	ctx := context.Background()
	m := newMeter(t)
	r := newRig(t, guard.WithMeterProvider(m.mp), guard.WithRateLimit(3, time.Minute),
		guard.WithAllowCIDRs("10.0.0.0/8"), guard.WithMaxBlocks(3))
	const (
		blocked = "198.51.100.9"
		locked  = "203.0.113.7"
		flood   = "192.0.2.1"
	)
	forbidden := []string{blocked, locked, flood, "alice", "10.1.2.3", "198.51.100.", "203.0.113."}

	before := m.collect(t, forbidden...)
	for _, name := range []string{"secaudit.guard.blocks", "secaudit.guard.blocks.applied", "secaudit.guard.refused{quiet=false}",
		"secaudit.guard.refused{quiet=true}", "secaudit.guard.rate_limited{quiet=true}", "secaudit.guard.store.errors",
		"secaudit.guard.store.degraded", "secaudit.guard.failed_closed"} {
		if v, ok := before[name]; !ok || v != 0 {
			t.Errorf("before any block: %s = %d (reported %v), want 0", name, v, ok)
		}
	}

	// Blocks: an address, a lockout, an allowlisted address (not applied),
	// one that expires, and two beyond the cap of 3 (the soonest evicted).
	if err := r.g.Block(ctx, guard.ScopeAddress, guard.Subject{Address: blocked}, time.Hour, "test"); err != nil {
		t.Fatal(err)
	}
	if err := r.g.Block(ctx, guard.ScopeUserAddress, guard.Subject{Address: locked, User: "alice"}, time.Hour, "test"); err != nil {
		t.Fatal(err)
	}
	_ = r.g.Block(ctx, guard.ScopeAddress, guard.Subject{Address: "10.1.2.3"}, time.Hour, "test")
	if err := r.g.Block(ctx, guard.ScopeAddress, guard.Subject{Address: "198.51.100.10"}, time.Minute, "test"); err != nil {
		t.Fatal(err)
	}
	r.clock.advance(2 * time.Minute)
	if r.g.CheckAddress("198.51.100.10").Blocked {
		t.Fatal("an expired block refuses")
	}
	for _, a := range []string{"198.51.100.11", "198.51.100.12"} {
		if err := r.g.Block(ctx, guard.ScopeAddress, guard.Subject{Address: a}, time.Duration(len(a))*time.Minute, "test"); err != nil {
			t.Fatal(err)
		}
	}

	// Refusals: the blocked address five times (the first loud, four
	// quiet), the locked-out pair's login twice (loud: the application
	// decides what to emit).
	for i := range 5 {
		if refused, _, _, _, quiet := r.g.RefuseAddressQuiet(blocked); !refused || quiet != (i > 0) {
			t.Fatalf("refusal %d of the blocked address: refused %v quiet %v", i, refused, quiet)
		}
	}
	for range 2 {
		if !r.g.CheckLogin("alice", locked).Blocked {
			t.Fatal("the lockout does not refuse")
		}
	}
	// A flood: 10 requests at 3 a minute, 3 allowed, 1 loud and 6 quiet refusals.
	for range 10 {
		r.g.RefuseAddressQuiet(flood)
	}
	if !r.g.Lift(ctx, guard.ScopeUserAddress, guard.Subject{Address: locked, User: "alice"}) {
		t.Fatal("lockout not lifted")
	}

	s := r.g.Stats()
	got := m.collect(t, forbidden...)
	want := map[string]int64{
		"secaudit.guard.blocks":                    s.Blocks,
		"secaudit.guard.blocks.applied":            5,
		"secaudit.guard.blocks.lifted":             1,
		"secaudit.guard.blocks.expired":            1,
		"secaudit.guard.blocks.evicted":            1,
		"secaudit.guard.blocks.allowlisted":        1,
		"secaudit.guard.refused{quiet=false}":      3,
		"secaudit.guard.refused{quiet=true}":       4,
		"secaudit.guard.rate_limited{quiet=false}": 1,
		"secaudit.guard.rate_limited{quiet=true}":  6,
		"secaudit.guard.rate_limit.evicted":        0,
		"secaudit.guard.store.errors":              0,
		"secaudit.guard.store.degraded":            0,
		"secaudit.guard.failed_closed":             0,
	}
	if s.Blocks != 2 {
		t.Errorf("Stats().Blocks = %d, want 2 (the address and the later of the two beyond the cap)", s.Blocks)
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("%s = %d (reported %v), want %d", name, g, ok, w)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected data point %s", name)
		}
	}
	if s.Refused != got["secaudit.guard.refused{quiet=false}"]+got["secaudit.guard.refused{quiet=true}"] ||
		s.RateLimited != got["secaudit.guard.rate_limited{quiet=false}"]+got["secaudit.guard.rate_limited{quiet=true}"] {
		t.Errorf("metrics %v disagree with Stats %+v", got, s)
	}
}

// TestMetricsStore: the shared store's errors, its degraded state, and the
// requests answered 503 meanwhile.
func TestMetricsStore(t *testing.T) {
	m := newMeter(t)
	h := newHub(nil)
	r := newRig(t, guard.WithMeterProvider(m.mp), guard.WithStore(store{h}), guard.WithFailClosedPaths(`^/admin/`))
	hd := r.g.FailClosed(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	h.setDown(true)
	if err := r.g.Block(context.Background(), guard.ScopeAddress, guard.Subject{Address: "192.0.2.5"}, time.Minute, ""); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		hd.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/admin/users", nil))
	}
	got := m.collect(t, "192.0.2.5")
	for name, want := range map[string]int64{
		"secaudit.guard.store.errors":   1,
		"secaudit.guard.store.degraded": 1,
		"secaudit.guard.failed_closed":  3,
		"secaudit.guard.blocks":         1,
	} {
		if got[name] != want {
			t.Errorf("%s = %d, want %d", name, got[name], want)
		}
	}
	h.setDown(false)
	if got := m.collect(t); got["secaudit.guard.store.degraded"] != 0 {
		t.Errorf("secaudit.guard.store.degraded = %d once the store is back, want 0", got["secaudit.guard.store.degraded"])
	}
}

// TestMetricsCheckAlloc: with metrics on, a check still allocates nothing
// (the instruments are read at collection only).
func TestMetricsCheckAlloc(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts differ under -race")
	}
	m := newMeter(t)
	r := newRig(t, guard.WithMeterProvider(m.mp), guard.WithRateLimit(1<<30, time.Hour))
	if err := r.g.Block(context.Background(), guard.ScopeAddress, guard.Subject{Address: "198.51.100.1"}, time.Hour, ""); err != nil {
		t.Fatal(err)
	}
	r.g.RefuseAddressQuiet("198.51.100.1")
	r.g.RefuseAddressQuiet("203.0.113.7")
	for name, f := range map[string]func(){
		"CheckAddress refused":       func() { r.g.CheckAddress("198.51.100.1") },
		"RefuseAddressQuiet blocked": func() { r.g.RefuseAddressQuiet("198.51.100.1") },
		"RefuseAddressQuiet allowed": func() { r.g.RefuseAddressQuiet("203.0.113.7") },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s with metrics on: %v allocs", name, n)
		}
	}
}
