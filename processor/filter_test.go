package processor

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/secaudit/secaudit/internal/sampling"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

func httpEvent(name, path string, status int) log.Record {
	return apiRecord(name, attribute.StringValue(semconv.BodyHTTPResponse),
		semconv.URLPathKey.String(path), semconv.HTTPResponseStatusCodeKey.Int(status))
}

func emitAll(t *testing.T, p sdklog.Processor, recs ...log.Record) {
	t.Helper()
	lp := testsupport.NewProvider(p)
	for _, r := range recs {
		lp.Logger("test").Emit(context.Background(), r)
	}
}

func TestFilter(t *testing.T) {
	rr := &testsupport.Capture{}
	keepNotBob := func(_ context.Context, r *sdklog.Record) bool {
		return testsupport.AttrMap(r)["user.id"].AsString() != "bob"
	}
	f, err := NewFilter(rr, WithoutEnv(), WithIgnorePaths(`^/healthz$`, `^/static/`), WithIgnoreStatusCodes(304, 404), WithFilterFunc(keepNotBob))
	if err != nil {
		t.Fatal(err)
	}
	emitAll(t, f,
		httpEvent(semconv.EventHTTPResponseSuccess, "/healthz", 200),                                   // path
		httpEvent(semconv.EventHTTPResponseSuccess, "/static/app.js", 200),                             // path
		httpEvent(semconv.EventHTTPResponseSuccess, "/healthz/deep", 200),                              // kept: anchored
		httpEvent(semconv.EventHTTPResponseRedirect, "/a", 304),                                        // status
		httpEvent(semconv.EventHTTPResponseClientError, "/missing", 404),                               // status, security
		httpEvent(semconv.EventHTTPResponseClientError, "/forbidden", 403),                             // kept
		apiRecord(semconv.EventLoginSuccess, attribute.Value{}, semconv.URLPathKey.String("/healthz")), // kept: not http.*
		apiRecord(semconv.EventLoginFailed, attribute.Value{}, semconv.UserIDKey.String("bob")),        // func, security
		apiRecord("", attribute.StringValue("app log"), semconv.HTTPResponseStatusCodeKey.Int(404)),    // kept: not http.*
	)
	if got := len(rr.Records()); got != 4 {
		t.Fatalf("kept %d records, want 4", got)
	}
	st := f.Stats()
	want := Stats{FilteredPath: 2, FilteredStatus: 2, FilteredFunc: 1, FilteredSecurity: 2}
	if st != want {
		t.Fatalf("stats = %+v, want %+v", st, want)
	}
	if st.Filtered() != 5 {
		t.Fatal("Filtered()")
	}
}

func TestFilterPanicKeeps(t *testing.T) {
	rr := &testsupport.Capture{}
	f, err := NewFilter(rr, WithoutEnv(),
		WithFilterFunc(func(context.Context, *sdklog.Record) bool { panic("boom") }),
		WithFilterFunc(func(context.Context, *sdklog.Record) bool { return true }))
	if err != nil {
		t.Fatal(err)
	}
	emitAll(t, f, apiRecord(semconv.EventLoginFailed, attribute.Value{}))
	if len(rr.Records()) != 1 || f.Stats().FilterPanics != 1 || f.Stats().Filtered() != 0 {
		t.Fatalf("records %d, stats %+v", len(rr.Records()), f.Stats())
	}
}

func TestFilterDelegates(t *testing.T) {
	ctx := context.Background()
	rr := &testsupport.Capture{}
	rr.SetEnabled(false)
	f, err := NewFilter(rr, WithoutEnv())
	if err != nil {
		t.Fatal(err)
	}
	if f.Enabled(ctx, sdklog.EnabledParameters{}) {
		t.Fatal("Enabled with a disabled next")
	}
	rr.SetEnabled(true)
	if !f.Enabled(ctx, sdklog.EnabledParameters{}) {
		t.Fatal("not Enabled")
	}
	if f.ForceFlush(ctx) != nil || f.Shutdown(ctx) != nil || rr.Flushes() != 1 || rr.Shutdowns() != 1 {
		t.Fatal("Shutdown/ForceFlush not passed on")
	}
}

func TestFilterEnv(t *testing.T) {
	t.Setenv("SECAUDIT_IGNORE_PATHS", `^/healthz$`)
	t.Setenv("SECAUDIT_IGNORE_STATUS_CODES", "301, 302")
	rr := &testsupport.Capture{}
	f, err := NewFilter(rr)
	if err != nil {
		t.Fatal(err)
	}
	emitAll(t, f, httpEvent(semconv.EventHTTPResponseSuccess, "/healthz", 200),
		httpEvent(semconv.EventHTTPResponseRedirect, "/a", 302), httpEvent(semconv.EventHTTPResponseSuccess, "/a", 200))
	if len(rr.Records()) != 1 {
		t.Fatalf("kept %d", len(rr.Records()))
	}
	t.Setenv("SECAUDIT_IGNORE_STATUS_CODES", "30x")
	if _, err := NewFilter(rr); err == nil || !strings.Contains(err.Error(), "SECAUDIT_IGNORE_STATUS_CODES") {
		t.Fatalf("error = %v", err)
	}
	t.Setenv("SECAUDIT_IGNORE_STATUS_CODES", "")
	t.Setenv("SECAUDIT_IGNORE_PATHS", `[`)
	if _, err := NewFilter(rr); err == nil || !strings.Contains(err.Error(), "SECAUDIT_IGNORE_PATHS") {
		t.Fatalf("error = %v", err)
	}
	if _, err := NewFilter(rr, WithIgnoreStatusCodes(99)); err == nil || !strings.Contains(err.Error(), "WithIgnoreStatusCodes") {
		t.Fatalf("error = %v", err)
	}
}

func traceID(low uint64) trace.TraceID {
	var id trace.TraceID
	id[0] = 1
	binary.BigEndian.PutUint64(id[8:], low)
	return id
}

func TestSampler(t *testing.T) {
	rr := &testsupport.Capture{}
	s, err := NewSampler(rr, WithoutEnv(), WithSampleRate(0.25))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	kept := 0
	for i := uint64(0); i < 400; i++ {
		id := traceID(i * 0x9E3779B97F4A7C15)
		want := sampling.ProcessKey().Keep(id, 0.25, 0)
		// Two events of one trace: kept or dropped together, as the
		// middleware decides.
		for _, name := range []string{semconv.EventHTTPResponseSuccess, semconv.EventHTTPResponseRedirect} {
			rec := testsupport.SDKRecord(t, apiRecord(name, attribute.Value{}))
			rec.SetTraceID(id)
			before := len(rr.Records())
			if err := s.OnEmit(ctx, &rec); err != nil {
				t.Fatal(err)
			}
			if got := len(rr.Records()) > before; got != want {
				t.Fatalf("trace %d %s: kept %v, want %v", i, name, got, want)
			}
		}
		if want {
			kept++
		}
	}
	if kept < 60 || kept > 140 {
		t.Fatalf("kept %d of 400 traces at rate 0.25", kept)
	}
	for _, r := range rr.Records() {
		if v := testsupport.AttrMap(&r)[string(semconv.AuditSampleRateKey)]; v.AsFloat64() != 0.25 {
			t.Fatalf("audit.sample_rate = %v", v.String())
		}
	}
	if s.Stats().SampledOut != uint64(2*(400-kept)) {
		t.Fatalf("stats = %+v", s.Stats())
	}
}

// TestSamplerCombinesRates: a record already sampled upstream (the
// middleware records audit.sample_rate) carries the rate actually applied:
// the lower of the two when both decided from the trace id, their product
// when they drew independently (no trace id).
func TestSamplerCombinesRates(t *testing.T) {
	ctx := context.Background()
	kept := keptTraceID(t, 0.1) // kept at every rate of the table
	tests := []struct {
		name      string
		upstream  attribute.Value
		rate      float64
		traced    bool
		requestID bool // the record carries audit.request_id
		want      float64
	}{
		{"lower here", attribute.Float64Value(0.5), 0.25, true, false, 0.25},
		{"lower upstream", attribute.Float64Value(0.1), 0.5, true, false, 0.1},
		{"equal", attribute.Float64Value(0.5), 0.5, true, false, 0.5},
		{"integer upstream", attribute.Int64Value(1), 0.5, true, false, 0.5},
		{"same request id draw", attribute.Float64Value(0.5), 0.25, false, true, 0.25},
		{"same request id draw, lower upstream", attribute.Float64Value(0.1), 0.5, false, true, 0.1},
		{"independent draws", attribute.Float64Value(0.5), 0.5, false, false, 0.25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr := &testsupport.Capture{}
			s, err := NewSampler(rr, WithoutEnv(), WithSampleRate(tt.rate))
			if err != nil {
				t.Fatal(err)
			}
			for attempt := 0; len(rr.Records()) == 0; attempt++ { // without a trace id, keeping is random
				if attempt == 1000 {
					t.Fatal("never kept")
				}
				id := "other" // not audit.request_id
				if tt.requestID {
					id = string(semconv.AuditRequestIDKey)
				}
				rec := testsupport.SDKRecord(t, apiRecord(semconv.EventHTTPResponseSuccess, attribute.Value{},
					attribute.String("before", "x"), attribute.KeyValue{Key: semconv.AuditSampleRateKey, Value: tt.upstream},
					attribute.String(id, fmt.Sprint(attempt)), attribute.String("after", "y")))
				if tt.traced {
					rec.SetTraceID(kept)
				}
				if err := s.OnEmit(ctx, &rec); err != nil {
					t.Fatal(err)
				}
			}
			got := rr.Records()[0]
			var rates []float64
			var keys []string
			got.WalkAttributes(func(kv attribute.KeyValue) bool {
				keys = append(keys, string(kv.Key))
				if kv.Key == semconv.AuditSampleRateKey {
					rates = append(rates, kv.Value.AsFloat64())
				}
				return true
			})
			if len(rates) != 1 || rates[0] != tt.want {
				t.Fatalf("audit.sample_rate %v, want one of %v", rates, tt.want)
			}
			if want := "before,audit.sample_rate," + map[bool]string{false: "other", true: string(semconv.AuditRequestIDKey)}[tt.requestID] + ",after"; strings.Join(keys, ",") != want {
				t.Fatalf("attributes %v: order or others changed", keys)
			}
		})
	}
}

func TestSamplerNeverSamplesSecurityEvents(t *testing.T) {
	rr := &testsupport.Capture{}
	s, err := NewSampler(rr, WithoutEnv(), WithSampleRate(0))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{semconv.EventHTTPResponseClientError, semconv.EventHTTPResponseServerError,
		semconv.EventLoginFailed, semconv.EventAuthzDenied, semconv.EventSuspiciousRequest, semconv.EventLoginSuccess, ""}
	for _, n := range names {
		emitAll(t, s, apiRecord(n, attribute.Value{}))
	}
	emitAll(t, s, apiRecord(semconv.EventHTTPResponseSuccess, attribute.Value{}))
	if len(rr.Records()) != len(names) || s.Stats().SampledOut != 1 {
		t.Fatalf("kept %d, stats %+v", len(rr.Records()), s.Stats())
	}
	for _, r := range rr.Records() {
		if _, ok := testsupport.AttrMap(&r)[string(semconv.AuditSampleRateKey)]; ok {
			t.Fatal("unsampled event carries audit.sample_rate")
		}
	}
	ctx := context.Background()
	if s.Enabled(ctx, sdklog.EnabledParameters{EventName: semconv.EventHTTPResponseSuccess}) {
		t.Fatal("Enabled for OK responses at rate 0")
	}
	if !s.Enabled(ctx, sdklog.EnabledParameters{EventName: semconv.EventHTTPResponseClientError}) {
		t.Fatal("not Enabled for client errors")
	}
}

func TestSamplerRateOneAddsNothing(t *testing.T) {
	rr := &testsupport.Capture{}
	s, err := NewSampler(rr, WithoutEnv())
	if err != nil {
		t.Fatal(err)
	}
	emitAll(t, s, apiRecord(semconv.EventHTTPResponseSuccess, attribute.Value{}, attribute.Int("a", 1)))
	r := rr.Last(t)
	if len(attrsOf(&r)) != 1 || s.Rate() != 1 {
		t.Fatal("rate 1 changed the record")
	}
}

func TestSamplerEnv(t *testing.T) {
	t.Setenv("SECAUDIT_SAMPLE_RATE", "0.5")
	s, err := NewSampler(discard{})
	if err != nil || s.Rate() != 0.5 {
		t.Fatalf("rate %v, err %v", s.Rate(), err)
	}
	s, err = NewSampler(discard{}, WithSampleRate(0.1))
	if err != nil || s.Rate() != 0.1 {
		t.Fatal("option did not win over the environment")
	}
	t.Setenv("SECAUDIT_SAMPLE_RATE", "1.5")
	if _, err := NewSampler(discard{}); err == nil || !strings.Contains(err.Error(), "SECAUDIT_SAMPLE_RATE") {
		t.Fatalf("error = %v", err)
	}
	if _, err := NewSampler(discard{}, WithSampleRate(-0.1)); err == nil || !strings.Contains(err.Error(), "WithSampleRate") {
		t.Fatalf("error = %v", err)
	}
}
