package processor

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/internal/setting"
)

// Option configures the processors of this package; every option is one,
// and [NewChain] takes them all. Each stage's constructor takes only the
// options of its stage — [ScrubOption], [LimitOption], [FilterOption],
// [SampleOption], [EnrichOption] — so an option given to the wrong stage
// does not compile. [WithoutEnv] is a [CommonOption], taken by every
// constructor.
type Option interface {
	apply(*config)
}

// ScrubOption configures a [Scrubber] (NewScrubber, NewChain).
type ScrubOption interface {
	Option
	scrubOption()
}

// LimitOption configures a [Limiter] (NewLimiter, NewChain).
type LimitOption interface {
	Option
	limitOption()
}

// FilterOption configures a [Filter] (NewFilter, NewChain).
type FilterOption interface {
	Option
	filterOption()
}

// SampleOption configures a [Sampler] (NewSampler, NewChain).
type SampleOption interface {
	Option
	sampleOption()
}

// EnrichOption configures an [Enricher] (NewEnricher, NewChain).
type EnrichOption interface {
	Option
	enrichOption()
}

// CommonOption configures every processor of this package.
type CommonOption interface {
	ScrubOption
	LimitOption
	FilterOption
	SampleOption
	EnrichOption
}

type (
	scrubOption  func(*config)
	limitOption  func(*config)
	filterOption func(*config)
	sampleOption func(*config)
	enrichOption func(*config)
	commonOption func(*config)
)

func (o scrubOption) apply(c *config)  { o(c) }
func (o limitOption) apply(c *config)  { o(c) }
func (o filterOption) apply(c *config) { o(c) }
func (o sampleOption) apply(c *config) { o(c) }
func (o enrichOption) apply(c *config) { o(c) }
func (o commonOption) apply(c *config) { o(c) }

func (scrubOption) scrubOption()   {}
func (limitOption) limitOption()   {}
func (filterOption) filterOption() {}
func (sampleOption) sampleOption() {}
func (enrichOption) enrichOption() {}
func (commonOption) scrubOption()  {}
func (commonOption) limitOption()  {}
func (commonOption) filterOption() {}
func (commonOption) sampleOption() {}
func (commonOption) enrichOption() {}

// config holds the options as given, each a setting.Value (whether it was
// given, and by which option); each constructor resolves its own settings
// from it (option > env > default) and checks them.
type config struct {
	noEnv bool

	keys, allowlist, patterns setting.Value[[]string]
	detectors                 setting.Value[Detector]
	pseudo                    setting.Value[pseudonymization]

	limits [len(limitFields)]setting.Value[int]

	ignorePaths  setting.Value[[]string]
	ignoreStatus setting.Value[[]int]
	filters      []FilterFunc

	sampleRate setting.Value[float64]

	enrich []EnrichFunc
}

type pseudonymization struct {
	key   []byte
	attrs []string
}

// newConfig applies opts (nil ones are skipped). It does not read the
// environment.
func newConfig[O Option](opts []O) config {
	var c config
	for _, o := range opts {
		if any(o) != nil {
			o.apply(&c)
		}
	}
	return c
}

// WithoutEnv makes the constructors ignore the SECAUDIT_* environment
// variables, so only options and defaults apply. It configures every
// processor. By default the environment is read.
func WithoutEnv() CommonOption {
	return commonOption(func(c *config) { c.noEnv = true })
}

// --- Scrubber ---------------------------------------------------------------

// WithSensitiveKeys replaces the key denylist of the [Scrubber]. An
// attribute or map entry whose normalised key (lowercase, only a–z and 0–9
// kept) contains a normalised entry is replaced by "[REDACTED]". With no
// arguments no key is sensitive. Environment: SECAUDIT_SENSITIVE_KEYS
// (comma list). Default: [DefaultSensitiveKeys].
func WithSensitiveKeys(keys ...string) ScrubOption {
	keys = append([]string{}, keys...)
	return scrubOption(func(c *config) { c.keys.Put(keys, "WithSensitiveKeys") })
}

// WithSensitiveKeyAllowlist sets keys that are never sensitive by key even
// when they contain a denylist entry; the normalised key must equal a
// normalised allowlist entry exactly. Value detectors and patterns still
// apply to allowlisted keys. Environment: SECAUDIT_SENSITIVE_KEY_ALLOWLIST.
// Default: none.
func WithSensitiveKeyAllowlist(keys ...string) ScrubOption {
	keys = append([]string{}, keys...)
	return scrubOption(func(c *config) { c.allowlist.Put(keys, "WithSensitiveKeyAllowlist") })
}

// WithSensitiveValuePatterns sets RE2 regular expressions; each match in a
// string value (or key) is replaced by "[REDACTED]", like a built-in
// detector's hit, so "key sk_live_abc" becomes "key [REDACTED]" with
// sk_live_\w+. Write a pattern to cover the whole secret (`Bearer \S+`,
// not `Bearer `); to redact a whole value, match it whole (`^.*ACME.*$`)
// or name its key in [WithSensitiveKeys]. They apply to strings only,
// never to numbers. Environment:
// SECAUDIT_SENSITIVE_VALUE_PATTERNS (a list of regexes, see the package
// documentation). Default: none (the built-in detectors of [WithDetectors]
// are separate).
func WithSensitiveValuePatterns(patterns ...string) ScrubOption {
	patterns = append([]string{}, patterns...)
	return scrubOption(func(c *config) { c.patterns.Put(patterns, "WithSensitiveValuePatterns") })
}

// WithDetectors sets which built-in secret detectors of the [Scrubber] run.
// Default: [AllDetectors]. There is no environment variable.
func WithDetectors(d Detector) ScrubOption {
	return scrubOption(func(c *config) { c.detectors.Put(d, "WithDetectors") })
}

// WithoutDetectors switches off the given built-in detectors, keeping the
// others (see [WithDetectors]).
func WithoutDetectors(d Detector) ScrubOption {
	return scrubOption(func(c *config) { c.detectors.Put(c.detectors.Or(AllDetectors)&^d, "WithoutDetectors") })
}

// MinPseudonymKeyBytes is the shortest HMAC key [WithPseudonymization] accepts.
const MinPseudonymKeyBytes = 16

// WithPseudonymization makes the [Scrubber] replace the values of the given
// attribute keys (exact match, at any depth, e.g. "user.id",
// "client.address") with a keyed pseudonym: the first 16 bytes of
// HMAC-SHA256(key, value) in lowercase hex. Equal values give equal
// pseudonyms, so events stay correlatable; without the key the original
// cannot be recovered or confirmed. The key must be at least
// [MinPseudonymKeyBytes] long and is never logged; an empty or short key
// is a construction error. Default: off. There is no environment variable
// (keep the key in your secret store and pass it here).
func WithPseudonymization(key []byte, attrKeys ...string) ScrubOption {
	p := pseudonymization{append([]byte{}, key...), append([]string{}, attrKeys...)}
	return scrubOption(func(c *config) { c.pseudo.Put(p, "WithPseudonymization") })
}

// scrubSettings resolves the Scrubber's settings (option > env > default).
func (c *config) scrubSettings() (keys, allow []string, patterns []*regexp.Regexp, det Detector, err error) {
	list := func(name string) ([]string, bool, error) { v, ok := envconf.List(name); return v, ok, nil }
	errs := []error{
		setting.Env(&c.keys, envconf.SensitiveKeys, c.noEnv, list),
		setting.Env(&c.allowlist, envconf.SensitiveKeyAllowlist, c.noEnv, list),
	}
	patterns, err = setting.Regexps(c.patterns, envconf.SensitiveValuePatterns, c.noEnv, envconf.Regexps)
	errs = append(errs, err)
	det = c.detectors.Or(AllDetectors)
	if det&^AllDetectors != 0 {
		errs = append(errs, setting.Invalid(c.detectors.From(), fmt.Sprintf("%#x", uint16(det)), fmt.Sprintf("detector bits within %#x", uint16(AllDetectors))))
	}
	if p, ok := c.pseudo.Get(); ok {
		given := "no key"
		if len(p.key) > 0 {
			given = fmt.Sprintf("a %d-byte key", len(p.key))
		}
		switch {
		case len(p.key) < MinPseudonymKeyBytes:
			errs = append(errs, setting.Invalid("WithPseudonymization", given, fmt.Sprintf("an HMAC key of at least %d bytes", MinPseudonymKeyBytes)))
		case len(p.attrs) == 0:
			errs = append(errs, setting.Invalid("WithPseudonymization", "no attribute keys", "the attribute keys to pseudonymize"))
		}
	}
	return c.keys.Or(defaultSensitiveKeys), c.allowlist.Or(nil), patterns, det, errors.Join(errs...)
}

// --- Limiter ----------------------------------------------------------------

// limitFields are the limits in config.limits' order.
var limitFields = [...]struct {
	option, name, field string // WithMaxDepth, max_depth, MaxDepth
	min                 int
	of                  func(*Limits) *int
}{
	{"WithMaxDepth", "max_depth", "MaxDepth", 1, func(l *Limits) *int { return &l.MaxDepth }},
	{"WithMaxMapEntries", "max_mapping_entries", "MaxMapEntries", 1, func(l *Limits) *int { return &l.MaxMapEntries }},
	{"WithMaxSliceLength", "max_sequence_length", "MaxSliceLength", 1, func(l *Limits) *int { return &l.MaxSliceLength }},
	{"WithMaxStringLength", "max_string_length", "MaxStringLength", 1, func(l *Limits) *int { return &l.MaxStringLength }},
	{"WithMaxAttributes", "max_attributes", "MaxAttributes", 1, func(l *Limits) *int { return &l.MaxAttributes }},
	{"WithMaxRecordBytes", "max_record_bytes", "MaxRecordBytes", MinRecordBytes, func(l *Limits) *int { return &l.MaxRecordBytes }},
}

const (
	limitDepth = iota
	limitMapEntries
	limitSliceLength
	limitStringLength
	limitAttributes
	limitRecordBytes
)

func limit(i, n int) LimitOption {
	return limitOption(func(c *config) { c.limits[i].Put(n, limitFields[i].option) })
}

// WithMaxDepth sets the [Limiter]'s nesting limit: top-level attribute
// values are at depth 1 and each enclosing map or slice adds 1; a value at
// depth ≥ n becomes "[TRUNCATED]". Default 8 (max_depth).
func WithMaxDepth(n int) LimitOption { return limit(limitDepth, n) }

// WithMaxMapEntries sets how many entries of a nested map the [Limiter]
// keeps; a longer map keeps the first n (in the map's order) plus
// "_truncated": "[TRUNCATED]". Default 100 (max_mapping_entries).
func WithMaxMapEntries(n int) LimitOption { return limit(limitMapEntries, n) }

// WithMaxSliceLength sets how many elements of a slice the [Limiter] keeps;
// a longer slice keeps n followed by "[TRUNCATED]" (a typed slice such as
// []int64 just keeps n). Default 100 (max_sequence_length).
func WithMaxSliceLength(n int) LimitOption { return limit(limitSliceLength, n) }

// WithMaxStringLength sets the longest string, in runes, the [Limiter]
// keeps; a longer one keeps n runes followed by "[TRUNCATED]". A key longer
// than n runes is never shortened: its attribute is dropped and counted.
// Default 4096 (max_string_length).
func WithMaxStringLength(n int) LimitOption { return limit(limitStringLength, n) }

// WithMaxAttributes sets how many top-level attributes the [Limiter]
// keeps: the first n, any protected contract attribute beyond them, and
// "_truncated": "[TRUNCATED]". Default 128 (max_attributes).
func WithMaxAttributes(n int) LimitOption { return limit(limitAttributes, n) }

// MinRecordBytes is the smallest record byte cap [WithMaxRecordBytes] accepts.
const MinRecordBytes = 1024

// WithMaxRecordBytes sets the [Limiter]'s cap on a record's estimated JSON
// size. An oversized record has its largest values replaced by
// "[TRUNCATED]" until it fits, then, if still too large, its last
// unprotected attributes dropped. Default 262144 (max_record_bytes); at
// least [MinRecordBytes].
func WithMaxRecordBytes(n int) LimitOption { return limit(limitRecordBytes, n) }

// WithLimits sets every limit at once; zero fields keep their defaults.
func WithLimits(l Limits) LimitOption {
	return limitOption(func(c *config) {
		for i, f := range limitFields {
			if v := *f.of(&l); v != 0 {
				c.limits[i].Put(v, "WithLimits")
			}
		}
	})
}

// limitSettings resolves the Limiter's limits (option > default; there are
// no environment variables for limits) and checks them.
func (c *config) limitSettings() (Limits, error) {
	l := DefaultLimits()
	var errs []error
	for i, f := range limitFields {
		v, ok := c.limits[i].Get()
		switch {
		case !ok:
		case v < f.min && c.limits[i].From() == "WithLimits":
			errs = append(errs, setting.Invalid("WithLimits", fmt.Sprintf("Limits{%s: %d}", f.field, v), fmt.Sprintf("%s >= %d", f.field, f.min)))
		case v < f.min:
			errs = append(errs, setting.Invalid(f.option, v, fmt.Sprintf("%s >= %d", f.name, f.min)))
		default:
			*f.of(&l) = v
		}
	}
	return l, errors.Join(errs...)
}

// --- Filter -----------------------------------------------------------------

// WithIgnorePaths makes the [Filter] drop http.response.* events whose
// escaped path (url.full's, else url.path) any of the RE2 patterns matches
// (anywhere; anchor with ^…$).
// Auth, model and other events are never affected. Environment:
// SECAUDIT_IGNORE_PATHS (a list of regexes, see the package documentation).
// Default: none. An empty list is a value: it overrides the environment.
func WithIgnorePaths(patterns ...string) FilterOption {
	patterns = append([]string{}, patterns...)
	return filterOption(func(c *config) { c.ignorePaths.Put(patterns, "WithIgnorePaths") })
}

// WithIgnoreStatusCodes makes the [Filter] drop http.response.* events with
// one of these http.response.status_code values (errors included, as in the
// reference; each drop is counted). Environment:
// SECAUDIT_IGNORE_STATUS_CODES (comma list). Default: none. An empty list
// is a value: it overrides the environment.
func WithIgnoreStatusCodes(codes ...int) FilterOption {
	codes = append([]int{}, codes...)
	return filterOption(func(c *config) { c.ignoreStatus.Put(codes, "WithIgnoreStatusCodes") })
}

// WithFilterFunc adds a filter to the [Filter]: a record is dropped when
// any filter returns false. Filters run in the order given; one that panics
// keeps the record (the panic is counted). Default: none.
func WithFilterFunc(f FilterFunc) FilterOption {
	return filterOption(func(c *config) {
		if f != nil {
			c.filters = append(c.filters, f)
		}
	})
}

// --- Sampler ----------------------------------------------------------------

// WithSampleRate sets the share (0..1) of http.response.success and
// http.response.redirect events the [Sampler] keeps, decided per trace id
// so a trace's events are kept or dropped together. Other events are never
// sampled. Environment: SECAUDIT_SAMPLE_RATE. Default 1 (keep all); 0 is a
// rate (keep none), which overrides the environment like any other.
func WithSampleRate(rate float64) SampleOption {
	return sampleOption(func(c *config) { c.sampleRate.Put(rate, "WithSampleRate") })
}

// --- Enricher ---------------------------------------------------------------

// WithEnrichFunc adds an enricher to the [Enricher]. Enrichers run in the
// order given; when two set the same key the later wins. Default: none.
func WithEnrichFunc(f EnrichFunc) EnrichOption {
	return enrichOption(func(c *config) {
		if f != nil {
			c.enrich = append(c.enrich, f)
		}
	})
}
