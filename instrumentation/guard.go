package instrumentation

import (
	"net/http"
	"strconv"
	"time"
)

// Guard says whether a request from a client address is refused before its
// handler runs: detection's response (detect/guard's *Guard implements it;
// setup.Pipeline.Guard returns one). RefuseAddress gets the request's
// client.address (after the trusted proxies) and reports whether it is
// refused, for how long, and the block's rule (security_rule.name) and
// scope (audit.block.scope). It must be quick and safe for concurrent use.
type Guard interface {
	RefuseAddress(addr string) (refused bool, retryAfter time.Duration, rule, scope string)
}

// QuietGuard is a [Guard] that may answer that a refusal is quiet: already
// reported (detect/guard's rate limit counts a window's refusals after the
// first into one security.rate_limited summary). A quiet refusal is
// answered 429 like any other but emits no response event; Stats counts
// it in BlockedQuiet. WithGuard uses RefuseAddressQuiet when the guard
// has it.
type QuietGuard interface {
	Guard
	RefuseAddressQuiet(addr string) (refused bool, retryAfter time.Duration, rule, scope string, quiet bool)
}

// WithGuard sets the guard asked before the handler of every audited
// request (ignored paths pass unguarded): a refused request is answered
// 429 Too Many Requests with Retry-After (the seconds until the block
// ends, rounded up), the handler does not run, and its
// http.response.client_error event carries the block's security_rule.name
// and audit.block.scope. A nil guard is ignored.
func WithGuard(g Guard) Option {
	return optionFunc(func(c *config) {
		if g != nil {
			c.guard = g
		}
	})
}

// blocked is a guard's refusal of a request, kept for its event.
type blocked struct {
	rule, scope string
	quiet       bool // no event: counted by the guard
}

// block answers 429 when the guard refuses x's client address; it reports
// whether it did.
func (m *Middleware) block(w http.ResponseWriter, x *exchange) bool {
	var refused, quiet bool
	var retry time.Duration
	var rule, scope string
	if q, ok := m.guard.(QuietGuard); ok {
		refused, retry, rule, scope, quiet = q.RefuseAddressQuiet(x.req.ClientAddress)
	} else {
		refused, retry, rule, scope = m.guard.RefuseAddress(x.req.ClientAddress)
	}
	if !refused {
		return false
	}
	m.stats.blocked.Add(1)
	x.blocked = &blocked{rule: rule, scope: scope, quiet: quiet}
	secs := max(1, int64((retry+time.Second-1)/time.Second))
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	http.Error(w, "too many requests", http.StatusTooManyRequests)
	return true
}
