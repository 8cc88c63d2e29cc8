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
// refusal is quiet: a rate-limit refusal after the first of its address's
// window, which the guard counts into the window's security.rate_limited
// summary (emitted at the first check after the window ends), so the
// middleware emits no event of its own for it. A blocked address is
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
		if d := g.check(key{addr: a.As16()}); d.Blocked {
			return true, d.RetryAfter, d.Rule, string(d.Scope), false
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
