package instrumentation

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/internal/auditscope"
	"github.com/secaudit/secaudit/internal/bodycapture"
	"github.com/secaudit/secaudit/internal/clientip"
	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/internal/setting"
)

// Option configures a [Middleware]. Options are validated by [New]; a bad
// value is an error naming the option.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config holds the options as given, each a setting.Value (whether it was
// given, and by which option); resolve turns it, with the environment, into
// a Middleware.
type config struct {
	auditor *secaudit.Auditor
	noEnv   bool

	logOK, query setting.Value[bool]
	sampleRate   setting.Value[float64]
	ignorePaths  setting.Value[[]string]
	ignoreStatus setting.Value[[]int]
	proxies      setting.Value[proxies]

	routeFunc func(*http.Request) string

	bodies                             setting.Value[bool]
	bodyFields, bodyPaths, bodyMethods setting.Value[[]string]
	bodyMax                            setting.Value[int]

	sessions   SessionIDSource
	sessionIDs setting.Value[bool]

	suspicious bool

	gate         Gate
	strictRoutes setting.Value[[]string]

	guard Guard
}

type proxies struct {
	cidrs []string
	count int
}

// WithAuditor sets the Auditor that emits the events. The default is
// secaudit.New() at construction: the global LoggerProvider, usernames per
// SECAUDIT_INCLUDE_USERNAMES. A nil Auditor is ignored. Whether user.name is
// emitted is the Auditor's setting (secaudit.WithUsernames).
func WithAuditor(a *secaudit.Auditor) Option {
	return optionFunc(func(c *config) {
		if a != nil {
			c.auditor = a
		}
	})
}

// WithLogOKResponses enables http.response.success and .redirect events
// (1xx–3xx). The default is off, or SECAUDIT_LOG_OK_RESPONSES. Client and
// server errors are always logged.
func WithLogOKResponses(enabled bool) Option {
	return optionFunc(func(c *config) { c.logOK.Put(enabled, "WithLogOKResponses") })
}

// WithURLQuery adds the request's query string, as the client wrote it
// (percent-encoded, without the "?"), to the response event as url.query.
// The default is off, or SECAUDIT_LOG_QUERY: queries carry tokens,
// passwords and personal data. The processor chain scrubs it: the values of
// parameters with sensitive names, and every secret the detectors or your
// patterns find in the raw or the decoded text, are replaced.
func WithURLQuery(enabled bool) Option {
	return optionFunc(func(c *config) { c.query.Put(enabled, "WithURLQuery") })
}

// WithSampleRate keeps this fraction (0..1) of OK events when they are
// enabled, decided per trace with the same rule as the sampling processor
// (per request id, again like the processor, when there is no trace), so
// the two never sample one request twice. The rule is a keyed hash of the
// trace id, so a client choosing its traceparent cannot choose whether it
// is audited; the key is random per process, or SECAUDIT_SAMPLE_KEY (a
// secret of at least 16 characters) for instances that must decide alike. A kept event carries the rate as
// audit.sample_rate (the processor's sampler, if it samples too, records
// the rate applied in all). The default is 1, or SECAUDIT_SAMPLE_RATE.
// Errors are never sampled.
func WithSampleRate(rate float64) Option {
	return optionFunc(func(c *config) { c.sampleRate.Put(rate, "WithSampleRate") })
}

// WithIgnorePaths skips requests whose escaped URL path (as the request
// wrote it, %2F kept) matches one of these RE2 patterns (unanchored): no
// request facts, no event, no body read. The
// default is none, or SECAUDIT_IGNORE_PATHS (a list of regexes). Given
// patterns replace the environment's.
func WithIgnorePaths(patterns ...string) Option {
	patterns = append([]string{}, patterns...)
	return optionFunc(func(c *config) { c.ignorePaths.Put(patterns, "WithIgnorePaths") })
}

// WithIgnoreStatusCodes emits no http.response event for these statuses
// (100–599), errors included. The default is none, or
// SECAUDIT_IGNORE_STATUS_CODES.
func WithIgnoreStatusCodes(codes ...int) Option {
	codes = append([]int{}, codes...)
	return optionFunc(func(c *config) { c.ignoreStatus.Put(codes, "WithIgnoreStatusCodes") })
}

// WithTrustedProxies trusts count proxies (count >= 1) inside the given
// networks (CIDRs or bare addresses; host bits are masked) when resolving
// client.address from X-Forwarded-For. Both empty/zero trusts none: the
// client is the socket peer. The default is SECAUDIT_TRUSTED_PROXY_CIDRS and
// SECAUDIT_TRUSTED_PROXY_COUNT, which must be set together.
func WithTrustedProxies(cidrs []string, count int) Option {
	p := proxies{append([]string{}, cidrs...), count}
	return optionFunc(func(c *config) { c.proxies.Put(p, "WithTrustedProxies") })
}

// WithRouteFunc sets a function that gives http.route after the handler:
// f is called with the request the audit middleware passed on, and a
// non-empty result is the route (over what the router recorded). f does
// not see the request the router routed, which is usually a copy (chi,
// gorilla/mux and middlewares calling r.WithContext make one), so it cannot
// read a router's per-request state: chi.RouteContext(r.Context()) is nil
// there, and mux.CurrentRoute(r) too. For chi, gin, echo and gorilla/mux
// use the adapters instead (instrumentation/chi/auditchi and the others:
// one router middleware each), which put the router's pattern on every
// event of the request, not only on the response event; for a ServeMux
// behind middlewares see [Route]; any other router can call
// secaudit.RequestForUpdate(ctx).SetRoute(pattern) from a middleware
// that runs after matching. A panic in f is recovered and counted.
func WithRouteFunc(f func(*http.Request) string) Option {
	return optionFunc(func(c *config) { c.routeFunc = f })
}

// WithRequestBodies enables capture of allowlisted JSON body fields
// (audit.request.body). The default is off, or SECAUDIT_LOG_REQUEST_BODIES.
// Enabled capture needs a field allowlist ([WithBodyFields]).
func WithRequestBodies(enabled bool) Option {
	return optionFunc(func(c *config) { c.bodies.Put(enabled, "WithRequestBodies") })
}

// WithBodyFields sets the allowlist of top-level JSON keys captured (exact,
// case-sensitive). The default is SECAUDIT_BODY_FIELDS. Captured values are
// scrubbed by the processor chain like every attribute.
func WithBodyFields(fields ...string) Option {
	fields = append([]string{}, fields...)
	return optionFunc(func(c *config) { c.bodyFields.Put(fields, "WithBodyFields") })
}

// WithBodyPaths restricts capture to paths matching one of these RE2
// patterns (unanchored). The default is every path, or SECAUDIT_BODY_PATHS.
func WithBodyPaths(patterns ...string) Option {
	patterns = append([]string{}, patterns...)
	return optionFunc(func(c *config) { c.bodyPaths.Put(patterns, "WithBodyPaths") })
}

// WithBodyMethods sets the methods whose bodies are captured. The default
// is PATCH, POST and PUT.
func WithBodyMethods(methods ...string) Option {
	methods = append([]string{}, methods...)
	return optionFunc(func(c *config) { c.bodyMethods.Put(methods, "WithBodyMethods") })
}

// WithMaxBodyBytes caps the bytes read for capture (n >= 1): a longer body
// is recorded as too_large, and the handler still reads all of it. The
// default is 4096, or SECAUDIT_MAX_BODY_BYTES.
func WithMaxBodyBytes(n int) Option {
	return optionFunc(func(c *config) { c.bodyMax.Put(n, "WithMaxBodyBytes") })
}

// WithSessionIDSource sets where the opaque audit session id (session.id)
// comes from. Giving a source enables session ids unless WithSessionIDs
// (false) or SECAUDIT_EMIT_SESSION_ID=false says otherwise.
func WithSessionIDSource(s SessionIDSource) Option {
	return optionFunc(func(c *config) { c.sessions = s })
}

// WithSessionIDs enables or disables session.id when a source is set. The
// default is SECAUDIT_EMIT_SESSION_ID, else enabled when a source is set.
func WithSessionIDs(enabled bool) Option {
	return optionFunc(func(c *config) { c.sessionIDs.Put(enabled, "WithSessionIDs") })
}

// WithSuspiciousRequests enables security.suspicious_request events for
// requests whose path or query match a probe or injection rule (path
// traversal, /etc/passwd and friends, dotfiles, .php and WordPress probes,
// SQL and script injection markers), with the rule in security_rule.name
// and what it matched in audit.evidence: the matched text widened to whole
// words, at most 64 runes ("…" marks a cut, which never falls inside a
// word), scrubbed by the processor chain like every attribute. The default
// is off.
func WithSuspiciousRequests(enabled bool) Option {
	return optionFunc(func(c *config) { c.suspicious = enabled })
}

// WithoutEnv makes [New] ignore the SECAUDIT_* environment variables, so
// only options and defaults apply; the default Auditor (no [WithAuditor])
// ignores them too. By default the environment is read.
func WithoutEnv() Option {
	return optionFunc(func(c *config) { c.noEnv = true })
}

// resolve checks the options and reads the environment for what they leave
// unset (option > environment > default). Every bad setting is reported,
// each in the format of setting.Invalid.
func resolve(opts []Option) (*Middleware, error) {
	var c config
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	m := &Middleware{routeFunc: c.routeFunc, suspicious: c.suspicious, auditor: c.auditor}
	if c.guard != nil && !inert(c.guard) {
		m.guard = newGuardCalls(c.guard)
	}
	if m.auditor == nil {
		var aopts []secaudit.Option
		if c.noEnv {
			aopts = append(aopts, secaudit.WithoutEnv())
		}
		a, err := secaudit.New(aopts...)
		if err != nil {
			return nil, err
		}
		m.auditor = a
	}
	var errs []error
	errs = append(errs,
		setting.Env(&c.logOK, envconf.LogOKResponses, c.noEnv, envconf.Bool),
		setting.Env(&c.query, envconf.LogQuery, c.noEnv, envconf.Bool))
	m.logOK, m.query = c.logOK.Or(false), c.query.Or(false)

	var err error
	m.sampleRate, err = auditscope.SampleRate(c.sampleRate, c.noEnv)
	errs = append(errs, err)
	m.sampleKey, err = auditscope.SampleKey(c.noEnv)
	errs = append(errs, err)
	m.ignorePaths, err = auditscope.IgnorePaths(c.ignorePaths, c.noEnv)
	errs = append(errs, err)
	m.ignoreStatus, err = auditscope.IgnoreStatusCodes(c.ignoreStatus, c.noEnv)
	errs = append(errs, err)
	m.resolver, err = resolveProxies(c)
	errs = append(errs, err)
	m.body, err = resolveBodies(c)
	errs = append(errs, err)
	errs = append(errs, setting.Env(&c.sessionIDs, envconf.EmitSessionID, c.noEnv, envconf.Bool))
	if c.sessionIDs.Or(c.sessions != nil) {
		m.sessions = c.sessions
	}
	errs = append(errs, resolveStrict(c, m))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// resolveProxies: WithTrustedProxies > SECAUDIT_TRUSTED_PROXY_CIDRS and
// SECAUDIT_TRUSTED_PROXY_COUNT (set together) > none.
func resolveProxies(c config) (*clientip.Resolver, error) {
	if p, ok := c.proxies.Get(); ok {
		prefixes := make([]netip.Prefix, 0, len(p.cidrs))
		for _, s := range p.cidrs {
			pfx, err := envconf.ParsePrefix(strings.TrimSpace(s))
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
		return r, nil
	}
	var prefixes setting.Value[[]netip.Prefix]
	var count setting.Value[int]
	err := errors.Join(
		setting.Env(&prefixes, envconf.TrustedProxyCIDRs, c.noEnv, envconf.Prefixes),
		setting.Env(&count, envconf.TrustedProxyCount, c.noEnv, func(name string) (int, bool, error) { return envconf.Int(name, 1) }))
	switch {
	case err != nil:
		return nil, err
	case prefixes.IsSet() && !count.IsSet():
		return nil, setting.Invalid(envconf.TrustedProxyCount, "", "an integer >= 1, as "+envconf.TrustedProxyCIDRs+" is set")
	case count.IsSet() && !prefixes.IsSet():
		return nil, setting.Invalid(envconf.TrustedProxyCIDRs, "", "a list of CIDRs, as "+envconf.TrustedProxyCount+" is set")
	}
	return clientip.New(prefixes.Or(nil), count.Or(0))
}

// resolveBodies resolves body capture; nil when it is off.
func resolveBodies(c config) (*bodycapture.Capturer, error) {
	list := func(name string) ([]string, bool, error) { v, ok := envconf.List(name); return v, ok, nil }
	errs := []error{
		setting.Env(&c.bodies, envconf.LogRequestBodies, c.noEnv, envconf.Bool),
		setting.Env(&c.bodyFields, envconf.BodyFields, c.noEnv, list),
		setting.Env(&c.bodyMax, envconf.MaxBodyBytes, c.noEnv, func(name string) (int, bool, error) { return envconf.Int(name, 1) }),
	}
	var cfg bodycapture.Config
	cfg.Fields = c.bodyFields.Or(nil)
	if slices.Contains(cfg.Fields, "") {
		errs = append(errs, setting.Invalid(c.bodyFields.From(), `""`, "non-empty field names"))
	}
	paths, err := setting.Regexps(c.bodyPaths, envconf.BodyPaths, c.noEnv, envconf.Regexps)
	cfg.Paths = paths
	errs = append(errs, err)
	cfg.Methods = c.bodyMethods.Or(nil)
	for _, m := range cfg.Methods {
		if m == "" || strings.ContainsAny(m, " \t\r\n") {
			errs = append(errs, setting.Invalid("WithBodyMethods", fmt.Sprintf("%q", m), "HTTP methods"))
		}
	}
	if n, ok := c.bodyMax.Get(); ok {
		if n < 1 {
			errs = append(errs, setting.Invalid(c.bodyMax.From(), n, "an integer >= 1"))
		}
		cfg.MaxBytes = int64(n)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if !c.bodies.Or(false) {
		return nil, nil
	}
	if len(cfg.Fields) == 0 {
		return nil, setting.Invalid(c.bodies.From(), true, "a field allowlist as well (WithBodyFields or "+envconf.BodyFields+")")
	}
	return bodycapture.New(cfg), nil
}
