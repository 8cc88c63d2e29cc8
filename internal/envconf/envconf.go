package envconf

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/secaudit/secaudit/internal/setting"
)

// Names of the environment variables secaudit reads (ARCHITECTURE.md
// lists the package that resolves each).
const (
	ServiceName            = "OTEL_SERVICE_NAME"
	ResourceAttributes     = "OTEL_RESOURCE_ATTRIBUTES"
	LogsExporter           = "OTEL_LOGS_EXPORTER"
	OTLPLogsEndpoint       = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"
	OTLPEndpoint           = "OTEL_EXPORTER_OTLP_ENDPOINT"
	OTLPLogsCompression    = "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION"
	OTLPCompression        = "OTEL_EXPORTER_OTLP_COMPRESSION"
	JSONLPath              = "SECAUDIT_JSONL_PATH"
	JSONLMaxBytes          = "SECAUDIT_JSONL_MAX_BYTES"
	JSONLMaxFiles          = "SECAUDIT_JSONL_MAX_FILES"
	JSONLFsync             = "SECAUDIT_JSONL_FSYNC"
	LogOKResponses         = "SECAUDIT_LOG_OK_RESPONSES"
	LogQuery               = "SECAUDIT_LOG_QUERY"
	SampleRate             = "SECAUDIT_SAMPLE_RATE"
	SampleKey              = "SECAUDIT_SAMPLE_KEY"
	IgnorePaths            = "SECAUDIT_IGNORE_PATHS"
	IgnoreStatusCodes      = "SECAUDIT_IGNORE_STATUS_CODES"
	TrustedProxyCIDRs      = "SECAUDIT_TRUSTED_PROXY_CIDRS"
	TrustedProxyCount      = "SECAUDIT_TRUSTED_PROXY_COUNT"
	LogRequestBodies       = "SECAUDIT_LOG_REQUEST_BODIES"
	BodyFields             = "SECAUDIT_BODY_FIELDS"
	BodyPaths              = "SECAUDIT_BODY_PATHS"
	MaxBodyBytes           = "SECAUDIT_MAX_BODY_BYTES"
	SensitiveKeys          = "SECAUDIT_SENSITIVE_KEYS"
	SensitiveKeyAllowlist  = "SECAUDIT_SENSITIVE_KEY_ALLOWLIST"
	SensitiveValuePatterns = "SECAUDIT_SENSITIVE_VALUE_PATTERNS"
	IncludeUsernames       = "SECAUDIT_INCLUDE_USERNAMES"
	EmitSessionID          = "SECAUDIT_EMIT_SESSION_ID"

	DeliveryMode            = "SECAUDIT_DELIVERY_MODE"
	DeliveryTimeout         = "SECAUDIT_DELIVERY_TIMEOUT"
	DeliveryQueueSize       = "SECAUDIT_DELIVERY_QUEUE_SIZE"
	DeliveryBatchSize       = "SECAUDIT_DELIVERY_BATCH_SIZE"
	DeliveryExportTimeout   = "SECAUDIT_DELIVERY_EXPORT_TIMEOUT"
	DeliveryRetryMaxElapsed = "SECAUDIT_DELIVERY_RETRY_MAX_ELAPSED"
	DeliveryStrictEvents    = "SECAUDIT_DELIVERY_STRICT_EVENTS"
	DeliveryBlockingEvents  = "SECAUDIT_DELIVERY_BLOCKING_EVENTS"
	DeliverySummaryInterval = "SECAUDIT_DELIVERY_SUMMARY_INTERVAL"
	DeliveryLinger          = "SECAUDIT_DELIVERY_LINGER"
	DeliveryStrictRoutes    = "SECAUDIT_DELIVERY_STRICT_ROUTES"
	DeliverySpillDir        = "SECAUDIT_DELIVERY_SPILL_DIR"
	DeliverySpillMaxBytes   = "SECAUDIT_DELIVERY_SPILL_MAX_BYTES"

	Detect                = "SECAUDIT_DETECT"
	DetectRules           = "SECAUDIT_DETECT_RULES"
	DetectSensitiveFields = "SECAUDIT_DETECT_SENSITIVE_FIELDS"
	StateMaxBytes         = "SECAUDIT_STATE_MAX_BYTES"
	State                 = "SECAUDIT_STATE"

	Block           = "SECAUDIT_BLOCK"
	BlockDuration   = "SECAUDIT_BLOCK_DURATION"
	BlockAllowCIDRs = "SECAUDIT_BLOCK_ALLOW_CIDRS"
	RateLimit       = "SECAUDIT_RATE_LIMIT"
)

// The JSONL file's integrity settings (the hash chain and signed
// checkpoints).
const (
	JSONLChain              = "SECAUDIT_JSONL_CHAIN"
	JSONLSigningKey         = "SECAUDIT_JSONL_SIGNING_KEY"
	JSONLCheckpointInterval = "SECAUDIT_JSONL_CHECKPOINT_INTERVAL"
)

// lookup is os.LookupEnv, replaceable in tests of this package.
var lookup = os.LookupEnv

// readFromMu serialises ReadFrom.
var readFromMu sync.Mutex

// ReadFrom runs f with every function of this package reading the
// variables from getenv instead of the process's environment, so that a
// tool (secaudit doctor) checks an environment it is given with the
// service's own parsers and constructors. Calls are serialised; nothing
// else in the process may read settings while f runs.
func ReadFrom(getenv func(string) string, f func()) {
	readFromMu.Lock()
	defer readFromMu.Unlock()
	saved := lookup
	defer func() { lookup = saved }()
	lookup = func(name string) (string, bool) {
		v := getenv(name)
		return v, v != ""
	}
	f()
}

func get(name string) (string, bool) {
	v, ok := lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// invalid is the error for a bad value of the variable name, in the one
// format of [setting.Invalid]: secaudit: NAME="value": want ….
func invalid(name, value, want string) error { return setting.Invalid(name, value, want) }

// String returns the trimmed value of name.
func String(name string) (string, bool) { return get(name) }

// Bool reads a boolean: true/false, 1/0, yes/no, on/off (any case).
func Bool(name string) (bool, bool, error) {
	v, ok := get(name)
	if !ok {
		return false, false, nil
	}
	switch strings.ToLower(v) {
	case "1", "t", "true", "yes", "y", "on":
		return true, true, nil
	case "0", "f", "false", "no", "n", "off":
		return false, true, nil
	}
	return false, false, invalid(name, v, "true or false")
}

// Int reads an integer not below min.
func Int(name string, min int) (int, bool, error) {
	v, ok := get(name)
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min {
		return 0, false, invalid(name, v, fmt.Sprintf("an integer >= %d", min))
	}
	return n, true, nil
}

// Duration reads a Go duration (such as 250ms or 1m) not below min; want
// describes the expected value for the error ("a Go duration >= 0").
func Duration(name string, min time.Duration, want string) (time.Duration, bool, error) {
	v, ok := get(name)
	if !ok {
		return 0, false, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < min {
		return 0, false, invalid(name, v, want)
	}
	return d, true, nil
}

// Rate reads a number in [0, 1].
func Rate(name string) (float64, bool, error) {
	v, ok := get(name)
	if !ok {
		return 0, false, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f >= 0 && f <= 1) {
		return 0, false, invalid(name, v, "a number from 0 to 1")
	}
	return f, true, nil
}

// List splits a comma-separated value into trimmed, non-empty items.
func List(name string) ([]string, bool) {
	v, ok := get(name)
	if !ok {
		return nil, false
	}
	return Split(v), true
}

// Split splits s at commas into trimmed, non-empty items.
func Split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Regexps reads a list of RE2 regular expressions in the format of
// [SplitRegexps]. Every pattern must compile alone: an empty or invalid
// one is an error naming the variable, so a pattern cut in two cannot
// pass unnoticed.
func Regexps(name string) ([]*regexp.Regexp, bool, error) {
	v, ok := get(name)
	if !ok {
		return nil, false, nil
	}
	items, err := SplitRegexps(v)
	if err != nil {
		return nil, false, invalid(name, v, strings.TrimPrefix(err.Error(), "want "))
	}
	out := make([]*regexp.Regexp, 0, len(items))
	for i, p := range items {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, false, invalid(name, v, fmt.Sprintf("RE2 regular expressions that each compile alone; pattern %d, %q: %v", i+1, p, err))
		}
		out = append(out, re)
	}
	return out, true, nil
}

// SplitRegexps splits the value of a variable that lists regular
// expressions (the README's "Configuration"). A value that starts with "[" is
// a JSON array of strings, taken as they are. Otherwise the value is split
// at the commas that are outside {…}, […] and (…), not escaped by a
// backslash and not inside \Q…\E, and each pattern is trimmed of spaces:
// "sk_live_[A-Za-z0-9]{20,},internal-[0-9]{4}" is two patterns. An escaped
// comma keeps its backslash: "\," matches a comma in RE2, so the pattern
// means what it says either way. An empty pattern is an error (it would
// match everything); the error does not name a variable, for the caller to
// add it. The patterns are not compiled.
func SplitRegexps(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		var out []string
		if err := json.Unmarshal([]byte(s), &out); err != nil {
			return nil, fmt.Errorf(`want a JSON array of strings, as the value starts with "[" (%v); write a single pattern that starts with a character class as ["[a-z]+"]`, err)
		}
		for i, p := range out {
			if p == "" {
				return nil, fmt.Errorf("want no empty pattern; element %d of the array is empty", i+1)
			}
		}
		return out, nil
	}
	var (
		out   []string
		start int  // start of the current pattern
		depth int  // open ( and { outside a character class
		class bool // inside [...]
		i     int
	)
	cut := func(end int) error {
		p := trimPattern(s[start:end])
		if p == "" {
			return fmt.Errorf("want no empty pattern; pattern %d is empty (a doubled or trailing comma?)", len(out)+1)
		}
		out = append(out, p)
		start = end + 1
		return nil
	}
	for i < len(s) {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && s[i+1] == 'Q':
			// \Q…\E quotes its text literally, commas included.
			if e := strings.Index(s[i+2:], `\E`); e >= 0 {
				i += 2 + e + 2
			} else {
				i = len(s)
			}
			continue
		case c == '\\':
			i += 2 // the escaped byte, whatever it is
			continue
		case class:
			if c == '[' && i+1 < len(s) && s[i+1] == ':' {
				// [:alpha:] inside a class
				if e := strings.Index(s[i+2:], ":]"); e >= 0 {
					i += 2 + e + 2
					continue
				}
			}
			if c == ']' {
				class = false
			}
		case c == '[':
			class = true
			// A ] right after [ or [^ is a literal, not the end.
			if i+1 < len(s) && s[i+1] == '^' {
				i++
			}
			if i+1 < len(s) && s[i+1] == ']' {
				i++
			}
		case c == '(' || c == '{':
			depth++
		case c == ')' || c == '}':
			if depth > 0 {
				depth--
			}
		case c == ',' && depth == 0:
			if err := cut(i); err != nil {
				return nil, err
			}
		}
		i++
	}
	if err := cut(len(s)); err != nil {
		return nil, err
	}
	return out, nil
}

// trimPattern trims the spaces around a pattern, except a space that a
// backslash escapes ("a\\ " is "a" followed by a space).
func trimPattern(p string) string {
	const space = " \t\n\r\v\f"
	p = strings.TrimLeft(p, space)
	t := strings.TrimRight(p, space)
	n := 0 // backslashes that end t
	for n < len(t) && t[len(t)-1-n] == '\\' {
		n++
	}
	if n%2 == 1 && len(t) < len(p) {
		return p[:len(t)+1]
	}
	return t
}

// CompileRegexps compiles RE2 patterns, for a variable or for the Go
// option that stands for it. On failure it returns the pattern that failed
// with regexp's error, for the caller to name its source.
func CompileRegexps(patterns []string) (res []*regexp.Regexp, bad string, err error) {
	res = make([]*regexp.Regexp, 0, len(patterns))
	for _, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, p, err
		}
		res = append(res, re)
	}
	return res, "", nil
}

// StatusCodes reads a comma-separated list of HTTP status codes (100–599).
func StatusCodes(name string) ([]int, bool, error) {
	v, ok := get(name)
	if !ok {
		return nil, false, nil
	}
	items := Split(v)
	out := make([]int, 0, len(items))
	for _, p := range items {
		n, err := strconv.Atoi(p)
		if err != nil || n < 100 || n > 599 {
			return nil, false, invalid(name, v, fmt.Sprintf("HTTP status codes from 100 to 599; %q is not one", p))
		}
		out = append(out, n)
	}
	return out, true, nil
}

// Prefixes reads a comma-separated list of CIDRs or bare IP addresses (a
// bare address is a /32 or /128). Host bits may be set; they are masked.
func Prefixes(name string) ([]netip.Prefix, bool, error) {
	v, ok := get(name)
	if !ok {
		return nil, false, nil
	}
	items := Split(v)
	out := make([]netip.Prefix, 0, len(items))
	for _, p := range items {
		pfx, err := ParsePrefix(p)
		if err != nil {
			return nil, false, invalid(name, v, fmt.Sprintf("CIDRs such as 10.0.0.0/8 or IP addresses; %q is neither", p))
		}
		out = append(out, pfx)
	}
	return out, true, nil
}

// ParsePrefix parses a CIDR (host bits masked) or a bare IP address.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// known is every SECAUDIT_ name the library reads.
var known = []string{
	JSONLPath, JSONLMaxBytes, JSONLMaxFiles, JSONLFsync, LogOKResponses, LogQuery, SampleRate, SampleKey,
	JSONLChain, JSONLSigningKey, JSONLCheckpointInterval,
	IgnorePaths, IgnoreStatusCodes, TrustedProxyCIDRs, TrustedProxyCount, LogRequestBodies,
	BodyFields, BodyPaths, MaxBodyBytes, SensitiveKeys, SensitiveKeyAllowlist,
	SensitiveValuePatterns, IncludeUsernames, EmitSessionID,
	DeliveryMode, DeliveryTimeout, DeliveryQueueSize, DeliveryBatchSize, DeliveryExportTimeout,
	DeliveryRetryMaxElapsed, DeliveryStrictEvents, DeliveryBlockingEvents,
	DeliverySummaryInterval, DeliveryLinger, DeliveryStrictRoutes, DeliverySpillDir,
	DeliverySpillMaxBytes,
	Detect, DetectRules, DetectSensitiveFields, StateMaxBytes, State,
	Block, BlockDuration, BlockAllowCIDRs, RateLimit,
}

// Known returns every SECAUDIT_ name the library reads.
func Known() []string { return slices.Clone(known) }

// reservedPrefixes are SECAUDIT_ names that configure tools/stack and the
// Collector and Loki it runs (also in docker-compose.yaml), or that the
// .ci/services scripts give the integration tests (SECAUDIT_TEST_REDIS_URL),
// not the library.
var reservedPrefixes = []string{"SECAUDIT_STACK_", "SECAUDIT_OTELCOL_", "SECAUDIT_LOKI_", "SECAUDIT_TEST_"}

// otelRead is every OTEL_ name that secaudit, or the OpenTelemetry
// exporters and resource it sets up, reads.
var otelRead = otelNames([]string{ServiceName, ResourceAttributes, LogsExporter,
	"OTEL_TRACES_EXPORTER", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"},
	[]string{"", "LOGS_", "TRACES_"},
	[]string{"ENDPOINT", "HEADERS", "COMPRESSION", "TIMEOUT", "INSECURE", "CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY"})

// otelOther are the names the OpenTelemetry specification (and the Go SDK)
// defines for what secaudit does not set up: valid settings of other parts
// of OpenTelemetry, never reported even when close to a name in otelRead.
var otelOther = otelNames([]string{
	"OTEL_SDK_DISABLED", "OTEL_LOG_LEVEL", "OTEL_PROPAGATORS", "OTEL_ENTITIES",
	"OTEL_CONFIG_FILE", "OTEL_EXPERIMENTAL_CONFIG_FILE", "OTEL_SEMCONV_STABILITY_OPT_IN",
	"OTEL_METRICS_EXPORTER", "OTEL_METRIC_EXPORT_INTERVAL", "OTEL_METRIC_EXPORT_TIMEOUT",
	"OTEL_METRICS_EXEMPLAR_FILTER",
	"OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_EXPORT_TIMEOUT", "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
	"OTEL_BLRP_SCHEDULE_DELAY", "OTEL_BLRP_EXPORT_TIMEOUT", "OTEL_BLRP_MAX_QUEUE_SIZE", "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
	"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT",
	"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_SPAN_EVENT_COUNT_LIMIT",
	"OTEL_SPAN_LINK_COUNT_LIMIT", "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
	"OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
	"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
	"OTEL_EXPORTER_OTLP_SPAN_INSECURE", "OTEL_EXPORTER_OTLP_METRIC_INSECURE",
	"OTEL_EXPORTER_ZIPKIN_ENDPOINT", "OTEL_EXPORTER_ZIPKIN_TIMEOUT",
	"OTEL_EXPORTER_PROMETHEUS_HOST", "OTEL_EXPORTER_PROMETHEUS_PORT",
	"OTEL_EXPORTER_JAEGER_AGENT_HOST", "OTEL_EXPORTER_JAEGER_AGENT_PORT", "OTEL_EXPORTER_JAEGER_ENDPOINT",
	"OTEL_EXPORTER_JAEGER_USER", "OTEL_EXPORTER_JAEGER_PASSWORD", "OTEL_EXPORTER_JAEGER_TIMEOUT",
},
	[]string{"", "LOGS_", "TRACES_", "METRICS_"},
	[]string{"ENDPOINT", "HEADERS", "COMPRESSION", "TIMEOUT", "INSECURE", "CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY", "PROTOCOL"})

// otelOtherPrefixes are families of OpenTelemetry names, such as the Go
// SDK's experimental features, that are never reported.
var otelOtherPrefixes = []string{"OTEL_GO_X_"}

// otelNames is names plus OTEL_EXPORTER_OTLP_<signal><setting> for each
// signal ("" for all) and setting.
func otelNames(names, signals, settings []string) []string {
	out := slices.Clone(names)
	for _, sig := range signals {
		for _, set := range settings {
			out = append(out, "OTEL_EXPORTER_OTLP_"+sig+set)
		}
	}
	return out
}

// maxOTelTypo is the largest edit distance at which an unknown OTEL_ name is
// taken for a misspelling of one secaudit reads. Further away it may be a
// setting of some other OpenTelemetry component, which is none of ours.
const maxOTelTypo = 2

// Unknown returns, sorted, the names in environ ("NAME=value" entries, as
// os.Environ returns them) that are most likely misspelt settings, which
// would otherwise be ignored in silence: every SECAUDIT_ name secaudit does
// not read, and every OTEL_ name within two edits of one it reads that is
// not itself an OpenTelemetry setting (OTEL_LOG_EXPORTER, not
// OTEL_TRACES_EXPORTER).
func Unknown(environ []string) []string {
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if unknownSecaudit(name) || otelTypo(name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func unknownSecaudit(name string) bool {
	if !strings.HasPrefix(name, "SECAUDIT_") || slices.Contains(known, name) {
		return false
	}
	return !slices.ContainsFunc(reservedPrefixes, func(p string) bool { return strings.HasPrefix(name, p) })
}

func otelTypo(name string) bool {
	if !strings.HasPrefix(name, "OTEL_") || slices.Contains(otelRead, name) || slices.Contains(otelOther, name) ||
		slices.ContainsFunc(otelOtherPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
		return false
	}
	return slices.ContainsFunc(otelRead, func(k string) bool { return editDistance(name, k) <= maxOTelTypo })
}

// Suggest returns the name secaudit reads that is closest to name, or ""
// when none is within three edits (two for an OTEL_ name).
func Suggest(name string) string {
	candidates, bestDist := known, 4
	if strings.HasPrefix(name, "OTEL_") {
		candidates, bestDist = otelRead, maxOTelTypo+1
	}
	best := ""
	for _, k := range candidates {
		if d := editDistance(name, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
