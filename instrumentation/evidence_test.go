package instrumentation

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/internal/probe"
	"github.com/secaudit/secaudit/semconv"
)

// TestURLQuery: url.query is on the response event only when enabled, by
// the option, else SECAUDIT_LOG_QUERY, else not (option > env > default),
// as the client wrote it; url.full never has the query.
func TestURLQuery(t *testing.T) {
	const target = "/search?q=go+audit&page=2&x=%2F"
	tests := []struct {
		name   string
		env    string
		opts   []Option
		target string
		want   string // "" for no url.query
	}{
		{"default: off", "", nil, target, ""},
		{"env on", "true", nil, target, "q=go+audit&page=2&x=%2F"},
		{"env off", "false", nil, target, ""},
		{"option on over env off", "false", []Option{WithURLQuery(true)}, target, "q=go+audit&page=2&x=%2F"},
		{"option off over env on", "true", []Option{WithURLQuery(false)}, target, ""},
		{"on, no query", "", []Option{WithURLQuery(true)}, "/search", ""},
		{"on, empty query", "", []Option{WithURLQuery(true)}, "/search?", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(envconf.LogQuery, tt.env)
			rec := newRecorderAuditor(t)
			m, err := New(append([]Option{WithAuditor(rec.a)}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			h := &harness{t: t, m: m, rec: rec.rec, a: rec.a}
			h.serve(status(404), httptest.NewRequest("GET", tt.target, nil))
			r := h.only()
			got, ok := str(r, semconv.URLQueryKey)
			if got != tt.want || ok != (tt.want != "") {
				t.Fatalf("url.query %q (present %v), want %q", got, ok, tt.want)
			}
			if full, _ := str(r, semconv.URLFullKey); strings.Contains(full, "?") {
				t.Fatalf("url.full %q has the query", full)
			}
		})
	}
}

func TestURLQueryBadEnv(t *testing.T) {
	clearEnv(t)
	t.Setenv(envconf.LogQuery, "maybe")
	_, err := New(WithAuditor(newRecorderAuditor(t).a))
	if err == nil || !strings.Contains(err.Error(), envconf.LogQuery) {
		t.Fatalf("err %v, want one naming %s", err, envconf.LogQuery)
	}
}

// TestURLQueryScrubbedInPipeline: through the production chain, the
// secrets of an enabled url.query are redacted in the exported line, in
// either way a client encodes a space.
func TestURLQueryScrubbedInPipeline(t *testing.T) {
	clearEnv(t)
	out := &syncBuffer{}
	a, lp := newPipeline(t, out)
	m, err := New(WithAuditor(a), WithURLQuery(true))
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{
		"/pay?password=hunter2&card=4111%201111%201111%201111&lang=en",
		"/pay?password=hunter2&card=4111+1111+1111+1111&lang=en",
		"/pay?lang=en&card=4111-1111-1111-1111&password=hunter2",
	} {
		t.Run(target, func(t *testing.T) {
			(&harness{t: t, m: m}).serve(status(400), httptest.NewRequest("POST", target, nil))
			_ = lp.ForceFlush(context.Background())
			lines := out.lines(t)
			if len(lines) != 1 {
				t.Fatalf("%d lines", len(lines))
			}
			attrs := lines[0]["attributes"].(map[string]any)
			q, _ := attrs[string(semconv.URLQueryKey)].(string)
			if !strings.Contains(q, "lang=en") || !strings.Contains(q, semconv.Redacted) {
				t.Fatalf("url.query %q", q)
			}
			for _, secret := range []string{"hunter2", "4111", "1111"} {
				if strings.Contains(q, secret) {
					t.Fatalf("url.query %q keeps %q", q, secret)
				}
			}
			if n, _ := attrs[string(semconv.AuditRedactedCountKey)].(float64); n < 1 {
				t.Fatalf("audit.redacted_count %v", attrs[string(semconv.AuditRedactedCountKey)])
			}
		})
	}
}

// TestSuspiciousRequestEvidence: security.suspicious_request carries what
// the rule matched in audit.evidence, bounded whatever the request's size;
// the response event does not.
func TestSuspiciousRequestEvidence(t *testing.T) {
	tests := []struct {
		name, target   string
		rule, evidence string
	}{
		{"sql tautology", "/search?q=1'%20OR%201=1--", probe.RuleSQLInjection, "' OR 1=1--"},
		{"sql tautology, + for spaces", "/search?q=1'+OR+1=1--&page=2", probe.RuleSQLInjection, "' OR 1=1--"},
		{"union select", "/items?id=1%20UNION%20SELECT%20password%20FROM%20users", probe.RuleSQLInjection, "UNION SELECT"},
		{"path traversal", "/download?file=../../etc/hosts&x=1", probe.RulePathTraversal, "file=../../etc/hosts"},
		{"encoded traversal", "/static/%2e%2e/%2e%2e/secret", probe.RulePathTraversal, "/static/../../secret"},
		{"dotenv scan", "/.env", probe.RuleDotfileProbe, "/.env"},
		{"git scan", "/app/.git/config", probe.RuleDotfileProbe, "/app/.git/config"},
		{"wordpress scan", "/wp-login.php", probe.RulePHPProbe, "/wp-login.php"},
		{"script", "/search?q=%3Cscript%3Ealert(1)%3C/script%3E", probe.RuleScriptInjection, "<script"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, false, WithSuspiciousRequests(true))
			h.serve(status(404), httptest.NewRequest("GET", tt.target, nil))
			recs := h.records()
			if len(recs) != 2 || recs[0].EventName != semconv.EventSuspiciousRequest {
				t.Fatalf("records %v", recs)
			}
			rule, _ := str(recs[0], semconv.SecurityRuleNameKey)
			evidence, _ := str(recs[0], semconv.AuditEvidenceKey)
			if rule != tt.rule || evidence != tt.evidence {
				t.Fatalf("rule %q evidence %q, want %q %q", rule, evidence, tt.rule, tt.evidence)
			}
			if _, ok := str(recs[1], semconv.AuditEvidenceKey); ok {
				t.Fatal("the response event carries audit.evidence")
			}
		})
	}
}

// TestSuspiciousRequestEvidenceBounded: a 100 KB query yields evidence of
// at most probe.MaxEvidenceRunes runes.
func TestSuspiciousRequestEvidenceBounded(t *testing.T) {
	pad := strings.Repeat("a b ", 100<<10/4)
	for _, q := range []string{
		"q=1 UNION/*" + pad + "*/SELECT 1",
		"q=<img title='" + pad + "' onerror=alert(1)>",
		"q=' or x=" + strings.Repeat("y", 100<<10),
	} {
		h := newHarness(t, false, WithSuspiciousRequests(true))
		h.serve(status(404), httptest.NewRequest("GET", "/search?"+url.PathEscape(q), nil))
		recs := h.records()
		if len(recs) != 2 {
			t.Fatalf("%d records", len(recs))
		}
		evidence, _ := str(recs[0], semconv.AuditEvidenceKey)
		if n := utf8.RuneCountInString(evidence); n == 0 || n > probe.MaxEvidenceRunes {
			t.Fatalf("evidence of %d runes: %q", n, evidence)
		}
	}
}

// TestSuspiciousRequestEvidenceScrubbed: a secret inside the matched text
// is redacted in the exported record.
func TestSuspiciousRequestEvidenceScrubbed(t *testing.T) {
	clearEnv(t)
	out := &syncBuffer{}
	a, lp := newPipeline(t, out)
	m, err := New(WithAuditor(a), WithSuspiciousRequests(true))
	if err != nil {
		t.Fatal(err)
	}
	const card, awsKey = "4111111111111111", "AKIAZ7Q2M4N6P8R1T3V5"
	tests := []struct{ name, q, secret string }{
		{"card in a tag", "<img alt=" + card + " onerror=alert(1)>", card},
		{"card with spaces in a tautology", "' or 1=4111 1111 1111 1111", "4111"},
		{"key in a comment", "1 UNION/*" + awsKey + "*/SELECT 1", awsKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			(&harness{t: t, m: m}).serve(status(404), httptest.NewRequest("GET", "/search?q="+url.QueryEscape(tt.q), nil))
			_ = lp.ForceFlush(context.Background())
			lines := out.lines(t)
			if len(lines) != 2 || lines[0]["event_name"] != semconv.EventSuspiciousRequest {
				t.Fatalf("lines %v", lines)
			}
			attrs := lines[0]["attributes"].(map[string]any)
			evidence, _ := attrs[string(semconv.AuditEvidenceKey)].(string)
			if !strings.Contains(evidence, semconv.Redacted) || strings.Contains(evidence, tt.secret) {
				t.Fatalf("audit.evidence %q", evidence)
			}
			if line := fmt.Sprint(lines[0]); strings.Contains(line, tt.secret) {
				t.Fatalf("the line keeps %q: %s", tt.secret, line)
			}
		})
	}
}
