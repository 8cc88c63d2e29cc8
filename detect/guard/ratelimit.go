package guard

import (
	"cmp"
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
	end     int64  // Unix ns, exclusive
	seen    int64  // Unix ns of the last request (least-recently-seen eviction)
	rule    string // the refusing block's rule; "" for the rate limit
	n       int    // requests allowed in the window
	refused int    // requests refused in the window
	quiet   int    // refused after the first: counted into the summary
}

// limiter counts refusals per address in fixed windows: the rate limit
// (n requests allowed per window), and the refusals of blocked addresses
// (n 0: every request it counts is refused; Guard.br).
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
	rule  string // the block's rule; "" for the rate limit
	count int
	end   int64 // the end of the counted period: the window's, or earlier when flushed
}

// summary is w's summary, false when it has no quiet refusal to report;
// end is the end of the period it covers.
func (w *window) summary(k [16]byte, end int64) (rateSummary, bool) {
	if w.quiet == 0 {
		return rateSummary{}, false
	}
	return rateSummary{addr: k, rule: w.rule, count: w.quiet, end: min(end, w.end)}, true
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
	t := g.now().UnixNano()
	var out []rateSummary
	var end int64
	l.mu.Lock()
	refused, end, quiet, out = l.count(a.As16(), t, "", out)
	l.mu.Unlock()
	for _, s := range out {
		g.emitRateLimited(s)
	}
	if refused {
		retry = time.Duration(end - t)
	}
	return refused, retry, quiet
}

// count counts a request of k at t in its window (opened by this request
// when there is none, or the last has ended: its summary is appended to
// out), and reports whether it is refused (beyond l.n), the window's end,
// and whether the refusal is quiet (not the window's first). rule is the
// refusing block's rule ("" for the rate limit): a window of another rule
// is ended now (a block replaced by one of another rule), so that each
// summary names one rule. The caller holds l.mu.
func (l *limiter) count(k [16]byte, t int64, rule string, out []rateSummary) (refused bool, end int64, quiet bool, _ []rateSummary) {
	w := l.m[k] // one lookup: the window is changed in place
	if w == nil || t >= w.end || w.rule != rule {
		if w != nil { // ended: the address's next window starts now
			if s, ok := w.summary(k, t); ok {
				out = append(out, s)
			}
			*w = window{end: t + int64(l.per), rule: rule}
		} else if len(l.m) >= l.max {
			out = l.makeRoom(t, out)
		}
		if t-l.lastGC >= int64(l.per) && len(l.m) > 0 {
			out = l.sweep(t, out)
		}
		if w == nil {
			w = &window{end: t + int64(l.per), rule: rule}
			l.m[k] = w
		}
	}
	w.seen = t
	if w.n < l.n {
		w.n++
		return false, w.end, false, out
	}
	w.refused++
	l.refused++
	if w.refused > 1 {
		w.quiet++
		l.quiet++
		quiet = true
	}
	return true, w.end, quiet, out
}

// take removes k's window at t (its address is no longer refused: the
// block ended) and returns its summary, if any.
func (l *limiter) take(k [16]byte, t int64) (rateSummary, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.m[k]
	if w == nil {
		return rateSummary{}, false
	}
	delete(l.m, k)
	return w.summary(k, t)
}

// flush returns the summaries of every window's quiet refusals so far, at
// t, and sets their counts to zero; the windows stay, so that a later
// refusal in one is still quiet, counted into the window's next summary.
func (l *limiter) flush(t int64, out []rateSummary) []rateSummary {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, w := range l.m {
		if s, ok := w.summary(k, t); ok {
			out = append(out, s)
			w.quiet = 0
		}
	}
	return out
}

// sweep removes the ended windows (their summaries appended to out); the
// caller holds l.mu.
func (l *limiter) sweep(t int64, out []rateSummary) []rateSummary {
	l.lastGC = t
	for k, w := range l.m {
		if t >= w.end {
			if s, ok := w.summary(k, t); ok {
				out = append(out, s)
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
	if s, ok := vw.summary(vk, t); ok {
		out = append(out, s)
	}
	return out
}

// emitRateLimited emits the security.rate_limited summary of a window's
// quiet refusals (audit.detect.count): the rate limit's (security_rule.name
// rate_limit) or a blocked address's (the block's rule), scope address;
// audit.block.expires_at is the end of the counted period.
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
		semconv.SecurityRuleNameKey.String(cmp.Or(s.rule, RuleRateLimit)),
		semconv.AuditBlockScopeKey.String(string(ScopeAddress)),
		semconv.ClientAddressKey.String(netip.AddrFrom16(s.addr).Unmap().String()),
		semconv.AuditDetectCountKey.Int(s.count),
		semconv.AuditBlockExpiresAtKey.String(time.Unix(0, s.end).UTC().Format(time.RFC3339Nano)),
	)
	box.l.Emit(context.Background(), r)
}
