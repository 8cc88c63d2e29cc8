package processor

import (
	"errors"
	"fmt"
	"math"
	"regexp"

	"github.com/secaudit/secaudit/internal/envconf"
)

// part names the processor an option configures.
type part uint8

const (
	partScrub part = 1 << iota
	partLimit
	partFilter
	partSample
	partEnrich

	partAll = partScrub | partLimit | partFilter | partSample | partEnrich
)

func (p part) String() string {
	switch p {
	case partScrub:
		return "Scrubber"
	case partLimit:
		return "Limiter"
	case partFilter:
		return "Filter"
	case partSample:
		return "Sampler"
	case partEnrich:
		return "Enricher"
	}
	return "Chain"
}

// Option configures the processors of this package. Each WithX documents
// the processor it configures; [NewChain] accepts every option, and an
// individual constructor (NewScrubber, NewLimiter, …) returns an error for an
// option that does not configure it, so a misplaced option never goes
// unnoticed.
type Option interface {
	apply(config) config
}

type option struct {
	name string
	part part
	fn   func(*config)
}

func (o option) apply(c config) config {
	c.used = append(c.used, usedOption{o.name, o.part})
	o.fn(&c)
	return c
}

type usedOption struct {
	name string
	part part
}

// config holds every setting; nil pointers and nil slices mean "not given by
// an option" so the environment or the default applies.
type config struct {
	used   []usedOption
	errs   []error
	noEnv  bool
	scrub  scrubSettings
	limit  Limits
	limitN limitSet
	filter filterSettings
	sample sampleSettings
	enrich []EnrichFunc
}

type scrubSettings struct {
	keys       *[]string
	allowlist  *[]string
	patterns   *[]*regexp.Regexp // compiled by the option
	detectors  Detector
	detSet     bool
	pseudoKey  []byte
	pseudoKeys []string
	pseudoSet  bool
}

type limitSet struct{ depth, mapEntries, sliceLen, stringLen, attrs, recordBytes bool }

type filterSettings struct {
	paths    *[]*regexp.Regexp // compiled by the option
	statuses *[]int
	funcs    []FilterFunc
}

type sampleSettings struct {
	rate *float64
}

// newConfig applies opts and checks that each one configures a part in
// parts. It does not read the environment; each constructor resolves its own
// settings (option > env > default).
func newConfig(parts part, opts []Option) (config, error) {
	var c config
	for _, o := range opts {
		if o == nil {
			continue
		}
		c = o.apply(c)
	}
	var errs []error
	for _, u := range c.used {
		if u.part&parts == 0 {
			errs = append(errs, fmt.Errorf("processor: option %s configures the %s, not the %s", u.name, u.part, parts))
		}
	}
	errs = append(errs, c.errs...)
	return c, errors.Join(errs...)
}

func invalidOption(name, format string, args ...any) error {
	return fmt.Errorf("processor: %s: %s", name, fmt.Sprintf(format, args...))
}

// WithoutEnv makes the constructors ignore the SECAUDIT_* environment
// variables, so only options and defaults apply. It configures every
// processor. By default the environment is read.
func WithoutEnv() Option {
	return option{"WithoutEnv", partAll, func(c *config) { c.noEnv = true }}
}

// --- Scrubber ---------------------------------------------------------------

// WithSensitiveKeys replaces the key denylist of the [Scrubber]. An
// attribute or map entry whose normalised key (lowercase, only a–z and 0–9
// kept) contains a normalised entry is replaced by "[REDACTED]". With no
// arguments no key is sensitive. Environment: SECAUDIT_SENSITIVE_KEYS
// (comma list). Default: [DefaultSensitiveKeys].
func WithSensitiveKeys(keys ...string) Option {
	keys = append([]string{}, keys...)
	return option{"WithSensitiveKeys", partScrub, func(c *config) { c.scrub.keys = &keys }}
}

// WithSensitiveKeyAllowlist sets keys that are never sensitive by key even
// when they contain a denylist entry; the normalised key must equal a
// normalised allowlist entry exactly. Value detectors and patterns still
// apply to allowlisted keys. Environment: SECAUDIT_SENSITIVE_KEY_ALLOWLIST.
// Default: none.
func WithSensitiveKeyAllowlist(keys ...string) Option {
	keys = append([]string{}, keys...)
	return option{"WithSensitiveKeyAllowlist", partScrub, func(c *config) { c.scrub.allowlist = &keys }}
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
func WithSensitiveValuePatterns(patterns ...string) Option {
	patterns = append([]string{}, patterns...)
	return option{"WithSensitiveValuePatterns", partScrub, func(c *config) {
		res, bad, err := envconf.CompileRegexps(patterns)
		if err != nil {
			c.errs = append(c.errs, invalidOption("WithSensitiveValuePatterns", "%q is not a valid RE2 regular expression: %v", bad, err))
		}
		c.scrub.patterns = &res
	}}
}

// WithDetectors sets which built-in secret detectors of the [Scrubber] run.
// Default: [AllDetectors]. There is no environment variable.
func WithDetectors(d Detector) Option {
	return option{"WithDetectors", partScrub, func(c *config) {
		if d&^AllDetectors != 0 {
			c.errs = append(c.errs, invalidOption("WithDetectors", "unknown detector bits %#x", uint16(d&^AllDetectors)))
		}
		c.scrub.detectors, c.scrub.detSet = d&AllDetectors, true
	}}
}

// WithoutDetectors switches off the given built-in detectors, keeping the
// others (see [WithDetectors]).
func WithoutDetectors(d Detector) Option {
	return option{"WithoutDetectors", partScrub, func(c *config) {
		if !c.scrub.detSet {
			c.scrub.detectors, c.scrub.detSet = AllDetectors, true
		}
		c.scrub.detectors &^= d
	}}
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
func WithPseudonymization(key []byte, attrKeys ...string) Option {
	key = append([]byte{}, key...)
	attrKeys = append([]string{}, attrKeys...)
	return option{"WithPseudonymization", partScrub, func(c *config) {
		switch {
		case len(key) == 0:
			c.errs = append(c.errs, invalidOption("WithPseudonymization", "an HMAC key is required"))
		case len(key) < MinPseudonymKeyBytes:
			c.errs = append(c.errs, invalidOption("WithPseudonymization", "the HMAC key must be at least %d bytes, got %d", MinPseudonymKeyBytes, len(key)))
		case len(attrKeys) == 0:
			c.errs = append(c.errs, invalidOption("WithPseudonymization", "no attribute keys given"))
		}
		c.scrub.pseudoKey, c.scrub.pseudoKeys, c.scrub.pseudoSet = key, attrKeys, true
	}}
}

// --- Limiter ----------------------------------------------------------------

func limitOption(name, field string, min int, v int, set func(*config)) Option {
	return option{name, partLimit, func(c *config) {
		if v < min {
			if min == 1 {
				c.errs = append(c.errs, invalidOption(name, "%s must be greater than 0, got %d", field, v))
			} else {
				c.errs = append(c.errs, invalidOption(name, "%s must be at least %d, got %d", field, min, v))
			}
			return
		}
		set(c)
	}}
}

// WithMaxDepth sets the [Limiter]'s nesting limit: top-level attribute
// values are at depth 1 and each enclosing map or slice adds 1; a value at
// depth ≥ n becomes "[TRUNCATED]". Default 8 (max_depth).
func WithMaxDepth(n int) Option {
	return limitOption("WithMaxDepth", "max_depth", 1, n, func(c *config) { c.limit.MaxDepth, c.limitN.depth = n, true })
}

// WithMaxMapEntries sets how many entries of a nested map the [Limiter]
// keeps; a longer map keeps the first n (in the map's order) plus
// "_truncated": "[TRUNCATED]". Default 100 (max_mapping_entries).
func WithMaxMapEntries(n int) Option {
	return limitOption("WithMaxMapEntries", "max_mapping_entries", 1, n, func(c *config) { c.limit.MaxMapEntries, c.limitN.mapEntries = n, true })
}

// WithMaxSliceLength sets how many elements of a slice the [Limiter] keeps;
// a longer slice keeps n followed by "[TRUNCATED]" (a typed slice such as
// []int64 just keeps n). Default 100 (max_sequence_length).
func WithMaxSliceLength(n int) Option {
	return limitOption("WithMaxSliceLength", "max_sequence_length", 1, n, func(c *config) { c.limit.MaxSliceLength, c.limitN.sliceLen = n, true })
}

// WithMaxStringLength sets the longest string, in runes, the [Limiter]
// keeps; a longer one keeps n runes followed by "[TRUNCATED]". A key longer
// than n runes is never shortened: its attribute is dropped and counted.
// Default 4096 (max_string_length).
func WithMaxStringLength(n int) Option {
	return limitOption("WithMaxStringLength", "max_string_length", 1, n, func(c *config) { c.limit.MaxStringLength, c.limitN.stringLen = n, true })
}

// WithMaxAttributes sets how many top-level attributes the [Limiter]
// keeps: the first n, any protected contract attribute beyond them, and
// "_truncated": "[TRUNCATED]". Default 128 (max_attributes).
func WithMaxAttributes(n int) Option {
	return limitOption("WithMaxAttributes", "max_attributes", 1, n, func(c *config) { c.limit.MaxAttributes, c.limitN.attrs = n, true })
}

// MinRecordBytes is the smallest record byte cap [WithMaxRecordBytes] accepts.
const MinRecordBytes = 1024

// WithMaxRecordBytes sets the [Limiter]'s cap on a record's estimated JSON
// size. An oversized record has its largest values replaced by
// "[TRUNCATED]" until it fits, then, if still too large, its last
// unprotected attributes dropped. Default 262144 (max_record_bytes); at
// least [MinRecordBytes].
func WithMaxRecordBytes(n int) Option {
	return limitOption("WithMaxRecordBytes", "max_record_bytes", MinRecordBytes, n, func(c *config) { c.limit.MaxRecordBytes, c.limitN.recordBytes = n, true })
}

// WithLimits sets every limit at once; zero fields keep their defaults.
func WithLimits(l Limits) Option {
	return option{"WithLimits", partLimit, func(c *config) {
		fields := []struct {
			name, field string
			v, min      int
			dst         *int
			set         *bool
		}{
			{"WithLimits", "MaxDepth", l.MaxDepth, 1, &c.limit.MaxDepth, &c.limitN.depth},
			{"WithLimits", "MaxMapEntries", l.MaxMapEntries, 1, &c.limit.MaxMapEntries, &c.limitN.mapEntries},
			{"WithLimits", "MaxSliceLength", l.MaxSliceLength, 1, &c.limit.MaxSliceLength, &c.limitN.sliceLen},
			{"WithLimits", "MaxStringLength", l.MaxStringLength, 1, &c.limit.MaxStringLength, &c.limitN.stringLen},
			{"WithLimits", "MaxAttributes", l.MaxAttributes, 1, &c.limit.MaxAttributes, &c.limitN.attrs},
			{"WithLimits", "MaxRecordBytes", l.MaxRecordBytes, MinRecordBytes, &c.limit.MaxRecordBytes, &c.limitN.recordBytes},
		}
		for _, f := range fields {
			if f.v == 0 {
				continue
			}
			if f.v < f.min {
				c.errs = append(c.errs, invalidOption(f.name, "%s must be at least %d, got %d", f.field, f.min, f.v))
				continue
			}
			*f.dst, *f.set = f.v, true
		}
	}}
}

// --- Filter -----------------------------------------------------------------

// WithIgnorePaths makes the [Filter] drop http.response.* events whose
// escaped path (url.full's, else url.path) any of the RE2 patterns matches
// (anywhere; anchor with ^…$).
// Auth, model and other events are never affected. Environment:
// SECAUDIT_IGNORE_PATHS (a list of regexes, see the package documentation).
// Default: none.
func WithIgnorePaths(patterns ...string) Option {
	patterns = append([]string{}, patterns...)
	return option{"WithIgnorePaths", partFilter, func(c *config) {
		res, bad, err := envconf.CompileRegexps(patterns)
		if err != nil {
			c.errs = append(c.errs, invalidOption("WithIgnorePaths", "%q is not a valid RE2 regular expression: %v", bad, err))
		}
		c.filter.paths = &res
	}}
}

// WithIgnoreStatusCodes makes the [Filter] drop http.response.* events with
// one of these http.response.status_code values (errors included, as in the
// reference; each drop is counted). Environment:
// SECAUDIT_IGNORE_STATUS_CODES (comma list). Default: none.
func WithIgnoreStatusCodes(codes ...int) Option {
	codes = append([]int{}, codes...)
	return option{"WithIgnoreStatusCodes", partFilter, func(c *config) {
		for _, code := range codes {
			if code < 100 || code > 599 {
				c.errs = append(c.errs, invalidOption("WithIgnoreStatusCodes", "%d is not an HTTP status code (100–599)", code))
			}
		}
		c.filter.statuses = &codes
	}}
}

// WithFilterFunc adds a filter to the [Filter]: a record is dropped when
// any filter returns false. Filters run in the order given; one that panics
// keeps the record (the panic is counted). Default: none.
func WithFilterFunc(f FilterFunc) Option {
	return option{"WithFilterFunc", partFilter, func(c *config) {
		if f != nil {
			c.filter.funcs = append(c.filter.funcs, f)
		}
	}}
}

// --- Sampler ----------------------------------------------------------------

// WithSampleRate sets the share (0..1) of http.response.success and
// http.response.redirect events the [Sampler] keeps, decided per trace id
// so a trace's events are kept or dropped together. Other events are never
// sampled. Environment: SECAUDIT_SAMPLE_RATE. Default 1 (keep all).
func WithSampleRate(rate float64) Option {
	return option{"WithSampleRate", partSample, func(c *config) {
		if math.IsNaN(rate) || rate < 0 || rate > 1 {
			c.errs = append(c.errs, invalidOption("WithSampleRate", "rate must be from 0 to 1, got %v", rate))
			return
		}
		c.sample.rate = &rate
	}}
}

// --- Enricher ---------------------------------------------------------------

// WithEnrichFunc adds an enricher to the [Enricher]. Enrichers run in the
// order given; when two set the same key the later wins. Default: none.
func WithEnrichFunc(f EnrichFunc) Option {
	return option{"WithEnrichFunc", partEnrich, func(c *config) {
		if f != nil {
			c.enrich = append(c.enrich, f)
		}
	}}
}

// --- environment resolution -------------------------------------------------

func wrapEnv(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("processor: %w", err)
}

func resolveList(opt *[]string, env string, noEnv bool, def []string) []string {
	if opt != nil {
		return *opt
	}
	if !noEnv {
		if v, ok := envconf.List(env); ok {
			return v
		}
	}
	return def
}

func resolvePatterns(opt *[]*regexp.Regexp, env string, noEnv bool) ([]*regexp.Regexp, error) {
	if opt != nil {
		return *opt, nil
	}
	if noEnv {
		return nil, nil
	}
	res, _, err := envconf.Regexps(env)
	return res, wrapEnv(err)
}
