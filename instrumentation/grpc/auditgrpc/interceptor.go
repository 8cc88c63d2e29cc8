package auditgrpc

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/internal/clientip"
	"github.com/secaudit/secaudit/internal/panicattr"
	"github.com/secaudit/secaudit/internal/reqctx"
	"github.com/secaudit/secaudit/internal/reqid"
	"github.com/secaudit/secaudit/internal/setting"
	"github.com/secaudit/secaudit/semconv"
)

// Option configures an [Interceptor]; options are validated by [New].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	auditor       *secaudit.Auditor
	logOK         bool
	recoverPanics bool
	proxies       setting.Value[proxies]
}

type proxies struct {
	cidrs []string
	count int
}

// WithAuditor sets the Auditor that emits the events. The default is
// secaudit.New() at construction (the global LoggerProvider). A nil
// Auditor is ignored.
func WithAuditor(a *secaudit.Auditor) Option {
	return optionFunc(func(c *config) {
		if a != nil {
			c.auditor = a
		}
	})
}

// WithLogOKResponses enables http.response.success events for calls that
// end with codes.OK. The default is off, as for HTTP: failed calls are
// always audited, successful ones only when asked.
func WithLogOKResponses(enabled bool) Option {
	return optionFunc(func(c *config) { c.logOK = enabled })
}

// WithRecoverPanics makes the interceptors turn a handler's panic into a
// codes.Internal error for the client, after auditing it. The default is
// off: the panic is audited, then raised again, and a recovery interceptor
// outside this one must recover it, since gRPC itself does not (an
// unrecovered panic ends the process).
func WithRecoverPanics(enabled bool) Option {
	return optionFunc(func(c *config) { c.recoverPanics = enabled })
}

// WithTrustedProxies trusts count proxies (count >= 1) inside the given
// networks (CIDRs or bare addresses) when resolving client.address from
// the x-forwarded-for metadata, right to left, as the HTTP middleware does
// with X-Forwarded-For. Both empty/zero (the default) trusts none: the
// client is the peer, and the metadata is never read.
func WithTrustedProxies(cidrs []string, count int) Option {
	p := proxies{append([]string{}, cidrs...), count}
	return optionFunc(func(c *config) { c.proxies.Put(p, "WithTrustedProxies") })
}

// Interceptor audits gRPC server calls. Build it with [New]; it is
// immutable and safe for concurrent use.
type Interceptor struct {
	auditor       *secaudit.Auditor
	logOK         bool
	recoverPanics bool
	resolver      *clientip.Resolver
	forwarded     bool // x-forwarded-for is read (trusted proxies configured)

	stats counters
}

// Stats counts what an Interceptor did. Calls = Emitted + OKNotLogged.
type Stats struct {
	// Calls audited.
	Calls uint64
	// Emitted: http.response events handed to the Auditor.
	Emitted uint64
	// OKNotLogged: calls that ended with codes.OK while OK responses are
	// not logged.
	OKNotLogged uint64
	// Panics: handler panics audited as server errors.
	Panics uint64
	// AuditPanics: panics recovered while recording a call (its event may
	// be lost); expected to stay 0.
	AuditPanics uint64
}

type counters struct {
	calls, emitted, okNotLogged, panics, auditPanics atomic.Uint64
}

// New returns an Interceptor configured by opts. An invalid option is an
// error naming it; without WithAuditor, an invalid
// SECAUDIT_INCLUDE_USERNAMES is too (secaudit.New).
func New(opts ...Option) (*Interceptor, error) {
	var c config
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	i := &Interceptor{auditor: c.auditor, logOK: c.logOK, recoverPanics: c.recoverPanics}
	if i.auditor == nil {
		a, err := secaudit.New()
		if err != nil {
			return nil, err
		}
		i.auditor = a
	}
	if p, ok := c.proxies.Get(); ok {
		prefixes := make([]netip.Prefix, 0, len(p.cidrs))
		for _, s := range p.cidrs {
			pfx, err := parsePrefix(strings.TrimSpace(s))
			if err != nil {
				return nil, setting.Invalid("WithTrustedProxies", fmt.Sprintf("%q", s), "CIDRs such as 10.0.0.0/8 or IP addresses")
			}
			prefixes = append(prefixes, pfx)
		}
		r, err := clientip.New(prefixes, p.count)
		if err != nil {
			return nil, setting.Invalid("WithTrustedProxies", fmt.Sprintf("%d networks, count %d", len(prefixes), p.count),
				"networks and a count >= 1 together, or neither")
		}
		i.resolver, i.forwarded = r, p.count > 0
	}
	return i, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Stats returns i's counters.
func (i *Interceptor) Stats() Stats {
	c := &i.stats
	return Stats{
		Calls: c.calls.Load(), Emitted: c.emitted.Load(), OKNotLogged: c.okNotLogged.Load(),
		Panics: c.panics.Load(), AuditPanics: c.auditPanics.Load(),
	}
}

// call is the per-call state in one allocation: the request facts, the
// context node that carries them to the handler, the rpc attributes and
// the request id's text. It is never reused: the handler's context may
// outlive the call.
type call struct {
	req   secaudit.Request
	ctx   reqctx.Node
	start time.Time
	attrs [2]attribute.KeyValue
	id    [32]byte
}

// begin builds the call's facts and the context the handler receives.
func (i *Interceptor) begin(ctx context.Context, c *call, fullMethod string) {
	i.stats.calls.Add(1)
	c.start = time.Now()
	reqid.Fill(&c.id)
	c.req.ID = unsafe.String(&c.id[0], len(c.id))
	var remote string
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		remote = peerAddress(p.Addr)
	}
	var xff []string
	if i.forwarded {
		xff = metadata.ValueFromIncomingContext(ctx, "x-forwarded-for")
	}
	origin := i.resolver.Resolve(remote, xff)
	c.req.ClientAddress, c.req.PeerAddress = origin.Client, origin.Peer
	// The route is the full method; rpc.method is it without the slash
	// (semantic conventions v1.43), sharing the Request's copy.
	c.req.SetRoute(fullMethod)
	method := strings.TrimPrefix(c.req.Route(), "/")
	c.attrs = [2]attribute.KeyValue{semconv.RPCSystemNameGRPC, semconv.RPCMethodKey.String(method)}
	c.req.Attributes = c.attrs[:]
	c.ctx = reqctx.Node{Context: ctx, Val: &c.req}
}

// peerAddress returns a peer's address as host:port: for TCP in one
// allocation (Addr.String makes three), else Addr.String() (the resolver
// takes a name without a port too, such as bufconn's "bufconn").
func peerAddress(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		ap := t.AddrPort() // IPv4 comes as IPv4-mapped IPv6 from a 16-byte IP
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
	}
	return a.String()
}

// UnaryServerInterceptor returns the interceptor for unary calls:
//
//	grpc.NewServer(grpc.ChainUnaryInterceptor(ai.UnaryServerInterceptor()), …)
func (i *Interceptor) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return i.unary
}

func (i *Interceptor) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	c := new(call)
	i.begin(ctx, c, info.FullMethod)
	completed := false
	defer func() {
		if completed {
			i.record(c, err, nil)
			return
		}
		p := recover()
		i.record(c, nil, p)
		if p == nil {
			return // runtime.Goexit
		}
		if !i.recoverPanics {
			panic(p)
		}
		resp, err = nil, errPanic
	}()
	resp, err = handler(&c.ctx, req)
	completed = true
	return resp, err
}

// errPanic is what the client receives for a recovered panic: nothing of
// the panic value leaves the server.
var errPanic = status.Error(codes.Internal, "internal error")

// StreamServerInterceptor returns the interceptor for streaming calls:
//
//	grpc.NewServer(grpc.ChainStreamInterceptor(ai.StreamServerInterceptor()), …)
//
// The handler's stream reports the call's context, with the request facts,
// from Context().
func (i *Interceptor) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return i.stream
}

// streamCall is a call and the stream wrapper, in one allocation.
type streamCall struct {
	call
	stream serverStream
}

type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

// Context returns the call's context: the stream's, with the request facts.
func (s *serverStream) Context() context.Context { return s.ctx }

func (i *Interceptor) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	sc := new(streamCall)
	c := &sc.call
	i.begin(ss.Context(), c, info.FullMethod)
	sc.stream = serverStream{ServerStream: ss, ctx: &c.ctx}
	completed := false
	defer func() {
		if completed {
			i.record(c, err, nil)
			return
		}
		p := recover()
		i.record(c, nil, p)
		if p == nil {
			return
		}
		if !i.recoverPanics {
			panic(p)
		}
		err = errPanic
	}()
	err = handler(srv, &sc.stream)
	completed = true
	return err
}

// serverCodes are the codes audited as server errors: the server failed
// (the codes OpenTelemetry's gRPC conventions mark as a server span's
// error). Every other code but OK is the client's doing or the client's
// to fix, audited as a client error.
var serverCodes = [...]bool{
	codes.Unknown: true, codes.DeadlineExceeded: true, codes.Unimplemented: true,
	codes.Internal: true, codes.Unavailable: true, codes.DataLoss: true,
}

// IsServerError reports whether code is audited as a server error
// (http.response.server_error, ERROR): Unknown, DeadlineExceeded,
// Unimplemented, Internal, Unavailable and DataLoss. OK is a success; every
// other code is a client error (http.response.client_error, WARNING).
func IsServerError(code codes.Code) bool {
	return int(code) < len(serverCodes) && serverCodes[code]
}

// code returns the status code the server sends for a handler's error, as
// gRPC decides it: a status error's code, a context error's, or Unknown.
func code(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	if s, ok := status.FromError(err); ok {
		return s.Code()
	}
	return status.FromContextError(err).Code()
}

// record emits the call's event. p is the value the handler panicked with,
// if any.
func (i *Interceptor) record(c *call, err error, p any) {
	defer func() {
		if recover() != nil { // fail open
			i.stats.auditPanics.Add(1)
		}
	}()
	duration := time.Since(c.start)
	panicked := p != nil
	st := code(err)
	if panicked {
		st = codes.Internal
	}
	e := secaudit.Event{Body: semconv.BodyHTTPResponse, Action: semconv.ActionResponse}
	switch {
	case panicked || IsServerError(st):
		e.Name, e.Severity, e.Outcome = semconv.EventHTTPResponseServerError, semconv.SeverityError, semconv.OutcomeFailure
	case st != codes.OK:
		e.Name, e.Severity, e.Outcome = semconv.EventHTTPResponseClientError, semconv.SeverityWarning, semconv.OutcomeFailure
	default:
		if !i.logOK {
			i.stats.okNotLogged.Add(1)
			return
		}
		e.Name, e.Severity, e.Outcome = semconv.EventHTTPResponseSuccess, semconv.SeverityInfo, semconv.OutcomeSuccess
	}
	buf := attrPool.Get().(*attrBuffer)
	defer buf.release()
	attrs := append(buf[:0], semconv.AuditDurationKey.Int64(int64(duration)))
	if !panicked || i.recoverPanics {
		// A re-raised panic's code is the recovery interceptor's to choose.
		attrs = append(attrs, semconv.RPCResponseStatusCodeKey.String(codeName(st)))
	}
	if panicked {
		i.stats.panics.Add(1)
		attrs = panicattr.Append(attrs, p)
	}
	e.Attributes = attrs
	if i.auditor.Emit(&c.ctx, e) == nil {
		i.stats.emitted.Add(1)
	}
}

// codeNames are the canonical names of the status codes
// (rpc.response.status_code), as the gRPC protocol spells them.
var codeNames = [...]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN",
	codes.InvalidArgument: "INVALID_ARGUMENT", codes.DeadlineExceeded: "DEADLINE_EXCEEDED",
	codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED",
	codes.OutOfRange: "OUT_OF_RANGE", codes.Unimplemented: "UNIMPLEMENTED",
	codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE", codes.DataLoss: "DATA_LOSS",
	codes.Unauthenticated: "UNAUTHENTICATED",
}

func codeName(c codes.Code) string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("CODE_%d", uint32(c))
}

// attrBuffer holds the response event's attributes; the Auditor copies
// them into the record before Emit returns, so a pooled buffer is reused.
type attrBuffer [5]attribute.KeyValue

var attrPool = sync.Pool{New: func() any { return new(attrBuffer) }}

func (b *attrBuffer) release() {
	clear(b[:])
	attrPool.Put(b)
}
