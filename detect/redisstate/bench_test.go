//go:build integration

package redisstate_test

import (
	"context"
	"fmt"
	"testing"
	"time"

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

// BenchmarkDetectRedis is detection's cost per record with the Redis
// store: a failed login (three rules count it: one round trip each) and a
// record no rule counts (none).
func BenchmarkDetectRedis(b *testing.B) {
	base := redisURL(b)
	url := base + "?prefix=" + testPrefix(b, base)
	r := newRig(b, url)
	var h hookCount
	r.store.Client().AddHook(&h)
	waitFor(b, 5*time.Second, "store not ready", func() bool { return !r.store.Degraded() })
	r.failedLogin("warm", "198.51.100.1")
	b.Run("failed_login", func(b *testing.B) {
		h.n.Store(0)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			r.failedLogin(fmt.Sprintf("user%d", i%1000), "198.51.100.2")
		}
		b.ReportMetric(float64(h.n.Load())/float64(b.N), "roundtrips/op")
	})
}
