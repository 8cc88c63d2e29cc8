package guard_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/secaudit/secaudit/detect/guard"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// TestRateLimit: N allowed per window, the rest refused with Retry-After
// until the window ends (the first loud, the rest quiet), a new window
// allows N again and the ended window's quiet refusals come as one
// security.rate_limited summary; other and allowlisted addresses are not
// limited, and it works with blocking off.
func TestRateLimit(t *testing.T) {
	r := newRig(t, guard.WithEnabled(false), guard.WithRateLimit(3, time.Minute), guard.WithAllowCIDRs("10.0.0.0/8"))
	const a = "203.0.113.7"
	type want struct {
		refused, quiet bool
		retry          time.Duration
	}
	check := func(addr string, w want) {
		t.Helper()
		refused, retry, rule, scope, quiet := r.g.RefuseAddressQuiet(addr)
		if refused != w.refused || quiet != w.quiet || retry != w.retry {
			t.Fatalf("%s: refused %v quiet %v retry %v; want %+v", addr, refused, quiet, retry, w)
		}
		if refused && (rule != guard.RuleRateLimit || scope != "address") {
			t.Fatalf("rule %q scope %q", rule, scope)
		}
	}
	{
		start := r.clock.now()
		for range 3 {
			check(a, want{})
			r.clock.advance(10 * time.Second)
		}
		check(a, want{refused: true, retry: 30 * time.Second})
		for range 4 {
			check(a, want{refused: true, quiet: true, retry: 30 * time.Second})
		}
		check("198.51.100.1", want{})
		for range 10 {
			check("10.1.2.3", want{})
		}
		r.clock.advance(time.Minute - time.Nanosecond - 30*time.Second)
		check(a, want{refused: true, quiet: true, retry: time.Nanosecond})
		if n := r.got.Len(); n != 0 {
			t.Fatalf("%d records inside the window", n)
		}
		r.clock.set(start.Add(time.Minute)) // exact expiry: a new window
		check(a, want{})
		rec := r.got.Only(t)
		m := testsupport.AttrMap(&rec)
		if rec.EventName() != semconv.EventRateLimited || rec.SeverityText() != "WARNING" ||
			m[string(semconv.ClientAddressKey)].AsString() != a ||
			m[string(semconv.SecurityRuleNameKey)].AsString() != guard.RuleRateLimit ||
			m[string(semconv.AuditDetectCountKey)].AsInt64() != 5 {
			t.Fatalf("summary %s %s %v", rec.EventName(), rec.SeverityText(), m)
		}
		r.got.Reset()
		// the request above opened the new window and counted as 1 of 3
		check(a, want{})
		check(a, want{})
		check(a, want{refused: true, retry: time.Minute})
	}
	s := r.g.Stats()
	if s.RateLimited != 7 || s.RateQuiet != 5 {
		t.Errorf("stats %+v", s)
	}
}

func TestRateLimitConfig(t *testing.T) {
	tests := []struct {
		env     string
		n       int
		per     time.Duration
		wantErr bool
	}{
		{"", 0, 0, false},
		{"100/1m", 100, time.Minute, false},
		{"5/s", 5, time.Second, false},
		{"0/1m", 0, 0, true},
		{"100", 0, 0, true},
		{"100/0s", 0, 0, true},
		{"x/1m", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			testsupport.ClearEnv(t)
			t.Setenv("SECAUDIT_RATE_LIMIT", tt.env)
			g, err := guard.New()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v", err)
			}
			if err != nil {
				return
			}
			if n, per := g.RateLimit(); n != tt.n || per != tt.per {
				t.Errorf("RateLimit() = %d, %v", n, per)
			}
		})
	}
	g, _ := guard.New(guard.WithoutEnv(), guard.WithRateLimit(2, time.Second))
	if n, _ := g.RateLimit(); n != 2 {
		t.Errorf("WithRateLimit: %d", n)
	}
}

// TestRateLimitBounded: beyond the cap the least recently seen address is
// forgotten and counted, its quiet refusals reported then.
func TestRateLimitBounded(t *testing.T) {
	r := newRig(t, guard.WithRateLimit(1, time.Hour), guard.WithMaxRateAddresses(2))
	for _, a := range []string{"192.0.2.1", "192.0.2.1", "192.0.2.1", "192.0.2.2", "192.0.2.3"} {
		r.g.RefuseAddress(a)
		r.clock.advance(time.Second)
	}
	if s := r.g.Stats(); s.RateEvicted != 1 {
		t.Fatalf("RateEvicted %d", s.RateEvicted)
	}
	rec := r.got.Only(t)
	m := testsupport.AttrMap(&rec)
	if m[string(semconv.ClientAddressKey)].AsString() != "192.0.2.1" || m[string(semconv.AuditDetectCountKey)].AsInt64() != 1 {
		t.Fatalf("summary %v", m)
	}
	// 192.0.2.1 was forgotten: allowed again
	if refused, _, _, _ := r.g.RefuseAddress("192.0.2.1"); refused {
		t.Fatal("evicted address refused")
	}
}

// TestRateLimitAlloc: an allowed request of a counted address allocates
// nothing.
func TestRateLimitAlloc(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts differ under -race")
	}
	r := newRig(t, guard.WithRateLimit(1<<30, time.Hour))
	r.g.RefuseAddress("203.0.113.7")
	if n := testing.AllocsPerRun(100, func() { r.g.RefuseAddressQuiet("203.0.113.7") }); n != 0 {
		t.Errorf("RefuseAddressQuiet allowed: %v allocs", n)
	}
}

// TestRefuseAddrMatchesText: RefuseAddr of an address parsed answers as
// RefuseAddressQuiet of its text, request after request (blocks, the rate
// limit's loud and quiet refusals, allowlist, IPv4-mapped and zoned
// forms); the zero Addr refuses nothing.
func TestRefuseAddrMatchesText(t *testing.T) {
	opts := []guard.Option{guard.WithRateLimit(2, time.Minute), guard.WithAllowCIDRs("10.0.0.0/8")}
	byText, byAddr := newRig(t, opts...), newRig(t, opts...)
	for _, r := range []*rig{byText, byAddr} {
		if err := r.g.Block(context.Background(), guard.ScopeAddress, guard.Subject{Address: "198.51.100.9"}, time.Hour, "test"); err != nil {
			t.Fatal(err)
		}
	}
	addrs := []string{"203.0.113.7", "::ffff:203.0.113.7", "198.51.100.9", "10.1.2.3", "2001:db8::1", "fe80::1%eth0", "2001:db8::1"}
	for round := range 4 {
		for _, s := range addrs {
			r1, d1, rule1, scope1, q1 := byText.g.RefuseAddressQuiet(s)
			r2, d2, rule2, scope2, q2 := byAddr.g.RefuseAddr(netip.MustParseAddr(s))
			if r1 != r2 || d1 != d2 || rule1 != rule2 || scope1 != scope2 || q1 != q2 {
				t.Fatalf("round %d %s: text %v %v %q %q %v, addr %v %v %q %q %v", round, s, r1, d1, rule1, scope1, q1, r2, d2, rule2, scope2, q2)
			}
		}
	}
	if a, b := byText.g.Stats(), byAddr.g.Stats(); a != b || a.RateQuiet == 0 || a.Refused == 0 {
		t.Fatalf("stats: text %+v, addr %+v", a, b)
	}
	if refused, _, _, _, _ := byAddr.g.RefuseAddr(netip.Addr{}); refused {
		t.Fatal("the zero Addr refused")
	}
	var nilGuard *guard.Guard
	if refused, _, _, _, _ := nilGuard.RefuseAddr(netip.MustParseAddr("203.0.113.7")); refused {
		t.Fatal("a nil guard refused")
	}
}

// TestRefuseAddrAlloc: a quiet refusal by the rate limit or of a blocked
// address, and an allowed request of a counted address, allocate nothing.
func TestRefuseAddrAlloc(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts differ under -race")
	}
	r := newRig(t, guard.WithRateLimit(1, time.Hour))
	a := netip.MustParseAddr("203.0.113.7")
	r.g.RefuseAddr(a) // allowed
	r.g.RefuseAddr(a) // the first refusal
	if n := testing.AllocsPerRun(100, func() {
		if refused, _, _, _, quiet := r.g.RefuseAddr(a); !refused || !quiet {
			t.Fatal("not a quiet refusal")
		}
	}); n != 0 {
		t.Errorf("RefuseAddr quiet refusal: %v allocs", n)
	}
	// a blocked address's quiet refusal: its window is changed in place
	blocked := netip.MustParseAddr("198.51.100.9")
	if err := r.g.Block(context.Background(), guard.ScopeAddress, guard.Subject{Address: blocked.String()}, time.Hour, "test"); err != nil {
		t.Fatal(err)
	}
	r.g.RefuseAddr(blocked) // the first refusal
	if n := testing.AllocsPerRun(100, func() {
		if refused, _, _, _, quiet := r.g.RefuseAddr(blocked); !refused || !quiet {
			t.Fatal("not a quiet refusal")
		}
	}); n != 0 {
		t.Errorf("RefuseAddr quiet refusal of a block: %v allocs", n)
	}
	other := netip.MustParseAddr("203.0.113.8")
	r2 := newRig(t, guard.WithRateLimit(1<<30, time.Hour))
	r2.g.RefuseAddr(other)
	if n := testing.AllocsPerRun(100, func() { r2.g.RefuseAddr(other) }); n != 0 {
		t.Errorf("RefuseAddr allowed: %v allocs", n)
	}
}
