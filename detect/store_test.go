package detect_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/secaudit/secaudit/detect"
	"github.com/secaudit/secaudit/internal/claim"
	"github.com/secaudit/secaudit/semconv"
)

// sharedFake is a SharedState over one memory store, as two instances
// sharing a Redis see it: one secret, one set of counters.
type sharedFake struct {
	*detect.MemoryState
	secret   []byte
	ready    atomic.Bool
	combined atomic.Int64 // CountAndFire calls
	closed   atomic.Int64
	url      string
}

func newSharedFake() *sharedFake {
	f := &sharedFake{MemoryState: detect.NewMemoryState(1 << 20), secret: []byte("shared secret of the instances")}
	f.ready.Store(true)
	return f
}

func (f *sharedFake) HashSecret() ([]byte, bool) { return f.secret, f.ready.Load() }
func (f *sharedFake) StoreStats() detect.StoreStats {
	return detect.StoreStats{Kind: "fake", Degraded: !f.ready.Load()}
}
func (f *sharedFake) Close() error { f.closed.Add(1); return nil }

func (f *sharedFake) CountAndFire(k detect.Key, distinct bool, member uint64, limit, threshold int, window time.Duration, now time.Time) (int, bool, error) {
	f.combined.Add(1)
	var n int
	var err error
	if distinct {
		n, err = f.AddDistinct(k, member, limit, window, now)
	} else {
		n, err = f.Count(k, window, now)
	}
	if err != nil || n < threshold {
		return n, false, err
	}
	first, err := f.MarkFired(k, window, now)
	return n, first, err
}

var (
	fakeOnce   sync.Once
	fakeOpened = map[string]*sharedFake{}
	fakeMu     sync.Mutex
)

// registerFake registers the fake:// scheme once for the test binary.
func registerFake() {
	fakeOnce.Do(func() {
		detect.RegisterStore("fake", func(raw string) (detect.SharedState, error) {
			if strings.Contains(raw, "fail") {
				return nil, context.DeadlineExceeded
			}
			f := newSharedFake()
			f.url = raw
			fakeMu.Lock()
			fakeOpened[raw] = f
			fakeMu.Unlock()
			return f, nil
		})
	})
}

// TestOpenState: SECAUDIT_STATE and WithStateURL select the store; a
// redis:// URL without detect/redisstate imported names the variable and
// the import to add; a password never shows in an error.
func TestOpenState(t *testing.T) {
	registerFake()
	tests := []struct {
		name, env string
		opts      []detect.Option
		shared    bool
		wantErr   []string
	}{
		{name: "unset is memory"},
		{name: "memory", env: "memory"},
		{name: "MEMORY any case", env: "MEMORY"},
		{name: "registered scheme", env: "fake://x/0", shared: true},
		{name: "option over env", env: "redis://127.0.0.1:1/0", opts: []detect.Option{detect.WithStateURL("fake://y")}, shared: true},
		{name: "redis without the import", env: "redis://:hunter2@127.0.0.1:6379/0", wantErr: []string{
			`secaudit: SECAUDIT_STATE="redis://:xxxxx@127.0.0.1:6379/0": want`,
			`import _ "github.com/secaudit/secaudit/detect/redisstate"`}},
		{name: "rediss without the import", env: "rediss://h:6380/1", wantErr: []string{`SECAUDIT_STATE="rediss://h:6380/1"`, "detect/redisstate"}},
		{name: "option without the import", opts: []detect.Option{detect.WithStateURL("redis://h/0")}, wantErr: []string{`secaudit: WithStateURL(redis://h/0): want`, "detect/redisstate"}},
		{name: "unknown scheme", env: "postgres://h/db", wantErr: []string{`SECAUDIT_STATE="postgres://h/db": want "memory" or a URL of fake://`}},
		{name: "not a URL", env: "localhost", wantErr: []string{`SECAUDIT_STATE="localhost": want "memory" or a store URL`}},
		{name: "opener fails", env: "fake://fail", wantErr: []string{`SECAUDIT_STATE="fake://fail": want a store URL that opens (context deadline exceeded)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("SECAUDIT_STATE", tt.env)
			}
			s, opened, err := detect.OpenState(tt.opts...)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q\nwant it to contain %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("the password shows: %v", err)
				}
				// detect.New reports the same error.
				if _, err2 := detect.New(tt.opts...); err2 == nil || err2.Error() != err.Error() {
					t.Errorf("detect.New: %v, want %v", err2, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (s != nil) != tt.shared || opened != tt.shared {
				t.Fatalf("shared store %v (opened %v), want %v", s, opened, tt.shared)
			}
		})
	}
	// WithState's own store is returned, not opened.
	f := newSharedFake()
	s, opened, err := detect.OpenState(detect.WithState(f))
	if err != nil || s != detect.SharedState(f) || opened {
		t.Fatalf("WithState: %v %v %v", s, opened, err)
	}
	// Without SECAUDIT_STATE read: WithoutEnv.
	t.Setenv("SECAUDIT_STATE", "redis://h/0")
	if s, _, err := detect.OpenState(detect.WithoutEnv()); s != nil || err != nil {
		t.Fatalf("WithoutEnv: %v %v", s, err)
	}
}

// TestProcessorOwnsOpenedStore: a store detect.New opens from
// SECAUDIT_STATE is the processor's state and is closed by Shutdown; one
// given with WithState is not.
func TestProcessorOwnsOpenedStore(t *testing.T) {
	registerFake()
	t.Setenv("SECAUDIT_STATE", "fake://owned")
	p, err := detect.New()
	if err != nil {
		t.Fatal(err)
	}
	fakeMu.Lock()
	f := fakeOpened["fake://owned"]
	fakeMu.Unlock()
	if f == nil {
		t.Fatal("the store was not opened")
	}
	if p.Stats().Store.Kind != "fake" {
		t.Errorf("Stats.Store %+v", p.Stats().Store)
	}
	if err := p.Shutdown(context.Background()); err != nil || f.closed.Load() != 1 {
		t.Fatalf("Shutdown: %v, closed %d times", err, f.closed.Load())
	}
	g := newSharedFake()
	p2, err := detect.New(detect.WithState(g))
	if err != nil {
		t.Fatal(err)
	}
	_ = p2.Shutdown(context.Background())
	if g.closed.Load() != 0 {
		t.Fatal("a store given with WithState was closed")
	}
}

// TestSharedStateCountsTogether: two processors (two instances) on one
// shared store hash subjects under its shared secret, so failures split
// between them reach the threshold together and fire one alert in total;
// each evaluation is one CountAndFire (one round trip).
func TestSharedStateCountsTogether(t *testing.T) {
	f := newSharedFake()
	a := newRig(t, detect.WithState(f))
	b := newRig(t, detect.WithState(f))
	ctx := claim.WithUser(context.Background(), "alice")
	addr := semconv.ClientAddressKey.String("203.0.113.7")
	for i := range 7 {
		r := a
		if i%2 == 1 {
			r = b
		}
		r.emit(ctx, semconv.EventLoginFailed, addr)
	}
	na, nb := len(a.got.of(detect.RuleBruteForce)), len(b.got.of(detect.RuleBruteForce))
	if na+nb != 1 {
		t.Fatalf("brute_force alerts: %d + %d, want 1 in total", na, nb)
	}
	// Each failed login: brute_force, password_spray and
	// distributed_brute_force, one CountAndFire each.
	if got := f.combined.Load(); got != 7*3 {
		t.Fatalf("%d CountAndFire calls for 7 records, want 21", got)
	}
}

// TestSharedStateNotReady: until the shared store knows its secret the
// rules are skipped (fail-open), counted as state errors; then they run.
func TestSharedStateNotReady(t *testing.T) {
	f := newSharedFake()
	f.ready.Store(false)
	r := newRig(t, detect.WithState(f))
	ctx := claim.WithUser(context.Background(), "alice")
	addr := semconv.ClientAddressKey.String("203.0.113.7")
	for range 5 {
		r.emit(ctx, semconv.EventLoginFailed, addr)
	}
	if s := r.det.Stats(); s.StateErrors != 5 || s.Evaluations != 0 || !s.Store.Degraded {
		t.Fatalf("not ready: %+v", s)
	}
	f.ready.Store(true)
	for range 5 {
		r.emit(ctx, semconv.EventLoginFailed, addr)
	}
	if n := len(r.got.of(detect.RuleBruteForce)); n != 1 {
		t.Fatalf("%d alerts once ready", n)
	}
}

// TestStateErrorsMetric: a shared store that cannot be asked is counted
// in secaudit.detect.state.errors (and Stats.StateErrors).
func TestStateErrorsMetric(t *testing.T) {
	f := newSharedFake()
	f.ready.Store(false)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	r := newRig(t, detect.WithState(f), detect.WithMeterProvider(mp))
	for range 4 {
		r.emit(claim.WithUser(context.Background(), "alice"), semconv.EventLoginFailed, semconv.ClientAddressKey.String("203.0.113.7"))
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var got int64 = -1
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "secaudit.detect.state.errors" {
				if s, ok := m.Data.(metricdata.Sum[int64]); ok && len(s.DataPoints) == 1 {
					got = s.DataPoints[0].Value
				}
			}
		}
	}
	if got != 4 {
		t.Fatalf("secaudit.detect.state.errors = %d, want 4", got)
	}
}
