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

// load64 is s[i:i+8] as a little-endian word.
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// plainWord reports whether the eight bytes of x are all written as they
// are (asciiWritten 1).
func plainWord(x uint64) bool { return unplain(x)&msb == 0 }

// unplain has the high bit set in each byte of x that is not written as it
// is, and other bits that are noise: test the result with msb. Per byte,
// with b the byte: x marks b >= 0x80; x - 0x20 marks b < 0x20 (it
// borrows); (x ^ '"') - 1 and (x ^ '\\') - 1 mark the quote and the
// backslash (they turn to 0 and borrow); x + 1 marks 0x7f. Besides these,
// each subtraction marks only bytes at or above 0x80, and a borrow or a
// carry crosses into the byte above only from a byte marked already, so a
// byte written as it is never gets marked unless a byte below it is.
func unplain(x uint64) uint64 {
	return x | (x - lsb*0x20) | ((x ^ lsb*'"') - lsb) | ((x ^ lsb*'\\') - lsb) | (x + lsb)
}

// load32 is s[i:i+4] as a little-endian word.
func load32(s string, i int) uint32 {
	s = s[i : i+4]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// plainPad fills the bytes of a short string's word that the string does
// not cover with a byte written as it is.
const plainPad = lsb * 'a'

// Plain reports whether every byte of s is written as it is: no byte needs
// an escape or a replacement, so [AppendString] writes s between quotes
// and [StringSize] is len(s)+2. It reads s a word at a time (the last word
// overlapping the one before it), and a string shorter than a word as one
// word too, so a short string costs a few instructions whatever its
// length.
func Plain(s string) bool {
	n := len(s)
	switch {
	case n > 16:
		var bad uint64
		for i := 0; i < n-8; i += 8 {
			bad |= unplain(load64(s, i))
		}
		return (bad|unplain(load64(s, n-8)))&msb == 0
	case n >= 8: // two words of eight that may overlap
		return (unplain(load64(s, 0))|unplain(load64(s, n-8)))&msb == 0
	case n >= 4: // two words of four that may overlap
		return plainWord(uint64(load32(s, 0)) | uint64(load32(s, n-4))<<32)
	case n > 0: // the first, middle and last bytes cover all three
		return plainWord(uint64(s[0]) | uint64(s[n/2])<<8 | uint64(s[n-1])<<16 | plainPad&^0xffffff)
	}
	return true
}

// StringSize is the number of bytes [AppendString] writes for s, quotes
// included.
func StringSize(s string) int {
	n := len(s) + 2
	if Plain(s) {
		return n
	}
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
	if Plain(s) {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"'), false
	}
	return appendEscaped(dst, s)
}

// appendEscaped is [AppendStringReporting] for a string that is not
// [Plain]: it copies plain runs and writes each other byte or rune by the
// rules above.
func appendEscaped(dst []byte, s string) (_ []byte, replaced bool) {
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
