package detect

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/internal/setting"
)

// DefaultStateMaxBytes is the memory store's default cap (SECAUDIT_STATE_MAX_BYTES).
const DefaultStateMaxBytes = 64 << 20

// Option configures [New].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type ruleSetting struct {
	threshold int
	window    time.Duration
	from      string
}

type config struct {
	noEnv     bool
	enabled   setting.Value[bool]
	rules     setting.Value[map[string]ruleSetting]
	fields    setting.Value[[]string]
	maxBytes  setting.Value[int64]
	stateURL  setting.Value[string]
	custom    []Rule
	state     State
	logger    log.Logger
	now       func() time.Time
	meter     metric.MeterProvider
	responder func(context.Context, Fired)
	optionErr error
}

// WithoutEnv makes [New] ignore the SECAUDIT_* variables.
func WithoutEnv() Option { return optionFunc(func(c *config) { c.noEnv = true }) }

// WithEnabled turns detection on or off (SECAUDIT_DETECT, default true).
// Off, [Processor.Active] is false and setup adds no processor.
func WithEnabled(on bool) Option {
	return optionFunc(func(c *config) { c.enabled.Put(on, fmt.Sprintf("WithEnabled(%v)", on)) })
}

// WithRule sets a built-in rule's threshold and window; threshold 0 turns
// it off. Like one item of SECAUDIT_DETECT_RULES, which it overrides for
// that rule.
func WithRule(name string, threshold int, window time.Duration) Option {
	return optionFunc(func(c *config) {
		from := fmt.Sprintf("WithRule(%q, %d, %v)", name, threshold, window)
		if !knownRule(name) {
			c.optionErr = setting.Invalid("WithRule", strconv.Quote(name), "a built-in rule: "+strings.Join(ruleNames(), ", "))
			return
		}
		if threshold < 0 || (threshold > 0 && window <= 0) {
			c.optionErr = setting.Invalid("WithRule", fmt.Sprintf("%q, %d, %v", name, threshold, window), "a threshold >= 0 (0: off) and a window > 0")
			return
		}
		m, _ := c.rules.Get()
		if m == nil {
			m = map[string]ruleSetting{}
		}
		m[name] = ruleSetting{threshold, window, from}
		c.rules.Put(m, "WithRule")
	})
}

// WithSensitiveFields names the "model.field" pairs whose change fires
// sensitive_change (SECAUDIT_DETECT_SENSITIVE_FIELDS); none by default,
// which leaves the rule off.
func WithSensitiveFields(fields ...string) Option {
	return optionFunc(func(c *config) {
		c.fields.Put(append([]string(nil), fields...), "WithSensitiveFields")
	})
}

// WithStateMaxBytes caps the memory store (SECAUDIT_STATE_MAX_BYTES,
// default 64 MiB). Ignored with [WithState].
func WithStateMaxBytes(n int64) Option {
	return optionFunc(func(c *config) { c.maxBytes.Put(n, fmt.Sprintf("WithStateMaxBytes(%d)", n)) })
}

// WithState replaces the memory store (a shared store, a test double).
// A [SharedState] given here is not closed by the processor: its owner
// closes it.
func WithState(s State) Option { return optionFunc(func(c *config) { c.state = s }) }

// WithCustomRule adds a rule of the application's own.
func WithCustomRule(r Rule) Option {
	return optionFunc(func(c *config) { c.custom = append(c.custom, r) })
}

// WithLogger sets the logger alerts are emitted through; it should be a
// logger of the provider the processor is part of, so that alerts are
// scrubbed and delivered like every record. See also [Processor.SetLogger].
func WithLogger(l log.Logger) Option { return optionFunc(func(c *config) { c.logger = l }) }

// WithResponder calls respond with every alert a rule fires (built-in or
// custom), synchronously in [Processor.OnEmit] with the triggering record's
// context, before the alert is emitted and whether or not a logger is set:
// the hook through which a response such as a guard's block is applied
// (detect/guard's Guard.Responder). respond must be quick and must not
// block; a panic in it is recovered and counted ([Stats].Panics). The
// last WithResponder given wins; nil removes it.
func WithResponder(respond func(ctx context.Context, f Fired)) Option {
	return optionFunc(func(c *config) { c.responder = respond })
}

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return optionFunc(func(c *config) { c.now = now }) }

// WithMeterProvider reports the processor's counters as OTel metrics.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.meter = mp })
}

// resolve applies the environment under the options and validates.
func (c *config) resolve() error {
	if c.optionErr != nil {
		return c.optionErr
	}
	if err := setting.Env(&c.enabled, envconf.Detect, c.noEnv, envconf.Bool); err != nil {
		return err
	}
	var env setting.Value[map[string]ruleSetting]
	if err := setting.Env(&env, envconf.DetectRules, c.noEnv, parseRulesEnv); err != nil {
		return err
	}
	// Options override the variable rule by rule.
	if m, ok := env.Get(); ok {
		opt, _ := c.rules.Get()
		for k, v := range opt {
			m[k] = v
		}
		c.rules.Put(m, envconf.DetectRules)
	}
	if err := setting.Env(&c.fields, envconf.DetectSensitiveFields, c.noEnv, func(name string) ([]string, bool, error) {
		l, ok := envconf.List(name)
		return l, ok, nil
	}); err != nil {
		return err
	}
	if fields, ok := c.fields.Get(); ok {
		for _, f := range fields {
			if i := strings.LastIndexByte(f, '.'); i <= 0 || i == len(f)-1 {
				return setting.Invalid(c.fields.From(), f, `"model.field" names`)
			}
		}
	}
	if err := setting.Env(&c.maxBytes, envconf.StateMaxBytes, c.noEnv, func(name string) (int64, bool, error) {
		n, ok, err := envconf.Int(name, 1<<16)
		return int64(n), ok, err
	}); err != nil {
		return err
	}
	if n := c.maxBytes.Or(DefaultStateMaxBytes); n < 1<<16 {
		return setting.Invalid(c.maxBytes.From(), n, "at least 65536 bytes")
	}
	for _, r := range c.custom {
		if r == nil || r.Name() == "" || knownRule(r.Name()) {
			name := "<nil>"
			if r != nil {
				name = r.Name()
			}
			return setting.Invalid("WithCustomRule", strconv.Quote(name), "a rule with a name of its own")
		}
	}
	return nil
}

// parseRulesEnv parses "rule:threshold/window,rule:off".
func parseRulesEnv(name string) (map[string]ruleSetting, bool, error) {
	items, ok := envconf.List(name)
	if !ok {
		return nil, false, nil
	}
	raw, _ := envconf.String(name)
	bad := func() (map[string]ruleSetting, bool, error) {
		return nil, false, setting.Invalid(name, raw, "a list of rule:threshold/window or rule:off, rules "+strings.Join(ruleNames(), ", "))
	}
	m := map[string]ruleSetting{}
	for _, it := range items {
		rule, spec, ok := strings.Cut(it, ":")
		rule, spec = strings.TrimSpace(rule), strings.TrimSpace(spec)
		if !ok || !knownRule(rule) {
			return bad()
		}
		if strings.EqualFold(spec, "off") {
			m[rule] = ruleSetting{from: name}
			continue
		}
		ts, ws, ok := strings.Cut(spec, "/")
		n, err := strconv.Atoi(strings.TrimSpace(ts))
		if !ok || err != nil || n < 1 {
			return bad()
		}
		w, err := time.ParseDuration(strings.TrimSpace(ws))
		if err != nil || w <= 0 {
			return bad()
		}
		m[rule] = ruleSetting{n, w, name}
	}
	return m, true, nil
}

// Rule is a custom rule: plain Go, called with every record the provider
// emits (never an alert). Evaluate returns the alert to emit, if any; it
// keeps its own state or uses the [State] it is given, and should fire once
// per subject and window ([State.MarkFired]). A panic is recovered and
// counted ([Stats].Panics).
type Rule interface {
	Name() string
	Evaluate(ctx context.Context, r *sdklog.Record, st State, now time.Time) (Alert, bool)
}

// Fired is a fired rule as a responder sees it ([WithResponder]).
type Fired struct {
	Rule  string // security_rule.name
	Alert Alert  // as emitted: Address and UserID name the subject
	// User is the subject user's login name as the application claimed it
	// (what it passes to a guard's CheckLogin), else the record's user.name,
	// else "". It is for the responder only: never emitted.
	User string
	// UserName is user.name as the triggering record carried it (set only
	// when usernames are emitted): what events about the response may show.
	UserName string
}

// Alert is what a custom rule fires: the processor emits it as one
// security.alert with the triggering record's trace and request facts.
type Alert struct {
	Category string
	Count    int
	Window   time.Duration
	High     bool   // ERROR instead of WARNING
	Address  string // client.address, if the subject is an address
	UserID   string // user.id, if the subject is a user
}
