package detect_test

import (
	"context"
	"strings"
	"testing"
	"time"

	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/detect"
	"github.com/secaudit/secaudit/internal/claim"
	"github.com/secaudit/secaudit/semconv"
)

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{"SECAUDIT_DETECT", "maybe", `secaudit: SECAUDIT_DETECT="maybe": want true or false`},
		{"SECAUDIT_DETECT_RULES", "brute_force:3", `secaudit: SECAUDIT_DETECT_RULES="brute_force:3": want a list of rule:threshold/window`},
		{"SECAUDIT_DETECT_RULES", "nope:3/1m", `SECAUDIT_DETECT_RULES="nope:3/1m"`},
		{"SECAUDIT_DETECT_RULES", "scanner:0/1m", `SECAUDIT_DETECT_RULES="scanner:0/1m"`},
		{"SECAUDIT_DETECT_RULES", "scanner:3/-1m", `SECAUDIT_DETECT_RULES="scanner:3/-1m"`},
		{"SECAUDIT_DETECT_SENSITIVE_FIELDS", "is_admin", `secaudit: SECAUDIT_DETECT_SENSITIVE_FIELDS="is_admin": want "model.field" names`},
		{"SECAUDIT_STATE_MAX_BYTES", "12", `secaudit: SECAUDIT_STATE_MAX_BYTES="12": want an integer >= 65536`},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			t.Setenv(tt.name, tt.value)
			_, err := detect.New()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
			if _, err := detect.New(detect.WithoutEnv()); err != nil {
				t.Fatalf("WithoutEnv: %v", err)
			}
		})
	}
}

func TestOptionErrors(t *testing.T) {
	tests := []struct {
		opt  detect.Option
		want string
	}{
		{detect.WithRule("nope", 1, time.Minute), `secaudit: WithRule("nope"): want a built-in rule`},
		{detect.WithRule(detect.RuleScanner, -1, time.Minute), `want a threshold >= 0`},
		{detect.WithRule(detect.RuleScanner, 3, 0), `want a threshold >= 0`},
		{detect.WithSensitiveFields("x."), `WithSensitiveFields(x.): want "model.field" names`},
		{detect.WithStateMaxBytes(10), `WithStateMaxBytes(10)(10): want at least 65536 bytes`},
		{detect.WithCustomRule(named(detect.RuleScanner)), `want a rule with a name of its own`},
	}
	for _, tt := range tests {
		_, err := detect.New(detect.WithoutEnv(), tt.opt)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("err %v, want %q", err, tt.want)
		}
	}
}

type named string

func (n named) Name() string { return string(n) }
func (named) Evaluate(context.Context, *sdklog.Record, detect.State, time.Time) (detect.Alert, bool) {
	return detect.Alert{}, false
}

// TestEnvRules: SECAUDIT_DETECT_RULES changes and disables rules, and an
// option overrides it for its rule.
func TestEnvRules(t *testing.T) {
	t.Setenv("SECAUDIT_DETECT_RULES", "brute_force:3/10m, scanner:off")
	p, err := detect.New()
	if err != nil {
		t.Fatal(err)
	}
	r := newRigWith(t, p)
	ctx := claim.WithUser(context.Background(), "alice")
	for range 3 {
		r.emit(ctx, semconv.EventLoginFailed, semconv.ClientAddressKey.String("203.0.113.7"))
	}
	for i := range 20 {
		r.emit(context.Background(), semconv.EventSuspiciousRequest, semconv.ClientAddressKey.String("203.0.113.7"),
			semconv.AuditRequestIDKey.String(strings.Repeat("a", i+1)))
	}
	if n, s := len(r.got.of(detect.RuleBruteForce)), len(r.got.of(detect.RuleScanner)); n != 1 || s != 0 {
		t.Fatalf("brute_force %d alerts (want 1 at 3), scanner %d (want off)", n, s)
	}

	p, err = detect.New(detect.WithRule(detect.RuleBruteForce, 2, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	r = newRigWith(t, p)
	for range 2 {
		r.emit(ctx, semconv.EventLoginFailed, semconv.ClientAddressKey.String("203.0.113.7"))
	}
	if n := len(r.got.of(detect.RuleBruteForce)); n != 1 {
		t.Fatalf("the option's threshold 2: %d alerts", n)
	}
}

func TestDisabled(t *testing.T) {
	t.Setenv("SECAUDIT_DETECT", "false")
	p, err := detect.New()
	if err != nil {
		t.Fatal(err)
	}
	if p.Active() {
		t.Fatal("SECAUDIT_DETECT=false: active")
	}
	p, err = detect.New(detect.WithEnabled(true))
	if err != nil || !p.Active() {
		t.Fatalf("WithEnabled(true) over the variable: %v %v", p.Active(), err)
	}
}

// TestAlertsAreNotEvaluated: a custom rule that would fire on anything
// never sees an alert, so alerts cannot loop.
func TestAlertsAreNotEvaluated(t *testing.T) {
	r := newRig(t, detect.WithCustomRule(always{}))
	r.emit(context.Background(), "app.thing")
	if n := len(r.got.of("always")); n != 1 {
		t.Fatalf("%d alerts, want 1 (the alert is not fed back)", n)
	}
}

type always struct{}

func (always) Name() string { return "always" }
func (always) Evaluate(context.Context, *sdklog.Record, detect.State, time.Time) (detect.Alert, bool) {
	return detect.Alert{Category: "test", Count: 1, Window: time.Minute}, true
}
