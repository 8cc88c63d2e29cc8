package guard

import (
	"net/netip"
	"time"
)

// RefuseAddress is [Guard.CheckAddress] and the rate limit in the shape of
// the audit middleware's guard (instrumentation.Guard,
// instrumentation.WithGuard): a refused request is answered 429 with
// Retry-After before its handler, and its response event carries rule
// (security_rule.name) and scope (audit.block.scope). A nil or disabled
// guard, or one holding no block and with no rate limit, costs an atomic
// load at most and refuses nothing.
func (g *Guard) RefuseAddress(addr string) (refused bool, retryAfter time.Duration, rule, scope string) {
	refused, retryAfter, rule, scope, _ = g.RefuseAddressQuiet(addr)
	return refused, retryAfter, rule, scope
}

// RefuseAddressQuiet is [Guard.RefuseAddress] that also reports whether a
// refusal is quiet, so that the middleware emits no event of its own for
// it: a refusal after the first of its address's window, which the guard
// counts into the window's security.rate_limited summary. The rate limit's
// window is its own (WithRateLimit); a blocked address's refusals have a
// window of one minute from its first refusal, whose summary names the
// block's rule and scope, and is emitted at the address's first refusal
// after the window, or when the block ends here (before its
// security.block.lifted), or at [Guard.Flush]. A blocked address is
// checked first; an allowlisted one is never rate limited.
func (g *Guard) RefuseAddressQuiet(addr string) (refused bool, retryAfter time.Duration, rule, scope string, quiet bool) {
	if g == nil || (g.rl == nil && (!g.enabled || g.count.Load() == 0)) {
		return false, 0, "", "", false
	}
	a, ok := parse(addr)
	if !ok {
		return false, 0, "", "", false
	}
	return g.RefuseAddr(a)
}

// RefuseAddr is [Guard.RefuseAddressQuiet] for an address already parsed
// (instrumentation.AddrGuard: the audit middleware hands over the client
// address it resolved, so that it is not parsed twice). An IPv4-mapped
// IPv6 address is its IPv4 address; the zone is ignored; the zero Addr
// refuses nothing.
func (g *Guard) RefuseAddr(a netip.Addr) (refused bool, retryAfter time.Duration, rule, scope string, quiet bool) {
	if g == nil || !a.IsValid() {
		return false, 0, "", "", false
	}
	if a.Is4In6() || a.Zone() != "" {
		a = a.Unmap().WithZone("")
	}
	if g.enabled && g.count.Load() != 0 {
		k := a.As16()
		if d := g.check(key{addr: k}); d.Blocked {
			return true, d.RetryAfter, d.Rule, string(d.Scope), g.refusedBlocked(k, d.Rule)
		}
	}
	if g.rl == nil || g.allowed(a) {
		return false, 0, "", "", false
	}
	refused, retryAfter, quiet = g.rate(a)
	if !refused {
		return false, 0, "", "", false
	}
	return true, retryAfter, RuleRateLimit, string(ScopeAddress), quiet
}

// refusedBlocked counts a refusal of the blocked address k (its block's
// rule) in the address's window of refusals (one minute from its first)
// and reports whether it is quiet: not the window's first, counted into
// the window's security.rate_limited summary, emitted at the address's
// first refusal after the window, when its block ends here, when the
// window is swept or evicted, or at [Guard.Flush].
func (g *Guard) refusedBlocked(k [16]byte, rule string) (quiet bool) {
	l := g.br
	t := g.now().UnixNano()
	var out []rateSummary
	l.mu.Lock()
	_, _, quiet, out = l.count(k, t, rule, out)
	l.mu.Unlock()
	for _, s := range out {
		g.emitRateLimited(s)
	}
	return quiet
}
