package guard_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secaudit/secaudit/detect/guard"
	"github.com/secaudit/secaudit/internal/testsupport"
)

var ctx = context.Background()

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		opts    []guard.Option
		enabled bool
		dur     time.Duration
		err     string
	}{
		{name: "defaults", dur: 15 * time.Minute},
		{name: "env", env: map[string]string{"SECAUDIT_BLOCK": "true", "SECAUDIT_BLOCK_DURATION": "2m"}, enabled: true, dur: 2 * time.Minute},
		{name: "option over env", env: map[string]string{"SECAUDIT_BLOCK": "true"}, opts: []guard.Option{guard.WithEnabled(false)}, dur: 15 * time.Minute},
		{name: "without env", env: map[string]string{"SECAUDIT_BLOCK": "true"}, opts: []guard.Option{guard.WithoutEnv()}, dur: 15 * time.Minute},
		{name: "bad bool", env: map[string]string{"SECAUDIT_BLOCK": "maybe"}, err: `secaudit: SECAUDIT_BLOCK="maybe": want true or false`},
		{name: "bad duration", env: map[string]string{"SECAUDIT_BLOCK_DURATION": "0s"}, err: `secaudit: SECAUDIT_BLOCK_DURATION="0s": want a Go duration > 0`},
		{name: "bad cidr", env: map[string]string{"SECAUDIT_BLOCK_ALLOW_CIDRS": "10.0.0.0/8,nope"}, err: `secaudit: SECAUDIT_BLOCK_ALLOW_CIDRS="10.0.0.0/8,nope": want CIDRs`},
		{name: "option duration", opts: []guard.Option{guard.WithDuration(0)}, err: "secaudit: WithDuration(0s): want a duration > 0"},
		{name: "option cidr", opts: []guard.Option{guard.WithAllowCIDRs("10.0.0.0/33")}, err: `secaudit: WithAllowCIDRs("10.0.0.0/33"): want CIDRs`},
		{name: "option max", opts: []guard.Option{guard.WithMaxBlocks(0)}, err: "secaudit: WithMaxBlocks(0): want at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			g, err := guard.New(tt.opts...)
			if tt.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q…", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g.Enabled() != tt.enabled || g.Duration() != tt.dur {
				t.Fatalf("enabled %v duration %v, want %v %v", g.Enabled(), g.Duration(), tt.enabled, tt.dur)
			}
		})
	}
}

// TestBlockedAddress: a blocked address is refused, 429-worthy, with the
// seconds left as Retry-After, until exactly its expiry; then it is lifted
// (one event) and allowed.
func TestBlockedAddress(t *testing.T) {
	r := newRig(t)
	if err := r.g.Block(ctx, guard.ScopeAddress, guard.Subject{Address: "203.0.113.7"}, 10*time.Minute, "abuse report"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		at      time.Duration
		addr    string
		blocked bool
		retry   int
	}{
		{0, "203.0.113.7", true, 600},
		{0, "::ffff:203.0.113.7", true, 600}, // the same address, IPv4-mapped
		{0, "203.0.113.8", false, 0},
		{0, "not an address", false, 0},
		{9*time.Minute + 59*time.Second + 500*time.Millisecond, "203.0.113.7", true, 1},
		{10*time.Minute - 1, "203.0.113.7", true, 1},
		{10 * time.Minute, "203.0.113.7", false, 0},
		{11 * time.Minute, "203.0.113.7", false, 0},
	}
	for _, tt := range tests {
		r.clock.set(t0.Add(tt.at))
		d := r.g.CheckAddress(tt.addr)
		if d.Blocked != tt.blocked || d.RetryAfterSeconds() != tt.retry {
			t.Fatalf("at +%v CheckAddress(%q) = %+v (Retry-After %d), want blocked %v Retry-After %d", tt.at, tt.addr, d, d.RetryAfterSeconds(), tt.blocked, tt.retry)
		}
		if d.Blocked && (d.Scope != guard.ScopeAddress || d.Rule != guard.RuleManual) {
			t.Fatalf("decision %+v, want scope address, rule manual", d)
		}
	}
	if guard.StatusTooManyRequests != 429 {
		t.Fatal("StatusTooManyRequests != 429")
	}
	until := t0.Add(10 * time.Minute).Format(time.RFC3339Nano)
	want := []event{
		{name: "security.block.applied", sev: "WARNING", rule: "manual", scope: "address", addr: "203.0.113.7", expires: until, reason: "abuse report", duration: 600},
		{name: "security.block.lifted", sev: "INFO", rule: "manual", scope: "address", addr: "203.0.113.7", expires: until, reason: "expired", duration: 600},
	}
	if got := r.events(); !reflect.DeepEqual(got, want) {
		t.Fatalf("events\n got %+v\nwant %+v", got, want)
	}
	if s := r.g.Stats(); s.Blocks != 0 || s.Applied != 1 || s.Expired != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestExpiredBlockNeverBlocks: a block met only after its expiry, by a
// check, a List or a Lift, refuses nothing and is lifted as expired once.
func TestExpiredBlockNeverBlocks(t *testing.T) {
	for _, meet := range []string{"check", "login", "list", "lift"} {
		t.Run(meet, func(t *testing.T) {
			r := newRig(t)
			s := guard.Subject{Address: "198.51.100.1", User: "alice"}
			if err := r.g.Block(ctx, guard.ScopeUserAddress, s, time.Minute, ""); err != nil {
				t.Fatal(err)
			}
			r.clock.advance(time.Minute)
			switch meet {
			case "check":
				if d := r.g.CheckAddress("198.51.100.1"); d.Blocked {
					t.Fatal("blocked")
				}
				if d := r.g.CheckLogin("alice", "198.51.100.1"); d.Blocked {
					t.Fatal("expired lockout refused")
				}
			case "login":
				if d := r.g.CheckLogin("alice", "198.51.100.1"); d.Blocked {
					t.Fatal("expired lockout refused")
				}
			case "list":
				if l := r.g.List(); len(l) != 0 {
					t.Fatalf("List = %+v", l)
				}
			case "lift":
				if r.g.Lift(ctx, guard.ScopeUserAddress, s) {
					t.Fatal("Lift of an expired block reported true")
				}
			}
			ev := r.events()
			if len(ev) != 2 || ev[1].name != "security.block.lifted" || ev[1].reason != "expired" {
				t.Fatalf("events %+v", ev)
			}
			if r.g.List() != nil || len(r.events()) != 2 {
				t.Fatal("lifted twice")
			}
		})
	}
}

// TestLockoutPerPair: a locked-out pair is refused; other users from the
// address and the user from other addresses are not.
func TestLockoutPerPair(t *testing.T) {
	r := newRig(t)
	if err := r.g.Block(ctx, guard.ScopeUserAddress, guard.Subject{Address: "203.0.113.7", User: "alice", UserID: "1"}, 0, ""); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		user, addr string
		blocked    bool
	}{
		{"alice", "203.0.113.7", true},
		{"bob", "203.0.113.7", false},
		{"alice", "203.0.113.8", false},
		{"", "203.0.113.7", false},
		{"alicE", "203.0.113.7", false},
	}
	for _, tt := range tests {
		d := r.g.CheckLogin(tt.user, tt.addr)
		if d.Blocked != tt.blocked {
			t.Errorf("CheckLogin(%q, %q) = %+v, want blocked %v", tt.user, tt.addr, d, tt.blocked)
		}
		if d.Blocked && (d.Scope != guard.ScopeUserAddress || d.RetryAfterSeconds() != 900) {
			t.Errorf("decision %+v, want user_address, 900 s (the default duration)", d)
		}
	}
	if d := r.g.CheckAddress("203.0.113.7"); d.Blocked {
		t.Error("a lockout blocked the whole address")
	}
	// An address block also refuses every login from it.
	if err := r.g.Block(ctx, guard.ScopeAddress, guard.Subject{Address: "203.0.113.8"}, time.Minute, ""); err != nil {
		t.Fatal(err)
	}
	if d := r.g.CheckLogin("carol", "203.0.113.8"); !d.Blocked || d.Scope != guard.ScopeAddress {
		t.Errorf("login from a blocked address: %+v", d)
	}
	// The user name is never kept, shown or emitted.
	for _, b := range r.g.List() {
		if b.Subject.User != "" {
			t.Errorf("List shows the login name: %+v", b)
		}
	}
	for _, e := range r.events() {
		if e.userName != "" || (e.scope == "user_address" && e.userID != "1") {
			t.Errorf("event %+v", e)
		}
	}
}

// TestBlockLiftList: blocks applied from Go are listed soonest to end
// first, lifted with an event, and replaced when applied again.
func TestBlockLiftList(t *testing.T) {
	r := newRig(t)
	a := guard.Subject{Address: "203.0.113.7"}
	p := guard.Subject{Address: "2001:db8::1", User: "bob", UserID: "2", UserName: "bob"}
	if err := r.g.Block(ctx, guard.ScopeAddress, a, 20*time.Minute, "ticket 7"); err != nil {
		t.Fatal(err)
	}
	if err := r.g.Block(ctx, guard.ScopeUserAddress, p, 5*time.Minute, ""); err != nil {
		t.Fatal(err)
	}
	l := r.g.List()
	if len(l) != 2 || l[0].Scope != guard.ScopeUserAddress || l[1].Scope != guard.ScopeAddress ||
		l[0].Subject != (guard.Subject{Address: "2001:db8::1", UserID: "2", UserName: "bob"}) || l[1].Reason != "ticket 7" ||
		!l[0].Until.Equal(t0.Add(5*time.Minute)) || !l[1].Since.Equal(t0) {
		t.Fatalf("List = %+v", l)
	}
	// Applied again: replaced (longer), not duplicated.
	if err := r.g.Block(ctx, guard.ScopeUserAddress, p, time.Hour, ""); err != nil {
		t.Fatal(err)
	}
	if l := r.g.List(); len(l) != 2 || !l[1].Until.Equal(t0.Add(time.Hour)) {
		t.Fatalf("List after renewal = %+v", l)
	}
	if !r.g.Lift(ctx, guard.ScopeUserAddress, guard.Subject{Address: "2001:db8::1", User: "bob"}) {
		t.Fatal("Lift = false")
	}
	if r.g.Lift(ctx, guard.ScopeUserAddress, p) || r.g.Lift(ctx, guard.ScopeAddress, guard.Subject{Address: "198.51.100.1"}) {
		t.Fatal("Lift of no block = true")
	}
	if d := r.g.CheckLogin("bob", "2001:db8::1"); d.Blocked {
		t.Fatal("lifted lockout still refuses")
	}
	ev := r.events()
	want := []struct{ name, reason, userName string }{
		{"security.block.applied", "ticket 7", ""}, {"security.block.applied", "", "bob"},
		{"security.block.applied", "", "bob"}, {"security.block.lifted", "lifted", "bob"},
	}
	if len(ev) != len(want) {
		t.Fatalf("events %+v", ev)
	}
	for i, w := range want {
		if ev[i].name != w.name || ev[i].reason != w.reason || ev[i].userName != w.userName {
			t.Errorf("event %d = %+v, want %+v", i, ev[i], w)
		}
	}
	if s := r.g.Stats(); s.Applied != 3 || s.Lifted != 1 || s.Blocks != 1 {
		t.Fatalf("stats %+v", s)
	}
	// Incomplete subjects.
	for _, s := range []struct {
		scope guard.Scope
		s     guard.Subject
	}{{guard.ScopeAddress, guard.Subject{}}, {guard.ScopeUserAddress, guard.Subject{Address: "203.0.113.7"}}, {"session", a}} {
		if err := r.g.Block(ctx, s.scope, s.s, 0, ""); !errors.Is(err, guard.ErrSubject) {
			t.Errorf("Block(%q, %+v) = %v, want ErrSubject", s.scope, s.s, err)
		}
	}
}

// TestAllowlistNeverBlocked: an allowlisted address cannot be blocked,
// by hand or by the responder.
func TestAllowlistNeverBlocked(t *testing.T) {
	r := newRig(t, guard.WithAllowCIDRs("10.0.0.0/8", "2001:db8::/32", "192.0.2.1"))
	for _, addr := range []string{"10.1.2.3", "::ffff:10.9.9.9", "2001:db8::7", "192.0.2.1"} {
		if err := r.g.Block(ctx, guard.ScopeAddress, guard.Subject{Address: addr}, 0, ""); !errors.Is(err, guard.ErrAllowlisted) {
			t.Errorf("Block(%s) = %v, want ErrAllowlisted", addr, err)
		}
		if err := r.g.Block(ctx, guard.ScopeUserAddress, guard.Subject{Address: addr, User: "alice"}, 0, ""); !errors.Is(err, guard.ErrAllowlisted) {
			t.Errorf("lockout Block(%s) = %v, want ErrAllowlisted", addr, err)
		}
	}
	if err := r.g.Block(ctx, guard.ScopeAddress, guard.Subject{Address: "192.0.2.2"}, 0, ""); err != nil {
		t.Errorf("192.0.2.2 is not allowlisted: %v", err)
	}
	if d := r.g.CheckAddress("10.1.2.3"); d.Blocked {
		t.Error("allowlisted address refused")
	}
	if s := r.g.Stats(); s.Allowlisted != 8 || s.Blocks != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestAllowlistFromEnv: SECAUDIT_BLOCK_ALLOW_CIDRS is the allowlist.
func TestAllowlistFromEnv(t *testing.T) {
	t.Setenv("SECAUDIT_BLOCK", "on")
	t.Setenv("SECAUDIT_BLOCK_ALLOW_CIDRS", "10.0.0.0/8, 127.0.0.1")
	g, err := guard.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Block(ctx, guard.ScopeAddress, guard.Subject{Address: "127.0.0.1"}, 0, ""); !errors.Is(err, guard.ErrAllowlisted) {
		t.Fatalf("Block = %v", err)
	}
}

// TestDisabledAllowsEverything: off (the default), or nil, the guard
// refuses nothing and blocks nothing.
func TestDisabledAllowsEverything(t *testing.T) {
	off, err := guard.New(guard.WithoutEnv())
	if err != nil {
		t.Fatal(err)
	}
	for name, g := range map[string]*guard.Guard{"default": off, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			if g.Enabled() {
				t.Fatal("enabled")
			}
			if err := g.Block(ctx, guard.ScopeAddress, guard.Subject{Address: "203.0.113.7"}, 0, ""); !errors.Is(err, guard.ErrDisabled) {
				t.Fatalf("Block = %v", err)
			}
			if g.CheckAddress("203.0.113.7").Blocked || g.CheckLogin("alice", "203.0.113.7").Blocked ||
				g.List() != nil || g.Lift(ctx, guard.ScopeAddress, guard.Subject{Address: "203.0.113.7"}) {
				t.Fatal("a disabled guard blocks")
			}
			g.Responder()(ctx, firedBruteForce("alice", "203.0.113.7"))
			g.SetLogger(nil)
			if s := g.Stats(); s.Blocks != 0 || s.Applied != 0 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// TestMaxBlocks: at the cap, expired blocks go first, then the one that
// would end soonest (evicted: counted, lifted with reason "evicted").
func TestMaxBlocks(t *testing.T) {
	r := newRig(t, guard.WithMaxBlocks(3))
	block := func(addr string, d time.Duration) {
		t.Helper()
		if err := r.g.Block(ctx, guard.ScopeAddress, guard.Subject{Address: addr}, d, ""); err != nil {
			t.Fatal(err)
		}
	}
	block("192.0.2.1", 30*time.Minute)
	block("192.0.2.2", 10*time.Minute) // soonest to end
	block("192.0.2.3", 20*time.Minute)
	block("192.0.2.2", 40*time.Minute) // a renewal is no new block
	if s := r.g.Stats(); s.Evicted != 0 || s.Blocks != 3 {
		t.Fatalf("stats after renewal %+v", s)
	}
	block("192.0.2.4", 5*time.Minute)
	if r.g.CheckAddress("192.0.2.3").Blocked || !r.g.CheckAddress("192.0.2.1").Blocked || !r.g.CheckAddress("192.0.2.4").Blocked {
		t.Fatal("evicted the wrong block")
	}
	ev := r.events()
	if last := ev[len(ev)-2]; last.name != "security.block.lifted" || last.addr != "192.0.2.3" || last.reason != "evicted" {
		t.Fatalf("events %+v", ev)
	}
	r.clock.advance(6 * time.Minute) // 192.0.2.4 has expired: it goes, nothing is evicted
	block("192.0.2.5", time.Minute)
	if s := r.g.Stats(); s.Evicted != 1 || s.Expired != 1 || s.Blocks != 3 {
		t.Fatalf("stats %+v", s)
	}
	// A flood of blocks stays within the cap.
	for i := range 100 {
		block(fmt.Sprintf("198.51.100.%d", i), time.Duration(i+1)*time.Minute)
	}
	if s := r.g.Stats(); s.Blocks != 3 || s.Evicted != 101 {
		t.Fatalf("stats after a flood %+v", s)
	}
}

// TestGuardConcurrentSafe: checks, blocks, lifts and lists from many
// goroutines while the clock moves (run with -race).
func TestGuardConcurrentSafe(t *testing.T) {
	r := newRig(t, guard.WithMaxBlocks(50))
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				addr := fmt.Sprintf("203.0.113.%d", (w*31+i)%100)
				switch i % 6 {
				case 0:
					_ = r.g.Block(ctx, guard.ScopeAddress, guard.Subject{Address: addr}, time.Duration(i%7+1)*time.Second, "")
				case 1:
					_ = r.g.Block(ctx, guard.ScopeUserAddress, guard.Subject{Address: addr, User: "alice"}, time.Second, "")
				case 2:
					r.g.Lift(ctx, guard.ScopeAddress, guard.Subject{Address: addr})
				case 3:
					_ = r.g.List()
				case 4:
					r.clock.advance(100 * time.Millisecond)
				default:
					r.g.CheckAddress(addr)
					r.g.CheckLogin("alice", addr)
				}
			}
		}()
	}
	wg.Wait()
	l := r.g.List() // removes the expired blocks
	if s := r.g.Stats(); s.Blocks > 50 || s.Blocks != int64(len(l)) || s.Applied == 0 {
		t.Fatalf("stats %+v, %d listed", s, len(l))
	}
	// Every block that ended has its one lifted event.
	var lifted int64
	for _, e := range r.events() {
		if e.name == "security.block.lifted" {
			lifted++
		}
	}
	if s := r.g.Stats(); lifted != s.Lifted+s.Expired+s.Evicted {
		t.Fatalf("%d lifted events, stats %+v", lifted, s)
	}
}

// TestCheckAlloc: a check that is not refused allocates nothing, with
// blocks held (a lookup) and without (an atomic load).
func TestCheckAlloc(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts differ under -race")
	}
	r := newRig(t)
	if n := testing.AllocsPerRun(100, func() { r.g.CheckAddress("203.0.113.7") }); n != 0 {
		t.Errorf("CheckAddress with no block: %v allocs", n)
	}
	for i := range 100 {
		_ = r.g.Block(ctx, guard.ScopeAddress, guard.Subject{Address: fmt.Sprintf("198.51.100.%d", i)}, 0, "")
		_ = r.g.Block(ctx, guard.ScopeUserAddress, guard.Subject{Address: "203.0.113.7", User: fmt.Sprint("u", i)}, 0, "")
	}
	for name, f := range map[string]func(){
		"CheckAddress v4": func() { r.g.CheckAddress("203.0.113.7") },
		"CheckAddress v6": func() { r.g.CheckAddress("2001:db8::1") },
		"CheckLogin":      func() { r.g.CheckLogin("alice", "203.0.113.7") },
		"CheckAddress refused": func() {
			if !r.g.CheckAddress("198.51.100.1").Blocked {
				panic("not blocked")
			}
		},
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocs", name, n)
		}
	}
}

func BenchmarkCheckAddress(b *testing.B) {
	for _, held := range []int{0, 1000} {
		b.Run(fmt.Sprintf("blocks=%d", held), func(b *testing.B) {
			r := newRig(b, guard.WithMaxBlocks(10000))
			for i := range held {
				_ = r.g.Block(ctx, guard.ScopeAddress, guard.Subject{Address: fmt.Sprintf("198.51.%d.%d", i/256, i%256)}, 0, "")
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r.g.CheckAddress("203.0.113.7")
				}
			})
		})
	}
}

func BenchmarkCheckLogin(b *testing.B) {
	r := newRig(b)
	_ = r.g.Block(ctx, guard.ScopeUserAddress, guard.Subject{Address: "198.51.100.1", User: "bob"}, 0, "")
	b.ReportAllocs()
	for b.Loop() {
		r.g.CheckLogin("alice", "203.0.113.7")
	}
}

// TestActive: a Guard may refuse requests when blocking is on or a rate
// limit is set, and only then (the middleware skips an inactive one).
func TestActive(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []guard.Option
		want bool
	}{
		{"defaults", nil, false},
		{"blocking", []guard.Option{guard.WithEnabled(true)}, true},
		{"blocking off", []guard.Option{guard.WithEnabled(false)}, false},
		{"rate limit only", []guard.Option{guard.WithRateLimit(10, time.Minute)}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g, err := guard.New(append([]guard.Option{guard.WithoutEnv()}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			if got := g.Active(); got != tt.want {
				t.Fatalf("Active() = %v, want %v", got, tt.want)
			}
		})
	}
	var none *guard.Guard
	if none.Active() {
		t.Fatal("a nil Guard is active")
	}
}
