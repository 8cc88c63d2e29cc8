package jsonenc

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendStringAndSize(t *testing.T) {
	tests := []struct {
		give, want string
	}{
		{give: "", want: `""`},
		{give: "plain text", want: `"plain text"`},
		{give: `q"b\`, want: `"q\"b\\"`},
		{give: "\n\r\t", want: `"\n\r\t"`},
		{give: "\x00\x01\x08\x0c\x1f", want: `"\u0000\u0001\u0008\u000c\u001f"`},
		{give: "\x7f", want: `"\u007f"`},
		{give: "\u0080\u0085\u009f\u00a0", want: `"\u0080\u0085\u009f` + "\u00a0" + `"`},
		{give: "a\u2028b\u2029c", want: `"a\u2028b\u2029c"`},
		{give: "é日🔐<&>", want: `"é日🔐<&>"`},
		{give: "a\xffb\xfe", want: `"a` + "\uFFFD" + `b` + "\uFFFD" + `"`},
		{give: "\xe2\x82", want: `"` + "\uFFFD\uFFFD" + `"`},
		{give: "\uFFFD", want: `"` + "\uFFFD" + `"`},
		{give: "\xed\xa0\x80", want: `"` + strings.Repeat("\uFFFD", 3) + `"`},     // a surrogate
		{give: "\xf4\x90\x80\x80", want: `"` + strings.Repeat("\uFFFD", 4) + `"`}, // > U+10FFFF
		{give: "0123456789abcdef\"0123456789abcdef", want: `"0123456789abcdef\"0123456789abcdef"`},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.give), func(t *testing.T) {
			got, replaced := AppendStringReporting([]byte("prefix:"), tt.give)
			if string(got) != "prefix:"+tt.want {
				t.Errorf("AppendString(%q) = %s, want %s", tt.give, got[len("prefix:"):], tt.want)
			}
			if want := !utf8.ValidString(tt.give); replaced != want {
				t.Errorf("replaced = %v, want %v", replaced, want)
			}
			if n := StringSize(tt.give); n != len(tt.want) {
				t.Errorf("StringSize(%q) = %d, want %d", tt.give, n, len(tt.want))
			}
		})
	}
}

// referenceString is a plain rune-by-rune statement of the escaping rules,
// to check the table and the word-at-a-time scan against.
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

// checkString: s is written as the reference says, in StringSize(s) bytes,
// as valid UTF-8 JSON that decodes to s with each invalid byte replaced.
func checkString(t *testing.T, s string) {
	t.Helper()
	out, replaced := AppendStringReporting(nil, s)
	if want := referenceString(s); string(out) != want {
		t.Fatalf("AppendString(%q) = %s, want %s", s, out, want)
	}
	if n := StringSize(s); n != len(out) {
		t.Fatalf("StringSize(%q) = %d, AppendString writes %d bytes", s, n, len(out))
	}
	if replaced == utf8.ValidString(s) {
		t.Fatalf("AppendStringReporting(%q) replaced = %v", s, replaced)
	}
	if !utf8.Valid(out) || strings.ContainsAny(string(out), "\n\r\u2028\u2029") {
		t.Fatalf("AppendString(%q) = %q: invalid UTF-8 or a raw line break", s, out)
	}
	var got string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("AppendString(%q) = %q: %v", s, out, err)
	}
	if want := strings.ToValidUTF8(s, "\uFFFD"); utf8.ValidString(s) && got != want {
		t.Fatalf("AppendString(%q) decodes to %q", s, got)
	}
}

// TestStringEveryByte puts every byte value at every position of strings
// long enough for the eight-byte scan, alone and before each other byte.
func TestStringEveryByte(t *testing.T) {
	for pos := range 17 {
		for b := range 256 {
			w := []byte("abcdefghijklmnopq")
			w[pos] = byte(b)
			checkString(t, string(w))
		}
	}
	for a := range 256 {
		for b := range 256 {
			checkString(t, string([]byte{byte(a), byte(b)}))
		}
	}
}

// FuzzString: for any input, StringSize is exactly the bytes AppendString
// writes, and they are the reference's.
func FuzzString(f *testing.F) {
	for _, s := range []string{
		"", "ab", `"\`, "\n\r\t", "\x00\x01\x1f\x7f", "<>&", "é", "\u0080\u0085\u009f", "\u00a0",
		"\u2028\u2029", "\xff", "\xc2", "\xe2\x80", "日本", "\U0001F600", "\xed\xa0\x80",
		"plain ascii, longer than a word", "0123456\x7f89abcdef\u0085",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkString(t, s) })
}
