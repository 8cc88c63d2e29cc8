package jsonenc

import "unicode/utf8"

// How each byte and rune of a string is written inside a JSON string, so
// that the line is valid UTF-8 whatever the input: the quote and the
// backslash are escaped; \n, \r and \t as two characters; other C0
// controls, DEL, the C1 controls (U+0080–U+009F) and the JavaScript line
// terminators U+2028/U+2029 as \u00XX or \u20XX; an invalid byte becomes
// U+FFFD; every other character is copied as UTF-8 (<, > and & too).

const (
	hexDigits       = "0123456789abcdef"
	replacementChar = "\uFFFD"
	unicodeEscape   = 6 // len(`\u0000`)
)

// asciiWritten[b] is how many bytes ASCII byte b is written as: 1 as it is,
// 2 as a two-character escape, 6 as \u00XX.
var asciiWritten = func() (t [utf8.RuneSelf]uint8) {
	for b := range t {
		switch {
		case b == '"', b == '\\', b == '\n', b == '\r', b == '\t':
			t[b] = 2
		case b < 0x20, b == 0x7f:
			t[b] = unicodeEscape
		default:
			t[b] = 1
		}
	}
	return t
}()

// runeWritten is how many bytes a non-ASCII rune r, decoded from size bytes,
// is written as: an invalid byte (RuneError of size 1) as U+FFFD, a C1
// control or U+2028/U+2029 as \uXXXX, any other rune as its own bytes.
func runeWritten(r rune, size int) int {
	switch {
	case r == utf8.RuneError && size == 1:
		return len(replacementChar)
	case r <= 0x9f, r == 0x2028, r == 0x2029:
		return unicodeEscape
	}
	return size
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// zeroBytes has the high bit set in the bytes where v has a zero byte
// (and possibly in bytes above such a byte, which only matters when one is
// zero already).
func zeroBytes(v uint64) uint64 { return (v - lsb) &^ v }

// load64 is s[i:i+8] as a little-endian word.
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// plainWord reports whether the eight bytes of x are all written as they
// are (asciiWritten 1): no byte below 0x20, quote, backslash, or byte at or
// above 0x7f (the last test adds 1 to each byte with its high bit cleared
// first, so no carry crosses bytes, and 0x7f turns into 0x80).
func plainWord(x uint64) bool {
	below20 := (x - lsb*0x20) &^ x
	return (below20|zeroBytes(x^(lsb*'"'))|zeroBytes(x^(lsb*'\\'))|x|(x&^msb+lsb))&msb == 0
}

// StringSize is the number of bytes [AppendString] writes for s, quotes
// included.
func StringSize(s string) int {
	n := len(s) + 2
	for i := 0; i < len(s); {
		for i+8 <= len(s) && plainWord(load64(s, i)) { // eight plain bytes at a time
			i += 8
		}
		if i == len(s) {
			break
		}
		if b := s[i]; b < utf8.RuneSelf {
			n += int(asciiWritten[b]) - 1
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		n += runeWritten(r, size) - size
		i += size
	}
	return n
}

// AppendString appends s as a JSON string that is valid UTF-8 whatever s
// holds (see the rules above), [StringSize](s) bytes.
func AppendString(dst []byte, s string) []byte {
	dst, _ = AppendStringReporting(dst, s)
	return dst
}

// AppendStringReporting is [AppendString] that also reports whether s held
// invalid UTF-8 (bytes replaced by U+FFFD).
func AppendStringReporting(dst []byte, s string) (_ []byte, replaced bool) {
	dst = append(dst, '"')
	start := 0 // s[start:i] is pending, to be copied verbatim
	for i := 0; i < len(s); {
		for i+8 <= len(s) && plainWord(load64(s, i)) { // eight plain bytes at a time
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
		if size == 1 { // an invalid byte
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
