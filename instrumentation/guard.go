package instrumentation

import (
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"
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
// reported (detect/guard counts the refusals of an address after the
// first of a window — of its rate limit, or of a block — into one
// security.rate_limited summary). A quiet refusal is
// answered 429 like any other but emits no event (no response event, nor
// a security.suspicious_request one), and is answered as soon as the
// client address is resolved, before the middleware builds anything else
// for the request (no request id; the session id source is not called);
// Stats counts it in BlockedQuiet. WithGuard uses RefuseAddressQuiet when
// the guard has it.
type QuietGuard interface {
	Guard
	RefuseAddressQuiet(addr string) (refused bool, retryAfter time.Duration, rule, scope string, quiet bool)
}

// WithGuard sets the guard asked before the handler of every audited
// request (ignored paths pass unguarded): a refused request is answered
// 429 Too Many Requests with Retry-After (the seconds until the block
// ends, rounded up), the handler does not run, and its
// http.response.client_error event carries the block's security_rule.name
// and audit.block.scope. A nil guard is ignored, and so is a guard that
// says, through an Enabled() bool method, that it refuses nothing
// (detect/guard's *Guard with blocking off): the middleware then resolves
// the client address only when an event or a handler asks for it, as
// without a guard. Such a guard must not start refusing later.
func WithGuard(g Guard) Option {
	return optionFunc(func(c *config) {
		if g != nil {
			c.guard = g
		}
	})
}

// AddrGuard is a [QuietGuard] that also takes the client address parsed
// (detect/guard's *Guard implements it): the middleware hands over the
// address it resolved, unmapped and without a zone, so that the guard
// does not parse its text again. WithGuard uses RefuseAddr when the guard
// has it; its answers are those of RefuseAddressQuiet for the address's
// text.
type AddrGuard interface {
	QuietGuard
	RefuseAddr(addr netip.Addr) (refused bool, retryAfter time.Duration, rule, scope string, quiet bool)
}

// inert reports whether g says it refuses nothing: an Active method that
// reports false (detect/guard's Guard with neither blocking nor a rate
// limit, settings fixed when it is built).
func inert(g Guard) bool {
	a, ok := g.(interface{ Active() bool })
	return ok && !a.Active()
}

// guardCalls is the guard with its optional interfaces asserted once, at
// construction.
type guardCalls struct {
	g     Guard
	quiet QuietGuard // nil: g is not one
	addr  AddrGuard  // nil: g is not one
}

func newGuardCalls(g Guard) guardCalls {
	c := guardCalls{g: g}
	c.quiet, _ = g.(QuietGuard)
	c.addr, _ = g.(AddrGuard)
	return c
}

// blocked is a guard's loud refusal of a request, kept for its answer
// and its event.
type blocked struct {
	rule, scope string
	retry       time.Duration
}

// refusal is the guard's answer for a request.
type refusal struct {
	refused, quiet bool
	retry          time.Duration
	rule, scope    string
}

// ask asks the guard about a request's client address (client its text,
// addr its parsed form, the zero Addr when there is none).
func (gc *guardCalls) ask(client string, addr netip.Addr) (r refusal) {
	switch {
	case gc.addr != nil:
		if !addr.IsValid() { // no address to refuse: as RefuseAddressQuiet("")
			return refusal{}
		}
		r.refused, r.retry, r.rule, r.scope, r.quiet = gc.addr.RefuseAddr(addr)
	case gc.quiet != nil:
		r.refused, r.retry, r.rule, r.scope, r.quiet = gc.quiet.RefuseAddressQuiet(client)
	default:
		r.refused, r.retry, r.rule, r.scope = gc.g.RefuseAddress(client)
	}
	return r
}

// The 429's header values and body, built once: what http.Error writes
// (Content-Type, X-Content-Type-Options, the message and a newline), set
// as canonical map entries without http.Error's key canonicalisation,
// allocations and formatting. The value slices are shared by every
// refusal, read-only: their length is their capacity, so Header.Add
// copies them before appending, and Header.Set replaces them.
var (
	textPlainValue = []string{"text/plain; charset=utf-8"}
	noSniffValue   = []string{"nosniff"}
	tooManyBody    = []byte("too many requests\n")
)

// retryAfterCache holds Retry-After values by their seconds, direct-mapped:
// a flood from one address asks for the same few values over and over,
// which then cost no allocation; a miss builds the value (and replaces the
// slot's).
var retryAfterCache [256]atomic.Pointer[retryAfterValue]

type retryAfterValue struct {
	secs int64
	v    []string // len == cap: shared read-only, like textPlainValue
}

// retryAfter is the Retry-After header value of secs (>= 1).
func retryAfter(secs int64) []string {
	slot := &retryAfterCache[uint64(secs)%uint64(len(retryAfterCache))]
	if e := slot.Load(); e != nil && e.secs == secs {
		return e.v
	}
	e := &retryAfterValue{secs: secs, v: []string{strconv.FormatInt(secs, 10)}}
	slot.Store(e)
	return e.v
}

// refuseQuietly answers a quiet refusal: 429 and nothing else, before
// the middleware builds anything for the request, since a quiet refusal
// has no event (the guard counts it into its summary).
func (m *Middleware) refuseQuietly(w http.ResponseWriter, r refusal) {
	m.stats.blocked.Add(1)
	m.stats.blockedQuiet.Add(1)
	writeTooManyRequests(w, r.retry)
}

// block answers a loud refusal (x.blocked, which the response event
// reads) 429.
func (m *Middleware) block(w http.ResponseWriter, x *exchange) {
	m.stats.blocked.Add(1)
	writeTooManyRequests(w, x.blocked().retry)
}

// writeTooManyRequests writes the 429: what http.Error writes, with
// Retry-After (the seconds of retry, rounded up, at least 1).
func writeTooManyRequests(w http.ResponseWriter, retry time.Duration) {
	secs := max(1, int64((retry+time.Second-1)/time.Second))
	h := w.Header()
	delete(h, "Content-Length") // it might be for some other content
	h["Content-Type"] = textPlainValue
	h["X-Content-Type-Options"] = noSniffValue
	h["Retry-After"] = retryAfter(secs)
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write(tooManyBody)
}
