package setting_test

import (
	"errors"
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
