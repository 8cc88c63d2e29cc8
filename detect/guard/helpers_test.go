package guard_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/secaudit/secaudit/detect/guard"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// clock is a fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newClock() *clock { return &clock{t: t0} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// rig is an enabled guard (unless opts say otherwise) with a fake clock
// and its records captured.
type rig struct {
	g     *guard.Guard
	clock *clock
	got   *testsupport.Capture
}

func newRig(t testing.TB, opts ...guard.Option) *rig {
	t.Helper()
	c := newClock()
	got := &testsupport.Capture{}
	provider := testsupport.NewProvider(got)
	t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
	g, err := guard.New(append([]guard.Option{guard.WithoutEnv(), guard.WithEnabled(true), guard.WithClock(c.now),
		guard.WithLogger(provider.Logger("github.com/secaudit/secaudit/detect/guard"))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{g: g, clock: c, got: got}
}

// event is what a test checks of a security.block.* record.
type event struct {
	name, sev, rule, scope, addr, userID, userName, expires, reason string
	duration                                                        int64
}

func (r *rig) events() []event {
	var out []event
	for _, rec := range r.got.Records() {
		m := testsupport.AttrMap(&rec)
		out = append(out, event{
			name: rec.EventName(), sev: rec.SeverityText(),
			rule:     m[string(semconv.SecurityRuleNameKey)].AsString(),
			scope:    m[string(semconv.AuditBlockScopeKey)].AsString(),
			addr:     m[string(semconv.ClientAddressKey)].AsString(),
			userID:   m[string(semconv.UserIDKey)].AsString(),
			userName: m[string(semconv.UserNameKey)].AsString(),
			expires:  m[string(semconv.AuditBlockExpiresAtKey)].AsString(),
			reason:   m[string(semconv.AuditBlockReasonKey)].AsString(),
			duration: m[string(semconv.AuditBlockDurationKey)].AsInt64(),
		})
	}
	return out
}
