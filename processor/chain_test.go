package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

func mustChain(t testing.TB, next sdklog.Processor, opts ...Option) *Chain {
	t.Helper()
	c, err := NewChain(next, append([]Option{WithoutEnv()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// allText returns every string in the record: body, attribute keys and
// values at any depth.
func allText(r *sdklog.Record) string {
	var b strings.Builder
	var walk func(v attribute.Value)
	walk = func(v attribute.Value) {
		switch v.Type() {
		case attribute.MAP:
			for _, kv := range v.AsMap() {
				b.WriteString(string(kv.Key) + "\n")
				walk(kv.Value)
			}
		case attribute.SLICE:
			for _, e := range v.AsSlice() {
				walk(e)
			}
		default:
			b.WriteString(v.String() + "\n")
		}
	}
	walk(r.Body())
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		b.WriteString(string(kv.Key) + "\n")
		walk(kv.Value)
		return true
	})
	return b.String()
}

func TestChainScrubsOtelslogRecords(t *testing.T) {
	rr := &testsupport.Capture{}
	lp := testsupport.NewProvider(mustChain(t, rr))
	logger := otelslog.NewLogger("app", otelslog.WithLoggerProvider(lp))

	logger.InfoContext(context.Background(), "connecting to postgres://svc:Pg-S3cret@db:5432/app",
		"password", "hunter2",
		slog.Group("req", "authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "path", "/login"),
		"card", "4111 1111 1111 1111",
		"err", errors.New("aws: AKIAIOSFODNN7EXAMPLE rejected"),
	)
	got := rr.Last(t)
	text := allText(&got)
	for _, secret := range []string{"Pg-S3cret", "hunter2", "eyJhbGciOiJIUzI1NiJ9", "4111 1111 1111 1111", "AKIAIOSFODNN7EXAMPLE"} {
		if strings.Contains(text, secret) {
			t.Errorf("%q survived:\n%s", secret, text)
		}
	}
	if got.Body().AsString() != "connecting to postgres://svc:[REDACTED]@db:5432/app" {
		t.Errorf("body = %q", got.Body().AsString())
	}
	if !strings.Contains(text, "/login") {
		t.Error("clean value lost")
	}
	if n := redactedCount(&got); n != 5 {
		t.Errorf("audit.redacted_count = %d, want 5", n)
	}
}

func TestChainScrubsRecordErr(t *testing.T) {
	rr := &testsupport.Capture{}
	lp := testsupport.NewProvider(mustChain(t, rr))
	var rec log.Record
	rec.SetEventName(semconv.EventHTTPResponseServerError)
	rec.SetBody(attribute.StringValue(semconv.BodyHTTPResponse))
	rec.SetErr(fmt.Errorf("query: %w", errors.New("pq: connect postgres://app:0penSesame@10.0.0.5/shop?sslmode=disable: timeout")))
	lp.Logger("x").Emit(context.Background(), rec)
	got := rr.Last(t)
	m := testsupport.AttrMap(&got)
	msg := m[string(semconv.ExceptionMessageKey)].AsString()
	if strings.Contains(msg, "0penSesame") || !strings.Contains(msg, "postgres://app:[REDACTED]@10.0.0.5/shop") {
		t.Fatalf("exception.message = %q", msg)
	}
	if m[string(semconv.ExceptionTypeKey)].AsString() == "" {
		t.Fatal("exception.type lost")
	}
}

func TestChainOrder(t *testing.T) {
	// Enrichment runs first, so what an enricher adds is scrubbed and
	// limited; the filter sees the scrubbed record; a dropped record never
	// reaches next.
	rr := &testsupport.Capture{}
	var seen string
	c := mustChain(t, rr,
		WithEnrichFunc(func(context.Context, *sdklog.Record) []attribute.KeyValue {
			return []attribute.KeyValue{attribute.String("upstream.api_token", "t0k"), attribute.String("note", strings.Repeat("n", 50))}
		}),
		WithMaxStringLength(20),
		WithFilterFunc(func(_ context.Context, r *sdklog.Record) bool {
			seen = testsupport.AttrMap(r)["upstream.api_token"].AsString()
			return r.EventName() != "drop.me"
		}),
	)
	lp := testsupport.NewProvider(c)
	lp.Logger("x").Emit(context.Background(), apiRecord(semconv.EventLoginSuccess, attribute.Value{}))
	lp.Logger("x").Emit(context.Background(), apiRecord("drop.me", attribute.Value{}))
	all := rr.Records()
	if len(all) != 1 {
		t.Fatalf("%d records reached next", len(all))
	}
	m := testsupport.AttrMap(&all[0])
	if m["upstream.api_token"].AsString() != semconv.Redacted || seen != semconv.Redacted {
		t.Fatalf("enriched secret not scrubbed before the filter: %q / %q", m["upstream.api_token"].AsString(), seen)
	}
	if m["note"].AsString() != strings.Repeat("n", 20)+semconv.Truncated {
		t.Fatalf("enriched value not limited: %q", m["note"].AsString())
	}
	st := c.Stats()
	if st.Redacted != 2 || st.LimitTruncated != 2 || st.FilteredFunc != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestChainSamplesAndFilters(t *testing.T) {
	rr := &testsupport.Capture{}
	c := mustChain(t, rr, WithSampleRate(0), WithIgnoreStatusCodes(404), WithIgnorePaths("^/healthz$"))
	lp := testsupport.NewProvider(c)
	l := lp.Logger("x")
	ctx := context.Background()
	l.Emit(ctx, httpEvent(semconv.EventHTTPResponseSuccess, "/a", 200))
	l.Emit(ctx, httpEvent(semconv.EventHTTPResponseClientError, "/a", 404))
	l.Emit(ctx, httpEvent(semconv.EventHTTPResponseServerError, "/healthz", 500))
	l.Emit(ctx, httpEvent(semconv.EventHTTPResponseClientError, "/a", 403))
	if len(rr.Records()) != 1 {
		t.Fatalf("%d records reached next", len(rr.Records()))
	}
	st := c.Stats()
	if st.SampledOut != 1 || st.FilteredStatus != 1 || st.FilteredPath != 1 || st.FilteredSecurity != 2 {
		t.Fatalf("stats = %+v", st)
	}
	if c.SampleRate() != 0 || c.Limits() != DefaultLimits() || c.Scrubber() == nil {
		t.Fatal("accessors")
	}
	if l.Enabled(ctx, log.EnabledParameters{EventName: semconv.EventHTTPResponseSuccess}) {
		t.Fatal("logger enabled for OK responses at rate 0")
	}
	if !l.Enabled(ctx, log.EnabledParameters{EventName: semconv.EventLoginFailed}) {
		t.Fatal("logger not enabled for failed logins")
	}
	if err := lp.Shutdown(ctx); err != nil || rr.Shutdowns() != 1 {
		t.Fatalf("shutdown not passed on: %v, %d", err, rr.Shutdowns())
	}
}

func TestChainEnvErrors(t *testing.T) {
	t.Setenv("SECAUDIT_SAMPLE_RATE", "lots")
	t.Setenv("SECAUDIT_IGNORE_PATHS", "(")
	_, err := NewChain(discard{})
	if err == nil || !strings.Contains(err.Error(), "SECAUDIT_SAMPLE_RATE") || !strings.Contains(err.Error(), "SECAUDIT_IGNORE_PATHS") {
		t.Fatalf("error = %v", err)
	}
	if _, err := NewChain(discard{}, WithoutEnv()); err != nil {
		t.Fatalf("WithoutEnv: %v", err)
	}
}

func TestChainLimitsAfterScrubbing(t *testing.T) {
	// The scrubber's walks feed the limiter's check; every shape of hit must
	// still leave a bounded record.
	rr := &testsupport.Capture{}
	c := mustChain(t, rr, WithMaxStringLength(10), WithMaxAttributes(3))
	lp := testsupport.NewProvider(c)
	long := strings.Repeat("x", 30)
	tests := []struct {
		name string
		rec  log.Record
	}{
		{"body hit only", apiRecord("", attribute.StringValue("password=hunter2"), attribute.String("a", long))},
		{"attribute hit", apiRecord("", attribute.Value{}, attribute.String("b", long), attribute.String("token", "t"))},
		{"hit and existing count", apiRecord("", attribute.Value{}, semconv.AuditRedactedCountKey.Int(1), attribute.String("c", long), attribute.String("note", "token=abc"))},
		{"too many attributes", apiRecord("", attribute.Value{}, attribute.Int("a", 1), attribute.Int("b", 2), attribute.Int("c", 3), attribute.String("secret", "s"))},
	}
	for _, tt := range tests {
		lp.Logger("x").Emit(context.Background(), tt.rec)
		got := rr.Last(t)
		text := allText(&got)
		if strings.Contains(text, long) || strings.Contains(text, "hunter2") || strings.Contains(text, "abc") {
			t.Errorf("%s: unbounded or unscrubbed:\n%s", tt.name, text)
		}
		for _, kv := range attrsOf(&got) {
			if kv.Value.Type() == attribute.STRING && len([]rune(kv.Value.AsString())) > 10+len(semconv.Truncated) {
				t.Errorf("%s: %s too long", tt.name, kv.Key)
			}
		}
		if n := redactedCount(&got); n < 1 {
			t.Errorf("%s: count %d", tt.name, n)
		}
	}
}
