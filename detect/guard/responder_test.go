package guard_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"

	"github.com/secaudit/secaudit/detect"
	"github.com/secaudit/secaudit/detect/guard"
	"github.com/secaudit/secaudit/internal/claim"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

func firedBruteForce(user, addr string) detect.Fired {
	return detect.Fired{Rule: detect.RuleBruteForce, User: user,
		Alert: detect.Alert{Category: detect.CategoryAuthentication, Count: 5, Window: 5 * time.Minute, Address: addr, UserID: "1"}}
}

func firedAddress(rule, addr string) detect.Fired {
	return detect.Fired{Rule: rule, Alert: detect.Alert{Count: 10, Window: time.Minute, Address: addr}}
}

// TestResponder: each rule's DESIGN response, applied for the block
// duration and only with blocking on.
func TestResponder(t *testing.T) {
	const addr = "203.0.113.7"
	tests := []struct {
		fired     detect.Fired
		addrBlock bool // CheckAddress refuses
		lockout   bool // CheckLogin("alice", addr) refuses
	}{
		{firedBruteForce("alice", addr), false, true},
		{firedAddress(detect.RulePasswordSpray, addr), true, true},
		{firedAddress(detect.RuleEnumeration, addr), true, true},
		{firedAddress(detect.RuleScanner, addr), true, true},
		{detect.Fired{Rule: detect.RuleDistributedBruteForce, Alert: detect.Alert{UserID: "1"}, User: "alice"}, false, false},
		{detect.Fired{Rule: detect.RuleSensitiveChange, Alert: detect.Alert{UserID: "1"}}, false, false},
		{firedAddress("my_rule", addr), false, false},
		{firedBruteForce("", addr), false, false}, // no login name: nothing to lock out
	}
	for _, tt := range tests {
		for _, on := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/enabled=%v", tt.fired.Rule, on), func(t *testing.T) {
				r := newRig(t, guard.WithEnabled(on), guard.WithDuration(7*time.Minute))
				r.g.Responder()(context.Background(), tt.fired)
				a, l := r.g.CheckAddress(addr), r.g.CheckLogin("alice", addr)
				if a.Blocked != (on && tt.addrBlock) || l.Blocked != (on && tt.lockout) {
					t.Fatalf("address %+v, login %+v; want %v, %v", a, l, on && tt.addrBlock, on && tt.lockout)
				}
				if !on || (!tt.addrBlock && !tt.lockout) {
					if n := r.got.Len(); n != 0 {
						t.Fatalf("%d events", n)
					}
					return
				}
				if l.Rule != tt.fired.Rule || l.RetryAfterSeconds() != 420 {
					t.Fatalf("decision %+v, want rule %s, 420 s", l, tt.fired.Rule)
				}
				if other := r.g.CheckLogin("bob", addr); other.Blocked != tt.addrBlock {
					t.Fatalf("bob from the address: %+v", other)
				}
				ev := r.events()
				scope := "address"
				if !tt.addrBlock {
					scope = "user_address"
				}
				if len(ev) != 1 || ev[0].rule != tt.fired.Rule || ev[0].scope != scope || ev[0].addr != addr || ev[0].duration != 420 {
					t.Fatalf("events %+v", ev)
				}
			})
		}
	}
}

// TestResponderFromDetection: detection's brute_force, through
// detect.WithResponder, locks the pair out: the sixth login of alice from
// the address is refused before its password is checked, bob's is not.
func TestResponderFromDetection(t *testing.T) {
	c := newClock()
	got := &testsupport.Capture{}
	g, err := guard.New(guard.WithoutEnv(), guard.WithEnabled(true), guard.WithClock(c.now))
	if err != nil {
		t.Fatal(err)
	}
	det, err := detect.New(detect.WithoutEnv(), detect.WithClock(c.now), detect.WithResponder(g.Responder()))
	if err != nil {
		t.Fatal(err)
	}
	provider := testsupport.NewProvider(got, det)
	t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
	det.SetLogger(provider.Logger("detect"))
	g.SetLogger(provider.Logger("guard"))
	app := provider.Logger("app")
	const addr = "203.0.113.7"
	login := func(user string) bool {
		if g.CheckLogin(user, addr).Blocked {
			return false
		}
		var rec log.Record
		rec.SetEventName(semconv.EventLoginFailed)
		rec.AddAttributes(attribute.String(string(semconv.ClientAddressKey), addr))
		app.Emit(claim.WithUser(context.Background(), user), rec)
		return true
	}
	for i := range 5 {
		if !login("alice") {
			t.Fatalf("login %d refused", i+1)
		}
	}
	if login("alice") {
		t.Fatal("the sixth login of a locked-out pair was not refused")
	}
	if !login("bob") {
		t.Fatal("another user from the address was refused")
	}
	var names []string
	for _, r := range got.Records() {
		if r.EventName() != semconv.EventLoginFailed {
			names = append(names, r.EventName())
		}
	}
	if fmt.Sprint(names) != "[security.block.applied security.alert]" {
		t.Fatalf("records %v", names)
	}
	c.advance(15 * time.Minute)
	if !login("alice") {
		t.Fatal("refused after the lockout's expiry")
	}
}
