package processor

import (
	"fmt"
	"testing"

	"github.com/secaudit/secaudit/internal/envconf"
)

// TestSettingPrecedence runs every SECAUDIT_ variable the processors read
// through option > environment > default, explicit zeros and empty lists
// included, and WithoutEnv. The sampling and ignore variables are
// internal/auditscope's (shared with the middleware); they are here too, as
// the processors see them.
func TestSettingPrecedence(t *testing.T) {
	scrub := func(part int) func(opts ...Option) string {
		return func(opts ...Option) string {
			c := newConfig(opts)
			keys, allow, patterns, _, err := c.scrubSettings()
			if err != nil {
				return err.Error()
			}
			return fmt.Sprint([]any{keys, allow, patterns}[part])
		}
	}
	keys, allow, patterns := scrub(0), scrub(1), scrub(2)
	rate := func(opts ...Option) string {
		s, err := newSampler(discard{}, newConfig(opts))
		if err != nil {
			return err.Error()
		}
		return fmt.Sprint(s.Rate())
	}
	paths := func(opts ...Option) string {
		f, err := newFilter(discard{}, newConfig(opts))
		if err != nil {
			return err.Error()
		}
		return fmt.Sprint(f.paths)
	}
	codes := func(opts ...Option) string {
		f, err := newFilter(discard{}, newConfig(opts))
		if err != nil {
			return err.Error()
		}
		var out []int
		for c := range 600 {
			if f.statuses.Has(int64(c)) {
				out = append(out, c)
			}
		}
		return fmt.Sprint(out)
	}
	defaultKeys := fmt.Sprint(defaultSensitiveKeys)
	tests := []struct {
		name  string
		env   string
		value string // "" leaves env unset
		opts  []Option
		get   func(...Option) string
		want  string
	}{
		{"keys default", envconf.SensitiveKeys, "", nil, keys, defaultKeys},
		{"keys env", envconf.SensitiveKeys, "ssn, pin", nil, keys, "[ssn pin]"},
		{"keys option beats env", envconf.SensitiveKeys, "ssn", []Option{WithSensitiveKeys("pin")}, keys, "[pin]"},
		{"keys empty option beats env", envconf.SensitiveKeys, "ssn", []Option{WithSensitiveKeys()}, keys, "[]"},
		{"keys env ignored without env", envconf.SensitiveKeys, "ssn", []Option{WithoutEnv()}, keys, defaultKeys},

		{"allowlist default", envconf.SensitiveKeyAllowlist, "", nil, allow, "[]"},
		{"allowlist env", envconf.SensitiveKeyAllowlist, "pin_hint", nil, allow, "[pin_hint]"},
		{"allowlist option beats env", envconf.SensitiveKeyAllowlist, "pin_hint", []Option{WithSensitiveKeyAllowlist("token_ttl")}, allow, "[token_ttl]"},
		{"allowlist empty option beats env", envconf.SensitiveKeyAllowlist, "pin_hint", []Option{WithSensitiveKeyAllowlist()}, allow, "[]"},
		{"allowlist env ignored without env", envconf.SensitiveKeyAllowlist, "pin_hint", []Option{WithoutEnv()}, allow, "[]"},

		{"patterns default", envconf.SensitiveValuePatterns, "", nil, patterns, "[]"},
		{"patterns env", envconf.SensitiveValuePatterns, `ACME-\d{4},x{2,}`, nil, patterns, `[ACME-\d{4} x{2,}]`},
		{"patterns option beats env", envconf.SensitiveValuePatterns, `ACME-\d{4}`, []Option{WithSensitiveValuePatterns("^sk_")}, patterns, "[^sk_]"},
		{"patterns empty option beats env", envconf.SensitiveValuePatterns, `ACME-\d{4}`, []Option{WithSensitiveValuePatterns()}, patterns, "[]"},
		{"patterns env ignored without env", envconf.SensitiveValuePatterns, `ACME-\d{4}`, []Option{WithoutEnv()}, patterns, "[]"},

		{"rate default", envconf.SampleRate, "", nil, rate, "1"},
		{"rate env", envconf.SampleRate, "0.25", nil, rate, "0.25"},
		{"rate env zero", envconf.SampleRate, "0", nil, rate, "0"},
		{"rate option beats env", envconf.SampleRate, "0.25", []Option{WithSampleRate(0.5)}, rate, "0.5"},
		{"rate option zero beats env 1", envconf.SampleRate, "1", []Option{WithSampleRate(0)}, rate, "0"},
		{"rate env ignored without env", envconf.SampleRate, "0.25", []Option{WithoutEnv()}, rate, "1"},

		{"paths default", envconf.IgnorePaths, "", nil, paths, "[]"},
		{"paths env", envconf.IgnorePaths, "^/healthz$,^/metrics", nil, paths, "[^/healthz$ ^/metrics]"},
		{"paths option beats env", envconf.IgnorePaths, "^/metrics", []Option{WithIgnorePaths("^/x")}, paths, "[^/x]"},
		{"paths empty option beats env", envconf.IgnorePaths, "^/metrics", []Option{WithIgnorePaths()}, paths, "[]"},
		{"paths env ignored without env", envconf.IgnorePaths, "^/metrics", []Option{WithoutEnv()}, paths, "[]"},

		{"codes default", envconf.IgnoreStatusCodes, "", nil, codes, "[]"},
		{"codes env", envconf.IgnoreStatusCodes, "301, 404", nil, codes, "[301 404]"},
		{"codes option beats env", envconf.IgnoreStatusCodes, "301", []Option{WithIgnoreStatusCodes(500)}, codes, "[500]"},
		{"codes empty option beats env", envconf.IgnoreStatusCodes, "301", []Option{WithIgnoreStatusCodes()}, codes, "[]"},
		{"codes env ignored without env", envconf.IgnoreStatusCodes, "301", []Option{WithoutEnv()}, codes, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.value != "" {
				t.Setenv(tt.env, tt.value)
			}
			if got := tt.get(tt.opts...); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestSampleKeyWithoutEnv: WithoutEnv ignores SECAUDIT_SAMPLE_KEY, even a
// bad one.
func TestSampleKeyWithoutEnv(t *testing.T) {
	t.Setenv(envconf.SampleKey, "short")
	if _, err := NewSampler(discard{}); err == nil {
		t.Fatal("a short SECAUDIT_SAMPLE_KEY was accepted")
	}
	if _, err := NewSampler(discard{}, WithoutEnv()); err != nil {
		t.Fatalf("WithoutEnv read SECAUDIT_SAMPLE_KEY: %v", err)
	}
}
