package processor

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// TestOwnConstantsScrubbedLikeAnyText: the scan of secaudit's own constant
// texts (a body, an action, an outcome) is skipped only when the
// scrubber, as configured, leaves them unchanged: a pattern that matches
// one still redacts it, in the body and in an attribute; a copy of a
// constant is scanned as any text.
func TestOwnConstantsScrubbedLikeAnyText(t *testing.T) {
	for _, tc := range []struct {
		name     string
		patterns []string
		body     string
		outcome  string
	}{
		{"defaults", nil, semconv.BodyHTTPResponse, semconv.OutcomeSuccess},
		{"pattern on the body", []string{`http\.resp`}, "[REDACTED]onse", semconv.OutcomeSuccess},
		{"pattern on the outcome", []string{`succ`}, semconv.BodyHTTPResponse, "[REDACTED]ess"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustScrubber(t, WithSensitiveValuePatterns(tc.patterns...))
			r := testsupport.SDKRecord(t, apiRecord(semconv.EventHTTPResponseSuccess,
				attribute.StringValue(semconv.BodyHTTPResponse), semconv.AuditOutcomeKey.String(semconv.OutcomeSuccess)))
			if err := s.OnEmit(context.Background(), &r); err != nil {
				t.Fatal(err)
			}
			if got := r.Body().AsString(); got != tc.body {
				t.Errorf("body %q, want %q", got, tc.body)
			}
			for _, kv := range attrsOf(&r) {
				if kv.Key == semconv.AuditOutcomeKey && kv.Value.AsString() != tc.outcome {
					t.Errorf("outcome %q, want %q", kv.Value.AsString(), tc.outcome)
				}
			}
		})
	}
	s := mustScrubber(t)
	if !s.cleanConstant(semconv.OutcomeSuccess) {
		t.Error("the outcome constant is scanned")
	}
	if s.cleanConstant(strings.Clone(semconv.OutcomeSuccess)) {
		t.Error("a copy of the outcome constant is taken for the constant")
	}
	if withPattern := mustScrubber(t, WithSensitiveValuePatterns(`succ`)); withPattern.cleanConstant(semconv.OutcomeSuccess) {
		t.Error("a constant a pattern matches is skipped")
	}
}
