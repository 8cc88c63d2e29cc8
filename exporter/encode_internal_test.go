package exporter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/log/logtest"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/secaudit/secaudit/semconv"
)

func TestAppendString(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{give: "", want: `""`},
		{give: "plain text", want: `"plain text"`},
		{give: `q"b\`, want: `"q\"b\\"`},
		{give: "\n\r\t", want: `"\n\r\t"`},
		{give: "\x00\x01\x08\x0c\x1f", want: `"\u0000\u0001\u0008\u000c\u001f"`},
		{give: "\x7f", want: `"\u007f"`},
		{give: "\u0080\u009f\u00a0", want: `"\u0080\u009f` + "\u00a0" + `"`},
		{give: "a\u2028b\u2029c", want: `"a\u2028b\u2029c"`},
		{give: "é日🔐", want: `"é日🔐"`},
		{give: "<&>", want: `"<&>"`},
		{give: "\xff", want: `"` + "\uFFFD" + `"`},
		{give: "a\xffb\xfe", want: `"a` + "\uFFFD" + `b` + "\uFFFD" + `"`},
		{give: "\xe2\x82", want: `"` + "\uFFFD\uFFFD" + `"`},
		{give: "\uFFFD", want: `"` + "\uFFFD" + `"`},
		{give: "\xf4\x90\x80\x80", want: `"` + strings.Repeat("\uFFFD", 4) + `"`}, // > U+10FFFF
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.give), func(t *testing.T) {
			got := string(appendString([]byte("prefix:"), tt.give))
			if got != "prefix:"+tt.want {
				t.Errorf("appendString(%q) = %s, want %s", tt.give, got[len("prefix:"):], tt.want)
			}
		})
	}
}

// TestAppendStringRoundTrip: for random byte strings, the output is valid
// UTF-8 JSON that decodes to the input with each invalid byte replaced by
// U+FFFD.
func TestAppendStringRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "\"", "\\", "\n", "\x00", "\x1f", "\x7f", "\xff", "\xc3", "é", "\u2028", "\u0085", "🔐", "\xed\xa0\x80", "<"}
	for range 2000 {
		var b strings.Builder
		for range rng.IntN(20) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		s := b.String()
		out := appendString(nil, s)
		if !utf8.Valid(out) || strings.ContainsAny(string(out), "\n\r\u2028\u2029") {
			t.Fatalf("appendString(%q) = %q: invalid UTF-8 or raw line break", s, out)
		}
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("appendString(%q) = %q: %v", s, out, err)
		}
		var want strings.Builder
		for _, r := range s { // ranging yields U+FFFD once per invalid byte
			want.WriteRune(r)
		}
		if got != want.String() {
			t.Fatalf("appendString(%q) decodes to %q, want %q", s, got, want.String())
		}
	}
}

// TestAppendFloat cross-checks the float format with encoding/json, which
// follows the same convention.
func TestAppendFloat(t *testing.T) {
	values := []float64{
		0, math.Copysign(0, -1), 1, -1, 0.1, 0.5, 3, 1e20, 1e21, 1.5e21, 1e-6, 9.99e-7, 1e-7,
		123456789.125, 5e-324, math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64,
		1 << 53, 1e100, 1.25e-300,
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		values = append(values, math.Float64frombits(rng.Uint64()))
	}
	for _, f := range values {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendFloat(nil, f); string(got) != string(want) {
			t.Errorf("appendFloat(%v) = %s, want %s", f, got, want)
		}
	}
}

func TestDupIndex(t *testing.T) {
	for _, period := range []int{7, 1 << 30} { // keys repeating every 7 pairs; all distinct
		for _, n := range []int{0, 1, 5, 33, quadraticDedupMax, quadraticDedupMax + 1, 200} {
			t.Run(fmt.Sprint(period, "/", n), func(t *testing.T) {
				kvs := make([]attribute.KeyValue, n)
				for i := range kvs {
					kvs[i] = attribute.Int(fmt.Sprintf("audit.k%d", i%period), i)
				}
				d := newDupIndex(kvs, false)
				if (d.last != nil) != (n > quadraticDedupMax) {
					t.Errorf("map fallback used = %v for %d keys", d.last != nil, n)
				}
				for i := range kvs {
					want := i+period < n
					if got := d.shadowed(kvs, i); got != want {
						t.Errorf("shadowed(%d) = %v, want %v", i, got, want)
					}
				}
			})
		}
	}
}

// TestDupIndexInvalidUTF8: keys that differ only in invalid bytes (or an
// invalid byte and a literal U+FFFD) are duplicates once written.
func TestDupIndexInvalidUTF8(t *testing.T) {
	for _, n := range []int{4, quadraticDedupMax + 4} {
		kvs := []attribute.KeyValue{
			attribute.Int("k\xff", 0),
			attribute.Int("k\uFFFD", 1),
			attribute.Int("k\xfe\xfd", 2), // two replacement characters: distinct
			attribute.Int("k\xc3", 3),
		}
		for i := len(kvs); i < n; i++ {
			kvs = append(kvs, attribute.Int(fmt.Sprintf("filler%d", i), i))
		}
		d := newDupIndex(kvs, true)
		for i, want := range []bool{true, true, false, false} {
			if got := d.shadowed(kvs, i); got != want {
				t.Errorf("n=%d: shadowed(%d) = %v, want %v", n, i, got, want)
			}
		}
	}
}

func TestSameText(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"", "", true},
		{"a", "a", true},
		{"a", "b", false},
		{"a", "", false},
		{"\xff", "\xfe", true},
		{"\xff", "\uFFFD", true},
		{"\xff\xff", "\uFFFD", false},
		{"\xe2\x82", "\uFFFD\uFFFD", true},
		{"é", "e\u0301", false},
	}
	for _, tt := range tests {
		if got := sameText(tt.a, tt.b); got != tt.want {
			t.Errorf("sameText(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestTruncateRunes(t *testing.T) {
	tests := []struct {
		give string
		n    int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "abc"},
		{"日本語テキスト", 3, "日本語"},
		{"a\xffb\xfec", 3, "a\xffb"},
	}
	for _, tt := range tests {
		if got := truncateRunes(tt.give, tt.n); got != tt.want {
			t.Errorf("truncateRunes(%q, %d) = %q, want %q", tt.give, tt.n, got, tt.want)
		}
	}
}

// TestLastResortFitsMinimum: the last-resort line at its largest (extreme
// timestamps, a 64-byte schema version made of characters that escape to
// six bytes) fits in MinMaxRecordBytes without the limit bypass.
func TestLastResortFitsMinimum(t *testing.T) {
	rec := logtest.RecordFactory{
		Timestamp:         time.Unix(0, math.MinInt64),
		ObservedTimestamp: time.Unix(0, math.MinInt64),
		Resource:          resource.NewSchemaless(semconv.ServiceNameKey.String(strings.Repeat("\x01", 1000))),
	}.NewRecord()
	ts, observed := timestamps(&rec)
	version := strings.Repeat("\x01", maxFallbackSchemaVersionBytes)
	// The longest stream place a malformed_record line keeps.
	place := []attribute.KeyValue{
		semconv.AuditStreamIDKey.String(strings.Repeat("f", maxStreamIDBytes)),
		semconv.AuditSequenceKey.Int64(math.MinInt64),
	}
	e := encoder{limit: MinMaxRecordBytes}
	e.fallback(&rec, fallbackLastResort, ts, observed, version, place)
	if e.err != nil {
		t.Fatalf("last resort does not fit in %d bytes: %v (%d bytes)", MinMaxRecordBytes, e.err, len(e.buf))
	}
	if !json.Valid(e.buf) {
		t.Fatalf("last resort is not valid JSON: %s", e.buf)
	}
	// The minimal stage does not fit here, so appendRecord must reach the
	// last resort for this record.
	if !bytes.Contains(e.buf, []byte(`"audit.sequence":-9223372036854775808`)) {
		t.Fatalf("last resort lost the stream place: %s", e.buf)
	}
	e = encoder{limit: MinMaxRecordBytes}
	e.fallback(&rec, fallbackMinimal, ts, observed, version, place)
	if e.err == nil {
		t.Fatalf("minimal fallback unexpectedly fits: %s", e.buf)
	}
}

func TestNormalizeMaxRecordBytes(t *testing.T) {
	tests := []struct{ give, want int }{
		{-1, DefaultMaxRecordBytes},
		{0, DefaultMaxRecordBytes},
		{1, MinMaxRecordBytes},
		{MinMaxRecordBytes - 1, MinMaxRecordBytes},
		{MinMaxRecordBytes, MinMaxRecordBytes},
		{1 << 30, 1 << 30},
	}
	for _, tt := range tests {
		if got := normalizeMaxRecordBytes(tt.give); got != tt.want {
			t.Errorf("normalizeMaxRecordBytes(%d) = %d, want %d", tt.give, got, tt.want)
		}
	}
}

func TestSchemaVersion(t *testing.T) {
	long := strings.Repeat("9", maxFallbackSchemaVersionBytes+1)
	tests := []struct {
		name  string
		attrs []attribute.KeyValue
		want  string
	}{
		{"absent", nil, semconv.SchemaVersion},
		{"string", []attribute.KeyValue{semconv.AuditSchemaVersionKey.String("1.1")}, "1.1"},
		{"last wins", []attribute.KeyValue{semconv.AuditSchemaVersionKey.String("1.1"), semconv.AuditSchemaVersionKey.String("1.2")}, "1.2"},
		{"last not a string", []attribute.KeyValue{semconv.AuditSchemaVersionKey.String("1.1"), semconv.AuditSchemaVersionKey.Int(2)}, semconv.SchemaVersion},
		{"empty", []attribute.KeyValue{semconv.AuditSchemaVersionKey.String("")}, semconv.SchemaVersion},
		{"long kept", []attribute.KeyValue{semconv.AuditSchemaVersionKey.String(long)}, long},
	}
	for _, tt := range tests {
		if got := schemaVersion(tt.attrs); got != tt.want {
			t.Errorf("%s: schemaVersion = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// referenceString is a plain rune-by-rune version of appendString's
// contract, to check the word-at-a-time fast path against.
func referenceString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s { // an invalid byte comes as U+FFFD
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// TestAppendStringWordScan puts every byte value at every position of
// strings long enough for the eight-byte scan, and random strings of the
// bytes that matter, and compares with referenceString.
func TestAppendStringWordScan(t *testing.T) {
	check := func(s string) {
		t.Helper()
		if got, want := string(appendString(nil, s)), referenceString(s); got != want {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
	for pos := range 17 {
		for b := range 256 {
			w := []byte("abcdefghijklmnopq")
			w[pos] = byte(b)
			check(string(w))
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	interesting := []byte{0x00, 0x1f, 0x20, '"', '\\', 0x7e, 0x7f, 0x80, 0xc2, 0x85, 0xe2, 0x80, 0xa8, 0xff, 'a'}
	for range 50000 {
		w := make([]byte, 8+rng.IntN(17))
		for i := range w {
			if rng.IntN(4) == 0 {
				w[i] = interesting[rng.IntN(len(interesting))]
			} else {
				w[i] = byte(rng.IntN(256))
			}
		}
		check(string(w))
	}
}

// generalMembers writes kvs as membersPass does, every member through the
// general path (key, then value): what the one-go path for plain members
// must match.
func generalMembers(kvs []attribute.KeyValue, limit int) ([]byte, error) {
	e := encoder{buf: []byte("{"), limit: limit}
	dups := newDupIndex(kvs, false)
	comma := false
	for i, kv := range kvs {
		if e.err != nil {
			break
		}
		if dups.maybeShadowed(i) && dups.shadowed(kvs, i) {
			continue
		}
		if comma {
			e.raw(",")
		}
		comma = true
		e.key(string(kv.Key))
		e.raw(":")
		e.value(kv.Value)
	}
	return e.buf, e.err
}

// FuzzMembersPlainPath: members written in one go (a plain key with a
// plain string or an int) come out as the general path writes them, and
// fail the record limit exactly when it does, whatever the keys, values and
// room left.
func FuzzMembersPlainPath(f *testing.F) {
	f.Add("audit.action", "response", int64(200), "url.full", uint8(0), uint16(4000))
	f.Add("k", "", int64(math.MinInt64), "k", uint8(1), uint16(40))
	f.Add("q\"k", "v\\", int64(-1), "\u2028", uint8(2), uint16(60))
	f.Add("abcdefgh", "abcdefgh\x7f", int64(1e18), "é", uint8(3), uint16(27))
	f.Add("user_agent.original", strings.Repeat("x", 300), int64(9), "\xff", uint8(4), uint16(330))
	f.Fuzz(func(t *testing.T, k1, v1 string, n int64, k2 string, shape uint8, room uint16) {
		kvs := []attribute.KeyValue{
			attribute.String(k1, v1),
			attribute.Int64(k2, n),
			attribute.String(k2+k1, v1+k2),
		}
		if shape&1 != 0 {
			kvs = append(kvs, attribute.Bool(k1+"b", true), attribute.String(k1, k2)) // shadows the first
		}
		if shape&2 != 0 {
			kvs = append(kvs, attribute.Int64(v1, -n), attribute.StringSlice(k2, []string{v1}))
		}
		if !utf8.ValidString(k1) || !utf8.ValidString(k2) || !utf8.ValidString(v1) {
			return // the lossy pass writes again; members checks that
		}
		for _, limit := range []int{int(room), int(room) + 26, math.MaxInt32} {
			e := encoder{buf: []byte("{"), limit: limit}
			e.members(kvs, false, false)
			want, wantErr := generalMembers(kvs, limit)
			if (e.err != nil) != (wantErr != nil) {
				t.Fatalf("limit %d: err %v, general path %v", limit, e.err, wantErr)
			}
			if e.err == nil && !bytes.Equal(e.buf, want) {
				t.Fatalf("limit %d:\n got %s\nwant %s", limit, e.buf, want)
			}
		}
	})
}
