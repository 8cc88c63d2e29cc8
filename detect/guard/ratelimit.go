package guard

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"

	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/semconv"
)

// RuleRateLimit is security_rule.name of a refusal by the rate limit.
const RuleRateLimit = "rate_limit"

// DefaultMaxRateAddresses caps the addresses the rate limit counts at once
// (WithMaxRateAddresses).
const DefaultMaxRateAddresses = 10000

// window is one address's fixed window.
type window struct {
	end     int64 // Unix ns, exclusive
	seen    int64 // Unix ns of the last request (least-recently-seen eviction)
	n       int   // requests allowed in the window
	refused int   // requests refused in the window
	quiet   int   // refused after the first: counted into the summary
}

// limiter is the per-address fixed-window rate limit.
type limiter struct {
	n       int
	per     time.Duration
	max     int
	mu      sync.Mutex
	m       map[[16]byte]*window // changed in place under mu
	lastGC  int64
	evicted int64
	refused int64
	quiet   int64
}

// rateSummary is a security.rate_limited record to emit after the lock.
type rateSummary struct {
	addr  [16]byte
	count int
	since int64 // the window's start
	end   int64
}

// WithRateLimit refuses an address's requests beyond n per window of per
// (SECAUDIT_RATE_LIMIT=N/DURATION, such as 100/1m; off by default): each
// address has a fixed window starting at its first request, and is
// answered 429 with Retry-After until the window ends. Allowlisted
// networks (SECAUDIT_BLOCK_ALLOW_CIDRS) are exempt. n <= 0 turns it off.
func WithRateLimit(n int, per time.Duration) Option {
	return optionFunc(func(c *config) {
		c.rate.Put(rateSpec{n: n, per: per}, fmt.Sprintf("WithRateLimit(%d, %v)", n, per))
	})
}

// WithMaxRateAddresses caps the addresses the rate limit counts at once
// (default 10 000, at least 1); beyond it the least recently seen address
// is forgotten (Stats.RateEvicted).
func WithMaxRateAddresses(n int) Option {
	return optionFunc(func(c *config) { c.maxRate.Put(n, "WithMaxRateAddresses") })
}

type rateSpec struct {
	n   int
	per time.Duration
}

// parseRate reads N/DURATION (100/1m; a bare unit such as 100/s means one).
func parseRate(name string) (rateSpec, bool, error) {
	v, ok := envconf.String(name)
	if !ok {
		return rateSpec{}, false, nil
	}
	want := "N/DURATION with N >= 1 and a Go duration > 0, such as 100/1m"
	ns, ds, found := strings.Cut(v, "/")
	n, err := strconv.Atoi(strings.TrimSpace(ns))
	if !found || err != nil || n < 1 {
		return rateSpec{}, false, fmt.Errorf("secaudit: %s=%q: want %s", name, v, want)
	}
	ds = strings.TrimSpace(ds)
	if ds != "" && (ds[0] < '0' || ds[0] > '9') {
		ds = "1" + ds
	}
	d, err := time.ParseDuration(ds)
	if err != nil || d <= 0 {
		return rateSpec{}, false, fmt.Errorf("secaudit: %s=%q: want %s", name, v, want)
	}
	return rateSpec{n: n, per: d}, true, nil
}

// RateLimit reports the rate limit: n requests per window of per; n is 0
// when it is off.
func (g *Guard) RateLimit() (n int, per time.Duration) {
	if g == nil || g.rl == nil {
		return 0, 0
	}
	return g.rl.n, g.rl.per
}

// rate counts a request of a (not allowlisted) and reports whether it is
// refused, for how long, and whether the refusal is quiet: already
// reported by the window's first refusal, counted into its summary.
func (g *Guard) rate(a netip.Addr) (refused bool, retry time.Duration, quiet bool) {
	if g.store != nil {
		return g.rateShared(a)
	}
	l := g.rl
	k := a.As16()
	t := g.now().UnixNano()
	var out []rateSummary
	l.mu.Lock()
	w := l.m[k] // one lookup: the window is changed in place
	if w == nil || t >= w.end {
		if w != nil { // ended: the address's next window starts now
			if w.quiet > 0 {
				out = append(out, rateSummary{addr: k, count: w.quiet, since: w.end - int64(l.per), end: w.end})
			}
			*w = window{end: t + int64(l.per)}
		} else if len(l.m) >= l.max {
			out = l.makeRoom(t, out)
		}
		if t-l.lastGC >= int64(l.per) && len(l.m) > 0 {
			out = l.sweep(t, out)
		}
		if w == nil {
			w = &window{end: t + int64(l.per)}
			l.m[k] = w
		}
	}
	w.seen = t
	if w.n < l.n {
		w.n++
	} else {
		refused = true
		retry = time.Duration(w.end - t)
		w.refused++
		l.refused++
		if w.refused > 1 {
			w.quiet++
			l.quiet++
			quiet = true
		}
	}
	l.mu.Unlock()
	for _, s := range out {
		g.emitRateLimited(s)
	}
	return refused, retry, quiet
}

// sweep removes the ended windows (their summaries appended to out); the
// caller holds l.mu.
func (l *limiter) sweep(t int64, out []rateSummary) []rateSummary {
	l.lastGC = t
	for k, w := range l.m {
		if t >= w.end {
			if w.quiet > 0 {
				out = append(out, rateSummary{addr: k, count: w.quiet, since: w.end - int64(l.per), end: w.end})
			}
			delete(l.m, k)
		}
	}
	return out
}

// makeRoom frees one place: the ended windows go, else the least recently
// seen address is evicted (its summary, if any, is emitted now).
func (l *limiter) makeRoom(t int64, out []rateSummary) []rateSummary {
	n := len(l.m)
	out = l.sweep(t, out)
	if len(l.m) < n {
		return out
	}
	var vk [16]byte
	var vw *window
	first := true
	for k, w := range l.m {
		if first || w.seen < vw.seen {
			vk, vw, first = k, w, false
		}
	}
	delete(l.m, vk)
	l.evicted++
	if vw.quiet > 0 {
		out = append(out, rateSummary{addr: vk, count: vw.quiet, since: vw.end - int64(l.per), end: vw.end})
	}
	return out
}

// emitRateLimited emits the security.rate_limited summary of a window's
// quiet refusals (audit.detect.count).
func (g *Guard) emitRateLimited(s rateSummary) {
	box := g.logger.Load()
	if box == nil || box.l == nil {
		return
	}
	var r log.Record
	t := g.now()
	r.SetTimestamp(t)
	r.SetObservedTimestamp(t)
	r.SetEventName(semconv.EventRateLimited)
	r.SetSeverity(semconv.SeverityWarning)
	r.SetSeverityText(semconv.SeverityText(semconv.SeverityWarning))
	r.SetBody(attribute.StringValue(semconv.EventRateLimited))
	r.AddAttributes(
		semconv.AuditSchemaVersionKey.String(semconv.SchemaVersion),
		semconv.SecurityRuleNameKey.String(RuleRateLimit),
		semconv.AuditBlockScopeKey.String(string(ScopeAddress)),
		semconv.ClientAddressKey.String(netip.AddrFrom16(s.addr).Unmap().String()),
		semconv.AuditDetectCountKey.Int(s.count),
		semconv.AuditBlockExpiresAtKey.String(time.Unix(0, s.end).UTC().Format(time.RFC3339Nano)),
	)
	box.l.Emit(context.Background(), r)
}
