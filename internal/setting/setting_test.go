package setting_test

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/secaudit/secaudit/internal/setting"
)

func TestPrecedence(t *testing.T) {
	parse := func(v string, ok bool, err error) func(string) (int, bool, error) {
		return func(string) (int, bool, error) {
			if err != nil || !ok {
				return 0, ok, err
			}
			return len(v), true, nil
		}
	}
	tests := []struct {
		name     string
		option   *int // nil: no option
		envSet   bool
		noEnv    bool
		want     int
		wantFrom string
	}{
		{name: "default", want: 7, wantFrom: ""},
		{name: "env", envSet: true, want: 3, wantFrom: "SECAUDIT_X"},
		{name: "option beats env", option: ptr(5), envSet: true, want: 5, wantFrom: "WithX"},
		{name: "explicit zero is a value", option: ptr(0), envSet: true, want: 0, wantFrom: "WithX"},
		{name: "env ignored without env", envSet: true, noEnv: true, want: 7, wantFrom: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s setting.Value[int]
			if tt.option != nil {
				s.Put(*tt.option, "WithX")
			}
			if err := setting.Env(&s, "SECAUDIT_X", tt.noEnv, parse("abc", tt.envSet, nil)); err != nil {
				t.Fatal(err)
			}
			if got := s.Or(7); got != tt.want || s.From() != tt.wantFrom {
				t.Errorf("Or(7) = %d from %q, want %d from %q", got, s.From(), tt.want, tt.wantFrom)
			}
		})
	}
}

func TestEnvError(t *testing.T) {
	var s setting.Value[int]
	bad := setting.Invalid("SECAUDIT_X", "zz", "an integer")
	err := setting.Env(&s, "SECAUDIT_X", false, func(string) (int, bool, error) { return 0, true, bad })
	if !errors.Is(err, bad) || s.IsSet() {
		t.Fatalf("err %v, set %v", err, s.IsSet())
	}
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		source string
		value  any
		want   string
	}{
		{"SECAUDIT_DELIVERY_QUEUE_SIZE", "0", `secaudit: SECAUDIT_DELIVERY_QUEUE_SIZE="0": want an integer >= 1`},
		{"OTEL_LOGS_EXPORTER", "xml", `secaudit: OTEL_LOGS_EXPORTER="xml": want an integer >= 1`},
		{"WithQueueSize", 0, `secaudit: WithQueueSize(0): want an integer >= 1`},
	}
	for _, tt := range tests {
		if got := setting.Invalid(tt.source, tt.value, "an integer >= 1").Error(); got != tt.want {
			t.Errorf("Invalid(%q, %v) = %q, want %q", tt.source, tt.value, got, tt.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestRegexps(t *testing.T) {
	env := func(string) ([]*regexp.Regexp, bool, error) {
		return []*regexp.Regexp{regexp.MustCompile("^/env")}, true, nil
	}
	var unset setting.Value[[]string]
	var empty, bad, given setting.Value[[]string]
	empty.Put([]string{}, "WithX")
	bad.Put([]string{"ok", "(bad"}, "WithX")
	given.Put([]string{"^/opt"}, "WithX")
	tests := []struct {
		name    string
		s       setting.Value[[]string]
		noEnv   bool
		want    string
		wantErr string
	}{
		{name: "env", s: unset, want: "[^/env]"},
		{name: "no env", s: unset, noEnv: true, want: "[]"},
		{name: "option", s: given, want: "[^/opt]"},
		{name: "empty option beats env", s: empty, want: "[]"},
		{name: "bad option", s: bad, wantErr: `secaudit: WithX("(bad"): want RE2 regular expressions: `},
	}
	for _, tt := range tests {
		res, err := setting.Regexps(tt.s, "SECAUDIT_X", tt.noEnv, env)
		if tt.wantErr != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("%s: error %v, want %s…", tt.name, err, tt.wantErr)
			}
			continue
		}
		if got := fmt.Sprint(res); err != nil || got != tt.want {
			t.Errorf("%s: %s, %v; want %s", tt.name, got, err, tt.want)
		}
	}
}
