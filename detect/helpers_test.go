package detect_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/detect"
	"github.com/secaudit/secaudit/semconv"
)

// alerts keeps the security.alert records (and counts the others).
type alerts struct {
	mu     sync.Mutex
	alerts []sdklog.Record
	others int
	last   sdklog.Record
}

func (a *alerts) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (a *alerts) Shutdown(context.Context) error                         { return nil }
func (a *alerts) ForceFlush(context.Context) error                       { return nil }
func (a *alerts) OnEmit(_ context.Context, r *sdklog.Record) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.EventName() == semconv.EventAlert {
		a.alerts = append(a.alerts, r.Clone())
	} else {
		a.others++
	}
	return nil
}

func (a *alerts) list() []sdklog.Record {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]sdklog.Record(nil), a.alerts...)
}

// clock is a fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// rig is a provider with a detection processor and an alert capture.
type rig struct {
	det    *detect.Processor
	got    *alerts
	logger log.Logger
	clock  *clock
}

func newRig(t testing.TB, opts ...detect.Option) *rig {
	t.Helper()
	c := newClock()
	det, err := detect.New(append([]detect.Option{detect.WithoutEnv(), detect.WithClock(c.now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	r := newRigWith(t, det)
	r.clock = c
	return r
}

// newRigWith puts det (with its own clock) in a provider.
func newRigWith(t testing.TB, det *detect.Processor) *rig {
	t.Helper()
	got := &alerts{}
	provider := sdklog.NewLoggerProvider(sdklog.WithProcessor(got), sdklog.WithProcessor(det))
	t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
	det.SetLogger(provider.Logger("github.com/secaudit/secaudit/detect"))
	return &rig{det: det, got: got, logger: provider.Logger("app")}
}

func (r *rig) emit(ctx context.Context, event string, attrs ...attribute.KeyValue) {
	var rec log.Record
	rec.SetEventName(event)
	rec.SetSeverity(log.SeverityWarn)
	rec.AddAttributes(attrs...)
	r.logger.Emit(ctx, rec)
}

func attrs(r sdklog.Record) map[string]attribute.Value {
	m := map[string]attribute.Value{}
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		m[string(kv.Key)] = kv.Value
		return true
	})
	return m
}

// of returns the alerts of one rule.
func (a *alerts) of(rule string) []sdklog.Record {
	var res []sdklog.Record
	for _, r := range a.list() {
		if v := attrs(r)[string(semconv.SecurityRuleNameKey)]; v.AsString() == rule {
			res = append(res, r)
		}
	}
	return res
}
