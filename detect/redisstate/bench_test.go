//go:build integration

package redisstate_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/secaudit/secaudit/detect"
	"github.com/secaudit/secaudit/detect/guard"
)

// BenchmarkGuardRedis is the guard's cost for an unblocked request with
// the Redis store: the check alone reads the local copy of the blocks (no
// round trip); with the rate limit on, one round trip (one script).
func BenchmarkGuardRedis(b *testing.B) {
	base := redisURL(b)
	url := base + "?prefix=" + testPrefix(b, base)
	for _, bc := range []struct {
		name string
		opts []guard.Option
	}{
		{"check", nil},
		{"check_1000_blocks", nil},
		{"rate_limit", []guard.Option{guard.WithRateLimit(1<<30, time.Hour)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := newRig(b, url, bc.opts...)
			var h hookCount
			r.store.Client().AddHook(&h)
			waitFor(b, 5*time.Second, "store not ready", func() bool { return !r.store.Degraded() })
			if bc.name == "check_1000_blocks" {
				for i := range 1000 {
					_ = r.guard.Block(context.Background(), guard.ScopeAddress, guard.Subject{Address: fmt.Sprintf("10.1.%d.%d", i/256, i%256)}, time.Hour, "")
				}
			}
			r.guard.RefuseAddress("198.51.100.1") // warm the script cache
			h.n.Store(0)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if refused, _, _, _ := r.guard.RefuseAddress("198.51.100.1"); refused {
					b.Fatal("refused")
				}
			}
			b.ReportMetric(float64(h.n.Load())/float64(b.N), "roundtrips/op")
		})
	}
}

// BenchmarkDetectRedis is detection's cost per failed login with the
// Redis store: a new claimed name and address each time, so that every
// rule that counts a failed login (brute_force, password_spray,
// distributed_brute_force) counts it and none fires (no alert, no block).
// The store's deadline is 1s, so that a loaded machine measures round
// trips rather than operations skipped after a timeout; any state error
// fails the benchmark.
func BenchmarkDetectRedis(b *testing.B) {
	base := redisURL(b)
	url := base + "?prefix=" + testPrefix(b, base)
	r := newRigTimeout(b, url, time.Second)
	var h hookCount
	r.store.Client().AddHook(&h)
	waitFor(b, 5*time.Second, "store not ready", func() bool { return !r.store.Degraded() })
	r.failedLogin("warm", "198.51.100.1") // warm the script cache
	i := 0                                // across the runs of -count: never the same subject twice
	b.Run("failed_login", func(b *testing.B) {
		h.n.Store(0)
		errs := r.det.Stats().StateErrors
		b.ReportAllocs()
		for b.Loop() {
			i++
			r.failedLogin(fmt.Sprintf("user%d", i), fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
		}
		b.ReportMetric(float64(h.n.Load())/float64(b.N), "roundtrips/op")
		if n := r.det.Stats().StateErrors - errs; n != 0 {
			b.Fatalf("%d state errors: the numbers would not be round trips", n)
		}
		if a := r.det.Stats().Alerts; a[detect.RuleBruteForce]+a[detect.RulePasswordSpray]+a[detect.RuleDistributedBruteForce] != 0 {
			b.Fatalf("alerts fired: %v", a)
		}
	})
}
