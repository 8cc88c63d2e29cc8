package secaudit

import (
	"context"
	"net/http"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"

	"github.com/secaudit/secaudit/internal/reqctx"
)

// User identifies the acting user of an event.
type User struct {
	// ID is the application's stable id of the user (emitted as user.id).
	ID string
	// Name is the login name; emitted as user.name only when usernames are
	// enabled ([WithUsernames]), because it is personal data.
	Name string
}

// IsZero reports whether u identifies nobody.
func (u User) IsZero() bool { return u.ID == "" && u.Name == "" }

// Request holds the facts about the HTTP request an event belongs to. The
// instrumentation middleware creates one per request and stores it in the
// request's context with [ContextWithRequest]; every event emitted with that
// context carries these facts.
//
// Fields are set before the Request is stored in a context and must not be
// changed afterwards, except through the methods, which are safe for
// concurrent use. A Request must not be copied after first use. The
// instrumentation middleware sets ID, ClientAddress and PeerAddress when
// they are first asked for — by [RequestFromContext] or by an event — so
// that a request nobody asks about costs neither a random id nor an
// address parse: read a Request through RequestFromContext.
//
// The fields may share memory with the request (the method and path are
// substrings of the request line, which holds the query too): events never
// carry them as they are but copies of their own, the short ones made once
// per Request at its first event, so a record waiting in a queue keeps
// only its own values alive, never the request.
type Request struct {
	// ID is the request id: 32 lowercase hex characters (audit.request_id).
	ID string
	// ClientAddress is the client address resolved with trusted proxies.
	ClientAddress string
	// PeerAddress is the socket peer's address.
	PeerAddress string
	// Method is the HTTP method.
	Method string
	// Path is the URL path, without the query.
	Path string
	// SessionID is the opaque audit session id, when enabled.
	SessionID string
	// Attributes are further facts about the request that every event of
	// it carries, after the fields above, unless the event sets the same
	// key itself. Adapters for other protocols fill them (the gRPC
	// interceptors put rpc.system.name and rpc.method here). They are not
	// copied: their values must not share memory with request buffers.
	Attributes []attribute.KeyValue

	// mu guards route, user, source, pattern and copies. A plain mutex:
	// the request's goroutine takes it a few times per request (SetUser,
	// an event), rarely with another goroutine at the same time.
	mu      sync.Mutex
	route   string
	user    User
	source  RouteSource
	pattern *http.Request
	copies  string // the short fields' copies for records (see eventFacts)
}

// factsInline is the room for the copies of the short fields that a
// Request's events share: a request id, two IPv6 addresses, a method, a
// path of usual length and a session id fit. A field that does not fit is
// copied for each event instead: a record keeps the shared copies alive
// through its short fields, and must not keep a long one with them.
const factsInline = 256

// Indexes of the fields in eventFacts.fields, in the order they are laid
// out in Request.copies.
const (
	fID = iota
	fClient
	fPeer
	fMethod
	fSession
	fPath
	nFields
)

// eventFacts is what an event takes from its Request: the user, the route,
// and copies of the fields (indexed by fID…fPath).
type eventFacts struct {
	user   User
	route  string
	fields [nFields]string
}

// eventFacts fills f for an event of r: one lock for the user, the route
// and the copies, which the first event makes (in one allocation of the
// short fields' bytes, without pointers: nothing for the GC to scan).
func (r *Request) eventFacts(f *eventFacts) {
	r.mu.Lock()
	f.user = r.user
	route, pat := r.route, r.pattern
	if route == "" && r.source != nil {
		// Under the lock: SetRouteSource(nil) waits for the reads in
		// progress, so no event reads a router's state once the router
		// may reuse it.
		route = r.source.Route()
	}
	if r.copies == "" {
		r.copies = r.joinShort()
	}
	copies := r.copies
	r.mu.Unlock()
	if route == "" && pat != nil {
		route = RouteFromPattern(pat.Pattern)
	}
	f.route = route
	// Split the copies as joinShort laid them out (the fields never
	// change once the Request is shared); a field left out gets a copy
	// of its own.
	room := factsInline
	own := func(s string) string {
		if len(s) > room {
			return strings.Clone(s)
		}
		c := copies[:len(s)]
		copies, room = copies[len(s):], room-len(s)
		return c
	}
	f.fields[fID] = own(r.ID)
	f.fields[fClient] = own(r.ClientAddress)
	f.fields[fPeer] = own(r.PeerAddress)
	f.fields[fMethod] = own(r.Method)
	f.fields[fSession] = own(r.SessionID)
	f.fields[fPath] = own(r.Path)
}

// joinShort returns r's fields that fit, in the order eventFacts splits
// them, in factsInline bytes, joined: one new string.
func (r *Request) joinShort() string {
	var b strings.Builder
	if n := len(r.ID) + len(r.ClientAddress) + len(r.PeerAddress) + len(r.Method) + len(r.SessionID) + len(r.Path); n <= factsInline {
		// All of them, the usual case.
		b.Grow(n)
		b.WriteString(r.ID)
		b.WriteString(r.ClientAddress)
		b.WriteString(r.PeerAddress)
		b.WriteString(r.Method)
		b.WriteString(r.SessionID)
		b.WriteString(r.Path)
		return b.String()
	}
	for _, s := range [...]string{r.ID, r.ClientAddress, r.PeerAddress, r.Method, r.SessionID, r.Path} {
		if len(s) <= factsInline-b.Len() {
			b.WriteString(s)
		}
	}
	return b.String()
}

// RouteSource gives the route pattern a router matched for a request, read
// when an event needs it: a router adapter records one on the request's
// facts (see [Request.SetRouteSource]) before the router has matched, so
// that events emitted during the handler carry the pattern the router
// settled on by then. Route returns "" while there is none (unmatched, or
// not routed yet). The string it returns goes into records as it is: it
// must be the router's own pattern (or a string of its own), never a part
// of request data. Route is called with the Request's lock held: it must
// not call the Request's methods.
type RouteSource interface {
	Route() string
}

// SetPatternSource makes Route fall back to the route pattern that a
// router records on req (Go 1.22 ServeMux sets req.Pattern before calling
// the handler), so events emitted during the request carry the route
// without a second routing pass. req must be the request the router
// routes: when middlewares between the audit middleware and the ServeMux
// pass copies of the request on, the mux records the pattern on a copy, so
// call it again with that copy (instrumentation.Route does it). A nil
// Request ignores it.
func (r *Request) SetPatternSource(req *http.Request) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.pattern = req
	r.mu.Unlock()
}

// SetRouteSource makes Route read the route from src, when SetRoute gave
// none, until the source is removed: the holder through which a router
// adapter, running outside the router's matching, puts the pattern the
// router matched on every event of the request. SetRouteSource(nil)
// removes the source and keeps the route it gives at that moment (unless
// SetRoute gave one): an adapter whose source is the router's per-request
// state, which the router reuses for later requests (chi and gin pool
// theirs), calls it before the router takes that state back; it returns
// once no event reads the source any more. A nil Request ignores it.
func (r *Request) SetRouteSource(src RouteSource) {
	if r == nil {
		return
	}
	if src != nil {
		r.mu.Lock()
		r.source = src
		r.mu.Unlock()
		return
	}
	r.mu.Lock()
	old, set := r.source, r.route != ""
	r.mu.Unlock()
	if old == nil {
		return
	}
	var last string
	if !set {
		last = old.Route() // outside the lock: the source is the router's code
	}
	r.mu.Lock()
	if r.route == "" {
		r.route = last
	}
	if r.source == old {
		r.source = nil
	}
	r.mu.Unlock()
}

// SetRoute records the request's route pattern (e.g. "/api/accounts/{id}").
// Routers call it once they have matched; a nil Request ignores it. It keeps
// a copy of route, which may be a part of request data. A route set with
// SetRoute wins over a route source and a pattern source.
func (r *Request) SetRoute(route string) {
	if r == nil || route == "" {
		return
	}
	route = strings.Clone(route)
	r.mu.Lock()
	r.route = route
	r.mu.Unlock()
}

// Route returns the route recorded with SetRoute; without one, what the
// route source gives (see SetRouteSource); without that, the pattern the
// router recorded on the pattern source (see SetPatternSource) without its
// method and host ("/api/accounts/{id}"); or "".
func (r *Request) Route() string {
	if r == nil {
		return ""
	}
	r.mu.Lock()
	route, src, pat := r.route, r.source, r.pattern
	if route == "" && src != nil {
		// Under the lock: SetRouteSource(nil) waits for the reads in
		// progress, so no event reads a router's state once the router
		// may reuse it.
		route = src.Route()
	}
	r.mu.Unlock()
	if route == "" && pat != nil {
		route = RouteFromPattern(pat.Pattern)
	}
	return route
}

// RouteFromPattern returns the path part of a ServeMux pattern: "GET
// example.com/api/{id}" gives "/api/{id}"; a pattern without a path gives "".
func RouteFromPattern(pattern string) string {
	if i := strings.IndexByte(pattern, '/'); i >= 0 {
		return pattern[i:]
	}
	return ""
}

// SetUser records who is acting in this request. The last call wins; a zero
// User clears it. A nil Request ignores it.
func (r *Request) SetUser(u User) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.user = u
	r.mu.Unlock()
}

// User returns the user recorded with SetUser, or the zero User.
func (r *Request) User() User {
	if r == nil {
		return User{}
	}
	r.mu.Lock()
	u := r.user
	r.mu.Unlock()
	return u
}

// ContextWithRequest returns a copy of ctx that carries req.
func ContextWithRequest(ctx context.Context, req *Request) context.Context {
	if ctx == nil {
		panic("cannot create context from nil parent") // as context.WithValue
	}
	return &reqctx.Node{Context: ctx, Val: req}
}

// RequestFromContext returns the Request stored in ctx, or nil.
func RequestFromContext(ctx context.Context) *Request {
	if ctx == nil {
		return nil
	}
	return requestOf(ctx)
}

// RequestForUpdate returns the Request stored in ctx, or nil, as
// [RequestFromContext] does, but without completing the fields the
// instrumentation middleware fills when they are first asked for: ID,
// ClientAddress and PeerAddress may still be empty. It is for a middleware
// that only sets facts (a router adapter's SetRouteSource on every
// request, an authentication middleware's SetUser), so that a request no
// event follows costs no request id and no address parse. Read the fields
// through RequestFromContext.
func RequestForUpdate(ctx context.Context) *Request {
	if ctx == nil {
		return nil
	}
	return rawRequestOf(ctx)
}

// requestOf is RequestFromContext for a context that is not nil.
func requestOf(ctx context.Context) *Request {
	req, _ := ctx.Value(reqctx.Key{}).(*Request)
	return req
}

// rawRequestOf is the Request in ctx (not nil) for a call that reads
// none of the facts the middleware fills when first asked for (ID,
// ClientAddress, PeerAddress): naming the user, reading it.
func rawRequestOf(ctx context.Context) *Request {
	req, _ := ctx.Value(reqctx.RawKey{}).(*Request)
	return req
}

// SetUser records u as the acting user of the request in ctx, so that the
// request's http.response event and every later event of the request carry
// it. Call it from the application's authentication middleware or handler. It
// reports whether ctx carried a request.
func SetUser(ctx context.Context, u User) bool {
	if ctx == nil {
		return false
	}
	req := rawRequestOf(ctx)
	if req == nil {
		return false
	}
	req.SetUser(u)
	return true
}
