package instrumentation

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/internal/bodycapture"
	"github.com/secaudit/secaudit/internal/clientip"
	"github.com/secaudit/secaudit/internal/httpstatus"
	"github.com/secaudit/secaudit/internal/panicattr"
	"github.com/secaudit/secaudit/internal/probe"
	"github.com/secaudit/secaudit/internal/reqctx"
	"github.com/secaudit/secaudit/internal/reqid"
	"github.com/secaudit/secaudit/internal/respwriter"
	"github.com/secaudit/secaudit/internal/sampling"
	"github.com/secaudit/secaudit/semconv"
)

// SessionIDSource gives the opaque audit session id of a request: an id the
// application keeps in its session for auditing (for instance a random id
// minted at login), never the session cookie or the framework's session
// key. It is called before the handler and, when it returned "", once more
// after it (so a session created by the request, such as at login, is on
// the response event). It must be safe for concurrent use; a panic is
// recovered and counted.
type SessionIDSource interface {
	AuditSessionID(r *http.Request) string
}

// SessionIDFunc adapts a function to [SessionIDSource].
type SessionIDFunc func(r *http.Request) string

// AuditSessionID returns f(r).
func (f SessionIDFunc) AuditSessionID(r *http.Request) string { return f(r) }

var _ SessionIDSource = SessionIDFunc(nil)

// Middleware audits HTTP requests. Build it with [New]; it is immutable and
// safe for concurrent use. A nil *Middleware wraps nothing.
type Middleware struct {
	auditor      *secaudit.Auditor
	logOK        bool
	query        bool
	sampleRate   float64
	sampleKey    sampling.Key
	ignorePaths  []*regexp.Regexp
	ignoreStatus httpstatus.Set
	resolver     *clientip.Resolver
	body         *bodycapture.Capturer
	routeFunc    func(*http.Request) string
	sessions     SessionIDSource
	suspicious   bool
	gate         Gate
	strictRoutes []*regexp.Regexp
	guard        guardCalls // g nil: no guard

	// spanChecked: the first audited request was looked at for a span (and
	// the application told when it had none).
	spanChecked atomic.Bool

	stats counters
}

// Stats counts what a Middleware did. Requests = Emitted + IgnoredStatus +
// OKNotLogged + SampledOut (each audited request ends in exactly one).
type Stats struct {
	// Requests audited (not on an ignored path).
	Requests uint64
	// IgnoredPaths: requests passed through untouched (WithIgnorePaths).
	IgnoredPaths uint64
	// IgnoredStatus: requests whose status is ignored (WithIgnoreStatusCodes).
	IgnoredStatus uint64
	// OKNotLogged: 1xx–3xx responses while OK responses are not logged.
	OKNotLogged uint64
	// SampledOut: 1xx–3xx responses dropped by the sample rate.
	SampledOut uint64
	// Emitted: http.response events handed to the Auditor.
	Emitted uint64
	// Suspicious: security.suspicious_request events handed to the Auditor.
	Suspicious uint64
	// Panics: handler panics audited as server_error (then re-panicked).
	Panics uint64
	// CallbackPanics: panics recovered from the route func or the session
	// id source.
	CallbackPanics uint64
	// AuditPanics: panics recovered while recording a request (its events
	// may be lost); expected to stay 0.
	AuditPanics uint64
	// StrictRefused: requests on strict routes answered 503 because the
	// audit pipeline could not record them (WithStrictRoutes).
	StrictRefused uint64
	// Blocked: requests answered 429 because the guard refused their
	// client address (WithGuard).
	Blocked uint64
	// BlockedQuiet: of Blocked, the refusals the guard reported as quiet
	// (QuietGuard): counted into its summary, no response event of their
	// own.
	BlockedQuiet uint64
}

type counters struct {
	requests, ignoredPaths, ignoredStatus, okNotLogged, sampledOut,
	emitted, suspicious, panics, callbackPanics, auditPanics, strictRefused, blocked, blockedQuiet atomic.Uint64
}

// New returns a Middleware configured by opts and, for what they leave
// unset, by the SECAUDIT_* environment (see the package documentation). An
// invalid option or environment value is an error that names it.
func New(opts ...Option) (*Middleware, error) { return resolve(opts) }

// NewMiddleware returns the Middleware of [New] as a net/http middleware
// function.
func NewMiddleware(opts ...Option) (func(http.Handler) http.Handler, error) {
	m, err := New(opts...)
	if err != nil {
		return nil, err
	}
	return m.Wrap, nil
}

// NewHandler returns h audited by the Middleware of [New].
func NewHandler(h http.Handler, opts ...Option) (http.Handler, error) {
	m, err := New(opts...)
	if err != nil {
		return nil, err
	}
	return m.Wrap(h), nil
}

// Wrap returns next audited by m. A nil m returns next.
func (m *Middleware) Wrap(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return &handler{m: m, next: next}
}

// Stats returns m's counters.
func (m *Middleware) Stats() Stats {
	if m == nil {
		return Stats{}
	}
	c := &m.stats
	return Stats{
		Requests: c.requests.Load(), IgnoredPaths: c.ignoredPaths.Load(),
		IgnoredStatus: c.ignoredStatus.Load(), OKNotLogged: c.okNotLogged.Load(),
		SampledOut: c.sampledOut.Load(), Emitted: c.emitted.Load(),
		Suspicious: c.suspicious.Load(), Panics: c.panics.Load(),
		CallbackPanics: c.callbackPanics.Load(), AuditPanics: c.auditPanics.Load(),
		StrictRefused: c.strictRefused.Load(), Blocked: c.blocked.Load(), BlockedQuiet: c.blockedQuiet.Load(),
	}
}

type handler struct {
	m    *Middleware
	next http.Handler
}

var _ http.Handler = (*handler)(nil)

// exchange is the per-request state, in one allocation: the request
// facts, the handler's request (a copy of the one the middleware was
// given, with the exchange as its context) and the response observer. The
// exchange is itself the handler's context: the context of the request as
// it came (orig), plus the facts under reqctx.Key and reqctx.RawKey (see
// Value), which costs no node of its own. It is never pooled or reused:
// the handler may keep its request or its context
// (context.WithoutCancel(r.Context()) in a goroutine), or the request id,
// past the request. Records never keep it alive: they carry copies of the
// request facts (see secaudit.Request). Its size class matters on every
// request, audited or not: it stays within 640 bytes (TestExchangeSize),
// so what few requests need is held by pointer (rare), and what orig
// keeps as it came (the parent context, the peer, Host, TLS) is read from
// there, not copied. (Beyond 512 bytes an object with pointers carries an
// 8-byte malloc header: 632 bytes is the most that fits 640.)
type exchange struct {
	req    secaudit.Request
	r2     http.Request // the handler's request: *orig with the exchange as its context
	writer respwriter.Writer
	start  time.Duration // since clockBase: the monotonic clock, read cheaper than time.Now
	rare   *rareFacts    // what few requests have, when the request has any of it
	orig   *http.Request // the request the middleware was given: its context, Host, TLS and RemoteAddr are as they came
	id     [32]byte      // the request id's text; req.ID points into it
	filled atomic.Uint32 // factsPending, factsFilling or factsFilled (see FillFacts)
	// lazyOrigin: the client and peer addresses are left for FillFacts,
	// which resolves orig.RemoteAddr (no trusted proxies, no guard).
	lazyOrigin bool

	// The first User-Agent value, taken before the handler, which may
	// change the header map in place: the element of the request's own
	// header slice, which Header.Set, Add and Del leave as it is (8 bytes
	// where its string would take 16); nil without one.
	userAgent *string
}

var _ context.Context = (*exchange)(nil)

// Deadline returns the deadline of the request's context.
func (x *exchange) Deadline() (time.Time, bool) { return x.orig.Context().Deadline() }

// Done returns the done channel of the request's context.
func (x *exchange) Done() <-chan struct{} { return x.orig.Context().Done() }

// Err returns the error of the request's context.
func (x *exchange) Err() error { return x.orig.Context().Err() }

// Value returns the request facts for reqctx.Key (completed first, see
// FillFacts) and reqctx.RawKey (as they are), as a reqctx.Node would, and
// asks the request's context for any other key.
func (x *exchange) Value(key any) any {
	switch key.(type) {
	case reqctx.Key:
		x.FillFacts()
		return &x.req
	case reqctx.RawKey:
		return &x.req
	}
	return x.orig.Context().Value(key)
}

// String describes the context like the contexts of package context
// describe themselves, without printing the facts.
func (x *exchange) String() string {
	n := reqctx.Node{Context: x.orig.Context()}
	return n.String()
}

// agent returns the request's first User-Agent value as it came, or "".
func (x *exchange) agent() string {
	if x.userAgent == nil {
		return ""
	}
	return *x.userAgent
}

// The states of exchange.filled.
const (
	factsPending uint32 = iota
	factsFilling
	factsFilled
)

// clockBase is the origin of exchange.start: time.Since of a time that
// has a monotonic reading reads only the monotonic clock.
var clockBase = time.Now()

// FillFacts sets the request's id and, when begin left it for later, its
// client and peer addresses, the first time they are asked for (an event,
// secaudit.RequestFromContext): most requests (a 200 while OK responses are
// not audited) never need them. The values are those begin would have
// set: a new random id, the addresses of the peer the request came from.
// Safe for concurrent use: a second caller waits for the first.
func (x *exchange) FillFacts() {
	if x.filled.Load() != factsFilled {
		x.fill()
	}
}

//go:noinline
func (x *exchange) fill() {
	if !x.filled.CompareAndSwap(factsPending, factsFilling) {
		for x.filled.Load() != factsFilled {
			runtime.Gosched() // another goroutine is filling: a few hundred instructions
		}
		return
	}
	x.req.ID = x.newRequestID()
	if x.lazyOrigin {
		// Without trusted proxies the origin is the peer alone: the same
		// answer now as at the start (orig is the request as it came; the
		// handler changes only its copy).
		origin := noProxies.Resolve(x.orig.RemoteAddr, nil)
		x.req.ClientAddress, x.req.PeerAddress = origin.Client, origin.Peer
	}
	x.filled.Store(factsFilled)
}

// noProxies resolves origins without trusted proxies.
var noProxies *clientip.Resolver

// rareFacts are what few requests have, kept out of the exchange, which
// every request allocates: one allocation for a request that has any.
type rareFacts struct {
	suspect   suspicion          // the probe rule the request matched (when isSuspect)
	blocked   blocked            // the guard's loud refusal (when isBlocked)
	bodyAttr  attribute.KeyValue // the captured body (WithRequestBody), if any (Key not "")
	rawPath   string             // the URL's RawPath, when it has one (an unusual escaping)
	query     string             // the raw query, when url.query is enabled and the request has one
	isSuspect bool
	isBlocked bool
}

// rareFacts returns x.rare, made at the first call.
func (x *exchange) rareFacts() *rareFacts {
	if x.rare == nil {
		x.rare = new(rareFacts)
	}
	return x.rare
}

// suspect returns the probe rule the request matched, or nil.
func (x *exchange) suspect() *suspicion {
	if x.rare == nil || !x.rare.isSuspect {
		return nil
	}
	return &x.rare.suspect
}

// blocked returns the guard's loud refusal of the request, or nil.
func (x *exchange) blocked() *blocked {
	if x.rare == nil || !x.rare.isBlocked {
		return nil
	}
	return &x.rare.blocked
}

// suspicion is what the probe rules found in a request.
type suspicion struct {
	rule     string // security_rule.name
	evidence string // audit.evidence: what the rule matched (a copy)
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := h.m
	if len(m.ignorePaths) > 0 && m.ignoredPath(r) {
		m.stats.ignoredPaths.Add(1)
		h.next.ServeHTTP(w, r)
		return
	}
	m.stats.requests.Add(1)
	if !m.spanChecked.Load() {
		m.checkSpan(r)
	}

	x, r2, ww := m.begin(w, r)
	if x == nil { // refused quietly: answered, nothing built
		return
	}

	completed := false
	defer func() {
		if r2.MultipartForm != nil {
			r.MultipartForm = r2.MultipartForm // so net/http removes its temp files
		}
		if completed {
			if !m.quiet(x) {
				m.record(r2, x, nil)
			}
			return
		}
		p := recover()
		m.record(r2, x, p)
		if p != nil {
			panic(p)
		}
	}()
	if x.blocked() != nil {
		m.block(ww, x)
		completed = true
		return
	}
	if m.refuse(ww, r2) {
		completed = true
		return
	}
	h.next.ServeHTTP(ww, r2)
	completed = true
}

// ignoredPath reports whether r's path matches WithIgnorePaths. It matches
// the escaped path, as the request wrote it: routers match segments in
// which %2F is not a separator, so the decoded path of
// /x/1%2F..%2Fhealthz would look like a /healthz it is not routed to. (No
// allocation when the path needs no escaping.) Not inlined, as begin.
//
//go:noinline
func (m *Middleware) ignoredPath(r *http.Request) bool {
	path := r.URL.EscapedPath()
	for _, re := range m.ignorePaths {
		if re.MatchString(path) {
			return true
		}
	}
	return false
}

// begin builds a request's exchange: its facts (the origin resolved and,
// with a guard, asked about), what url.full and the response event need,
// the handler's request with the context that carries the facts, and the
// response observer. A request the guard refuses quietly is answered here,
// before anything is built for it, and x is nil. Not inlined: ServeHTTP's
// frame stays under every handler's and the audit's frames, so what only
// the start needs (the origin, the guard's answer) is kept out of it.
//
//go:noinline
func (m *Middleware) begin(w http.ResponseWriter, r *http.Request) (x *exchange, r2 *http.Request, ww http.ResponseWriter) {
	var origin clientip.Result
	var refused refusal
	// Without trusted proxies nor a guard, the origin is resolved when
	// first asked for (FillFacts); else now: the guard needs it, and
	// X-Forwarded-For is read as it came (the handler may change it).
	eager := m.resolver.TrustsProxies() || m.guard.g != nil
	if eager {
		var xff []string // looked up only when a proxy is trusted to set it
		if m.resolver.TrustsProxies() {
			xff = r.Header[clientip.HeaderXForwardedFor]
		}
		origin = m.resolver.Resolve(r.RemoteAddr, xff)
		if m.guard.g != nil {
			if refused = m.guard.ask(origin.Client, origin.Addr); refused.refused && refused.quiet {
				m.refuseQuietly(w, refused)
				return nil, nil, nil
			}
		}
	}

	x = &exchange{start: time.Since(clockBase), orig: r}
	if refused.refused {
		rare := x.rareFacts()
		rare.blocked, rare.isBlocked = blocked{rule: refused.rule, scope: refused.scope, retry: refused.retry}, true
	}
	if eager {
		x.req.ClientAddress = origin.Client
		x.req.PeerAddress = origin.Peer
	} else {
		x.lazyOrigin = true
	}
	x.req.Method = r.Method
	x.req.Path = r.URL.Path
	if r.URL.RawPath != "" { // url.full's path is escaped from it and req.Path when an event needs it
		x.rareFacts().rawPath = r.URL.RawPath
	}
	if v := r.Header["User-Agent"]; len(v) > 0 {
		x.userAgent = &v[0]
	}
	if m.query && r.URL.RawQuery != "" {
		x.rareFacts().query = r.URL.RawQuery
	}
	if m.sessions != nil {
		x.req.SessionID = m.sessionID(r)
	}
	if m.suspicious {
		if rule, evidence := probe.Find(r.URL); rule != "" {
			rare := x.rareFacts()
			rare.suspect, rare.isSuspect = suspicion{rule: rule, evidence: evidence}, true
		}
	}

	// secaudit.ContextWithRequest and r.WithContext, without an
	// allocation of their own: WithContext is inlined, its copy stays on
	// the stack and is copied into the exchange.
	x.r2 = *r.WithContext(x)
	r2 = &x.r2
	if m.body != nil {
		kv, body := m.body.Capture(r)
		if kv.Key != "" {
			x.rareFacts().bodyAttr = kv
		}
		if body != nil {
			r2.Body = body
		}
	}
	// Events during the request read the route the router records on r2.
	x.req.SetPatternSource(r2)
	return x, r2, x.writer.Reset(w)
}

// quiet reports whether a request whose handler returned yields no event —
// no probe rule matched, no refusal, an OK status while OK responses are
// not logged — and then counts it: the common case, decided without
// record's deferred recovery (nothing here can panic).
func (m *Middleware) quiet(x *exchange) bool {
	if m.logOK || x.suspect() != nil || x.blocked() != nil {
		return false
	}
	status := x.writer.Status()
	if status == 0 {
		if x.writer.Hijacked() {
			return false // record tells a protocol switch apart
		}
		status = http.StatusOK
	}
	if status >= 400 || m.ignoreStatus.Has(int64(status)) {
		return false
	}
	m.stats.okNotLogged.Add(1)
	return true
}

// record emits the request's events after the handler. p is the value the
// handler panicked with, if any.
func (m *Middleware) record(r *http.Request, x *exchange, p any) {
	defer func() {
		if recover() != nil { // fail open: the request is not the audit's to break
			m.stats.auditPanics.Add(1)
		}
	}()
	ctx := r.Context()

	// The route is settled only for a request that yields an event, and
	// the duration read only then: when the handler was done, before the
	// events are built.
	var duration time.Duration
	if x.suspect() != nil {
		duration = time.Since(clockBase) - x.start
		m.emitSuspicious(ctx, r, x)
	}

	panicked := p != nil && p != http.ErrAbortHandler
	status := x.writer.Status()
	switch {
	case status != 0:
	case panicked:
		status = http.StatusInternalServerError
	case x.writer.Hijacked() && r.Header.Get("Upgrade") != "":
		status = http.StatusSwitchingProtocols
	default:
		status = http.StatusOK
	}
	if m.ignoreStatus.Has(int64(status)) {
		m.stats.ignoredStatus.Add(1)
		return
	}

	sampledAt := 0.0 // the rate this event was kept at, when sampling applied
	if !panicked && status < 400 {
		if !m.logOK {
			m.stats.okNotLogged.Add(1)
			return
		}
		if m.sampleRate < 1 {
			if !m.sampleIn(ctx, x) {
				m.stats.sampledOut.Add(1)
				return
			}
			sampledAt = m.sampleRate
		}
	}
	if x.suspect() == nil {
		duration = time.Since(clockBase) - x.start
	}
	m.emitResponse(ctx, r, x, p, status, duration, sampledAt)
}

// emitSuspicious emits the security.suspicious_request event of a request
// a probe rule matched (out of record's frame, as emitResponse).
//
//go:noinline
func (m *Middleware) emitSuspicious(ctx context.Context, r *http.Request, x *exchange) {
	m.resolveRoute(r, x)
	sus := x.suspect()
	m.auditor.SuspiciousRequest(ctx, sus.rule, semconv.AuditEvidenceKey.String(sus.evidence))
	m.stats.suspicious.Add(1)
}

// sampleIn reports whether the sample rate keeps the request's 1xx–3xx
// response event: drawn from the trace id, or the request id without one.
func (m *Middleware) sampleIn(ctx context.Context, x *exchange) bool {
	tid := trace.SpanContextFromContext(ctx).TraceID()
	var draw uint64
	if !tid.IsValid() {
		x.FillFacts()
		draw = m.sampleKey.Draw(x.req.ID)
	}
	return m.sampleKey.Keep(tid, m.sampleRate, draw)
}

// emitResponse builds and emits the http.response event of a request that
// has one (record decided it). It is kept out of record, whose frame every
// request pays for, because its own is large (the event, the attributes,
// the panic's details): a request without an event never grows its
// goroutine's stack for it.
//
//go:noinline
func (m *Middleware) emitResponse(ctx context.Context, r *http.Request, x *exchange, p any, status int, duration time.Duration, sampledAt float64) {
	panicked := p != nil && p != http.ErrAbortHandler
	e := secaudit.Event{Body: semconv.BodyHTTPResponse, Action: semconv.ActionResponse}
	switch {
	case panicked || status >= 500:
		e.Name, e.Severity, e.Outcome = semconv.EventHTTPResponseServerError, semconv.SeverityError, semconv.OutcomeFailure
	case status >= 400:
		e.Name, e.Severity, e.Outcome = semconv.EventHTTPResponseClientError, semconv.SeverityWarning, semconv.OutcomeFailure
	case status >= 300:
		e.Name, e.Severity = semconv.EventHTTPResponseRedirect, semconv.SeverityInfo
	default:
		e.Name, e.Severity, e.Outcome = semconv.EventHTTPResponseSuccess, semconv.SeverityInfo, semconv.OutcomeSuccess
	}
	if x.suspect() == nil { // else settled for the suspicious-request event
		m.resolveRoute(r, x)
	}

	buf := attrPool.Get().(*attrBuffer)
	defer buf.release()
	e.Attributes = m.responseAttrs(buf[:0], r, x, p, panicked, status, duration, sampledAt)
	if m.auditor.Emit(ctx, e) == nil {
		m.stats.emitted.Add(1)
	}
}

// responseAttrs appends the response event's attributes to attrs. Not
// inlined, so that its temporaries are off the stack by the time the
// event goes down the Auditor's and the SDK's frames.
//
//go:noinline
func (m *Middleware) responseAttrs(attrs []attribute.KeyValue, r *http.Request, x *exchange, p any, panicked bool, status int, duration time.Duration, sampledAt float64) []attribute.KeyValue {
	attrs = append(attrs,
		semconv.HTTPResponseStatusCodeKey.Int(status),
		semconv.URLFullKey.String(x.fullURL()),
		semconv.AuditDurationKey.Int64(int64(duration)),
	)
	if x.rare != nil && x.rare.query != "" {
		// A copy: the query is a part of the request line.
		attrs = append(attrs, semconv.URLQueryKey.String(strings.Clone(x.rare.query)))
	}
	if ua := x.agent(); ua != "" {
		// Not copied: net/http gives every header value an allocation of
		// its own, and the limiter copies what it cuts, so the record
		// keeps alive at most the user agent itself, never the request.
		attrs = append(attrs, semconv.UserAgentOriginalKey.String(ua))
	}
	if sampledAt > 0 { // kept by sampling: say at what rate, so counts can be scaled
		attrs = append(attrs, semconv.AuditSampleRateKey.Float64(sampledAt))
	}
	if x.rare != nil && x.rare.bodyAttr.Key != "" {
		attrs = append(attrs, x.rare.bodyAttr)
	}
	if m.sessions != nil && x.req.SessionID == "" {
		if sid := m.sessionID(r); sid != "" {
			// A copy: the id may be a part of a cookie header.
			attrs = append(attrs, semconv.SessionIDKey.String(strings.Clone(sid)))
		}
	}
	if b := x.blocked(); b != nil {
		attrs = append(attrs,
			semconv.SecurityRuleNameKey.String(b.rule),
			semconv.AuditBlockScopeKey.String(b.scope),
		)
	}
	if panicked {
		m.stats.panics.Add(1)
		attrs = panicattr.Append(attrs, p)
	}
	return attrs
}

// attrBuffer holds the response event's attributes. Auditor.Emit lets the
// contents of its Event escape to the heap, so a stack array would be
// moved to the heap on every event; the Auditor copies the attributes into
// the record before Emit returns, so a pooled buffer can be reused.
type attrBuffer [11]attribute.KeyValue

var attrPool = sync.Pool{New: func() any { return new(attrBuffer) }}

func (b *attrBuffer) release() {
	clear(b[:]) // drop references to request data
	attrPool.Put(b)
}

// errNoSpan is said once per Middleware, when the first request it audits
// has no span.
var errNoSpan = errors.New("secaudit: requests reach the audit middleware without a span, so audit events carry no trace_id or span_id: " +
	"wrap the handler in otelhttp inside a TracerProvider (setup.WithTracing builds one, with the W3C propagator, " +
	"for a service that has no tracing of its own)")

// checkSpan tells the application, through the OTel error handler, when the
// first request m audits has no valid span context: then no event carries
// trace_id and span_id, which is almost always a middleware not wrapped in
// otelhttp, or otelhttp under OpenTelemetry's default no-op TracerProvider.
// Only the first request decides, so that the check costs one atomic load
// per request afterwards, and requests that otelhttp filters out on purpose
// (a health check) raise nothing once traced requests came first.
func (m *Middleware) checkSpan(r *http.Request) {
	if trace.SpanContextFromContext(r.Context()).IsValid() {
		m.spanChecked.Store(true)
		return
	}
	if m.spanChecked.CompareAndSwap(false, true) {
		otel.Handle(errNoSpan)
	}
}

// resolveRoute settles http.route after the handler: the route func when
// configured; else a route the application set during the request; else the
// pattern the ServeMux set on the request, which is the innermost mux's
// when muxes are nested.
func (m *Middleware) resolveRoute(r *http.Request, x *exchange) {
	// Without a route func, Route() is the application's SetRoute or the
	// pattern the mux recorded on r (the pattern source).
	if m.routeFunc != nil {
		if route := m.callRouteFunc(r); route != "" {
			x.req.SetRoute(route)
		}
	}
}
func (m *Middleware) callRouteFunc(r *http.Request) (route string) {
	defer func() {
		if recover() != nil {
			m.stats.callbackPanics.Add(1)
			route = ""
		}
	}()
	return m.routeFunc(r)
}

func (m *Middleware) sessionID(r *http.Request) (id string) {
	defer func() {
		if recover() != nil {
			m.stats.callbackPanics.Add(1)
			id = ""
		}
	}()
	return m.sessions.AuditSessionID(r)
}

// fullURL is scheme://host/path: no userinfo, no query, no fragment.
func (x *exchange) fullURL() string {
	scheme := "http://"
	if x.orig.TLS != nil {
		scheme = "https://"
	}
	u := url.URL{Path: x.req.Path}
	if x.rare != nil {
		u.RawPath = x.rare.rawPath
	}
	return scheme + x.orig.Host + u.EscapedPath()
}

// newRequestID returns 32 lowercase hex characters from the runtime's
// ChaCha8 generator (seeded from the OS): unique and unpredictable enough
// for correlation, and never taken from the client. The text lives in the
// exchange, which every reference to the id keeps alive, and is never
// written again, so the id costs no allocation of its own (records carry a
// copy, made only for a request that has events).
func (x *exchange) newRequestID() string {
	reqid.Fill(&x.id)
	return unsafe.String(&x.id[0], len(x.id))
}
