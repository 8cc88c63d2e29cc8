package auditscope

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/internal/sampling"
	"github.com/secaudit/secaudit/internal/setting"
)

func given[T any](v T, from string) setting.Value[T] {
	var s setting.Value[T]
	s.Put(v, from)
	return s
}

// TestPrecedence runs each variable the package owns through option >
// environment > default, explicit zeros and empty lists included.
func TestPrecedence(t *testing.T) {
	var none setting.Value[[]string]
	var noCodes setting.Value[[]int]
	var noRate setting.Value[float64]
	rate := func(opt setting.Value[float64], noEnv bool) (string, error) {
		r, err := SampleRate(opt, noEnv)
		return fmt.Sprint(r), err
	}
	paths := func(opt setting.Value[[]string], noEnv bool) (string, error) {
		res, err := IgnorePaths(opt, noEnv)
		return fmt.Sprint(res), err
	}
	codes := func(opt setting.Value[[]int], noEnv bool) (string, error) {
		set, err := IgnoreStatusCodes(opt, noEnv)
		var out []int
		for c := range 600 {
			if set.Has(int64(c)) {
				out = append(out, c)
			}
		}
		return fmt.Sprint(out), err
	}
	tests := []struct {
		name    string
		env     string // the variable, set to value when value != ""
		value   string
		noEnv   bool
		resolve func(noEnv bool) (string, error)
		want    string
	}{
		{"rate default", envconf.SampleRate, "", false, func(n bool) (string, error) { return rate(noRate, n) }, "1"},
		{"rate env", envconf.SampleRate, "0.25", false, func(n bool) (string, error) { return rate(noRate, n) }, "0.25"},
		{"rate env zero", envconf.SampleRate, "0", false, func(n bool) (string, error) { return rate(noRate, n) }, "0"},
		{"rate option beats env", envconf.SampleRate, "0.25", false, func(n bool) (string, error) { return rate(given(0.5, "WithSampleRate"), n) }, "0.5"},
		{"rate option zero beats env 1", envconf.SampleRate, "1", false, func(n bool) (string, error) { return rate(given(0.0, "WithSampleRate"), n) }, "0"},
		{"rate env ignored without env", envconf.SampleRate, "0.25", true, func(n bool) (string, error) { return rate(noRate, n) }, "1"},

		{"paths default", envconf.IgnorePaths, "", false, func(n bool) (string, error) { return paths(none, n) }, "[]"},
		{"paths env", envconf.IgnorePaths, "^/healthz$,^/metrics", false, func(n bool) (string, error) { return paths(none, n) }, "[^/healthz$ ^/metrics]"},
		{"paths option beats env", envconf.IgnorePaths, "^/metrics", false, func(n bool) (string, error) { return paths(given([]string{"^/x"}, "WithIgnorePaths"), n) }, "[^/x]"},
		{"paths empty option beats env", envconf.IgnorePaths, "^/metrics", false, func(n bool) (string, error) { return paths(given([]string{}, "WithIgnorePaths"), n) }, "[]"},
		{"paths env ignored without env", envconf.IgnorePaths, "^/metrics", true, func(n bool) (string, error) { return paths(none, n) }, "[]"},

		{"codes default", envconf.IgnoreStatusCodes, "", false, func(n bool) (string, error) { return codes(noCodes, n) }, "[]"},
		{"codes env", envconf.IgnoreStatusCodes, "301, 404", false, func(n bool) (string, error) { return codes(noCodes, n) }, "[301 404]"},
		{"codes option beats env", envconf.IgnoreStatusCodes, "301", false, func(n bool) (string, error) { return codes(given([]int{500}, "WithIgnoreStatusCodes"), n) }, "[500]"},
		{"codes empty option beats env", envconf.IgnoreStatusCodes, "301", false, func(n bool) (string, error) { return codes(given([]int{}, "WithIgnoreStatusCodes"), n) }, "[]"},
		{"codes env ignored without env", envconf.IgnoreStatusCodes, "301", true, func(n bool) (string, error) { return codes(noCodes, n) }, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.value != "" {
				t.Setenv(tt.env, tt.value)
			}
			got, err := tt.resolve(tt.noEnv)
			if err != nil || got != tt.want {
				t.Fatalf("got %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name  string
		env   string // the variable, set to value when value != ""
		value string
		err   func() error
		want  string
	}{
		{"rate option", "", "", func() error { _, err := SampleRate(given(1.5, "WithSampleRate"), false); return err },
			"secaudit: WithSampleRate(1.5): want a number from 0 to 1"},
		{"rate option NaN", "", "", func() error { _, err := SampleRate(given(math.NaN(), "WithSampleRate"), false); return err },
			"secaudit: WithSampleRate(NaN): want a number from 0 to 1"},
		{"rate env", envconf.SampleRate, "2", func() error { _, err := SampleRate(setting.Value[float64]{}, false); return err },
			`secaudit: SECAUDIT_SAMPLE_RATE="2": want a number from 0 to 1`},
		{"paths option", "", "", func() error {
			_, err := IgnorePaths(given([]string{"ok", "(bad"}, "WithIgnorePaths"), false)
			return err
		},
			`secaudit: WithIgnorePaths("(bad"): want RE2 regular expressions: error parsing regexp: missing closing ): ` + "`(bad`"},
		{"paths env", envconf.IgnorePaths, "(bad", func() error { _, err := IgnorePaths(setting.Value[[]string]{}, false); return err },
			`secaudit: SECAUDIT_IGNORE_PATHS="(bad": want `},
		{"codes option", "", "", func() error {
			_, err := IgnoreStatusCodes(given([]int{200, 99}, "WithIgnoreStatusCodes"), false)
			return err
		},
			"secaudit: WithIgnoreStatusCodes(99): want HTTP status codes from 100 to 599"},
		{"codes env", envconf.IgnoreStatusCodes, "200,700", func() error { _, err := IgnoreStatusCodes(setting.Value[[]int]{}, false); return err },
			`secaudit: SECAUDIT_IGNORE_STATUS_CODES="200,700": want `},
		{"key env", envconf.SampleKey, "short", func() error { _, err := SampleKey(false); return err },
			"secaudit: SECAUDIT_SAMPLE_KEY=(5 characters, not shown): want a secret of at least 16 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.value != "" {
				t.Setenv(tt.env, tt.value)
			}
			err := tt.err()
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %v, want %s…", err, tt.want)
			}
		})
	}
}

// TestSampleKey: SECAUDIT_SAMPLE_KEY > the process's key; WithoutEnv
// (noEnv) ignores the variable.
func TestSampleKey(t *testing.T) {
	const secret = "a-secret-shared-by-every-instance"
	tests := []struct {
		name  string
		value string
		noEnv bool
		want  sampling.Key
	}{
		{"unset: the process key", "", false, sampling.ProcessKey()},
		{"a secret", secret, false, sampling.KeyFromSecret(secret)},
		{"ignored without env", secret, true, sampling.ProcessKey()},
		{"a short secret ignored without env", "short", true, sampling.ProcessKey()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.value != "" {
				t.Setenv(envconf.SampleKey, tt.value)
			}
			got, err := SampleKey(tt.noEnv)
			if err != nil || got != tt.want {
				t.Fatalf("key %v, error %v", got == tt.want, err)
			}
		})
	}
	t.Setenv(envconf.SampleKey, "short-secret")
	if _, err := SampleKey(false); err == nil || strings.Contains(err.Error(), "short-secret") {
		t.Fatalf("error %v must not show the value", err)
	}
}
