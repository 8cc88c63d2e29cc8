package processor

import (
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// TestPatternSpans: a custom value pattern redacts its matches, like a
// built-in detector, not the whole string (issue 13, item 7); and
// audit.redacted_count counts changed values, however many spans each
// one lost. On the old code every one of these strings became
// "[REDACTED]" whole.
func TestPatternSpans(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		key      attribute.Key
		give     string
		want     string // "" means unchanged
	}{
		{"one match", []string{`sk_live_\w+`}, "note", "key sk_live_ABC123 rejected", "key [REDACTED] rejected"},
		{"two matches, one value", []string{`sk_live_\w+`}, "note", "sk_live_A and sk_live_B", "[REDACTED] and [REDACTED]"},
		{"two patterns overlapping", []string{`ACME-\d+`, `\d{4}-X`}, "note", "ref ACME-1234-X end", "ref [REDACTED] end"},
		{"pattern and detector in one value", []string{`ACME-\d{4}`}, "note",
			"ticket ACME-1234 via postgres://app:pw@db/x", "ticket [REDACTED] via postgres://app:[REDACTED]@db/x"},
		{"anchored whole value", []string{`^internal-.*$`}, "note", "internal-build 42", "[REDACTED]"},
		{"empty matches redact nothing", []string{`\b`, `q*`}, "note", "plain text", ""},
		{"match inside the marker is left alone", []string{`REDACTED`}, "note", "was [REDACTED] before", ""},
		{"marker word outside the marker", []string{`REDACTED`}, "note", "REDACTED", "[REDACTED]"},
		{"percent-decoded url.path", []string{`secret-\d+`}, semconv.URLPathKey, "/a/secret%2D42/b", "/a/[REDACTED]/b"},
		{"url.query", []string{`acct-\d+`}, semconv.URLQueryKey, "q=acct-7&page=2", "q=[REDACTED]&page=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustScrubber(t, WithSensitiveValuePatterns(tt.patterns...))
			got := capture(t, apiRecord(semconv.EventLoginFailed, attribute.Value{}, attribute.String(string(tt.key), tt.give)), s)
			want, wantCount := tt.want, int64(1)
			if want == "" {
				want, wantCount = tt.give, -1
			}
			if g := testsupport.AttrMap(&got)[string(tt.key)].AsString(); g != want {
				t.Errorf("%s = %q, want %q", tt.key, g, want)
			}
			if n := redactedCount(&got); n != wantCount {
				t.Errorf("audit.redacted_count = %d, want %d", n, wantCount)
			}
			// Scrubbing again changes nothing.
			again := capture(t, apiRecord(semconv.EventLoginFailed, attribute.Value{}, attribute.String(string(tt.key), want)), s)
			if g := testsupport.AttrMap(&again)[string(tt.key)].AsString(); g != want || redactedCount(&again) != -1 {
				t.Errorf("second pass: %q, count %d", g, redactedCount(&again))
			}
		})
	}
}

// TestRedactedCountCountsValues pins the one rule of audit.redacted_count:
// each changed value counts once, whatever redacted it and however many
// spans — a string, each slice element, a value under a sensitive key, a
// renamed key.
func TestRedactedCountCountsValues(t *testing.T) {
	s := mustScrubber(t, WithSensitiveValuePatterns(`ACME-\d{4}`))
	got := capture(t, apiRecord(semconv.EventLoginFailed,
		attribute.StringValue("ACME-0001 ACME-0002 password=x"),                               // 1: three spans
		attribute.String("note", "ref ACME-0003"),                                             // 1
		attribute.StringSlice("list", []string{"ACME-0004", "ok", "a ACME-0005 b ACME-0006"}), // 2
		attribute.String("password", "hunter2"),                                               // 1: sensitive key
		attribute.Map("m", attribute.String("ACME-0007", "v")),                                // 1: renamed key
	), s)
	if n := redactedCount(&got); n != 6 {
		t.Errorf("audit.redacted_count = %d, want 6:\n%s", n, allText(&got))
	}
	m := testsupport.AttrMap(&got)
	if g := m["note"].AsString(); g != "ref [REDACTED]" {
		t.Errorf("note = %q", g)
	}
	if g := m["list"].AsStringSlice(); g[0] != "[REDACTED]" || g[1] != "ok" || g[2] != "a [REDACTED] b [REDACTED]" {
		t.Errorf("list = %q", g)
	}
	if g := m["m"].AsMap(); len(g) != 1 || g[0].Key != "[REDACTED]" || g[0].Value.AsString() != "v" {
		t.Errorf("m = %v", g)
	}
	if g := got.Body().AsString(); g != "[REDACTED] [REDACTED] password=[REDACTED]" {
		t.Errorf("body = %q", g)
	}
}
