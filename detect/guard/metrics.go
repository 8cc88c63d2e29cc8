package guard

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// quietKey is the attribute that tells a quiet refusal (counted into a
// security.rate_limited summary) from a full one.
const quietKey = attribute.Key("quiet")

var (
	loud  = metric.WithAttributeSet(attribute.NewSet(quietKey.Bool(false)))
	quiet = metric.WithAttributeSet(attribute.NewSet(quietKey.Bool(true)))
)

// registerMetrics reports the guard's counters ([Guard.Stats]) as
// asynchronous instruments, read at collection time only:
// secaudit.guard.blocks (held now), secaudit.guard.blocks.applied,
// .lifted, .expired, .evicted and .allowlisted, secaudit.guard.refused and
// secaudit.guard.rate_limited (by quiet: true for the refusals counted
// into a security.rate_limited summary), secaudit.guard.rate_limit.evicted,
// secaudit.guard.store.errors, secaudit.guard.store.degraded (1 while the
// shared store cannot be asked) and secaudit.guard.failed_closed. No
// attribute names an address or a user.
func (g *Guard) registerMetrics(mp metric.MeterProvider) error {
	m := mp.Meter("github.com/secaudit/secaudit/detect/guard")
	var err error
	gauge := func(name, desc string) metric.Int64ObservableGauge {
		if err != nil {
			return nil
		}
		var i metric.Int64ObservableGauge
		i, err = m.Int64ObservableGauge(name, metric.WithDescription(desc))
		return i
	}
	counter := func(name, desc string) metric.Int64ObservableCounter {
		if err != nil {
			return nil
		}
		var i metric.Int64ObservableCounter
		i, err = m.Int64ObservableCounter(name, metric.WithDescription(desc))
		return i
	}
	blocks := gauge("secaudit.guard.blocks", "Blocks held now (expired ones not yet met included).")
	applied := counter("secaudit.guard.blocks.applied", "Blocks applied (by detection's rules and from Go).")
	lifted := counter("secaudit.guard.blocks.lifted", "Blocks lifted from Go.")
	expired := counter("secaudit.guard.blocks.expired", "Blocks removed after their expiry.")
	evicted := counter("secaudit.guard.blocks.evicted", "Blocks evicted before their expiry to stay within the cap.")
	allowlisted := counter("secaudit.guard.blocks.allowlisted", "Blocks not applied because the address is allowlisted.")
	refused := counter("secaudit.guard.refused", "Checks answered blocked; quiet=true: refusals reported by a security.rate_limited summary.")
	rateLimited := counter("secaudit.guard.rate_limited", "Requests refused by the rate limit; quiet=true: refusals reported by a security.rate_limited summary.")
	rateEvicted := counter("secaudit.guard.rate_limit.evicted", "Addresses the rate limit forgot before their window ended, to stay within its cap.")
	storeErrors := counter("secaudit.guard.store.errors", "Operations of the shared store that failed (the guard failed open).")
	degraded := gauge("secaudit.guard.store.degraded", "1 while the shared store cannot be asked, else 0.")
	failedClosed := counter("secaudit.guard.failed_closed", "Requests answered 503 on a fail-closed path while the shared store could not be asked.")
	if err != nil {
		return err
	}
	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := g.Stats()
		o.ObserveInt64(blocks, s.Blocks)
		o.ObserveInt64(applied, s.Applied)
		o.ObserveInt64(lifted, s.Lifted)
		o.ObserveInt64(expired, s.Expired)
		o.ObserveInt64(evicted, s.Evicted)
		o.ObserveInt64(allowlisted, s.Allowlisted)
		o.ObserveInt64(refused, s.Refused-s.RefusedQuiet, loud)
		o.ObserveInt64(refused, s.RefusedQuiet, quiet)
		o.ObserveInt64(rateLimited, s.RateLimited-s.RateQuiet, loud)
		o.ObserveInt64(rateLimited, s.RateQuiet, quiet)
		o.ObserveInt64(rateEvicted, s.RateEvicted)
		o.ObserveInt64(storeErrors, s.StoreErrors)
		var d int64
		if s.StoreDegraded {
			d = 1
		}
		o.ObserveInt64(degraded, d)
		o.ObserveInt64(failedClosed, s.FailedClosed)
		return nil
	}, blocks, applied, lifted, expired, evicted, allowlisted, refused, rateLimited, rateEvicted, storeErrors, degraded, failedClosed)
	return err
}
