package processor

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// TestScrubberURLDecoded: detectors see url.* values percent-decoded, and
// url.full ends at least as redacted as url.path.
func TestScrubberURLDecoded(t *testing.T) {
	tests := []struct {
		name     string
		opts     []ScrubOption
		give     []attribute.KeyValue
		want     map[attribute.Key]string
		mustLose []string // nowhere in the record, decoded or not
	}{
		{
			name: "card with %20 in url.full",
			give: []attribute.KeyValue{
				semconv.URLFullKey.String("https://shop.example/cards/4111%201111%201111%201111"),
				semconv.URLPathKey.String("/cards/4111 1111 1111 1111"),
			},
			want: map[attribute.Key]string{
				semconv.URLFullKey: "https://shop.example/cards/[REDACTED]",
				semconv.URLPathKey: "/cards/[REDACTED]",
			},
			mustLose: []string{"4111"},
		},
		{
			name: "assignment with %3D in url.full and url.query",
			give: []attribute.KeyValue{
				semconv.URLPathKey.String("/login/password=hunter2"),
				semconv.URLFullKey.String("http://h/login/password%3Dhunter2"),
				semconv.URLQueryKey.String("next=%2Fhome&q=token%3Ahunter3+x"),
			},
			want: map[attribute.Key]string{
				semconv.URLPathKey:  "/login/password=[REDACTED]",
				semconv.URLFullKey:  "http://h/login/password%3D[REDACTED]",
				semconv.URLQueryKey: "next=%2Fhome&q=token%3A[REDACTED]+x",
			},
			mustLose: []string{"hunter2", "hunter3"},
		},
		{
			// A pattern redacts its match, like a detector.
			name: "url.full before url.path, only url.path hits by pattern",
			opts: []ScrubOption{WithSensitiveValuePatterns(`^/internal/`)},
			give: []attribute.KeyValue{
				semconv.URLFullKey.String("http://h/internal/x%20y?z=1"),
				semconv.URLPathKey.String("/internal/x y"),
			},
			want: map[attribute.Key]string{
				semconv.URLPathKey: "[REDACTED]x y",
				semconv.URLFullKey: "http://h/[REDACTED]x%20y?z=1",
			},
			mustLose: []string{"internal"},
		},
		{
			name: "url.full unlike url.path: its path is redacted whole",
			give: []attribute.KeyValue{
				semconv.URLPathKey.String("/cards/4111111111111111"),
				semconv.URLFullKey.String("http://h/other"),
			},
			want: map[attribute.Key]string{
				semconv.URLPathKey: "/cards/[REDACTED]",
				semconv.URLFullKey: "http://h/[REDACTED]",
			},
		},
		{
			name: "clean escaped url untouched",
			give: []attribute.KeyValue{
				semconv.URLFullKey.String("http://h/a%2Fb/c%20d"),
				semconv.URLPathKey.String("/a/b/c d"),
			},
			want: map[attribute.Key]string{
				semconv.URLFullKey: "http://h/a%2Fb/c%20d",
				semconv.URLPathKey: "/a/b/c d",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustScrubber(t, tt.opts...)
			got := capture(t, apiRecord(semconv.EventHTTPResponseClientError, attribute.Value{}, tt.give...), s)
			m := testsupport.AttrMap(&got)
			for k, want := range tt.want {
				if g := m[string(k)].AsString(); g != want {
					t.Errorf("%s = %q, want %q", k, g, want)
				}
			}
			text := allText(&got)
			for _, secret := range tt.mustLose {
				dec, err := url.QueryUnescape(text)
				if strings.Contains(text, secret) || err == nil && strings.Contains(dec, secret) {
					t.Errorf("%q survived:\n%s", secret, text)
				}
			}
			// Scrubbing again changes nothing.
			again := capture(t, apiRecord(semconv.EventHTTPResponseClientError, attribute.Value{}, attrsOf(&got)...), s)
			if a, b := allText(&again), text; a != b {
				t.Errorf("second pass changed the record:\n%s\n---\n%s", b, a)
			}
		})
	}
}

// TestDetectorLeaks are the secrets that slipped past the detectors.
func TestDetectorLeaks(t *testing.T) {
	tests := []struct{ give, want string }{
		{"dial postgres://app:S3cr#t@db failed", "dial postgres://app:[REDACTED]@db failed"},
		{"postgres://app:S3cr?t@db:5432/shop?x=a@b.c", "postgres://app:[REDACTED]@db:5432/shop?x=a@b.c"},
		{"postgres://app:a/b@db/shop", "postgres://app:[REDACTED]@db/shop"},
		{"dial postgres://app:S3cr t@db/shop failed", "dial postgres://app:[REDACTED]@db/shop failed"},
		{"open app:S3c r@tcp(db:3306)/shop", "open app:[REDACTED]@tcp(db:3306)/shop"},
		{"open app:S3c#r?@tcp(db:3306)/shop", "open app:[REDACTED]@tcp(db:3306)/shop"},
		{"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGXyZ\n=abcd\n-----END PGP PRIVATE KEY BLOCK-----\nok", "[REDACTED]\nok"},
		// Near misses stay.
		{"see https://example.com:8443/a and bob@example.com", ""},
		{"mail bob@example.com about http://h:8080 today", ""},
		{"-----BEGIN PGP PUBLIC KEY BLOCK-----\nmQINB\n-----END PGP PUBLIC KEY BLOCK-----", ""},
	}
	s := mustScrubber(t)
	for _, tt := range tests {
		want := tt.want
		if want == "" {
			want = tt.give
		}
		if got, _ := s.scrubString(tt.give, false); got != want {
			t.Errorf("scrubString(%q)\n got %q\nwant %q", tt.give, got, want)
		}
	}
}

// TestScrubberFloatCards: body capture turns a JSON card number into a
// float64; it is redacted like an int64 one.
func TestScrubberFloatCards(t *testing.T) {
	s := mustScrubber(t)
	got := capture(t, apiRecord(semconv.EventLoginFailed,
		attribute.MapValue(attribute.Float64("pan", 4111111111111111e0), attribute.Float64("amount", 12.5)),
		attribute.Float64("card", 5555555555554444),
		attribute.Float64("order", 4111111111111112), // fails Luhn
		attribute.Float64("big", 4.5e18),             // 19 digits, not exact
		attribute.Float64("ts", 1.7e18),              // starts with 1
		attribute.Float64Slice("cards", []float64{1, 4012888888881881}),
	), s)
	m := testsupport.AttrMap(&got)
	for _, k := range []string{"card", "big"} {
		if m[k].AsString() != semconv.Redacted {
			t.Errorf("%s = %v", k, m[k].String())
		}
	}
	for k, want := range map[string]float64{"order": 4111111111111112, "ts": 1.7e18} {
		if m[k].Type() != attribute.FLOAT64 || m[k].AsFloat64() != want {
			t.Errorf("%s = %v, want it kept", k, m[k].String())
		}
	}
	if sl := m["cards"].AsSlice(); len(sl) != 2 || sl[0].AsFloat64() != 1 || sl[1].AsString() != semconv.Redacted {
		t.Errorf("cards = %v", m["cards"].String())
	}
	body := got.Body().AsMap()
	for _, kv := range body {
		if kv.Key == "pan" && kv.Value.AsString() != semconv.Redacted || kv.Key == "amount" && kv.Value.AsFloat64() != 12.5 {
			t.Errorf("body %s = %v", kv.Key, kv.Value.String())
		}
	}
	if n := redactedCount(&got); n != 4 {
		t.Errorf("audit.redacted_count = %d, want 4", n)
	}
}

// TestScrubberSecretWordKeys: the key denylist agrees with the detector's
// secret words.
func TestScrubberSecretWordKeys(t *testing.T) {
	s := mustScrubber(t)
	redact := []string{"auth", "passphrase", "private_key", "credentials", "access_key", "signature",
		"x-auth", "proxyAuth", "http.request.header.x-amz-signature", "user.session", "req.sig", "db_credential"}
	keep := []string{"author", "oauth_provider", "authority", "signal", "design", "sessions_count", "sig_count", "keyword"}
	var attrs []attribute.KeyValue
	for _, k := range append(append([]string{}, redact...), keep...) {
		attrs = append(attrs, attribute.String(k, "v4lue"))
	}
	got := capture(t, apiRecord(semconv.EventLoginFailed, attribute.Value{}, attrs...), s)
	m := testsupport.AttrMap(&got)
	for _, k := range redact {
		if m[k].AsString() != semconv.Redacted {
			t.Errorf("%s kept its value", k)
		}
	}
	for _, k := range keep {
		if m[k].AsString() != "v4lue" {
			t.Errorf("%s lost its value", k)
		}
	}
	// A replaced denylist is the whole list, and the allowlist still wins.
	s = mustScrubber(t, WithSensitiveKeys("pin"))
	got = capture(t, apiRecord("", attribute.Value{}, attribute.String("auth", "x")), s)
	if testsupport.AttrMap(&got)["auth"].AsString() != "x" {
		t.Error("a replaced denylist still redacts auth by key")
	}
	s = mustScrubber(t, WithSensitiveKeyAllowlist("auth"))
	got = capture(t, apiRecord("", attribute.Value{}, attribute.String("auth", "x")), s)
	if testsupport.AttrMap(&got)["auth"].AsString() != "x" {
		t.Error("the allowlist does not keep auth")
	}
	// No contract key is sensitive.
	for _, k := range []attribute.Key{semconv.AuditModelChangedFieldsKey, semconv.AuditReasonKey, semconv.UserNameKey,
		semconv.SecurityRuleNameKey, semconv.AuditRequestBodyParseStatusKey, semconv.ExceptionMessageKey} {
		if s.keys.sensitive(string(k)) {
			t.Errorf("%s is sensitive", k)
		}
	}
}

// TestScrubberSecretKeys: secrets used as keys, at the top level or in
// maps, are renamed, uniquely, and every value kept.
func TestScrubberSecretKeys(t *testing.T) {
	const jwtTok = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl"
	s := mustScrubber(t)
	got := capture(t, apiRecord(semconv.EventLoginFailed,
		attribute.MapValue(
			attribute.String(jwtTok, "a"),
			attribute.String("password=hunter2", "b"),
			attribute.String("password=hunter3", "c"),
			attribute.String("[REDACTED]", "d"),
			attribute.String("ok", "e"),
		),
		attribute.String(jwtTok, "top"),
		attribute.String("note", "x"),
	), s)
	text := allText(&got)
	for _, secret := range []string{"hunter2", "hunter3", "eyJhbGciOiJIUzI1NiJ9", "c2lnbmF0dXJl"} {
		if strings.Contains(text, secret) {
			t.Fatalf("%q survived:\n%s", secret, text)
		}
	}
	keys := map[string]string{}
	for _, kv := range got.Body().AsMap() {
		if _, dup := keys[string(kv.Key)]; dup {
			t.Fatalf("duplicate key %q in %s", kv.Key, text)
		}
		keys[string(kv.Key)] = kv.Value.AsString()
	}
	if len(keys) != 5 || keys["ok"] != "e" || keys["[REDACTED]"] != "d" {
		t.Fatalf("body keys: %v", keys)
	}
	// The values stay, except under keys the key rules find sensitive.
	vals := map[string]int{}
	for _, v := range keys {
		vals[v]++
	}
	if vals["a"] != 1 || vals["d"] != 1 || vals["e"] != 1 || vals[semconv.Redacted] != 2 {
		t.Fatalf("values: %v", keys)
	}
	m := testsupport.AttrMap(&got)
	if m["[REDACTED]"].AsString() != "top" || m["note"].AsString() != "x" {
		t.Fatalf("attributes: %v", text)
	}
	if n := redactedCount(&got); n != 6 { // 4 keys, 2 values
		t.Errorf("audit.redacted_count = %d, want 6", n)
	}
}

// TestEnvelopeKeysCannotBeForged: an enricher cannot set an envelope name,
// and an application attribute of that name loses its value, so a backend
// that flattens attributes beside the record's fields (Loki) shows the
// true event.
func TestEnvelopeKeysCannotBeForged(t *testing.T) {
	rr := &testsupport.Capture{}
	chain := mustChain(t, rr, WithEnrichFunc(func(context.Context, *sdklog.Record) []attribute.KeyValue {
		return []attribute.KeyValue{attribute.String("event_name", "auth.login.success"), attribute.String("tenant", "a")}
	}))
	lp := testsupport.NewProvider(chain)
	lp.Logger("t").Emit(context.Background(), apiRecord(semconv.EventLoginFailed, attribute.Value{}))
	got := rr.Last(t)
	m := testsupport.AttrMap(&got)
	if _, ok := m["event_name"]; ok || m["tenant"].AsString() != "a" {
		t.Fatalf("enricher set event_name: %v", m)
	}
	if chain.Stats().EnricherProtected != 1 {
		t.Fatalf("EnricherProtected = %d", chain.Stats().EnricherProtected)
	}

	forged := []string{"event_name", "event.name", "event_type", "schema_version", "trace_id", "span.id",
		"trace_flags", "severity_text", "severity_number", "observed_timestamp"}
	var attrs []attribute.KeyValue
	for _, k := range forged {
		attrs = append(attrs, attribute.String(k, "authz.denied"))
	}
	attrs = append(attrs, attribute.String("event_names", "kept"),
		attribute.KeyValue{Key: "meta", Value: attribute.MapValue(attribute.String("event_name", "nested"))})
	lp.Logger("t").Emit(context.Background(), apiRecord(semconv.EventLoginFailed, attribute.Value{}, attrs...))
	got = rr.Last(t)
	m = testsupport.AttrMap(&got)
	for _, k := range forged {
		if m[k].AsString() != semconv.Redacted {
			t.Errorf("%s = %q", k, m[k].String())
		}
	}
	if m["event_names"].AsString() != "kept" || m["meta"].AsMap()[0].Value.AsString() != "nested" {
		t.Errorf("non-envelope keys changed: %v", m)
	}
	line := string(exporter.AppendRecord(nil, &got, 0))
	if strings.Contains(line, "authz.denied") || !strings.Contains(line, `"event_name":"`+semconv.EventLoginFailed+`"`) {
		t.Errorf("JSONL line: %s", line)
	}
	for _, k := range forged {
		if !isProtectedKey(k) {
			t.Errorf("%s is not protected", k)
		}
	}
}
