package instrumentation

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"regexp"
	"strings"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/internal/bodycapture"
	"github.com/secaudit/secaudit/internal/clientip"
	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/internal/sampling"
)

// Option configures a [Middleware]. Options are validated by [New]; a bad
// value is an error naming the option.
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// config holds the options as given; resolve turns it, with the
// environment, into a Middleware.
type config struct {
	auditor *secaudit.Auditor

	logOK      *bool
	query      *bool
	sampleRate *float64

	ignorePaths  []string
	ignoreStatus []int
	ignoreSet    uint8 // setPaths, setStatus: which ignore options were given

	proxyCIDRs []string
	proxyCount int
	proxiesSet bool

	routeFunc func(*http.Request) string

	bodies      *bool
	bodyFields  []string
	bodyPaths   []string
	bodyMethods []string
	bodyMax     *int
	bodySet     uint8 // setBody* bits: which body options were given

	sessions   SessionIDSource
	sessionIDs *bool

	suspicious bool

	gate         Gate
	strictRoutes []string
	strictSet    bool
}

// Bits of config.ignoreSet.
const (
	setPaths = 1 << iota
	setStatus
)

// Bits of config.bodySet.
const (
	setBodyFields = 1 << iota
	setBodyPaths
	setBodyMethods
)

// WithAuditor sets the Auditor that emits the events. The default is
// secaudit.New() at construction: the global LoggerProvider, usernames per
// SECAUDIT_INCLUDE_USERNAMES. A nil Auditor is ignored. Whether user.name is
// emitted is the Auditor's setting (secaudit.WithUsernames).
func WithAuditor(a *secaudit.Auditor) Option {
	return optionFunc(func(c config) config {
		if a != nil {
			c.auditor = a
		}
		return c
	})
}

// WithLogOKResponses enables http.response.success and .redirect events
// (1xx–3xx). The default is off, or SECAUDIT_LOG_OK_RESPONSES. Client and
// server errors are always logged.
func WithLogOKResponses(enabled bool) Option {
	return optionFunc(func(c config) config {
		c.logOK = &enabled
		return c
	})
}

// WithURLQuery adds the request's query string, as the client wrote it
// (percent-encoded, without the "?"), to the response event as url.query.
// The default is off, or SECAUDIT_LOG_QUERY: queries carry tokens,
// passwords and personal data. The processor chain scrubs it: the values of
// parameters with sensitive names, and every secret the detectors or your
// patterns find in the raw or the decoded text, are replaced.
func WithURLQuery(enabled bool) Option {
	return optionFunc(func(c config) config {
		c.query = &enabled
		return c
	})
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
	return optionFunc(func(c config) config {
		c.sampleRate = &rate
		return c
	})
}

// WithIgnorePaths skips requests whose escaped URL path (as the request
// wrote it, %2F kept) matches one of these RE2 patterns (unanchored): no
// request facts, no event, no body read. The
// default is none, or SECAUDIT_IGNORE_PATHS (a list of regexes). Given
// patterns replace the environment's.
func WithIgnorePaths(patterns ...string) Option {
	return optionFunc(func(c config) config {
		c.ignorePaths = append([]string(nil), patterns...)
		c.ignoreSet |= setPaths
		return c
	})
}

// WithIgnoreStatusCodes emits no http.response event for these statuses
// (100–599), errors included. The default is none, or
// SECAUDIT_IGNORE_STATUS_CODES.
func WithIgnoreStatusCodes(codes ...int) Option {
	return optionFunc(func(c config) config {
		c.ignoreStatus = append([]int(nil), codes...)
		c.ignoreSet |= setStatus
		return c
	})
}

// WithTrustedProxies trusts count proxies (count >= 1) inside the given
// networks (CIDRs or bare addresses; host bits are masked) when resolving
// client.address from X-Forwarded-For. Both empty/zero trusts none: the
// client is the socket peer. The default is SECAUDIT_TRUSTED_PROXY_CIDRS and
// SECAUDIT_TRUSTED_PROXY_COUNT, which must be set together.
func WithTrustedProxies(cidrs []string, count int) Option {
	return optionFunc(func(c config) config {
		c.proxyCIDRs = append([]string(nil), cidrs...)
		c.proxyCount = count
		c.proxiesSet = true
		return c
	})
}

// WithRouteFunc sets how http.route is read for routers other than
// net/http's ServeMux: f is called after the handler with the request the
// handler received, and a non-empty result is the route. Without it, the
// route is the ServeMux pattern (see the package documentation). A panic in
// f is recovered and counted.
func WithRouteFunc(f func(*http.Request) string) Option {
	return optionFunc(func(c config) config {
		c.routeFunc = f
		return c
	})
}

// WithRequestBodies enables capture of allowlisted JSON body fields
// (audit.request.body). The default is off, or SECAUDIT_LOG_REQUEST_BODIES.
// Enabled capture needs a field allowlist ([WithBodyFields]).
func WithRequestBodies(enabled bool) Option {
	return optionFunc(func(c config) config {
		c.bodies = &enabled
		return c
	})
}

// WithBodyFields sets the allowlist of top-level JSON keys captured (exact,
// case-sensitive). The default is SECAUDIT_BODY_FIELDS. Captured values are
// scrubbed by the processor chain like every attribute.
func WithBodyFields(fields ...string) Option {
	return optionFunc(func(c config) config {
		c.bodyFields = append([]string(nil), fields...)
		c.bodySet |= setBodyFields
		return c
	})
}

// WithBodyPaths restricts capture to paths matching one of these RE2
// patterns (unanchored). The default is every path, or SECAUDIT_BODY_PATHS.
func WithBodyPaths(patterns ...string) Option {
	return optionFunc(func(c config) config {
		c.bodyPaths = append([]string(nil), patterns...)
		c.bodySet |= setBodyPaths
		return c
	})
}

// WithBodyMethods sets the methods whose bodies are captured. The default
// is PATCH, POST and PUT.
func WithBodyMethods(methods ...string) Option {
	return optionFunc(func(c config) config {
		c.bodyMethods = append([]string(nil), methods...)
		c.bodySet |= setBodyMethods
		return c
	})
}

// WithMaxBodyBytes caps the bytes read for capture (n >= 1): a longer body
// is recorded as too_large, and the handler still reads all of it. The
// default is 4096, or SECAUDIT_MAX_BODY_BYTES.
func WithMaxBodyBytes(n int) Option {
	return optionFunc(func(c config) config {
		c.bodyMax = &n
		return c
	})
}

// WithSessionIDSource sets where the opaque audit session id (session.id)
// comes from. Giving a source enables session ids unless WithSessionIDs
// (false) or SECAUDIT_EMIT_SESSION_ID=false says otherwise.
func WithSessionIDSource(s SessionIDSource) Option {
	return optionFunc(func(c config) config {
		c.sessions = s
		return c
	})
}

// WithSessionIDs enables or disables session.id when a source is set. The
// default is SECAUDIT_EMIT_SESSION_ID, else enabled when a source is set.
func WithSessionIDs(enabled bool) Option {
	return optionFunc(func(c config) config {
		c.sessionIDs = &enabled
		return c
	})
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
	return optionFunc(func(c config) config {
		c.suspicious = enabled
		return c
	})
}

// resolve validates the options and reads the environment for what they
// leave unset (option > environment > default).
func resolve(opts []Option) (*Middleware, error) {
	var c config
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	m := &Middleware{routeFunc: c.routeFunc, suspicious: c.suspicious, sampleRate: 1}
	var errs []error
	fail := func(err error) { errs = append(errs, err) }

	m.auditor = c.auditor
	if m.auditor == nil {
		a, err := secaudit.New()
		if err != nil {
			return nil, fmt.Errorf("instrumentation: default auditor: %w", err)
		}
		m.auditor = a
	}

	if c.logOK != nil {
		m.logOK = *c.logOK
	} else if v, ok, err := envconf.Bool(envconf.LogOKResponses); err != nil {
		fail(err)
	} else if ok {
		m.logOK = v
	}

	if c.query != nil {
		m.query = *c.query
	} else if v, ok, err := envconf.Bool(envconf.LogQuery); err != nil {
		fail(err)
	} else if ok {
		m.query = v
	}

	if c.sampleRate != nil {
		if r := *c.sampleRate; math.IsNaN(r) || r < 0 || r > 1 {
			fail(fmt.Errorf("WithSampleRate(%v): want a number from 0 to 1", r))
		} else {
			m.sampleRate = r
		}
	} else if v, ok, err := envconf.Rate(envconf.SampleRate); err != nil {
		fail(err)
	} else if ok {
		m.sampleRate = v
	}
	if k, err := sampling.KeyFromEnv(); err != nil {
		fail(err)
	} else {
		m.sampleKey = k
	}

	if c.ignoreSet&setPaths != 0 {
		res, err := compile("WithIgnorePaths", c.ignorePaths)
		if err != nil {
			fail(err)
		}
		m.ignorePaths = res
	} else if res, _, err := envconf.Regexps(envconf.IgnorePaths); err != nil {
		fail(err)
	} else {
		m.ignorePaths = res
	}

	var codes []int
	if c.ignoreSet&setStatus != 0 {
		for _, code := range c.ignoreStatus {
			if code < 100 || code > 599 {
				fail(fmt.Errorf("WithIgnoreStatusCodes(%d): want HTTP status codes from 100 to 599", code))
				continue
			}
			codes = append(codes, code)
		}
	} else if v, _, err := envconf.StatusCodes(envconf.IgnoreStatusCodes); err != nil {
		fail(err)
	} else {
		codes = v
	}
	for _, code := range codes {
		m.ignoreStatus.Add(code)
	}

	if r, err := resolveProxies(c); err != nil {
		fail(err)
	} else {
		m.resolver = r
	}

	if capt, err := resolveBodies(c); err != nil {
		fail(err)
	} else {
		m.body = capt
	}

	if err := resolveSessions(c, m); err != nil {
		fail(err)
	}

	if err := resolveStrict(c, m); err != nil {
		fail(err)
	}

	if len(errs) > 0 {
		return nil, fmt.Errorf("instrumentation: %w", errors.Join(errs...))
	}
	return m, nil
}

func compile(field string, patterns []string) ([]*regexp.Regexp, error) {
	res, bad, err := envconf.CompileRegexps(patterns)
	if err != nil {
		return nil, fmt.Errorf("%s(%q): not a valid RE2 regular expression: %v", field, bad, err)
	}
	return res, nil
}

func resolveProxies(c config) (*clientip.Resolver, error) {
	var prefixes []netip.Prefix
	count := 0
	if c.proxiesSet {
		for _, s := range c.proxyCIDRs {
			p, err := envconf.ParsePrefix(strings.TrimSpace(s))
			if err != nil {
				return nil, fmt.Errorf("WithTrustedProxies: invalid CIDR %q", s)
			}
			prefixes = append(prefixes, p)
		}
		count = c.proxyCount
		r, err := clientip.New(prefixes, count)
		if err != nil {
			return nil, fmt.Errorf("WithTrustedProxies(%d networks, count %d): %w", len(prefixes), count, err)
		}
		return r, nil
	}
	prefixes, hasCIDRs, err := envconf.Prefixes(envconf.TrustedProxyCIDRs)
	if err != nil {
		return nil, err
	}
	count, hasCount, err := envconf.Int(envconf.TrustedProxyCount, 1)
	if err != nil {
		return nil, err
	}
	if hasCIDRs != hasCount {
		return nil, fmt.Errorf("%s and %s must be set together", envconf.TrustedProxyCIDRs, envconf.TrustedProxyCount)
	}
	return clientip.New(prefixes, count)
}

func resolveBodies(c config) (*bodycapture.Capturer, error) {
	enabled := false
	var errs []error
	if c.bodies != nil {
		enabled = *c.bodies
	} else if v, ok, err := envconf.Bool(envconf.LogRequestBodies); err != nil {
		errs = append(errs, err)
	} else if ok {
		enabled = v
	}
	var cfg bodycapture.Config
	fieldsFrom := "WithBodyFields"
	if c.bodySet&setBodyFields != 0 {
		cfg.Fields = c.bodyFields
	} else if v, ok := envconf.List(envconf.BodyFields); ok {
		cfg.Fields, fieldsFrom = v, envconf.BodyFields
	}
	for _, f := range cfg.Fields {
		if f == "" {
			errs = append(errs, fmt.Errorf("%s: empty field name", fieldsFrom))
		}
	}
	if c.bodySet&setBodyPaths != 0 {
		res, err := compile("WithBodyPaths", c.bodyPaths)
		if err != nil {
			errs = append(errs, err)
		}
		cfg.Paths = res
	} else if res, _, err := envconf.Regexps(envconf.BodyPaths); err != nil {
		errs = append(errs, err)
	} else {
		cfg.Paths = res
	}
	if c.bodySet&setBodyMethods != 0 {
		for _, m := range c.bodyMethods {
			if m == "" || strings.ContainsAny(m, " \t\r\n") {
				errs = append(errs, fmt.Errorf("WithBodyMethods(%q): not an HTTP method", m))
			}
		}
		cfg.Methods = c.bodyMethods
	}
	if c.bodyMax != nil {
		if *c.bodyMax < 1 {
			errs = append(errs, fmt.Errorf("WithMaxBodyBytes(%d): want an integer >= 1", *c.bodyMax))
		}
		cfg.MaxBytes = int64(*c.bodyMax)
	} else if v, ok, err := envconf.Int(envconf.MaxBodyBytes, 1); err != nil {
		errs = append(errs, err)
	} else if ok {
		cfg.MaxBytes = int64(v)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if !enabled {
		return nil, nil
	}
	if len(cfg.Fields) == 0 {
		return nil, fmt.Errorf("request body capture is enabled but no field is allowlisted (WithBodyFields or %s)", envconf.BodyFields)
	}
	return bodycapture.New(cfg), nil
}

func resolveSessions(c config, m *Middleware) error {
	enabled := c.sessions != nil
	if c.sessionIDs != nil {
		enabled = *c.sessionIDs
	} else if v, ok, err := envconf.Bool(envconf.EmitSessionID); err != nil {
		return err
	} else if ok {
		enabled = v
	}
	if enabled && c.sessions != nil {
		m.sessions = c.sessions
	}
	return nil
}
