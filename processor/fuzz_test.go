package processor

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// plantKinds are the ways a secret is planted: under a sensitive key, or as
// text a built-in detector must find.
const (
	plantKey = iota
	plantJWT
	plantAWSKeyID
	plantAWSSecret
	plantPEM
	plantCard
	plantURL
	plantDSN
	plantAssignment
	plantBearer
	plantProvider // a provider token (TestProviderTokens' cases)
	plantBasic    // Basic credentials
	plantKinds
)

// providerPlants are the provider tokens the fuzzer plants, with the part
// of each that must not survive.
var providerPlants = func() (out []struct{ token, secret string }) {
	for _, cases := range providerFamilies() {
		for _, c := range cases {
			out = append(out, struct{ token, secret string }{c.token, strings.TrimPrefix(c.token, c.keep)})
		}
	}
	slices.SortFunc(out, func(a, b struct{ token, secret string }) int { return strings.Compare(a.token, b.token) })
	return out
}()

// secretGen builds a random record around one planted secret. The fuzzer
// controls the seed, the kind and the noise text around the secret.
type secretGen struct {
	rnd   *rand.Rand
	noise string
}

var fuzzWords = []string{"alpha", "Order 42", "/api/v1/items", "ok", "2026-01-02T03:04:05Z", "café", "x=y", "a:b",
	"GET", "user@example.com", "https://example.com/a?b=c", "12345", "4111", "-----", "eyJ", "Bearer", "AKIA", ""}

var fuzzKeys = []string{"name", "path", "note", "count", "city", "status", "items", "detail", "meta", "list", "user_agent.original"}

func (g *secretGen) alnum(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.rnd.IntN(len(alphabet))]
	}
	// Always a digit, an upper and a lower case letter: token-like.
	b[0], b[1], b[2] = "0123456789"[g.rnd.IntN(10)], 'Q', 'z'
	return string(b)
}

func (g *secretGen) text() string {
	if g.rnd.IntN(3) == 0 {
		return g.noise
	}
	return fuzzWords[g.rnd.IntN(len(fuzzWords))]
}

func (g *secretGen) value(depth int) attribute.Value {
	switch n := g.rnd.IntN(8); {
	case n < 3 || depth > 4:
		return attribute.StringValue(g.text())
	case n == 3:
		return attribute.Int64Value(g.rnd.Int64N(1 << 40))
	case n == 4:
		return attribute.BoolValue(n%2 == 0)
	case n == 5:
		return attribute.StringSliceValue([]string{g.text(), g.text()})
	case n == 6:
		vals := make([]attribute.Value, 1+g.rnd.IntN(3))
		for i := range vals {
			vals[i] = g.value(depth + 1)
		}
		return attribute.SliceValue(vals...)
	default:
		kvs := make([]attribute.KeyValue, 1+g.rnd.IntN(4))
		for i := range kvs {
			kvs[i] = attribute.KeyValue{Key: attribute.Key(fuzzKeys[g.rnd.IntN(len(fuzzKeys))] + strconv.Itoa(i)), Value: g.value(depth + 1)}
		}
		return attribute.MapValue(kvs...)
	}
}

// sensitiveKey decorates a denylist entry; its normal form still contains
// the entry, and it is never a protected contract key.
func (g *secretGen) sensitiveKey() string {
	word := defaultSensitiveKeys[g.rnd.IntN(len(defaultSensitiveKeys))]
	if g.rnd.IntN(2) == 0 {
		word = strings.ToUpper(word[:1]) + word[1:]
	}
	pre := []string{"", "x-", "db.", "user_", "HTTP.request.header.", "Über"}[g.rnd.IntN(6)]
	post := []string{"", "_value", "-2", ".hash", "Id"}[g.rnd.IntN(5)]
	k := pre + word + post
	if isProtectedKey(k) {
		k = "my." + k
	}
	return k
}

func luhnCard(rnd *rand.Rand) string {
	d := make([]byte, 16)
	d[0] = '4'
	for i := 1; i < 15; i++ {
		d[i] = byte('0' + rnd.IntN(10))
	}
	for c := byte('0'); c <= '9'; c++ {
		d[15] = c
		if cardDigits(string(d)) {
			break
		}
	}
	return string(d)
}

// plant returns the text to embed and the secret strings that must not
// survive anywhere in the output.
func (g *secretGen) plant(kind int) (text string, secrets []string) {
	s := g.alnum(12 + g.rnd.IntN(12))
	switch kind {
	case plantJWT:
		payload, signature := g.alnum(10), g.alnum(20)
		return "eyJ" + s + ".eyJ" + payload + "." + signature, []string{s, payload, signature}
	case plantAWSKeyID:
		id := strings.ToUpper(g.alnum(16))
		return "AKIA" + id, []string{id}
	case plantAWSSecret:
		sec := g.alnum(38)
		sec = sec[:20] + "/" + sec[20:] + "+"
		return sec, []string{sec}
	case plantPEM:
		second := g.alnum(30)
		label := []string{"EC PRIVATE KEY", "PGP PRIVATE KEY BLOCK"}[g.rnd.IntN(2)]
		return "-----BEGIN " + label + "-----\n" + s + "\n" + second + "\n-----END " + label + "-----", []string{s, second}
	case plantCard:
		card := luhnCard(g.rnd)
		sep := []string{"", " ", "-"}[g.rnd.IntN(3)]
		formatted := card[:4] + sep + card[4:8] + sep + card[8:12] + sep + card[12:]
		return formatted, []string{card, formatted}
	case plantURL, plantDSN:
		// The password may hold '#', '?', '/' or a space: each half must go.
		secrets := []string{s}
		if sep := []string{"", "#", "?", "/", " "}[g.rnd.IntN(5)]; sep != "" && (kind == plantURL || sep != "/") {
			secrets = []string{s[:6], s[6:]}
			s = s[:6] + sep + s[6:]
		}
		if kind == plantURL {
			return "postgres://app:" + s + "@db.internal:5432/shop?sslmode=require", secrets
		}
		return "app:" + s + "@tcp(10.0.0.5:3306)/shop", secrets
	case plantAssignment:
		form := []string{"password=%s", `"api_key": "%s"`, "token: %s", "client_secret=%s&x=1", "DB_PASSWD='%s'"}[g.rnd.IntN(5)]
		return strings.Replace(form, "%s", s, 1), []string{s}
	case plantBearer:
		return "Authorization: Bearer " + s, []string{s}
	case plantProvider:
		p := providerPlants[g.rnd.IntN(len(providerPlants))]
		return p.token, []string{p.secret}
	case plantBasic:
		cred := base64.StdEncoding.EncodeToString([]byte("svc-" + s[:4] + ":" + s))
		return []string{"Basic ", "basic ", "BASIC\t"}[g.rnd.IntN(3)] + cred, []string{cred, strings.TrimRight(cred, "=")}
	}
	return s, []string{s}
}

func fuzzRecord(seed uint64, kind uint8, noise string) (rec sdkRecordInput, secrets []string) {
	g := &secretGen{rnd: rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15)), noise: noise}
	k := int(kind) % plantKinds
	var attrs []attribute.KeyValue
	for i := g.rnd.IntN(10); i > 0; i-- {
		attrs = append(attrs, attribute.KeyValue{Key: attribute.Key(fuzzKeys[g.rnd.IntN(len(fuzzKeys))]), Value: g.value(1)})
	}
	body := g.value(1)

	var planted attribute.Value
	var key string
	if k == plantKey {
		s := g.alnum(16)
		secrets = []string{s}
		key = g.sensitiveKey()
		switch g.rnd.IntN(4) {
		case 0:
			planted = attribute.StringValue(s)
		case 1:
			planted = attribute.StringValue(g.noise + s)
		case 2:
			planted = attribute.MapValue(attribute.String("inner", s))
		default:
			planted = attribute.StringSliceValue([]string{"x", s})
		}
	} else {
		var text string
		text, secrets = g.plant(k)
		planted = attribute.StringValue(g.noise + " " + text + " " + g.text())
		key = fuzzKeys[g.rnd.IntN(len(fuzzKeys))]
	}

	// Where the secret goes.
	switch where := g.rnd.IntN(6); {
	case where == 0 && k != plantKey:
		body = planted
	case where == 1 && k != plantKey:
		attrs = append(attrs, attribute.KeyValue{Key: semconv.ExceptionMessageKey, Value: planted})
	case where == 2 && k != plantKey:
		attrs = append(attrs, attribute.KeyValue{Key: semconv.URLQueryKey, Value: attribute.StringValue("q=1&note=" + planted.AsString())})
	case where == 3:
		// Nested a few levels down in the body.
		v := attribute.MapValue(attribute.KeyValue{Key: attribute.Key(key), Value: planted}, attribute.String("ok", g.text()))
		for i := g.rnd.IntN(4); i > 0; i-- {
			v = attribute.MapValue(attribute.KeyValue{Key: attribute.Key(fuzzKeys[g.rnd.IntN(len(fuzzKeys))]), Value: v})
		}
		body = v
	case where == 4:
		// Nested in a slice of maps in an attribute.
		attrs = append(attrs, attribute.KeyValue{Key: "items", Value: attribute.SliceValue(
			attribute.StringValue(g.text()), attribute.MapValue(attribute.KeyValue{Key: attribute.Key(key), Value: planted}))})
	default:
		pos := g.rnd.IntN(len(attrs) + 1)
		attrs = append(attrs[:pos], append([]attribute.KeyValue{{Key: attribute.Key(key), Value: planted}}, attrs[pos:]...)...)
	}
	return sdkRecordInput{body: body, attrs: attrs}, secrets
}

type sdkRecordInput struct {
	body  attribute.Value
	attrs []attribute.KeyValue
}

// lineStrings returns every string in a JSONL line (keys and values).
func lineStrings(t *testing.T, line []byte) string {
	var v any
	if err := json.Unmarshal(line, &v); err != nil {
		t.Fatalf("invalid JSONL line %q: %v", line, err)
	}
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			b.WriteString(x + "\n")
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for k, e := range x {
				b.WriteString(k + "\n")
				walk(e)
			}
		}
	}
	walk(v)
	return b.String()
}

func FuzzChainNoSecretLeak(f *testing.F) {
	for kind := uint8(0); kind < plantKinds; kind++ {
		f.Add(uint64(kind)*7919+1, kind, "")
		f.Add(uint64(kind)*104729+3, kind, "note: ")
	}
	f.Add(uint64(42), uint8(plantCard), "567")
	f.Add(uint64(7), uint8(plantAssignment), `x="`)
	f.Add(uint64(9), uint8(plantBearer), "password=")

	rr := &testsupport.Capture{}
	chain, err := NewChain(rr, WithoutEnv())
	if err != nil {
		f.Fatal(err)
	}
	lp := testsupport.NewProvider(chain)
	logger := lp.Logger("fuzz")

	f.Fuzz(func(t *testing.T, seed uint64, kind uint8, noise string) {
		if len(noise) > 256 {
			noise = noise[:256]
		}
		in, secrets := fuzzRecord(seed, kind, noise)
		rr.Reset()
		logger.Emit(context.Background(), apiRecord(semconv.EventLoginFailed, in.body, in.attrs...))
		got := rr.Last(t)
		text := allText(&got)
		line := exporter.AppendRecord(nil, &got, 0)
		jsonText := lineStrings(t, line)
		if strings.Contains(string(line), semconv.EventMalformedRecord) {
			t.Fatalf("exporter fell back to a malformed record:\n%s", line)
		}
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Fatalf("secret %q survived in the record:\n%s", s, text)
			}
			if strings.Contains(string(line), s) || strings.Contains(jsonText, s) {
				t.Fatalf("secret %q survived in the JSONL line:\n%s", s, line)
			}
		}
		if redactedCount(&got) < 1 {
			t.Fatalf("audit.redacted_count missing:\n%s", line)
		}
	})
}
