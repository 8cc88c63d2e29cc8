package guard

import "time"

// RefuseAddress is [Guard.CheckAddress] in the shape of the audit
// middleware's guard (instrumentation.Guard, instrumentation.WithGuard): a
// refused request is answered 429 with Retry-After before its handler, and
// its response event carries rule (security_rule.name) and scope
// (audit.block.scope). A nil or disabled guard, or one holding no block,
// costs an atomic load at most and refuses nothing.
func (g *Guard) RefuseAddress(addr string) (refused bool, retryAfter time.Duration, rule, scope string) {
	d := g.CheckAddress(addr)
	return d.Blocked, d.RetryAfter, d.Rule, string(d.Scope)
}
