package processor

import (
	"context"
	"encoding/hex"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/log/logtest"

	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

func redactedCount(r *sdklog.Record) int64 {
	n := int64(-1)
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		if kv.Key == semconv.AuditRedactedCountKey {
			n = kv.Value.AsInt64()
		}
		return true
	})
	return n
}

func TestScrubberAttributes(t *testing.T) {
	tests := []struct {
		name      string
		opts      []ScrubOption
		give      []attribute.KeyValue
		want      map[string]string // key → Emit() of the value
		wantCount int64
	}{
		{
			name: "sensitive header key",
			give: []attribute.KeyValue{
				attribute.String("http.request.header.authorization", "Basic dXNlcjpwYXNz"),
				attribute.String("http.request.header.x-api-key", "k"),
				attribute.String("http.request.header.accept", "text/html"),
			},
			want: map[string]string{
				"http.request.header.authorization": "[REDACTED]",
				"http.request.header.x-api-key":     "[REDACTED]",
				"http.request.header.accept":        "text/html",
			},
			wantCount: 2,
		},
		{
			name: "any value type under a sensitive key",
			give: []attribute.KeyValue{
				attribute.Int("pin_token", 1234), attribute.Bool("secret_flag", true),
				attribute.StringSlice("tokens", []string{"a", "b"}),
				{Key: "password", Value: attribute.MapValue(attribute.String("x", "y"))},
			},
			want: map[string]string{
				"pin_token": "[REDACTED]", "secret_flag": "[REDACTED]", "tokens": "[REDACTED]", "password": "[REDACTED]",
			},
			wantCount: 4,
		},
		{
			name: "protected contract keys are exempt from key rules",
			give: []attribute.KeyValue{
				semconv.SessionIDKey.String("9f86d081884c7d659a2feaa0c55ad015"),
				semconv.AuditRequestIDKey.String("4bf92f3577b34da6a3ce929d0e0e4736"),
				semconv.ClientAddressKey.String("203.0.113.7"),
				semconv.UserIDKey.String("42"),
				attribute.String("session_id", "framework-key"),
			},
			want: map[string]string{
				"session.id":       "9f86d081884c7d659a2feaa0c55ad015",
				"audit.request_id": "4bf92f3577b34da6a3ce929d0e0e4736",
				"client.address":   "203.0.113.7",
				"user.id":          "42",
				"session_id":       "[REDACTED]",
			},
			wantCount: 1,
		},
		{
			name: "custom denylist still cannot touch protected keys",
			opts: []ScrubOption{WithSensitiveKeys("address", "user", "id")},
			give: []attribute.KeyValue{
				semconv.ClientAddressKey.String("203.0.113.7"),
				semconv.UserIDKey.String("42"),
				attribute.String("email_address", "a@example.com"),
				attribute.String("user_name", "alice"),
			},
			want: map[string]string{
				"client.address": "203.0.113.7", "user.id": "42",
				"email_address": "[REDACTED]", "user_name": "[REDACTED]",
			},
			wantCount: 2,
		},
		{
			name: "trusted values skip detectors, user.id does not",
			give: []attribute.KeyValue{
				semconv.AuditRequestIDKey.String("4111111111111111"),
				semconv.UserIDKey.String("4111111111111111"),
				attribute.Int64("order.total_cents", 4111111111111111),
				semconv.AuditDurationKey.Int64(4111111111111111),
			},
			want: map[string]string{
				"audit.request_id":  "4111111111111111",
				"user.id":           "[REDACTED]",
				"order.total_cents": "[REDACTED]",
				"audit.duration_ns": "4111111111111111",
			},
			wantCount: 2,
		},
		{
			name: "url.query parameters by key rules, then detectors",
			give: []attribute.KeyValue{
				semconv.URLQueryKey.String("q=shoes&api_key=abc&tokenizer=bpe&sig=x&id_token=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.&n=1"),
			},
			want: map[string]string{
				"url.query": "q=shoes&api_key=[REDACTED]&tokenizer=[REDACTED]&sig=[REDACTED]&id_token=[REDACTED]&n=1",
			},
			wantCount: 1,
		},
		{
			name: "exception texts and bytes",
			give: []attribute.KeyValue{
				semconv.ExceptionMessageKey.String("dial postgres://app:s3cr3t@db/shop: refused"),
				semconv.ExceptionStacktraceKey.String("main.go:10 password=hunter2\nmain.go:20"),
				attribute.KeyValue{Key: "blob", Value: attribute.ByteSliceValue([]byte("raw"))},
			},
			want: map[string]string{
				"exception.message":    "dial postgres://app:[REDACTED]@db/shop: refused",
				"exception.stacktrace": "main.go:10 password=[REDACTED]\nmain.go:20",
				"blob":                 "[REDACTED]",
			},
			wantCount: 3,
		},
		{
			name: "nested maps and slices",
			give: []attribute.KeyValue{
				{Key: "audit.request.body", Value: attribute.MapValue(
					attribute.String("username", "bob"),
					attribute.String("password", "pw"),
					attribute.KeyValue{Key: "cards", Value: attribute.SliceValue(
						attribute.StringValue("4111 1111 1111 1111"), attribute.StringValue("none"))},
					attribute.KeyValue{Key: "profile", Value: attribute.MapValue(attribute.String("secret_answer", "x"))},
				)},
				attribute.StringSlice("notes", []string{"ok", "AKIAIOSFODNN7EXAMPLE"}),
			},
			want: map[string]string{
				"audit.request.body": `{"cards":["[REDACTED]","none"],"password":"[REDACTED]","profile":{"secret_answer":"[REDACTED]"},"username":"bob"}`,
				"notes":              `["ok","[REDACTED]"]`,
			},
			wantCount: 4,
		},
		{
			name: "allowlist wins over the denylist but not over detectors",
			opts: []ScrubOption{WithSensitiveKeyAllowlist("token_expiry", "csrf_hint")},
			give: []attribute.KeyValue{
				attribute.String("token_expiry", "2026-01-01"),
				attribute.String("csrf_hint", "Bearer abcdef123456"),
			},
			want: map[string]string{
				"token_expiry": "2026-01-01",
				"csrf_hint":    "Bearer [REDACTED]",
			},
			wantCount: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustScrubber(t, tt.opts...)
			got := capture(t, apiRecord("", attribute.Value{}, tt.give...), s)
			m := testsupport.AttrMap(&got)
			for k, want := range tt.want {
				v, ok := m[k]
				if !ok {
					t.Fatalf("%s missing", k)
				}
				if v.String() != want {
					t.Errorf("%s = %s, want %s", k, v.String(), want)
				}
			}
			if n := redactedCount(&got); n != tt.wantCount && !(tt.wantCount == 0 && n == -1) {
				t.Errorf("audit.redacted_count = %d, want %d", n, tt.wantCount)
			}
		})
	}
}

func TestScrubberDuplicateKeys(t *testing.T) {
	// The provider allows duplicate keys (perf): every occurrence is scrubbed.
	s := mustScrubber(t)
	got := capture(t, apiRecord("", attribute.Value{},
		attribute.String("password", "one"),
		attribute.String("ok", "fine"),
		attribute.String("password", "two"),
	), s)
	var passwords []string
	for _, kv := range attrsOf(&got) {
		if kv.Key == "password" {
			passwords = append(passwords, kv.Value.AsString())
		}
	}
	if len(passwords) != 2 || passwords[0] != semconv.Redacted || passwords[1] != semconv.Redacted {
		t.Fatalf("passwords = %q", passwords)
	}
	if n := redactedCount(&got); n != 2 {
		t.Fatalf("count = %d", n)
	}
}

func TestScrubberBody(t *testing.T) {
	s := mustScrubber(t)
	tests := []struct {
		name string
		give attribute.Value
		want string
	}{
		{"string body", attribute.StringValue("login password=hunter2 failed"), "login password=[REDACTED] failed"},
		{"map body", attribute.MapValue(attribute.String("token", "t"), attribute.Int("n", 1)), `{"n":1,"token":"[REDACTED]"}`},
		{"slice body", attribute.SliceValue(attribute.StringValue("AKIAIOSFODNN7EXAMPLE")), `["[REDACTED]"]`},
		{"clean body", attribute.StringValue("http.response"), "http.response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := capture(t, apiRecord("", tt.give, attribute.String("a", "b")), s)
			if got.Body().String() != tt.want {
				t.Fatalf("body = %s, want %s", got.Body().String(), tt.want)
			}
			wantCount := int64(1)
			if tt.name == "clean body" {
				wantCount = -1
			}
			if n := redactedCount(&got); n != wantCount {
				t.Fatalf("count = %d, want %d", n, wantCount)
			}
		})
	}
}

func TestScrubberRecordErr(t *testing.T) {
	// The SDK turns Record.Err into exception.message before processors run.
	s := mustScrubber(t)
	var rec log.Record
	rec.SetBody(attribute.StringValue("query failed"))
	rec.SetErr(errorString("connect mysql: app:t0ps3cret@tcp(db:3306)/shop: timeout"))
	got := capture(t, rec, s)
	msg := testsupport.AttrMap(&got)[string(semconv.ExceptionMessageKey)].AsString()
	if strings.Contains(msg, "t0ps3cret") || !strings.Contains(msg, "app:[REDACTED]@tcp(db:3306)") {
		t.Fatalf("exception.message = %q", msg)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

func TestScrubberCountAccumulates(t *testing.T) {
	// A record scrubbed twice (two Scrubbers composed) keeps one count: the
	// second pass finds nothing new, and a new hit adds to the old count.
	s := mustScrubber(t)
	got := capture(t, apiRecord("", attribute.Value{},
		attribute.String("password", "x"),
		semconv.AuditRedactedCountKey.Int(3),
		attribute.String("note", "password=y"),
	), s, s)
	if n := redactedCount(&got); n != 5 {
		t.Fatalf("count = %d, want 3+2", n)
	}
	if len(attrsOf(&got)) != 3 {
		t.Fatalf("attributes = %v", attrsOf(&got))
	}
}

func TestScrubberCleanRecordUntouched(t *testing.T) {
	// A clean record is not rewritten: SetAttributes would reset the
	// dropped-attribute count the SDK keeps.
	s := mustScrubber(t)
	rec := logtest.RecordFactory{
		Body:              attribute.StringValue("http.response"),
		Attributes:        benchAttrs(false),
		DroppedAttributes: 5,
	}.NewRecord()
	s.scrubRecord(&rec)
	if rec.DroppedAttributes() != 5 {
		t.Fatal("clean record was rewritten")
	}
	if got, want := attrsOf(&rec), benchAttrs(false); !reflect.DeepEqual(got, want) {
		t.Fatalf("attributes changed:\n got %v\nwant %v", got, want)
	}
	if redactedCount(&rec) != -1 {
		t.Fatal("clean record got a count")
	}
}

func TestScrubberStats(t *testing.T) {
	s := mustScrubber(t)
	capture(t, apiRecord("", attribute.StringValue("token=x"), attribute.String("password", "p")), s)
	capture(t, apiRecord("", attribute.Value{}, attribute.String("ok", "fine")), s)
	st := s.Stats()
	if st.Redacted != 2 || st.ScrubbedRecords != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestPseudonymization(t *testing.T) {
	key := []byte("0123456789abcdef-secret-hmac-key")
	s := mustScrubber(t, WithPseudonymization(key, string(semconv.UserIDKey), string(semconv.ClientAddressKey)))
	emit := func(user, addr string) (string, string) {
		got := capture(t, apiRecord("", attribute.Value{},
			semconv.UserIDKey.String(user), semconv.ClientAddressKey.String(addr)), s)
		m := testsupport.AttrMap(&got)
		return m["user.id"].AsString(), m["client.address"].AsString()
	}
	u1, a1 := emit("alice", "203.0.113.7")
	u2, a2 := emit("alice", "203.0.113.7")
	u3, _ := emit("bob", "203.0.113.7")
	if u1 != u2 || a1 != a2 {
		t.Fatal("equal inputs gave different pseudonyms")
	}
	if u1 == u3 {
		t.Fatal("different inputs gave equal pseudonyms")
	}
	if len(u1) != 32 || strings.Contains(u1, "alice") || strings.Contains(a1, "203.0.113.7") {
		t.Fatalf("pseudonyms %q %q", u1, a1)
	}
	for _, out := range []string{u1, a1} {
		if strings.Contains(out, string(key)) || strings.Contains(out, hex.EncodeToString(key)) {
			t.Fatal("key leaked")
		}
	}
	other := mustScrubber(t, WithPseudonymization([]byte("another-key-of-16-bytes"), "user.id"))
	got := capture(t, apiRecord("", attribute.Value{}, semconv.UserIDKey.String("alice")), other)
	if testsupport.AttrMap(&got)["user.id"].AsString() == u1 {
		t.Fatal("different keys gave equal pseudonyms")
	}
	if s.Stats().Pseudonymized != 6 {
		t.Fatalf("stats = %+v", s.Stats())
	}

	for _, tt := range []struct {
		key  []byte
		keys []string
		want string
	}{
		{nil, []string{"user.id"}, "WithPseudonymization(no key): want an HMAC key"},
		{[]byte("short"), []string{"user.id"}, "at least 16 bytes"},
		{key, nil, "no attribute keys"},
	} {
		if _, err := NewScrubber(WithPseudonymization(tt.key, tt.keys...)); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "WithPseudonymization") {
			t.Errorf("error = %v, want %q", err, tt.want)
		}
	}
}

func TestScrubberEnv(t *testing.T) {
	t.Setenv("SECAUDIT_SENSITIVE_KEYS", "ssn, pin")
	t.Setenv("SECAUDIT_SENSITIVE_KEY_ALLOWLIST", "pin_hint")
	t.Setenv("SECAUDIT_SENSITIVE_VALUE_PATTERNS", `ACME-\d{4}`)
	s, err := NewScrubber()
	if err != nil {
		t.Fatal(err)
	}
	got := capture(t, apiRecord("", attribute.Value{},
		attribute.String("password", "not in the replaced list"),
		attribute.String("pin", "1234"),
		attribute.String("pin_hint", "birthday"),
		attribute.String("note", "ticket ACME-1234"),
	), s)
	m := testsupport.AttrMap(&got)
	if m["password"].AsString() != "not in the replaced list" || m["pin"].AsString() != semconv.Redacted ||
		m["pin_hint"].AsString() != "birthday" || m["note"].AsString() != "ticket "+semconv.Redacted {
		t.Fatalf("env not applied: %v", m)
	}

	// Options win over the environment.
	s = mustScrubber(t) // WithoutEnv
	if got := capture(t, apiRecord("", attribute.Value{}, attribute.String("password", "x")), s); testsupport.AttrMap(&got)["password"].AsString() != semconv.Redacted {
		t.Fatal("WithoutEnv did not restore the defaults")
	}
	s, err = NewScrubber(WithSensitiveKeys("password"))
	if err != nil {
		t.Fatal(err)
	}
	if got := capture(t, apiRecord("", attribute.Value{}, attribute.String("pin", "1")), s); testsupport.AttrMap(&got)["pin"].AsString() != "1" {
		t.Fatal("option did not override SECAUDIT_SENSITIVE_KEYS")
	}

	t.Setenv("SECAUDIT_SENSITIVE_VALUE_PATTERNS", `(unclosed`)
	if _, err := NewScrubber(); err == nil || !strings.Contains(err.Error(), "SECAUDIT_SENSITIVE_VALUE_PATTERNS") {
		t.Fatalf("error = %v", err)
	}
	if _, err := NewScrubber(WithSensitiveValuePatterns(`(`)); err == nil || !strings.Contains(err.Error(), "WithSensitiveValuePatterns") {
		t.Fatalf("error = %v", err)
	}
}

// TestOptionStages: each option configures its stage and no other — given
// to another stage's constructor it does not compile — and NewChain takes
// every option; WithoutEnv configures every stage.
func TestOptionStages(t *testing.T) {
	stages := []struct {
		name string
		typ  reflect.Type
	}{
		{"scrub", reflect.TypeFor[ScrubOption]()},
		{"limit", reflect.TypeFor[LimitOption]()},
		{"filter", reflect.TypeFor[FilterOption]()},
		{"sample", reflect.TypeFor[SampleOption]()},
		{"enrich", reflect.TypeFor[EnrichOption]()},
	}
	tests := []struct {
		opt  Option
		want string // the stages it configures
	}{
		{WithSensitiveKeys("x"), "scrub"},
		{WithSensitiveKeyAllowlist("x"), "scrub"},
		{WithSensitiveValuePatterns("x"), "scrub"},
		{WithDetectors(AllDetectors), "scrub"},
		{WithoutDetectors(DetectJWT), "scrub"},
		{WithPseudonymization([]byte("0123456789abcdef"), "user.id"), "scrub"},
		{WithMaxDepth(3), "limit"},
		{WithMaxMapEntries(3), "limit"},
		{WithMaxSliceLength(3), "limit"},
		{WithMaxStringLength(3), "limit"},
		{WithMaxAttributes(3), "limit"},
		{WithMaxRecordBytes(4096), "limit"},
		{WithLimits(Limits{}), "limit"},
		{WithIgnorePaths("x"), "filter"},
		{WithIgnoreStatusCodes(404), "filter"},
		{WithFilterFunc(nil), "filter"},
		{WithSampleRate(0.5), "sample"},
		{WithEnrichFunc(nil), "enrich"},
		{WithoutEnv(), "scrub limit filter sample enrich"},
	}
	for _, tt := range tests {
		var got []string
		for _, s := range stages {
			if reflect.TypeOf(tt.opt).Implements(s.typ) {
				got = append(got, s.name)
			}
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("%T configures %v, want %s", tt.opt, got, tt.want)
		}
	}
	if _, err := NewChain(discard{}, WithoutEnv(), WithSampleRate(0.5), WithMaxDepth(3), WithSensitiveKeys("x")); err != nil {
		t.Fatalf("chain rejected its options: %v", err)
	}
}

func TestNilAndZeroProcessors(t *testing.T) {
	ctx := context.Background()
	procs := []sdklog.Processor{
		(*Scrubber)(nil), &Scrubber{}, (*Limiter)(nil), &Limiter{}, (*Filter)(nil), &Filter{},
		(*Sampler)(nil), &Sampler{}, (*Enricher)(nil), &Enricher{}, (*Chain)(nil), &Chain{},
	}
	for _, p := range procs {
		rec := testsupport.SDKRecord(t, apiRecord(semconv.EventLoginFailed, attribute.StringValue("x"), attribute.String("password", "p")))
		if err := p.OnEmit(ctx, &rec); err != nil {
			t.Errorf("%T OnEmit: %v", p, err)
		}
		if err := p.OnEmit(ctx, nil); err != nil {
			t.Errorf("%T OnEmit(nil): %v", p, err)
		}
		if testsupport.AttrMap(&rec)["password"].AsString() != "p" {
			t.Errorf("%T changed the record", p)
		}
		if p.Enabled(ctx, sdklog.EnabledParameters{}) {
			t.Errorf("%T Enabled", p)
		}
		if p.Shutdown(ctx) != nil || p.ForceFlush(ctx) != nil {
			t.Errorf("%T Shutdown/ForceFlush", p)
		}
		var st interface{ Stats() Stats }
		st, _ = p.(interface{ Stats() Stats })
		if st.Stats() != (Stats{}) {
			t.Errorf("%T Stats", p)
		}
	}
}

func TestProtectedKeyLists(t *testing.T) {
	protected := map[string]bool{}
	for _, k := range ProtectedKeys() {
		protected[k] = true
		if !isProtectedKey(k) {
			t.Errorf("%s listed but not protected", k)
		}
	}
	for _, k := range TrustedValueKeys() {
		if !protected[k] || !isTrustedValueKey(k) {
			t.Errorf("%s trusted but not protected", k)
		}
	}
	for _, k := range []string{"user.name", "url.query", "audit.reason", "exception.message", "session_id", ""} {
		if isProtectedKey(k) || isTrustedValueKey(k) {
			t.Errorf("%s must not be protected", k)
		}
	}
	// The lists are copies.
	ProtectedKeys()[0] = "x"
	DefaultSensitiveKeys()[0] = "x"
	if ProtectedKeys()[0] == "x" || DefaultSensitiveKeys()[0] == "x" {
		t.Fatal("exported lists alias internal state")
	}
	if !isProtectedKey(string(semconv.SessionIDKey)) || NormalizeKey(string(semconv.SessionIDKey)) != "sessionid" {
		t.Fatal("session.id must be protected despite normalising to a denylist entry")
	}
}

// TestScrubberRewriteSizes places secrets at the edges of the rewrite's
// stack buffer (the first attribute, the last one that fits, the first one
// that does not) in records from 1 to 45 attributes: every secret is
// replaced, every other attribute keeps its value and its position, and the
// count is appended once.
func TestScrubberRewriteSizes(t *testing.T) {
	s := mustScrubber(t)
	for _, n := range []int{1, 5, 6, rewriteStack - 1, rewriteStack, rewriteStack + 1, 45} {
		for _, secretAt := range []int{0, n / 2, n - 1, rewriteStack - 2, rewriteStack - 1, rewriteStack} {
			if secretAt >= n {
				continue
			}
			give := make([]attribute.KeyValue, n)
			for i := range give {
				give[i] = attribute.Int("attr."+strings.Repeat("x", i), i)
			}
			give[secretAt] = attribute.String("db.url", "postgres://app:hunter2secret@db:5432/shop")
			rec := capture(t, apiRecord("e", attribute.Value{}, give...), s)
			got := attrsOf(&rec)
			if len(got) != n+1 {
				t.Fatalf("n=%d secret at %d: %d attributes, want %d", n, secretAt, len(got), n+1)
			}
			for i, kv := range got[:n] {
				if kv.Key != give[i].Key {
					t.Fatalf("n=%d secret at %d: attribute %d is %q, want %q", n, secretAt, i, kv.Key, give[i].Key)
				}
				if i == secretAt {
					if v := kv.Value.AsString(); strings.Contains(v, "hunter2") || !strings.Contains(v, semconv.Redacted) {
						t.Fatalf("n=%d secret at %d: %q not scrubbed", n, secretAt, v)
					}
					continue
				}
				if kv.Value.AsInt64() != int64(i) {
					t.Fatalf("n=%d secret at %d: attribute %d = %v, want %d", n, secretAt, i, kv.Value.String(), i)
				}
			}
			if last := got[n]; last.Key != semconv.AuditRedactedCountKey || last.Value.AsInt64() != 1 {
				t.Fatalf("n=%d secret at %d: last attribute %v, want the count 1", n, secretAt, last)
			}
		}
	}
}

// TestPseudonymTextIsStable pins the text non-string values are
// pseudonymised from to what attribute.Value.Emit returned when
// pseudonymisation shipped (Emit is deprecated now), so that a pseudonym does
// not change with the OTel version.
func TestPseudonymTextIsStable(t *testing.T) {
	for _, v := range []attribute.Value{
		attribute.BoolValue(true),
		attribute.BoolValue(false),
		attribute.Float64Value(1.5),
		attribute.Float64Value(1e21),
		attribute.Float64Value(math.NaN()),
		attribute.BoolSliceValue([]bool{true, false}),
		attribute.ByteSliceValue([]byte("\x00secret\xff")),
		attribute.Int64SliceValue([]int64{1, -2, 3}),
		attribute.Float64SliceValue([]float64{0.5, 2}),
		attribute.Float64SliceValue([]float64{math.Inf(1)}),
		attribute.StringSliceValue([]string{"a", `"b"`, "ü"}),
		attribute.StringSliceValue(nil),
	} {
		//lint:ignore SA1019 Emit is the reference this test pins
		if got, want := pseudonymText(v), v.Emit(); got != want {
			t.Errorf("%s: pseudonymText %q, Emit %q", v.Type(), got, want)
		}
	}
}

func TestScrubAttributes(t *testing.T) {
	s := mustScrubber(t, WithPseudonymization([]byte("k3y-for-tests-only"), "user.id"))
	clean := []attribute.KeyValue{attribute.String("service.name", "shop"), attribute.Int("replicas", 3)}
	if got, n := s.ScrubAttributes(clean); n != 0 || &got[0] != &clean[0] {
		t.Fatalf("clean attributes: %d replaced, or copied", n)
	}
	give := []attribute.KeyValue{
		attribute.String("service.name", "shop"),
		attribute.String("api_token", "abc"),
		attribute.String("db.url", "postgres://app:hunter2@db/shop"),
		attribute.String("user.id", "42"),
	}
	orig := slices.Clone(give)
	got, n := s.ScrubAttributes(give)
	if n != 3 {
		t.Fatalf("%d replaced, want 3", n)
	}
	if !slices.Equal(give, orig) {
		t.Fatal("the input was modified")
	}
	if got[0] != give[0] || got[1].Value.AsString() != semconv.Redacted ||
		got[2].Value.AsString() != "postgres://app:[REDACTED]@db/shop" {
		t.Fatalf("scrubbed %v", got)
	}
	if v := got[3].Value.AsString(); v == "42" || len(v) != 32 {
		t.Fatalf("user.id not pseudonymised: %q", v)
	}
	var nilScrubber *Scrubber
	if got, n := nilScrubber.ScrubAttributes(give); n != 0 || &got[0] != &give[0] {
		t.Fatal("a nil Scrubber changed something")
	}
}

// TestPseudonymizationByType: every value type under a pseudonymised key is
// replaced; scalars by the pseudonym of their text (so user.id 42 and "42"
// stay correlatable), maps and slices of values by [REDACTED].
func TestPseudonymizationByType(t *testing.T) {
	s := mustScrubber(t, WithPseudonymization([]byte("k3y-for-tests-only"), "user.id"))
	pseudonym := func(v attribute.Value) attribute.Value {
		t.Helper()
		got, n := s.ScrubAttributes([]attribute.KeyValue{{Key: "user.id", Value: v}})
		if n != 1 {
			t.Fatalf("%s: %d replaced, want 1", v.Type(), n)
		}
		return got[0].Value
	}
	text := pseudonym(attribute.StringValue("42"))
	if len(text.AsString()) != 32 {
		t.Fatalf("pseudonym %q", text.AsString())
	}
	if got := pseudonym(attribute.Int64Value(42)); got != text {
		t.Errorf("int 42 → %q, string \"42\" → %q", got.AsString(), text.AsString())
	}
	if got := pseudonym(attribute.BoolValue(true)); got != pseudonym(attribute.StringValue("true")) {
		t.Errorf("bool true → %q, not the pseudonym of \"true\"", got.AsString())
	}
	if got := pseudonym(attribute.StringSliceValue([]string{"a"})); got.Type() != attribute.STRING || got.AsString() == `["a"]` {
		t.Errorf("string slice → %v", got)
	}
	for _, v := range []attribute.Value{attribute.MapValue(attribute.String("k", "v")), attribute.SliceValue(attribute.StringValue("x"))} {
		if got := pseudonym(v); got.AsString() != semconv.Redacted {
			t.Errorf("%s → %v, want [REDACTED]", v.Type(), got)
		}
	}
	if got, n := s.ScrubAttributes([]attribute.KeyValue{{Key: "user.id"}}); n != 0 || got[0].Value.Type() != attribute.EMPTY {
		t.Errorf("an empty value was replaced: %v", got[0].Value)
	}
}
