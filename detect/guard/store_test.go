package guard_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/secaudit/secaudit/detect/guard"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// hub is a fake shared store: the blocks and rate counters every instance
// sees, with a feed delivered synchronously to every watching guard.
type hub struct {
	mu       sync.Mutex
	secret   []byte
	blocks   map[string]guard.Block
	rates    map[string]int64
	watchers []guard.BlockWatch
	down     bool
	now      func() time.Time
}

func newHub(now func() time.Time) *hub {
	return &hub{secret: []byte("the instances' shared secret"), blocks: map[string]guard.Block{}, rates: map[string]int64{}, now: now}
}

var errDown = errors.New("store down")

// store is one instance's view of the hub.
type store struct{ h *hub }

func (s store) HashSecret() ([]byte, bool) { return s.h.secret, true }
func (s store) Degraded() bool {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	return s.h.down
}
func (s store) PutBlock(_ context.Context, id string, b guard.Block) error {
	s.h.mu.Lock()
	if s.h.down {
		s.h.mu.Unlock()
		return errDown
	}
	s.h.blocks[id] = b
	ws := append([]guard.BlockWatch(nil), s.h.watchers...)
	s.h.mu.Unlock()
	for _, w := range ws {
		w.Put(id, b)
	}
	return nil
}
func (s store) DeleteBlock(_ context.Context, id string) error {
	s.h.mu.Lock()
	if s.h.down {
		s.h.mu.Unlock()
		return errDown
	}
	delete(s.h.blocks, id)
	ws := append([]guard.BlockWatch(nil), s.h.watchers...)
	s.h.mu.Unlock()
	for _, w := range ws {
		w.Delete(id)
	}
	return nil
}
func (s store) WatchBlocks(w guard.BlockWatch) {
	s.h.mu.Lock()
	s.h.watchers = append(s.h.watchers, w)
	s.h.mu.Unlock()
	s.h.sync(w)
}
func (s store) RateCount(_ context.Context, id string, per time.Duration) (int64, time.Duration, error) {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	if s.h.down {
		return 0, 0, errDown
	}
	s.h.rates[id]++
	return s.h.rates[id], per / 2, nil
}

// sync gives w the whole set, as after a (re)connection.
func (h *hub) sync(w guard.BlockWatch) {
	h.mu.Lock()
	all := map[string]guard.Block{}
	for k, v := range h.blocks {
		all[k] = v
	}
	h.mu.Unlock()
	w.Sync(all)
}

func (h *hub) setDown(down bool) {
	h.mu.Lock()
	h.down = down
	h.mu.Unlock()
}

// TestStoreSharesBlocks: with a shared store, a block (address or
// lockout) applied on one instance refuses on the other, its lift frees
// both, only the applying instance emits the records, and a block applied
// while the store is down is kept and stored again at the next sync.
func TestStoreSharesBlocks(t *testing.T) {
	h := newHub(nil)
	a := newRig(t, guard.WithStore(store{h}))
	b := newRig(t, guard.WithStore(store{h}), guard.WithClock(a.clock.now)) // one time for both
	b2, err := guard.New(guard.WithoutEnv(), guard.WithEnabled(true), guard.WithClock(a.clock.now), guard.WithStore(store{h}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const addr = "203.0.113.7"
	if err := a.g.Block(ctx, guard.ScopeAddress, guard.Subject{Address: addr}, time.Minute, "test"); err != nil {
		t.Fatal(err)
	}
	if err := a.g.Block(ctx, guard.ScopeUserAddress, guard.Subject{Address: addr, User: "alice"}, time.Minute, ""); err != nil {
		t.Fatal(err)
	}
	for name, g := range map[string]*guard.Guard{"a": a.g, "b": b.g, "b2": b2} {
		if !g.CheckAddress(addr).Blocked {
			t.Errorf("%s does not refuse the blocked address", name)
		}
		if !g.CheckLogin("alice", addr).Blocked {
			t.Errorf("%s does not refuse alice's login", name)
		}
		if g.CheckLogin("alice", "198.51.100.1").Blocked {
			t.Errorf("%s refuses alice from another address", name)
		}
		if g.Stats().Blocks != 2 {
			t.Errorf("%s holds %d blocks, want 2", name, g.Stats().Blocks)
		}
	}
	if n := len(b.got.Records()); n != 0 {
		t.Errorf("b emitted %d records for a's blocks", n)
	}
	if !b.g.Lift(ctx, guard.ScopeAddress, guard.Subject{Address: addr}) {
		t.Fatal("b did not lift a's block")
	}
	if a.g.CheckAddress(addr).Blocked {
		t.Error("a still refuses the address b lifted")
	}
	if !a.g.CheckLogin("alice", addr).Blocked || !b2.CheckLogin("alice", addr).Blocked {
		t.Error("the lockout went with the address block")
	}
	if b.g.CheckLogin("bob", addr).Blocked {
		t.Error("b refuses bob")
	}

	// The store down: the block applies here, is pending, and is stored
	// again at the next sync; the error is counted.
	h.setDown(true)
	const later = "192.0.2.5"
	if err := a.g.Block(ctx, guard.ScopeAddress, guard.Subject{Address: later}, time.Minute, ""); err != nil {
		t.Fatal(err)
	}
	if !a.g.CheckAddress(later).Blocked || b.g.CheckAddress(later).Blocked {
		t.Fatal("with the store down the block should hold on a only")
	}
	if s := a.g.Stats(); s.StoreErrors != 1 || !s.StoreDegraded {
		t.Fatalf("stats %+v", s)
	}
	h.setDown(false)
	h.sync(h.watchers[0]) // a reconnects: its pending block is stored again
	if !b.g.CheckAddress(later).Blocked {
		t.Fatal("the pending block did not reach b after the sync")
	}
	// A sync drops what the store no longer holds (lifted or lost).
	h.mu.Lock()
	h.blocks = map[string]guard.Block{}
	h.mu.Unlock()
	h.sync(h.watchers[1])
	if b.g.CheckAddress(later).Blocked || b.g.Stats().Blocks != 0 {
		t.Fatal("b keeps blocks the store lost")
	}
	// Expiry on every instance, by the block's end.
	if err := a.g.Block(ctx, guard.ScopeAddress, guard.Subject{Address: addr}, time.Minute, ""); err != nil {
		t.Fatal(err)
	}
	a.clock.advance(time.Minute)
	bRecords := len(b.got.Records())
	if b.g.CheckAddress(addr).Blocked || a.g.CheckAddress(addr).Blocked {
		t.Fatal("a block outlived its end")
	}
	// Only the applying instance reports the expiry.
	if n := len(b.got.Records()); n != bRecords {
		t.Errorf("b emitted %d records for the expiry of a's block", n-bRecords)
	}
	recs := a.got.Records()
	if last := recs[len(recs)-1]; last.EventName() != semconv.EventBlockLifted ||
		testsupport.AttrMap(&last)[string(semconv.AuditBlockReasonKey)].AsString() != "expired" {
		t.Errorf("a's last record %s", last.EventName())
	}
}

// TestStoreRateLimit: the rate limit through a store counts every
// instance's requests; the first refusal of a window is full, the later
// ones quiet and summed into this instance's security.rate_limited
// summary after the window; a store error allows the request, counted.
func TestStoreRateLimit(t *testing.T) {
	h := newHub(nil)
	a := newRig(t, guard.WithStore(store{h}), guard.WithRateLimit(3, time.Minute))
	b := newRig(t, guard.WithStore(store{h}), guard.WithRateLimit(3, time.Minute), guard.WithClock(a.clock.now))
	const addr = "198.51.100.9"
	var refused, quiet int
	for i := range 10 {
		g := a.g
		if i%2 == 1 {
			g = b.g
		}
		r, retry, rule, _, q := g.RefuseAddressQuiet(addr)
		if r {
			refused++
			if rule != guard.RuleRateLimit || retry != 30*time.Second {
				t.Errorf("refusal %d: rule %q retry %v", i, rule, retry)
			}
		}
		if q {
			quiet++
		}
	}
	if refused != 7 || quiet != 6 {
		t.Fatalf("%d refused (%d quiet), want 7 (6)", refused, quiet)
	}
	h.setDown(true)
	if r, _, _, _ := a.g.RefuseAddress(addr); r {
		t.Fatal("a store error refused the request")
	}
	if s := a.g.Stats(); s.StoreErrors != 1 {
		t.Fatalf("stats %+v", s)
	}
	h.setDown(false)
	// After the window (30s left as the store said), the summaries: a's
	// and b's quiet refusals add up to 6.
	a.clock.advance(31 * time.Second)
	a.g.RefuseAddress(addr)
	b.g.RefuseAddress(addr)
	sum := 0
	for _, r := range []*rig{a, b} {
		for _, rec := range r.got.Records() {
			if rec.EventName() == semconv.EventRateLimited {
				sum += int(testsupport.AttrMap(&rec)[string(semconv.AuditDetectCountKey)].AsInt64())
			}
		}
	}
	if sum != 6 {
		t.Fatalf("summaries count %d quiet refusals, want 6", sum)
	}
}

// TestFailClosed: a fail-closed path is answered 503 while the store
// cannot be asked; other paths, and every path while it works, pass.
func TestFailClosed(t *testing.T) {
	h := newHub(nil)
	r := newRig(t, guard.WithStore(store{h}), guard.WithFailClosedPaths(`^/admin/`, `^/pay$`))
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	hd := r.g.FailClosed(next)
	tests := []struct {
		path string
		down bool
		want int
	}{
		{"/admin/users", false, 204},
		{"/admin/users", true, 503},
		{"/pay", true, 503},
		{"/payments", true, 204},
		{"/", true, 204},
	}
	for _, tt := range tests {
		h.setDown(tt.down)
		rec := httptest.NewRecorder()
		hd.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
		if rec.Code != tt.want {
			t.Errorf("%s (down %v): %d, want %d", tt.path, tt.down, rec.Code, tt.want)
		}
		if tt.want == 503 && rec.Header().Get("Retry-After") != "1" {
			t.Errorf("%s: Retry-After %q", tt.path, rec.Header().Get("Retry-After"))
		}
	}
	if n := r.g.Stats().FailedClosed; n != 2 {
		t.Errorf("FailedClosed %d, want 2", n)
	}
	// Without a store, or without paths, FailClosed is next itself.
	plain := newRig(t, guard.WithFailClosedPaths(`^/admin/`))
	if got := plain.g.FailClosed(next); got == nil {
		t.Fatal("nil handler")
	}
	if _, err := guard.New(guard.WithoutEnv(), guard.WithFailClosedPaths(`(`)); err == nil || err.Error() != "secaudit: WithFailClosedPaths(\"(\"): want Go regular expressions: error parsing regexp: missing closing ): `(`" {
		t.Fatalf("bad pattern: %v", err)
	}
}
