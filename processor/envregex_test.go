package processor

import (
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// TestRegexListEnvironment: SECAUDIT_SENSITIVE_VALUE_PATTERNS and
// SECAUDIT_IGNORE_PATHS keep a pattern with a {n,} bound whole. Cut at its
// comma, the key pattern stayed inert (the secret went out in clear) and
// its "}" fragment redacted every value with a brace.
func TestRegexListEnvironment(t *testing.T) {
	const secret = "acme_" + "K7Q2M9X4B8Z1W5"
	t.Run(envconf.SensitiveValuePatterns, func(t *testing.T) {
		tests := []struct {
			value string
			give  string
			leaks bool // the value comes out unchanged
		}{
			{`acme_[A-Z0-9]{12,}`, "token " + secret, false},
			{`acme_[A-Z0-9]{12,}`, "acme_SHORT1", true},
			{`acme_[A-Z0-9]{12,}`, `{"a":1}`, true},
			{`acme_[A-Z0-9]{12,},internal-[0-9]{4}`, "ref internal-1234", false},
			{`["acme_[A-Z0-9]{12,}", "x,y"]`, "token " + secret, false},
			{`["acme_[A-Z0-9]{12,}", "x,y"]`, "a x,y b", false},
			{`["acme_[A-Z0-9]{12,}", "x,y"]`, "x", true},
		}
		for _, tt := range tests {
			t.Setenv(envconf.SensitiveKeys, "")
			t.Setenv(envconf.SensitiveKeyAllowlist, "")
			t.Setenv(envconf.SensitiveValuePatterns, tt.value)
			s, err := NewScrubber()
			if err != nil {
				t.Fatal(err)
			}
			got := testsupport.AttrMap(new(capture(t, apiRecord("", attribute.Value{}, attribute.String("note", tt.give)), s)))["note"].AsString()
			if leaks := got == tt.give; leaks != tt.leaks {
				t.Errorf("%s=%s: %q scrubbed to %q", envconf.SensitiveValuePatterns, tt.value, tt.give, got)
			}
			if strings.Contains(got, secret) {
				t.Errorf("%s=%s: the secret went out: %q", envconf.SensitiveValuePatterns, tt.value, got)
			}
		}
	})

	t.Run(envconf.IgnorePaths, func(t *testing.T) {
		tests := []struct {
			value, path string
			kept        bool
		}{
			{`^/static/[a-z]{2,}/,^/healthz$`, "/static/css/a.css", false},
			{`^/static/[a-z]{2,}/,^/healthz$`, "/healthz", false},
			{`^/static/[a-z]{2,}/,^/healthz$`, "/static/c/a.css", true},
			{`^/static/[a-z]{2,}/,^/healthz$`, "/a}/b", true},
			{`["^/a,b$"]`, "/a,b", false},
			{`["^/a,b$"]`, "/a", true},
		}
		for _, tt := range tests {
			t.Setenv(envconf.IgnoreStatusCodes, "")
			t.Setenv(envconf.IgnorePaths, tt.value)
			rr := &testsupport.Capture{}
			f, err := NewFilter(rr)
			if err != nil {
				t.Fatal(err)
			}
			emitAll(t, f, httpEvent(semconv.EventHTTPResponseClientError, tt.path, 404))
			if kept := len(rr.Records()) == 1; kept != tt.kept {
				t.Errorf("%s=%s: %s kept %v, want %v", envconf.IgnorePaths, tt.value, tt.path, kept, tt.kept)
			}
		}
	})

	t.Run("fragment refused", func(t *testing.T) {
		t.Setenv(envconf.SensitiveKeys, "")
		t.Setenv(envconf.SensitiveKeyAllowlist, "")
		t.Setenv(envconf.IgnoreStatusCodes, "")
		t.Setenv(envconf.SensitiveValuePatterns, `acme_[A-Z]{2,},(x`)
		t.Setenv(envconf.IgnorePaths, `^/x{2,},(y`)
		if _, err := NewScrubber(); err == nil || !strings.Contains(err.Error(), envconf.SensitiveValuePatterns) {
			t.Errorf("NewScrubber() error %v, want one naming %s", err, envconf.SensitiveValuePatterns)
		}
		if _, err := NewFilter(&testsupport.Capture{}); err == nil || !strings.Contains(err.Error(), envconf.IgnorePaths) {
			t.Errorf("NewFilter() error %v, want one naming %s", err, envconf.IgnorePaths)
		}
	})
}
