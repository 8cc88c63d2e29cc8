package envconf

import (
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Names of the environment variables secaudit reads, from DESIGN.md.
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
	SampleRate             = "SECAUDIT_SAMPLE_RATE"
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
)

// lookup is os.LookupEnv, replaceable in tests of this package.
var lookup = os.LookupEnv

func get(name string) (string, bool) {
	v, ok := lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

func invalid(name, value, want string) error {
	return fmt.Errorf("invalid %s=%q: %s", name, value, want)
}

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
	return false, false, invalid(name, v, "want true or false")
}

// Int reads an integer not below min.
func Int(name string, min int) (int, bool, error) {
	v, ok := get(name)
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min {
		return 0, false, invalid(name, v, fmt.Sprintf("want an integer >= %d", min))
	}
	return n, true, nil
}

// Duration reads a Go duration (such as 250ms or 1m) not below min; want
// describes the expected value for the error.
func Duration(name string, min time.Duration, want string) (time.Duration, bool, error) {
	v, ok := get(name)
	if !ok {
		return 0, false, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < min {
		return 0, false, invalid(name, v, "want "+want)
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
		return 0, false, invalid(name, v, "want a number from 0 to 1")
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

// Regexps reads a comma-separated list of RE2 regular expressions. A
// pattern that itself needs a comma cannot be given here; use the Go option.
func Regexps(name string) ([]*regexp.Regexp, bool, error) {
	items, ok := List(name)
	if !ok {
		return nil, false, nil
	}
	out, bad, err := CompileRegexps(items)
	if err != nil {
		return nil, false, invalid(name, bad, "not a valid RE2 regular expression: "+err.Error())
	}
	return out, true, nil
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
	items, ok := List(name)
	if !ok {
		return nil, false, nil
	}
	out := make([]int, 0, len(items))
	for _, p := range items {
		n, err := strconv.Atoi(p)
		if err != nil || n < 100 || n > 599 {
			return nil, false, invalid(name, p, "want HTTP status codes from 100 to 599")
		}
		out = append(out, n)
	}
	return out, true, nil
}

// Prefixes reads a comma-separated list of CIDRs or bare IP addresses (a
// bare address is a /32 or /128). Host bits may be set; they are masked.
func Prefixes(name string) ([]netip.Prefix, bool, error) {
	items, ok := List(name)
	if !ok {
		return nil, false, nil
	}
	out := make([]netip.Prefix, 0, len(items))
	for _, p := range items {
		pfx, err := ParsePrefix(p)
		if err != nil {
			return nil, false, invalid(name, p, "want a CIDR such as 10.0.0.0/8 or an IP address")
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
	JSONLPath, JSONLMaxBytes, JSONLMaxFiles, JSONLFsync, LogOKResponses, SampleRate,
	IgnorePaths, IgnoreStatusCodes, TrustedProxyCIDRs, TrustedProxyCount, LogRequestBodies,
	BodyFields, BodyPaths, MaxBodyBytes, SensitiveKeys, SensitiveKeyAllowlist,
	SensitiveValuePatterns, IncludeUsernames, EmitSessionID,
	DeliveryMode, DeliveryTimeout, DeliveryQueueSize, DeliveryBatchSize, DeliveryExportTimeout,
	DeliveryRetryMaxElapsed, DeliveryStrictEvents, DeliveryBlockingEvents,
	DeliverySummaryInterval, DeliveryLinger, DeliveryStrictRoutes, DeliverySpillDir,
	DeliverySpillMaxBytes,
}

// reservedPrefixes are SECAUDIT_ names that configure tools/stack and the
// Collector and Loki it runs (also in docker-compose.yaml), not the library.
var reservedPrefixes = []string{"SECAUDIT_STACK_", "SECAUDIT_OTELCOL_", "SECAUDIT_LOKI_"}

// Unknown returns, sorted, the SECAUDIT_ names in environ ("NAME=value"
// entries, as os.Environ returns them) that secaudit does not read: most
// likely misspelt settings, which would otherwise be ignored in silence.
func Unknown(environ []string) []string {
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "SECAUDIT_") || slices.Contains(known, name) {
			continue
		}
		if slices.ContainsFunc(reservedPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Suggest returns the known name closest to name, or "" when none is within
// three edits.
func Suggest(name string) string {
	best, bestDist := "", 4
	for _, k := range known {
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
