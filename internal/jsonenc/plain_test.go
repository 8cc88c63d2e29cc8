package jsonenc

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// referencePlain is Plain by its definition, a byte at a time: every byte
// is ASCII and written as it is.
func referencePlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf || asciiWritten[s[i]] != 1 {
			return false
		}
	}
	return true
}

// previousAppendStringReporting is AppendStringReporting as it was before
// the Plain fast path (a word-at-a-time scan, then a byte or rune at a
// time), kept to check the fast path against.
func previousAppendStringReporting(dst []byte, s string) (_ []byte, replaced bool) {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		for i+8 <= len(s) && plainWord(load64(s, i)) {
			i += 8
		}
		if i == len(s) {
			break
		}
		b := s[i]
		if b < utf8.RuneSelf {
			if asciiWritten[b] == 1 {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if runeWritten(r, size) == size {
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		if size == 1 {
			dst = append(dst, replacementChar...)
			replaced = true
		} else {
			dst = append(dst, '\\', 'u',
				hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), replaced
}

// checkAgainstPrevious: Plain agrees with its definition, and
// AppendStringReporting and StringSize with the previous implementation.
func checkAgainstPrevious(t *testing.T, s string) {
	t.Helper()
	if got, want := Plain(s), referencePlain(s); got != want {
		t.Fatalf("Plain(%q) = %v, want %v", s, got, want)
	}
	got, gotReplaced := AppendStringReporting([]byte("p:"), s)
	want, wantReplaced := previousAppendStringReporting([]byte("p:"), s)
	if string(got) != string(want) || gotReplaced != wantReplaced {
		t.Fatalf("AppendStringReporting(%q) = %s, %v; previously %s, %v", s, got, gotReplaced, want, wantReplaced)
	}
	if n := StringSize(s); n != len(want)-len("p:") {
		t.Fatalf("StringSize(%q) = %d, previously written %d bytes", s, n, len(want)-len("p:"))
	}
}

// TestPlainEveryByte puts every byte value at every position of every
// length up to three words, over a plain background and beside each kind
// of byte that needs escaping, so that each of Plain's word shapes (one to
// three bytes, two words of four, overlapping words of eight) sees every
// byte in every lane.
func TestPlainEveryByte(t *testing.T) {
	for n := 1; n <= 24; n++ {
		for pos := range n {
			for b := range 256 {
				w := []byte(strings.Repeat("abcdefgh", 3)[:n])
				w[pos] = byte(b)
				checkAgainstPrevious(t, string(w))
				w[n-1-pos] = '"' // a second byte, mirrored
				checkAgainstPrevious(t, string(w))
			}
		}
	}
	checkAgainstPrevious(t, "")
}

// TestPlainBorrow: a byte below 0x20 borrows from the byte above it in the
// word arithmetic; the bytes above must still be judged (and written) as
// they are.
func TestPlainBorrow(t *testing.T) {
	for _, s := range []string{
		"\x00\x20\x20\x20\x20\x20\x20\x20", "\x1f!!!!!!!", "ab\x00\x21cdefgh", "\x00\x00\x00\x00",
		"\x20\x20\x20\x20\x20\x20\x20\x20", "\x7e\x7e\x7e\x7e\x7e\x7e\x7e\x7e", "\x7e\x7f\x7e",
		"\x23\x5b\x5d\x21\x23\x5b\x5d\x21", // beside the quote and the backslash
	} {
		checkAgainstPrevious(t, s)
	}
}

// FuzzPlain differentially checks the Plain fast path: for any input,
// AppendStringReporting and StringSize give what the previous
// implementation gave, and Plain what its byte-at-a-time definition says.
func FuzzPlain(f *testing.F) {
	for _, s := range []string{
		"", "a", "ab", "abc", "abcd", "abcdefg", "abcdefgh", "abcdefghi", `"`, `\`, "\x7f", "\x1f",
		"http://127.0.0.1:37657/api/v1/items/42", "32580eb61b230adbdc88ccd70f6065da", "é", "\xff",
		"\u2028", "\u0085", "0123456\x7f89abcdef\u0085", "abcdefgh\x00", "abcdefghijklmno\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkAgainstPrevious(t, s)
		checkString(t, s)
	})
}
