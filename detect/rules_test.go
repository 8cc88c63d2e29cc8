package detect_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/secaudit/secaudit/detect"
	"github.com/secaudit/secaudit/internal/claim"
	"github.com/secaudit/secaudit/semconv"
)

// event is one record a rule counts: the i-th distinct one, or, with same,
// always the same value.
type event func(i int) (context.Context, string, []attribute.KeyValue)

var ruleCases = []struct {
	rule      string
	threshold int
	window    time.Duration
	distinct  bool
	opts      []detect.Option
	gen       event
	same      event // distinct rules: an event that repeats one value
}{
	{rule: detect.RuleBruteForce, threshold: 5, window: 5 * time.Minute,
		gen: func(int) (context.Context, string, []attribute.KeyValue) {
			return claim.WithUser(context.Background(), "alice"), semconv.EventLoginFailed,
				[]attribute.KeyValue{semconv.ClientAddressKey.String("203.0.113.7")}
		}},
	{rule: detect.RulePasswordSpray, threshold: 10, window: 15 * time.Minute, distinct: true,
		gen: func(i int) (context.Context, string, []attribute.KeyValue) {
			return claim.WithUser(context.Background(), fmt.Sprintf("user%d", i)), semconv.EventLoginFailed,
				[]attribute.KeyValue{semconv.ClientAddressKey.String("203.0.113.7")}
		},
		same: func(int) (context.Context, string, []attribute.KeyValue) {
			return claim.WithUser(context.Background(), "alice"), semconv.EventLoginFailed,
				[]attribute.KeyValue{semconv.ClientAddressKey.String("203.0.113.7")}
		}},
	{rule: detect.RuleDistributedBruteForce, threshold: 10, window: 15 * time.Minute, distinct: true,
		gen: func(i int) (context.Context, string, []attribute.KeyValue) {
			return claim.WithUser(context.Background(), "alice"), semconv.EventLoginFailed,
				[]attribute.KeyValue{semconv.ClientAddressKey.String(fmt.Sprintf("198.51.100.%d", i))}
		}},
	{rule: detect.RuleEnumeration, threshold: 20, window: 5 * time.Minute, distinct: true,
		gen: func(i int) (context.Context, string, []attribute.KeyValue) {
			return context.Background(), semconv.EventHTTPResponseClientError, []attribute.KeyValue{
				semconv.ClientAddressKey.String("203.0.113.9"), semconv.HTTPRouteKey.String("/accounts/{id}"),
				semconv.URLPathKey.String(fmt.Sprintf("/accounts/%d", i)), semconv.HTTPResponseStatusCodeKey.Int(404 - (i % 2))}
		},
		same: func(int) (context.Context, string, []attribute.KeyValue) {
			return context.Background(), semconv.EventHTTPResponseClientError, []attribute.KeyValue{
				semconv.ClientAddressKey.String("203.0.113.9"), semconv.HTTPRouteKey.String("/accounts/{id}"),
				semconv.URLPathKey.String("/accounts/1"), semconv.HTTPResponseStatusCodeKey.Int(403)}
		}},
	{rule: detect.RuleScanner, threshold: 10, window: time.Minute, distinct: true,
		gen: func(i int) (context.Context, string, []attribute.KeyValue) {
			name := semconv.EventSuspiciousRequest
			attrs := []attribute.KeyValue{semconv.ClientAddressKey.String("203.0.113.10"),
				semconv.AuditRequestIDKey.String(fmt.Sprintf("%032x", i))}
			if i%2 == 1 {
				name = semconv.EventHTTPResponseClientError
				attrs = append(attrs, semconv.HTTPResponseStatusCodeKey.Int(404))
			}
			return context.Background(), name, attrs
		},
		// A suspicious request and its 404 are one request.
		same: func(i int) (context.Context, string, []attribute.KeyValue) {
			name := semconv.EventSuspiciousRequest
			attrs := []attribute.KeyValue{semconv.ClientAddressKey.String("203.0.113.10"),
				semconv.AuditRequestIDKey.String(fmt.Sprintf("%032x", 7))}
			if i%2 == 1 {
				name = semconv.EventHTTPResponseClientError
				attrs = append(attrs, semconv.HTTPResponseStatusCodeKey.Int(404))
			}
			return context.Background(), name, attrs
		}},
	{rule: detect.RuleSensitiveChange, threshold: 1, window: time.Minute,
		opts: []detect.Option{detect.WithSensitiveFields("user.is_admin")},
		gen: func(int) (context.Context, string, []attribute.KeyValue) {
			return context.Background(), semconv.EventModelUpdate, []attribute.KeyValue{
				semconv.UserIDKey.String("u-1"), semconv.AuditModelNameKey.String("user"),
				semconv.AuditModelChangedFieldsKey.StringSlice([]string{"email", "is_admin"})}
		}},
}

// forEachState runs f on each of stateKinds; state returns the options
// of a new store of the kind (one per rig: rigs must not share counts).
func forEachState(t *testing.T, f func(t *testing.T, state func() []detect.Option)) {
	for _, k := range stateKinds {
		t.Run(k.name, func(t *testing.T) { f(t, k.opts) })
	}
}

func TestRules(t *testing.T) {
	forEachState(t, testRules)
}

func testRules(t *testing.T, state func() []detect.Option) {
	for _, tt := range ruleCases {
		t.Run(tt.rule, func(t *testing.T) {
			r := newRig(t, slices.Concat(tt.opts, state())...)
			i := 0
			next := func() {
				ctx, name, a := tt.gen(i)
				i++
				r.emit(ctx, name, a...)
			}
			want := func(n int, when string) {
				t.Helper()
				got := r.got.of(tt.rule)
				if len(got) != n {
					t.Fatalf("%s: %d alerts, want %d", when, len(got), n)
				}
				for _, a := range got {
					m := attrs(a)
					if m[string(semconv.SecurityRuleNameKey)].AsString() != tt.rule {
						t.Fatalf("%s: alert of rule %v", when, m[string(semconv.SecurityRuleNameKey)])
					}
				}
			}
			for range tt.threshold - 1 {
				next()
			}
			want(0, "below the threshold")
			next()
			want(1, "at the threshold")
			m := attrs(r.got.of(tt.rule)[0])
			if got := m[string(semconv.AuditDetectCountKey)].AsInt64(); got != int64(tt.threshold) {
				t.Errorf("audit.detect.count = %d, want %d", got, tt.threshold)
			}
			if got := m[string(semconv.AuditDetectWindowKey)].AsInt64(); got != int64(tt.window/time.Second) {
				t.Errorf("audit.detect.window_s = %d, want %d", got, tt.window/time.Second)
			}
			for range 3 {
				next()
			}
			r.clock.advance(tt.window - time.Nanosecond)
			next() // the last nanosecond of the window
			want(1, "later in the same window")

			r.clock.advance(time.Nanosecond) // exactly the end: a new window
			for range tt.threshold - 1 {
				next()
			}
			want(1, "below the threshold in the next window")
			next()
			want(2, "at the threshold in the next window")
		})
	}
}

// TestDistinctRulesCountValues: a distinct-value rule counts values, not
// events.
func TestDistinctRulesCountValues(t *testing.T) {
	forEachState(t, testDistinctRulesCountValues)
}

func testDistinctRulesCountValues(t *testing.T, state func() []detect.Option) {
	for _, tt := range ruleCases {
		if tt.same == nil {
			continue
		}
		t.Run(tt.rule, func(t *testing.T) {
			r := newRig(t, slices.Concat(tt.opts, state())...)
			for i := range 3 * tt.threshold {
				ctx, name, a := tt.same(i)
				r.emit(ctx, name, a...)
			}
			if n := len(r.got.of(tt.rule)); n != 0 {
				t.Fatalf("%d alerts for one repeated value", n)
			}
		})
	}
}

func TestBruteForceResetBySuccess(t *testing.T) {
	forEachState(t, testBruteForceResetBySuccess)
}

func testBruteForceResetBySuccess(t *testing.T, state func() []detect.Option) {
	r := newRig(t, state()...)
	ctx := claim.WithUser(context.Background(), "alice")
	addr := semconv.ClientAddressKey.String("203.0.113.7")
	for range 4 {
		r.emit(ctx, semconv.EventLoginFailed, addr)
	}
	r.emit(ctx, semconv.EventLoginSuccess, addr, semconv.UserIDKey.String("u-1"))
	for range 4 {
		r.emit(ctx, semconv.EventLoginFailed, addr)
	}
	if n := len(r.got.list()); n != 0 {
		t.Fatalf("%d alerts after a success reset the pair", n)
	}
	r.emit(ctx, semconv.EventLoginFailed, addr)
	if n := len(r.got.list()); n != 1 {
		t.Fatalf("%d alerts at the fifth failure after the reset", n)
	}
}

// TestAlertRecord: the alert's attributes, severity, trace and request
// facts, and that the claimed name never shows.
func TestAlertRecord(t *testing.T) {
	r := newRig(t, detect.WithRule(detect.RuleBruteForce, 2, time.Minute))
	tid := trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	sid := trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}
	ctx := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	ctx = claim.WithUser(ctx, "secret-claimed-name")
	for i := range 2 {
		r.emit(ctx, semconv.EventLoginFailed, semconv.ClientAddressKey.String("203.0.113.7"),
			semconv.AuditRequestIDKey.String(fmt.Sprintf("%032d", i)), semconv.URLPathKey.String("/login"),
			semconv.HTTPRouteKey.String("/login"), semconv.HTTPRequestMethodKey.String("POST"))
	}
	got := r.got.list()
	if len(got) != 1 {
		t.Fatalf("%d alerts", len(got))
	}
	a := got[0]
	if a.TraceID() != tid || a.SpanID() != sid {
		t.Errorf("trace %v span %v, want the triggering record's", a.TraceID(), a.SpanID())
	}
	if a.Severity() != semconv.SeverityWarning || a.SeverityText() != semconv.SeverityText(semconv.SeverityWarning) {
		t.Errorf("severity %v %q", a.Severity(), a.SeverityText())
	}
	m := attrs(a)
	want := map[string]string{
		string(semconv.AuditSchemaVersionKey):   semconv.SchemaVersion,
		string(semconv.AuditOutcomeKey):         semconv.OutcomeFailure,
		string(semconv.SecurityRuleNameKey):     detect.RuleBruteForce,
		string(semconv.SecurityRuleCategoryKey): detect.CategoryAuthentication,
		string(semconv.ClientAddressKey):        "203.0.113.7",
		string(semconv.AuditRequestIDKey):       fmt.Sprintf("%032d", 1),
		string(semconv.HTTPRouteKey):            "/login",
		string(semconv.URLPathKey):              "/login",
		string(semconv.HTTPRequestMethodKey):    "POST",
	}
	for k, v := range want {
		if m[k].AsString() != v {
			t.Errorf("%s = %v, want %q", k, m[k].String(), v)
		}
	}
	if _, ok := m[string(semconv.UserNameKey)]; ok {
		t.Error("user.name on an alert whose record had none")
	}
	for k, v := range m {
		if strings.Contains(v.String(), "secret-claimed-name") {
			t.Errorf("the claimed name shows in %s", k)
		}
	}
	if st := r.det.Stats(); st.Alerts[detect.RuleBruteForce] != 1 || st.Evaluations == 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestHighSeverity: password_spray is ERROR.
func TestHighSeverity(t *testing.T) {
	r := newRig(t, detect.WithRule(detect.RulePasswordSpray, 2, time.Minute))
	for i := range 2 {
		r.emit(claim.WithUser(context.Background(), fmt.Sprint("u", i)), semconv.EventLoginFailed,
			semconv.ClientAddressKey.String("203.0.113.7"))
	}
	got := r.got.list()
	if len(got) != 1 || got[0].Severity() != semconv.SeverityError {
		t.Fatalf("%d alerts, want one ERROR", len(got))
	}
}

type panicky struct{}

func (panicky) Name() string { return "panicky" }
func (panicky) Evaluate(context.Context, *sdklog.Record, detect.State, time.Time) (detect.Alert, bool) {
	panic("boom")
}

func TestCustomRulePanicRecovered(t *testing.T) {
	r := newRig(t, detect.WithCustomRule(panicky{}))
	r.emit(context.Background(), "app.thing")
	if st := r.det.Stats(); st.Panics != 1 {
		t.Fatalf("panics %d", st.Panics)
	}
}

// TestConcurrentOnce: many goroutines failing for one pair at once give
// one alert per window.
func TestConcurrentOnce(t *testing.T) {
	r := newRig(t)
	ctx := claim.WithUser(context.Background(), "alice")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				r.emit(ctx, semconv.EventLoginFailed, semconv.ClientAddressKey.String("203.0.113.7"))
			}
		})
	}
	wg.Wait()
	if n := len(r.got.of(detect.RuleBruteForce)); n != 1 {
		t.Fatalf("%d alerts for one pair in one window", n)
	}
}

// TestAlertUserName: user.name is on the alert only when the triggering
// record carried it (usernames on).
func TestAlertUserName(t *testing.T) {
	r := newRig(t, detect.WithRule(detect.RuleBruteForce, 1, time.Minute))
	r.emit(context.Background(), semconv.EventLoginFailed, semconv.ClientAddressKey.String("203.0.113.7"),
		semconv.UserNameKey.String("alice"), semconv.UserIDKey.String("u-1"))
	got := r.got.of(detect.RuleBruteForce)
	if len(got) != 1 {
		t.Fatalf("%d alerts", len(got))
	}
	m := attrs(got[0])
	if m[string(semconv.UserNameKey)].AsString() != "alice" || m[string(semconv.UserIDKey)].AsString() != "u-1" {
		t.Fatalf("user.name %v, user.id %v", m[string(semconv.UserNameKey)].String(), m[string(semconv.UserIDKey)].String())
	}
}
