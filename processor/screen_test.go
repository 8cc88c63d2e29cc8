package processor

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// screenPieces are what the screens' random strings are made of: the
// anchors and separators of every detector, URL parts, assignment keys,
// and the provider tokens (whole, cut short and run on) of the token
// tests.
var screenPieces = func() []string {
	p := []string{
		":", "=", "@", "/", "//", "://", ".", "-", "_", "+", "$", " ", "\t", "\n", "\"", "'", "%3D", "?", "&", "#",
		"http", "https://", "127.0.0.1", ":37657", "/api/v1/items/42", "secaudit-load/1.0", "api", "v1",
		"password", "Password", "PASSWORD", "pass_word_", "token", "TOKEN", "auth", "x-AUTH", "Cookie", "SIG", "jwt", "API_KEY", "session", "SecretKey",
		"Bearer ", "basic ", "Basic ", "eyJ", "AKIA", "-----BEGIN ", "PRIVATE KEY-----", "-----END ", "tcp(",
		"4111", "1111", "4111111111111111", "0123456789", "deadbeef", "u:p@h", "user:S3cr#t@db",
		// The shortest secrets of the length gates.
		"eyJa.bbbb.", "Bearer abcdEF12", "basic " + basicOf("u:p:x"), "-----BEGIN PRIVATE KEY-----",
		"pwd=x", "u:p@/", "AKIA" + strings.Repeat("Z", 16), "4111 1111 1111 1", "4111-1111-1111-1111",
	}
	for _, c := range providerPlants {
		t := c.token
		p = append(p, t, t[:len(t)/2], t[:len(t)-1], t+"x", t[len(t)/3:])
	}
	for _, f := range tokenFormats {
		p = append(p, f.prefix)
	}
	return p
}()

// screenString returns a random string of pieces and random token bytes.
func screenString(rnd *rand.Rand) string {
	var b strings.Builder
	for n := rnd.IntN(8) + 1; n > 0; n-- {
		switch rnd.IntN(4) {
		case 0:
			for k := rnd.IntN(48); k > 0; k-- {
				b.WriteByte(fkB64[rnd.IntN(len(fkB64))])
			}
		case 1:
			for k := rnd.IntN(16); k > 0; k-- {
				b.WriteByte(":/=@.-_+$ \"'"[rnd.IntN(12)])
			}
		default:
			b.WriteString(screenPieces[rnd.IntN(len(screenPieces))])
		}
	}
	s := []byte(b.String())
	for k := rnd.IntN(3); k > 0 && len(s) > 0; k-- { // a few stray bytes
		s[rnd.IntN(len(s))] = byte(rnd.IntN(256))
	}
	return string(s)
}

// checkScreens fails when the screened detectors find other spans in s
// than the detectors without their screens: a screen must only skip work
// that finds nothing.
func checkScreens(t *testing.T, s string) {
	t.Helper()
	got := AllDetectors.find(s, nil)
	want := (AllDetectors | detectUnscreened).find(s, nil)
	if !slices.Equal(got, want) {
		t.Fatalf("find(%q):\nscreened   %v\nunscreened %v", s, got, want)
	}
}

// TestDetectorScreens: on random strings built from every detector's
// anchors and every provider token (whole and near misses), the screens
// never change what the detectors find.
func TestDetectorScreens(t *testing.T) {
	rnd := rand.New(rand.NewPCG(20, 20))
	found := 0
	for range 30000 {
		s := screenString(rnd)
		checkScreens(t, s)
		if len(AllDetectors.find(s, nil)) > 0 {
			found++
		}
	}
	for _, p := range screenPieces {
		checkScreens(t, p)
	}
	for _, c := range providerPlants {
		checkScreens(t, c.token)
		checkScreens(t, "see http://h/"+c.token+"/x")
	}
	// The strings must exercise both sides.
	if found < 3000 || found > 27000 {
		t.Errorf("%d of 30000 random strings hold a secret: the generator misses a side", found)
	}
}

// TestScreensSkipCleanURLs: what the screens are for. The clean values of
// an audited request reach no detector's full scan.
func TestScreensSkipCleanURLs(t *testing.T) {
	for _, s := range []string{
		"http://127.0.0.1:37657/api/v1/items/42",
		"https://api.example.com:8443/v2/organizations/1234/projects",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
	} {
		if a, b := nextTokenRun(s, tokenStride-1); a >= 0 && mayHoldToken(s[a:b]) {
			t.Errorf("%q: the token run %q is scanned", s, s[a:b])
		}
		var am assignMemo
		for i := strings.IndexAny(s, ":="); i >= 0; i = nextByte(s, s[i], i) {
			if i > 0 && isAlnum(s[i-1]) && secretWordLast[s[i-1]] {
				continue // a key that could end a secret word
			}
			if got := assignment(s, i, nil, &am, true); len(got) > 0 {
				t.Errorf("%q: assignment at %d found %v", s, i, got)
			}
		}
	}
	if groupMin[groupWord] != tokenStride || groupMin[groupB64] <= groupMin[groupWord] || groupMin[groupAny] <= groupMin[groupB64] {
		t.Errorf("group thresholds %v, stride %d: want increasing, the first the stride", groupMin, tokenStride)
	}
}

// FuzzDetectorScreens: for any string, the screened detectors find what
// the detectors without their screens find.
func FuzzDetectorScreens(f *testing.F) {
	for _, w := range fuzzWords {
		f.Add(w)
	}
	for _, c := range providerPlants {
		f.Add("x " + c.token + " y")
	}
	f.Add("http://127.0.0.1:37657/api/v1/items/42")
	f.Add("postgres://app:S3cr#t@db/x password=hunter2 glc_" + strings.Repeat("A/+", 12))
	f.Fuzz(func(t *testing.T, s string) {
		checkScreens(t, s)
	})
}

// TestChainLoadRecordSecrets: the client's values of the clean record
// BenchmarkChainLoadResponse measures are still scanned once the chain has
// learnt its shape (the keys cached at their positions, the screens
// passing the clean values): a secret in the path, the full URL or the user
// agent of a record of the same shape is redacted, and counted.
func TestChainLoadRecordSecrets(t *testing.T) {
	card := "4111111111111111"
	tok := "ghp_" + fake("screen", fkAlnum, 36)
	tests := []struct {
		key  attribute.Key
		give string
	}{
		{semconv.URLPathKey, "/api/v1/items/" + card},
		{semconv.URLPathKey, "/api/v1/items/" + tok},
		{semconv.URLPathKey, "/api/v1/login;password=hunter2"},
		{semconv.URLPathKey, "/api/v1/items/4111%201111%201111%201111"},
		{semconv.URLFullKey, "http://127.0.0.1:37657/api/v1/items/" + tok},
		{semconv.URLFullKey, "http://app:S3cr3t@127.0.0.1:37657/api/v1/items/42"},
		{semconv.URLFullKey, "http://127.0.0.1:37657/api/v1/items/42?x=" + tok},
		{semconv.UserAgentOriginalKey, "secaudit-load/1.0 Bearer abcdEF123456"},
		{semconv.UserAgentOriginalKey, "secaudit-load/1.0 token=s3cr3t"},
		{semconv.UserAgentOriginalKey, "secaudit-load/1.0 " + card},
	}
	ctx := context.Background()
	chain := mustChain(t, discard{})
	clean := testsupport.SDKRecord(t, apiRecord(semconv.EventHTTPResponseSuccess,
		attribute.StringValue(semconv.BodyHTTPResponse), loadResponseAttrs()...))
	for _, tt := range tests {
		t.Run(string(tt.key)+"/"+tt.give, func(t *testing.T) {
			for range 3 { // the shape is learnt
				r := clean
				if err := chain.OnEmit(ctx, &r); err != nil {
					t.Fatal(err)
				}
				if _, ok := testsupport.AttrMap(&r)[string(semconv.AuditRedactedCountKey)]; ok {
					t.Fatal("the clean record was scrubbed")
				}
			}
			attrs := loadResponseAttrs()
			for i := range attrs {
				if attrs[i].Key == tt.key {
					attrs[i].Value = attribute.StringValue(tt.give)
				}
			}
			r := testsupport.SDKRecord(t, apiRecord(semconv.EventHTTPResponseSuccess,
				attribute.StringValue(semconv.BodyHTTPResponse), attrs...))
			if err := chain.OnEmit(ctx, &r); err != nil {
				t.Fatal(err)
			}
			got := testsupport.AttrMap(&r)
			if v := got[string(tt.key)].AsString(); v == tt.give || !strings.Contains(v, semconv.Redacted) {
				t.Errorf("%s = %q, want it redacted", tt.key, v)
			}
			if n := got[string(semconv.AuditRedactedCountKey)].AsInt64(); n < 1 {
				t.Errorf("audit.redacted_count %d, want ≥ 1", n)
			}
		})
	}
}
