package detect_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/secaudit/secaudit/detect"
	"github.com/secaudit/secaudit/internal/claim"
	"github.com/secaudit/secaudit/semconv"
)

// fired collects what a responder is given.
type fired struct {
	mu  sync.Mutex
	got []detect.Fired
}

func (f *fired) respond(_ context.Context, x detect.Fired) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, x)
}

// TestResponder: each fired rule reaches the responder once, with the
// subject's address, the user's id, the claimed login name (never
// emitted) and user.name only when the record carried it.
func TestResponder(t *testing.T) {
	tests := []struct {
		name string
		feed func(r *rig)
		want detect.Fired
	}{
		{"brute_force names the pair and the claimed user", func(r *rig) {
			ctx := claim.WithUser(context.Background(), "alice")
			for range 7 {
				r.emit(ctx, semconv.EventLoginFailed, semconv.ClientAddressKey.String("203.0.113.7"), semconv.UserIDKey.String("u-1"))
			}
		}, detect.Fired{Rule: detect.RuleBruteForce, User: "alice",
			Alert: detect.Alert{Category: detect.CategoryAuthentication, Count: 5, Window: 300e9, Address: "203.0.113.7", UserID: "u-1"}}},
		{"brute_force with usernames on", func(r *rig) {
			ctx := claim.WithUser(context.Background(), "alice")
			for range 5 {
				r.emit(ctx, semconv.EventLoginFailed, semconv.ClientAddressKey.String("203.0.113.7"), semconv.UserNameKey.String("alice"))
			}
		}, detect.Fired{Rule: detect.RuleBruteForce, User: "alice", UserName: "alice",
			Alert: detect.Alert{Category: detect.CategoryAuthentication, Count: 5, Window: 300e9, Address: "203.0.113.7"}}},
		{"password_spray names the address only", func(r *rig) {
			for i := range 12 {
				r.emit(claim.WithUser(context.Background(), fmt.Sprint("user", i)), semconv.EventLoginFailed,
					semconv.ClientAddressKey.String("198.51.100.9"))
			}
		}, detect.Fired{Rule: detect.RulePasswordSpray,
			Alert: detect.Alert{Category: detect.CategoryAuthentication, Count: 10, Window: 900e9, High: true, Address: "198.51.100.9"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fired{}
			r := newRig(t, detect.WithResponder(f.respond), detect.WithRule(detect.RuleDistributedBruteForce, 0, 0))
			tt.feed(r)
			if len(f.got) != 1 || f.got[0] != tt.want {
				t.Fatalf("responder got %+v, want [%+v]", f.got, tt.want)
			}
			if n := len(r.got.list()); n != 1 {
				t.Fatalf("%d alerts emitted, want 1", n)
			}
		})
	}
}

// TestResponderPanicRecovered: a panicking responder is counted and the
// alert is still emitted.
func TestResponderPanicRecovered(t *testing.T) {
	r := newRig(t, detect.WithResponder(func(context.Context, detect.Fired) { panic("boom") }))
	ctx := claim.WithUser(context.Background(), "alice")
	for range 5 {
		r.emit(ctx, semconv.EventLoginFailed, semconv.ClientAddressKey.String("203.0.113.7"))
	}
	if n := len(r.got.of(detect.RuleBruteForce)); n != 1 {
		t.Fatalf("%d brute_force alerts, want 1", n)
	}
	if p := r.det.Stats().Panics; p != 1 {
		t.Fatalf("Panics = %d, want 1", p)
	}
}
