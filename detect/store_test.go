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
	return f.countAndFire(k, distinct, member, limit, threshold, window, now)
}

func (f *sharedFake) countAndFire(k detect.Key, distinct bool, member uint64, limit, threshold int, window time.Duration, now time.Time) (int, bool, error) {
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

// batchFake is a sharedFake that takes the operations of every rule
// reading a record in one call, as the Redis store pipelines them (one
// round trip); it still has CountAndFire, which the processor must not
// use then.
type batchFake struct {
	*sharedFake
	batches atomic.Int64 // CountAndFireBatch calls
	ops     atomic.Int64 // operations in them
	forgets atomic.Int64
	fail    atomic.Bool // every operation fails (a store down)
}

func newBatchFake() *batchFake { return &batchFake{sharedFake: newSharedFake()} }

func (f *batchFake) CountAndFireBatch(ops []detect.StateOp, now time.Time) {
	f.batches.Add(1)
	f.ops.Add(int64(len(ops)))
	for i := range ops {
		op := &ops[i]
		switch {
		case f.fail.Load():
			op.Err = detect.ErrUnavailable
		case op.Forget:
			f.forgets.Add(1)
			op.Err = f.Forget(op.Key)
		default:
			op.N, op.Fired, op.Err = f.countAndFire(op.Key, op.Distinct, op.Member, op.Limit, op.Threshold, op.Window, now)
		}
	}
}

// stateKinds are the states the rules are tested on: the memory store,
// a shared store asked once per rule (CountFirer), and one asked once
// per record (BatchCountFirer). The shared ones count in memory under
// the clock the processor passes, so windows are exact as in memory.
var stateKinds = []struct {
	name string
	opts func() []detect.Option
}{
	{"memory", func() []detect.Option { return nil }},
	{"per_rule", func() []detect.Option { return []detect.Option{detect.WithState(newSharedFake())} }},
	{"batch", func() []detect.Option { return []detect.Option{detect.WithState(newBatchFake())} }},
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
// between them reach the threshold together and fire one alert in total.
// A store with CountFirer is asked once per rule evaluation; one with
// BatchCountFirer once per record (one round trip for the three rules
// that count a failed login, and for a success's reset).
func TestSharedStateCountsTogether(t *testing.T) {
	for _, batched := range []bool{false, true} {
		t.Run(map[bool]string{false: "per_rule", true: "batch"}[batched], func(t *testing.T) {
			bf := newBatchFake()
			f := bf.sharedFake
			var st detect.State = f
			if batched {
				st = bf
			}
			a := newRig(t, detect.WithState(st))
			b := newRig(t, detect.WithState(st))
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
			if got := a.det.Stats().Evaluations + b.det.Stats().Evaluations; got != 7*3 {
				t.Fatalf("%d evaluations for 7 records, want 21", got)
			}
			a.emit(ctx, semconv.EventLoginSuccess, addr)
			// Each failed login: brute_force, password_spray and
			// distributed_brute_force.
			if !batched {
				if got := f.combined.Load(); got != 7*3 {
					t.Fatalf("%d CountAndFire calls for 7 records, want 21", got)
				}
				return
			}
			if got := f.combined.Load(); got != 0 {
				t.Errorf("%d CountAndFire calls with a batch store, want 0", got)
			}
			if bt, ops, fg := bf.batches.Load(), bf.ops.Load(), bf.forgets.Load(); bt != 8 || ops != 7*3+1 || fg != 1 {
				t.Fatalf("%d batches of %d operations (%d forgets) for 7 failures and a success, want 8 of 22 (1)", bt, ops, fg)
			}
		})
	}
}

// TestBatchFailOpen: a batch store that fails skips every rule of the
// record (fail-open), each counted as a state error, and no alert fires;
// once it answers, counting resumes.
func TestBatchFailOpen(t *testing.T) {
	f := newBatchFake()
	r := newRig(t, detect.WithState(f))
	ctx := claim.WithUser(context.Background(), "alice")
	addr := semconv.ClientAddressKey.String("203.0.113.7")
	f.fail.Store(true)
	for range 6 {
		r.emit(ctx, semconv.EventLoginFailed, addr)
	}
	r.emit(ctx, semconv.EventLoginSuccess, addr)
	if s := r.det.Stats(); s.StateErrors != 6*3+1 || len(r.got.list()) != 0 {
		t.Fatalf("store failing: %d state errors (want 19), %d alerts", s.StateErrors, len(r.got.list()))
	}
	f.fail.Store(false)
	for range 5 {
		r.emit(ctx, semconv.EventLoginFailed, addr)
	}
	if n := len(r.got.of(detect.RuleBruteForce)); n != 1 {
		t.Fatalf("%d brute_force alerts once the store answers, want 1", n)
	}
	if s := r.det.Stats(); s.StateErrors != 19 {
		t.Fatalf("%d state errors, want still 19", s.StateErrors)
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
