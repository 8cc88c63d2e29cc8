package grafana

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/secaudit/secaudit/semconv"
)

// lokiName is Loki's OTLP name for an attribute key: every character other
// than a letter, digit or underscore becomes an underscore.
func lokiName(key string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, key)
}

// knownLabels are the labels and structured metadata a query may use: the
// Loki names of secaudit's attribute keys, plus what Loki adds itself and
// the event_name attribute the Collector copies from the record.
func knownLabels() map[string]bool {
	keys := []attribute.Key{
		semconv.ServiceNameKey,
		semconv.ClientAddressKey, semconv.NetworkPeerAddressKey, semconv.HTTPRequestMethodKey,
		semconv.HTTPResponseStatusCodeKey, semconv.HTTPRouteKey, semconv.URLPathKey, semconv.URLFullKey,
		semconv.URLQueryKey, semconv.UserAgentOriginalKey, semconv.UserIDKey, semconv.UserNameKey,
		semconv.SessionIDKey, semconv.ExceptionTypeKey, semconv.ExceptionMessageKey,
		semconv.ExceptionStacktraceKey, semconv.SecurityRuleNameKey,
		semconv.AuditRequestIDKey, semconv.AuditSchemaVersionKey, semconv.AuditActionKey,
		semconv.AuditOutcomeKey, semconv.AuditReasonKey, semconv.AuditDurationKey,
		semconv.AuditModelNameKey, semconv.AuditModelIDKey, semconv.AuditModelChangedFieldsKey,
		semconv.AuditRequestBodyParseStatusKey, semconv.AuditRedactedCountKey, semconv.AuditSampleRateKey,
		semconv.AuditStreamIDKey, semconv.AuditSequenceKey,
	}
	known := map[string]bool{
		"event_name": true, "trace_id": true, "span_id": true,
		"severity_text": true, "severity_number": true, "detected_level": true,
	}
	for _, k := range keys {
		known[lokiName(string(k))] = true
	}
	return known
}

var knownEvents = map[string]bool{
	semconv.EventHTTPResponseSuccess: true, semconv.EventHTTPResponseRedirect: true,
	semconv.EventHTTPResponseClientError: true, semconv.EventHTTPResponseServerError: true,
	semconv.EventLoginSuccess: true, semconv.EventLoginFailed: true,
	semconv.EventLogoutSuccess: true, semconv.EventLogoutUnknown: true,
	semconv.EventModelCreate: true, semconv.EventModelUpdate: true,
	semconv.EventModelDelete: true, semconv.EventModelAccess: true,
	semconv.EventAuthzDenied: true, semconv.EventRateLimited: true,
	semconv.EventSignatureInvalid: true, semconv.EventSuspiciousRequest: true,
	semconv.EventMalformedRecord: true,
	// The in-process detector's alert (DESIGN.md "Detection and response").
	"security.alert": true,
}

func TestLokiName(t *testing.T) {
	tests := map[string]string{
		string(semconv.UserIDKey):                 "user_id",
		string(semconv.ClientAddressKey):          "client_address",
		string(semconv.HTTPResponseStatusCodeKey): "http_response_status_code",
		string(semconv.SecurityRuleNameKey):       "security_rule_name",
		string(semconv.AuditOutcomeKey):           "audit_outcome",
		string(semconv.ServiceNameKey):            "service_name",
		"already_fine":                            "already_fine",
	}
	for in, want := range tests {
		if got := lokiName(in); got != want {
			t.Errorf("lokiName(%q) = %q, want %q", in, got, want)
		}
	}
}

var (
	stringLit      = "(\"(?:[^\"\\\\]|\\\\.)*\"|`[^`]*`)"
	reStreamSel    = regexp.MustCompile(`\{([^{}]*)\}`)
	reMatcher      = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*` + stringLit + `\s*$`)
	reLabelFilter  = regexp.MustCompile(`\|\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|==|>=|<=|=|>|<)\s*` + stringLit)
	rePipeStage    = regexp.MustCompile(`\|\s*([A-Za-z_][A-Za-z0-9_]*)`)
	reUnwrap       = regexp.MustCompile(`\|\s*unwrap\s+([A-Za-z_][A-Za-z0-9_]*)`)
	reGrouping     = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	reTemplateVar  = regexp.MustCompile(`\{\{-?\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}`)
	reRange        = regexp.MustCompile(`\[([^\]]*)\]`)
	reSum          = regexp.MustCompile(`\bsum\s*(\(|by\s*\(|without\s*\()`)
	reAllowedRange = regexp.MustCompile(`^(\$__auto|\$__range|\$__interval|\$__rate_interval|[0-9]+[smhd])$`)
)

// checkLogQL reports what is wrong with one query: unbalanced brackets, a
// stream selector on anything but service_name, a label or event name that
// secaudit does not emit, an unknown pipeline stage, an odd range.
func checkLogQL(expr string) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if strings.TrimSpace(expr) != expr || expr == "" || strings.Contains(expr, "\n") {
		bad("a query is one non-empty line without surrounding space")
	}
	skeleton, err := blankStrings(expr)
	if err != nil {
		return append(problems, err.Error())
	}
	if err := balanced(skeleton); err != nil {
		bad("%v", err)
	}
	known := knownLabels()

	// Stream selector: one, on service_name; several only when they are
	// the same (a binary expression over one set of streams, such as the
	// gap query). Template braces ({{.x}}) live inside blanked strings, so
	// they do not match here.
	sels := reStreamSel.FindAllStringSubmatchIndex(skeleton, -1)
	if len(sels) == 0 {
		bad("want a stream selector, found none")
	}
	for _, s := range sels {
		m := reMatcher.FindStringSubmatch(expr[s[2]:s[3]])
		if m == nil || m[1] != lokiName(string(semconv.ServiceNameKey)) {
			bad("stream selector %q must be a single service_name matcher", expr[s[0]:s[1]])
		}
		if first := sels[0]; expr[s[0]:s[1]] != expr[first[0]:first[1]] {
			bad("stream selectors %q and %q differ", expr[first[0]:first[1]], expr[s[0]:s[1]])
		}
	}

	// Pipeline: label filters on known names, line_format only.
	filters := map[int]bool{}
	for _, m := range reLabelFilter.FindAllStringSubmatchIndex(expr, -1) {
		filters[m[0]] = true
		name, op, lit := expr[m[2]:m[3]], expr[m[4]:m[5]], expr[m[6]:m[7]]
		if !known[name] {
			bad("label filter on %q, which secaudit does not emit", name)
		}
		if name == "event_name" {
			for _, e := range eventNames(op, lit) {
				if !knownEvents[e] {
					bad("unknown event name %q", e)
				}
			}
		}
	}
	for _, m := range reUnwrap.FindAllStringSubmatchIndex(skeleton, -1) {
		filters[m[0]] = true
		if name := skeleton[m[2]:m[3]]; !known[name] {
			bad("unwrap %q, which secaudit does not emit", name)
		}
	}
	for _, m := range rePipeStage.FindAllStringSubmatchIndex(skeleton, -1) {
		if stage := skeleton[m[2]:m[3]]; !filters[m[0]] && stage != "line_format" {
			bad("unexpected pipeline stage %q", stage)
		}
	}
	for _, m := range reGrouping.FindAllStringSubmatch(skeleton, -1) {
		for _, name := range strings.Split(m[1], ",") {
			if name = strings.TrimSpace(name); !known[name] {
				bad("grouping by %q, which secaudit does not emit", name)
			}
		}
	}
	for _, m := range reTemplateVar.FindAllStringSubmatch(expr, -1) {
		if !known[m[1]] {
			bad("line_format uses %q, which secaudit does not emit", m[1])
		}
	}
	// Every log line has its own trace_id, span_id and audit_request_id, so
	// a range aggregation alone returns one series per event.
	if !strings.HasPrefix(expr, "{") && !reSum.MatchString(skeleton) {
		bad("metric query without sum: structured metadata makes every event its own series")
	}
	for _, m := range reRange.FindAllStringSubmatch(skeleton, -1) {
		if !reAllowedRange.MatchString(strings.TrimSpace(m[1])) {
			bad("range [%s] is neither a duration nor $__auto/$__range/$__interval", m[1])
		}
	}
	return problems
}

// eventNames returns the event names an event_name filter names: the value
// of = and !=, each alternative of a regex =~ or !~ (dots may be escaped).
func eventNames(op, lit string) []string {
	v := lit[1 : len(lit)-1]
	if lit[0] == '"' {
		if u, err := strconv.Unquote(lit); err == nil {
			v = u
		}
	}
	if v == "" && op == "!=" {
		return nil
	}
	if op == "=~" || op == "!~" {
		var names []string
		for _, alt := range strings.Split(v, "|") {
			names = append(names, strings.ReplaceAll(alt, `\.`, "."))
		}
		return names
	}
	return []string{v}
}

// blankStrings replaces the contents of every string literal of a query
// with x, so brackets and pipes inside strings do not count.
func blankStrings(expr string) (string, error) {
	b := []byte(expr)
	for i := 0; i < len(b); i++ {
		q := b[i]
		if q != '"' && q != '`' {
			continue
		}
		j := i + 1
		for ; j < len(b) && b[j] != q; j++ {
			if q == '"' && b[j] == '\\' {
				b[j] = 'x'
				j++
			}
			b[j] = 'x'
		}
		if j >= len(b) {
			return "", fmt.Errorf("unterminated string at byte %d", i)
		}
		i = j
	}
	return string(b), nil
}

func balanced(s string) error {
	var stack []byte
	pairs := map[byte]byte{')': '(', ']': '[', '}': '{'}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '(', '[', '{':
			stack = append(stack, c)
		case ')', ']', '}':
			if len(stack) == 0 || stack[len(stack)-1] != pairs[c] {
				return fmt.Errorf("unbalanced %q at byte %d", c, i)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("unclosed %q", stack[len(stack)-1])
	}
	return nil
}

func TestCheckLogQL(t *testing.T) {
	tests := []struct {
		name, expr string
		wantOK     bool
		want       string // a substring of one problem
	}{
		{name: "log query", expr: `{service_name="$service"} | event_name="auth.login.failed" | user_id="1"`, wantOK: true},
		{name: "metric query", expr: `topk(10, sum by (client_address) (count_over_time({service_name="x"} | event_name=~"auth\\.login\\.failed|authz.denied" [$__range])))`, wantOK: true},
		{name: "line_format", expr: "{service_name=\"x\"} | event_name!=\"\" | line_format `{{.url_path}} {x}`", wantOK: true},
		{name: "dotted attribute name", expr: `{service_name="x"} | user.id="1"`, want: "unexpected pipeline stage"},
		{name: "unknown label", expr: `{service_name="x"} | username="bob"`, want: `"username"`},
		{name: "unknown event", expr: `{service_name="x"} | event_name="auth.login.fail"`, want: `"auth.login.fail"`},
		{name: "unknown event in regex", expr: `{service_name="x"} | event_name=~"auth.login.success|login"`, want: `"login"`},
		{name: "unknown grouping", expr: `sum by (user) (count_over_time({service_name="x"} [5m]))`, want: `"user"`},
		{name: "unknown template field", expr: "{service_name=\"x\"} | line_format `{{.user}}`", want: `"user"`},
		{name: "index label other than service_name", expr: `{job="x"}`, want: "service_name matcher"},
		{name: "no stream selector", expr: `count_over_time([5m])`, want: "stream selector"},
		{name: "unbalanced", expr: `sum(count_over_time({service_name="x"} [5m])`, want: "unclosed"},
		{name: "bad range", expr: `count_over_time({service_name="x"} [$range])`, want: "range"},
		{name: "unterminated string", expr: `{service_name="x}`, want: "unterminated"},
		{name: "metric query without sum", expr: `count_over_time({service_name="x"} | event_name="auth.login.failed" [5m])`, want: "without sum"},
		{name: "parser stage", expr: `{service_name="x"} | json`, want: `"json"`},
		{name: "unwrap", expr: `max by (audit_stream_id) (max_over_time({service_name="x"} | unwrap audit_sequence [1h])) - sum by (audit_stream_id) (count_over_time({service_name="x"} [1h]))`, wantOK: true},
		{name: "unwrap unknown", expr: `sum(max_over_time({service_name="x"} | unwrap seq [1h]))`, want: `unwrap "seq"`},
		{name: "two services", expr: `sum(count_over_time({service_name="x"} [1h])) - sum(count_over_time({service_name="y"} [1h]))`, want: "differ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := checkLogQL(tt.expr)
			if tt.wantOK {
				if len(problems) > 0 {
					t.Fatalf("checkLogQL(%s) = %q, want no problems", tt.expr, problems)
				}
				return
			}
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Fatalf("checkLogQL(%s) = %q, want a problem containing %q", tt.expr, problems, tt.want)
			}
		})
	}
}

// docQueries returns the body of every ```logql block of examples/logql.md.
func docQueries(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(logqlDoc)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var block []string
	in := false
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case !in && strings.TrimSpace(line) == "```logql":
			in, block = true, nil
		case in && strings.TrimSpace(line) == "```":
			in = false
			out = append(out, strings.Join(block, "\n"))
		case in:
			block = append(block, line)
		}
	}
	if in {
		t.Fatal("unterminated ```logql block")
	}
	return out
}

func TestLogQLDocCoversDashboards(t *testing.T) {
	doc := docQueries(t)
	exprs := dashboardExprs(t)
	if len(exprs) == 0 {
		t.Fatal("the dashboards have no queries")
	}
	for _, e := range exprs {
		if !slices.Contains(doc, e) {
			t.Errorf("dashboard query is not a ```logql block of %s:\n%s", logqlDoc, e)
		}
	}
	// The investigations the issue asks for.
	for _, want := range []string{`| trace_id="`, `| audit_request_id="`, `| event_name="auth.login.failed" | user_id="`} {
		if !slices.ContainsFunc(doc, func(q string) bool { return strings.Contains(q, want) }) {
			t.Errorf("%s has no query containing %s", logqlDoc, want)
		}
	}
}

func TestLogQLDocQueries(t *testing.T) {
	doc := docQueries(t)
	if len(doc) == 0 {
		t.Fatalf("%s has no ```logql blocks", logqlDoc)
	}
	for i, q := range doc {
		for _, problem := range checkLogQL(q) {
			t.Errorf("%s block %d (%s): %s", logqlDoc, i+1, q, problem)
		}
	}
}
