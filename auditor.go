package secaudit

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"

	"github.com/secaudit/secaudit/internal/claim"
	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/internal/setting"
	"github.com/secaudit/secaudit/semconv"
)

// ScopeName is the instrumentation scope of records emitted by an Auditor.
const ScopeName = "github.com/secaudit/secaudit"

// Version is secaudit's version, recorded as the instrumentation scope version.
const Version = "0.1.0"

// EnvIncludeUsernames is the environment variable that enables user.name
// (see [WithUsernames]).
const EnvIncludeUsernames = envconf.IncludeUsernames

// ErrInvalidEvent is returned by [Auditor.Emit] for an event it refuses to
// emit: an empty name or a severity outside 1–24.
var ErrInvalidEvent = errors.New("secaudit: invalid event")

// Auditor emits audit events as OpenTelemetry log records. It is safe for
// concurrent use. A nil *Auditor is a no-op.
type Auditor struct {
	logger           log.Logger
	includeUsernames bool

	emitted atomic.Uint64
	invalid atomic.Uint64
	panics  atomic.Uint64

	warnedDisabled atomic.Bool // the no-provider warning was given
}

// Stats counts what an Auditor did.
type Stats struct {
	// Emitted is the number of records handed to the logger.
	Emitted uint64
	// Invalid is the number of calls refused for misuse (nothing emitted),
	// plus attributes dropped for an empty key.
	Invalid uint64
	// Panics is the number of emits during which the logger pipeline
	// panicked; the panic was recovered and the record is lost.
	Panics uint64
}

// Option configures an [Auditor].
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

type config struct {
	provider  log.LoggerProvider
	usernames setting.Value[bool]
	noEnv     bool
}

// WithLoggerProvider sets the provider the Auditor's logger comes from. The
// default is the global provider (otel.GetLoggerProvider) at construction. A
// nil provider is ignored.
func WithLoggerProvider(p log.LoggerProvider) Option {
	return optionFunc(func(c config) config {
		if p != nil {
			c.provider = p
		}
		return c
	})
}

// WithUsernames enables or disables user.name on events. The default is off
// (user names are personal data); SECAUDIT_INCLUDE_USERNAMES=true enables it
// when this option is not given.
func WithUsernames(enabled bool) Option {
	return optionFunc(func(c config) config { c.usernames.Put(enabled, "WithUsernames"); return c })
}

// WithoutEnv makes [New] ignore the environment
// (SECAUDIT_INCLUDE_USERNAMES).
func WithoutEnv() Option {
	return optionFunc(func(c config) config { c.noEnv = true; return c })
}

// New returns an Auditor. It fails only when an environment variable it reads
// holds an invalid value; the error names the variable
// (secaudit: SECAUDIT_INCLUDE_USERNAMES="maybe": want true or false).
func New(opts ...Option) (*Auditor, error) {
	var c config
	for _, o := range opts {
		c = o.apply(c)
	}
	if c.provider == nil {
		c.provider = otel.GetLoggerProvider()
	}
	if err := setting.Env(&c.usernames, EnvIncludeUsernames, c.noEnv, envconf.Bool); err != nil {
		return nil, err
	}
	return &Auditor{
		logger: c.provider.Logger(ScopeName,
			log.WithInstrumentationVersion(Version),
			log.WithSchemaURL(semconv.SchemaURL)),
		includeUsernames: c.usernames.Or(false),
	}, nil
}

// UsernamesEnabled reports whether the Auditor emits user.name.
func (a *Auditor) UsernamesEnabled() bool { return a != nil && a.includeUsernames }

// Stats returns the Auditor's counters.
func (a *Auditor) Stats() Stats {
	if a == nil {
		return Stats{}
	}
	return Stats{Emitted: a.emitted.Load(), Invalid: a.invalid.Load(), Panics: a.panics.Load()}
}

// Model identifies the record an event is about.
type Model struct {
	// Name is the model, table or resource type, e.g. "account".
	Name string
	// ID is the record's id.
	ID string
	// ChangedFields are the names of the fields an update changed. Values
	// are never recorded.
	ChangedFields []string
}

// Event is a custom security event for [Auditor.Emit].
type Event struct {
	// Name is the event name (required), e.g. "security.mfa_disabled".
	Name string
	// Severity defaults to INFO. Use the semconv Severity* constants.
	Severity log.Severity
	// Body defaults to Name.
	Body string
	// Action and Outcome fill audit.action and audit.outcome when set.
	Action  string
	Outcome string
	// User is the acting user; when zero, the request's user (see SetUser).
	User User
	// Model is the record acted on, when any.
	Model Model
	// Err, when set, becomes exception.message and exception.type (scrubbed
	// downstream).
	Err error
	// Attributes are added last. A key set here replaces the request fact
	// of the same key.
	Attributes []attribute.KeyValue

	// Set by the typed calls only.
	reason        string
	rule          string
	noRequestUser bool
}

// Emit emits a custom event. It returns ErrInvalidEvent (and emits nothing)
// when the name is empty or the severity is outside 1–24.
func (a *Auditor) Emit(ctx context.Context, e Event) error {
	if a == nil {
		return nil
	}
	if e.Name == "" || e.Severity < 0 || e.Severity > log.SeverityFatal4 {
		a.invalid.Add(1)
		return fmt.Errorf("%w: name %q, severity %d", ErrInvalidEvent, e.Name, e.Severity)
	}
	if e.Severity == 0 {
		e.Severity = semconv.SeverityInfo
	}
	if e.Body == "" {
		e.Body = e.Name
	}
	a.emit(ctx, &e, e.Attributes)
	return nil
}

// LoginSucceeded records that u authenticated (auth.login.success). It also
// records u as the request's user (see [SetUser]).
func (a *Auditor) LoginSucceeded(ctx context.Context, u User, attrs ...attribute.KeyValue) {
	if a == nil {
		return
	}
	SetUser(ctx, u)
	a.emit(withClaim(ctx, u.Name), &Event{
		Name: semconv.EventLoginSuccess, Body: semconv.EventLoginSuccess, Severity: semconv.SeverityInfo,
		Action: semconv.ActionLogin, Outcome: semconv.OutcomeSuccess, User: u,
	}, attrs)
}

// LoginFailed records a failed authentication (auth.login.failed). u is
// whatever the application knows of the claimed identity (often only the
// name, emitted only when usernames are enabled); reason is a short code
// such as "bad_password" and must never contain the credential.
func (a *Auditor) LoginFailed(ctx context.Context, u User, reason string, attrs ...attribute.KeyValue) {
	if a == nil {
		return
	}
	a.emit(withClaim(ctx, u.Name), &Event{
		Name: semconv.EventLoginFailed, Body: semconv.EventLoginFailed, Severity: semconv.SeverityWarning,
		Action: semconv.ActionLogin, Outcome: semconv.OutcomeFailure, User: u,
		reason: reason, noRequestUser: true,
	}, attrs)
}

// withClaim puts the claimed user name into the context the login event
// is emitted with (internal/claim), where the detection rules read it even
// when usernames are not written to the record.
func withClaim(ctx context.Context, name string) context.Context {
	if name == "" {
		return ctx
	}
	if ctx == nil {
		ctx = context.Background()
	}
	return claim.WithUser(ctx, name)
}

// Logout records a logout: auth.logout.success when u (or the request's
// user) is known, auth.logout.unknown otherwise.
func (a *Auditor) Logout(ctx context.Context, u User, attrs ...attribute.KeyValue) {
	if a == nil {
		return
	}
	if u.IsZero() && ctx != nil {
		u = rawRequestOf(ctx).User()
	}
	e := Event{
		Name: semconv.EventLogoutSuccess, Body: semconv.BodyLogout, Severity: semconv.SeverityInfo,
		Action: semconv.ActionLogout, Outcome: semconv.OutcomeSuccess, User: u,
	}
	if u.IsZero() {
		e.Name, e.Outcome = semconv.EventLogoutUnknown, ""
	}
	a.emit(ctx, &e, attrs)
}

// ModelCreated records that the application created m (model.create).
func (a *Auditor) ModelCreated(ctx context.Context, m Model, attrs ...attribute.KeyValue) {
	a.model(ctx, semconv.EventModelCreate, semconv.ActionCreate, m, attrs)
}

// ModelUpdated records that the application changed m (model.update), with
// the names of the changed fields.
func (a *Auditor) ModelUpdated(ctx context.Context, m Model, attrs ...attribute.KeyValue) {
	a.model(ctx, semconv.EventModelUpdate, semconv.ActionUpdate, m, attrs)
}

// ModelDeleted records that the application deleted m (model.delete).
func (a *Auditor) ModelDeleted(ctx context.Context, m Model, attrs ...attribute.KeyValue) {
	a.model(ctx, semconv.EventModelDelete, semconv.ActionDelete, m, attrs)
}

// ModelAccessed records that the application read m (model.access).
func (a *Auditor) ModelAccessed(ctx context.Context, m Model, attrs ...attribute.KeyValue) {
	a.model(ctx, semconv.EventModelAccess, semconv.ActionAccess, m, attrs)
}

func (a *Auditor) model(ctx context.Context, name, action string, m Model, attrs []attribute.KeyValue) {
	if a == nil {
		return
	}
	a.emit(ctx, &Event{
		Name: name, Body: semconv.BodyModelEvent, Severity: semconv.SeverityInfo,
		Action: action, Outcome: semconv.OutcomeSuccess, Model: m,
	}, attrs)
}

// AuthzDenied records that the request's user was refused an action on m
// (authz.denied). reason is a short code such as "not_owner".
func (a *Auditor) AuthzDenied(ctx context.Context, m Model, reason string, attrs ...attribute.KeyValue) {
	a.security(ctx, semconv.EventAuthzDenied, semconv.ActionAuthorize, m, "", reason, attrs)
}

// RateLimited records that the client exceeded a rate limit
// (security.rate_limited); rule names the limit.
func (a *Auditor) RateLimited(ctx context.Context, rule string, attrs ...attribute.KeyValue) {
	a.security(ctx, semconv.EventRateLimited, semconv.ActionRateLimit, Model{}, rule, "", attrs)
}

// SignatureInvalid records a request with an invalid signature
// (security.signature_invalid); reason is a short code.
func (a *Auditor) SignatureInvalid(ctx context.Context, reason string, attrs ...attribute.KeyValue) {
	a.security(ctx, semconv.EventSignatureInvalid, semconv.ActionVerify, Model{}, "", reason, attrs)
}

// SuspiciousRequest records a request that matched an attack or probe
// pattern (security.suspicious_request); rule names the pattern.
func (a *Auditor) SuspiciousRequest(ctx context.Context, rule string, attrs ...attribute.KeyValue) {
	a.security(ctx, semconv.EventSuspiciousRequest, semconv.ActionInspect, Model{}, rule, "", attrs)
}

func (a *Auditor) security(ctx context.Context, name, action string, m Model, rule, reason string, attrs []attribute.KeyValue) {
	if a == nil {
		return
	}
	a.emit(ctx, &Event{
		Name: name, Body: name, Severity: semconv.SeverityWarning,
		Action: action, Outcome: semconv.OutcomeFailure, Model: m,
		rule: rule, reason: reason,
	}, attrs)
}

// now is replaced in tests.
var now = time.Now

// maxInline is the number of attributes a record is built with without an
// allocation of its own (the response event has 14); more spill to the
// heap.
const maxInline = 16

// emit builds and emits one record. Names, severities and bodies are valid
// here (typed calls set them; Emit validated them). attrs are the event's
// attributes (e.Attributes is not read), passed apart from e so that a
// typed call's variadic attributes stay on its caller's stack: only their
// values are copied, where the Event as a whole leaks into the record.
func (a *Auditor) emit(ctx context.Context, e *Event, attrs []attribute.KeyValue) {
	if ctx == nil {
		ctx = context.Background()
	}
	defer func() {
		if recover() != nil {
			a.panics.Add(1)
		}
	}()
	if !a.logger.Enabled(ctx, log.EnabledParameters{Severity: e.Severity, EventName: e.Name}) {
		if e.Severity >= log.SeverityWarn1 && !a.warnedDisabled.Load() && a.warnedDisabled.CompareAndSwap(false, true) {
			a.warnDisabled(e.Name)
		}
		return
	}
	// The record is built in a function of its own: its attribute buffer
	// and the temporaries of building (about 2 KB) leave the stack before
	// the SDK and the processors run below Emit, so that the request
	// goroutine's stack needs that much less (a deeper stack is grown, by
	// copying it, after every GC shrinks it). Buffers on the stack, not
	// pooled on the heap: writes into a heap buffer pay the GC's write
	// barriers while it marks.
	var r log.Record
	a.build(ctx, e, attrs, &r)
	a.logger.Emit(ctx, r)
	a.emitted.Add(1)
}

// warnDisabled says, once, that a security event was not recorded: most
// likely no provider was ever set (the global one is a no-op until
// setup.New or otel.SetLoggerProvider).
//
//go:noinline
func (a *Auditor) warnDisabled(name string) {
	otel.Handle(fmt.Errorf("secaudit: %s was not recorded: the Auditor's LoggerProvider records nothing for it; "+
		"build the pipeline with setup.New first, or pass secaudit.WithLoggerProvider (instrumentation.WithAuditor for the middleware)", name))
}

// build builds e's API record in r: the Auditor's attributes, the
// request's and the event's (attrs), then the record's fields. Not inlined: its temporaries leave the
// stack before the SDK and the processors run below Emit.
//
//go:noinline
func (a *Auditor) build(ctx context.Context, e *Event, attrs []attribute.KeyValue, r *log.Record) {
	var buf [maxInline]attribute.KeyValue
	var sh shadows
	if len(attrs) > 0 {
		sh = shadowsOf(attrs)
	}
	// The Auditor's own attributes (17 at most) go into the buffer by
	// index; the request's and the event's are appended after them.
	n := 0
	str := func(shadow shadows, k attribute.Key, v string) {
		if v != "" && sh&shadow == 0 {
			kv := &buf[n]
			kv.Key, kv.Value = k, attribute.StringValue(v)
			n++
		}
	}
	str(0, semconv.AuditSchemaVersionKey, semconv.SchemaVersion)
	str(shAction, semconv.AuditActionKey, e.Action)
	str(shOutcome, semconv.AuditOutcomeKey, e.Outcome)
	str(shReason, semconv.AuditReasonKey, e.reason)
	str(shRule, semconv.SecurityRuleNameKey, e.rule)
	str(shModelName, semconv.AuditModelNameKey, e.Model.Name)
	str(shModelID, semconv.AuditModelIDKey, e.Model.ID)
	if len(e.Model.ChangedFields) > 0 {
		if fields := a.fieldNames(e.Model.ChangedFields); len(fields) > 0 {
			buf[n] = semconv.AuditModelChangedFieldsKey.StringSlice(fields)
			n++
		}
	}

	req := requestOf(ctx)
	u := e.User
	var f eventFacts
	if req != nil {
		// Copies of the request's fields, so that the record, which may
		// wait in a queue, does not keep the request alive.
		req.eventFacts(&f)
		if u.IsZero() && !e.noRequestUser {
			u = f.user
		}
	}
	str(shUserID, semconv.UserIDKey, u.ID)
	if a.includeUsernames {
		str(shUserName, semconv.UserNameKey, u.Name)
	}
	if req != nil {
		str(shRequestID, semconv.AuditRequestIDKey, f.fields[fID])
		str(shClient, semconv.ClientAddressKey, f.fields[fClient])
		str(shPeer, semconv.NetworkPeerAddressKey, f.fields[fPeer])
		str(shMethod, semconv.HTTPRequestMethodKey, f.fields[fMethod])
		str(shPath, semconv.URLPathKey, f.fields[fPath])
		str(shRoute, semconv.HTTPRouteKey, f.route)
		str(shSession, semconv.SessionIDKey, f.fields[fSession])
	}
	kvs := buf[:n:maxInline]
	if req != nil {
		for _, kv := range req.Attributes {
			if kv.Key != "" && !hasKey(attrs, kv.Key) {
				kvs = append(kvs, kv)
			}
		}
	}
	if sh&shEmpty == 0 {
		kvs = append(kvs, attrs...)
	} else {
		for _, kv := range attrs {
			if kv.Key == "" {
				a.invalid.Add(1)
				continue
			}
			kvs = append(kvs, kv)
		}
	}

	t := now()
	r.SetTimestamp(t)
	r.SetObservedTimestamp(t)
	r.SetEventName(e.Name)
	r.SetSeverity(e.Severity)
	r.SetSeverityText(semconv.SeverityText(e.Severity))
	r.SetBody(attribute.StringValue(e.Body))
	if e.Err != nil {
		r.SetErr(e.Err)
	}
	r.AddAttributes(kvs...)
}

// shadows is the set of the Auditor's own keys that an event's attributes
// set (and so take the place of the Auditor's value).
type shadows uint16

const (
	shAction shadows = 1 << iota
	shOutcome
	shReason
	shRule
	shModelName
	shModelID
	shUserID
	shUserName
	shRequestID
	shClient
	shPeer
	shMethod
	shPath
	shRoute
	shSession

	shEmpty // not a key: an attribute has an empty key (dropped, counted)
)

// shadowsOf returns the Auditor's keys that attrs set (and shEmpty when
// one of them has no key): one pass over the
// event's attributes, where looking each key up in them took one pass per
// key.
func shadowsOf(attrs []attribute.KeyValue) shadows {
	var s shadows
	for i := range attrs {
		switch attrs[i].Key {
		case semconv.AuditActionKey:
			s |= shAction
		case semconv.AuditOutcomeKey:
			s |= shOutcome
		case semconv.AuditReasonKey:
			s |= shReason
		case semconv.SecurityRuleNameKey:
			s |= shRule
		case semconv.AuditModelNameKey:
			s |= shModelName
		case semconv.AuditModelIDKey:
			s |= shModelID
		case semconv.UserIDKey:
			s |= shUserID
		case semconv.UserNameKey:
			s |= shUserName
		case semconv.AuditRequestIDKey:
			s |= shRequestID
		case semconv.ClientAddressKey:
			s |= shClient
		case semconv.NetworkPeerAddressKey:
			s |= shPeer
		case semconv.HTTPRequestMethodKey:
			s |= shMethod
		case semconv.URLPathKey:
			s |= shPath
		case semconv.HTTPRouteKey:
			s |= shRoute
		case semconv.SessionIDKey:
			s |= shSession
		case "":
			s |= shEmpty
		}
	}
	return s
}

// fieldNames returns names without empty entries, counting those as invalid.
func (a *Auditor) fieldNames(names []string) []string {
	for i, n := range names {
		if n == "" {
			out := make([]string, 0, len(names)-1)
			out = append(out, names[:i]...)
			for _, m := range names[i+1:] {
				if m != "" {
					out = append(out, m)
				} else {
					a.invalid.Add(1)
				}
			}
			a.invalid.Add(1)
			return out
		}
	}
	return names
}

func hasKey(attrs []attribute.KeyValue, k attribute.Key) bool {
	for _, kv := range attrs {
		if kv.Key == k {
			return true
		}
	}
	return false
}
