package jsonenc

import (
	"encoding/base64"
	"math"
	"strconv"
)

// MaxScalarSize is the most the exporter writes for a scalar: a finite
// float takes up to 25 bytes (-0.0000012345678901234567: sign, "0.", five
// zeros, 17 digits; the exponent form, -1.2345678901234567e-308, is 24),
// an int64 20 (-9223372036854775808), a bool 5, null 4. A size below what
// is written would let a record pass the limiter and become the exporter's
// malformed-record line.
const MaxScalarSize = 25

// AppendFloat appends a finite f as the shortest decimal that reads back as
// f, in plain notation for magnitudes in [1e-6, 1e21) and exponent notation
// otherwise (the JavaScript convention), with a one-digit exponent kept
// short: 1e-7, not 1e-07. It writes at most [MaxScalarSize] bytes.
func AppendFloat(dst []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// strconv writes at least two exponent digits: "e-07" → "e-7".
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// AppendInt appends n in decimal, as strconv.AppendInt(dst, n, 10) does,
// two digits at a time straight into dst: a 19-digit number, such as a
// Unix time in nanoseconds (years 2001 to 2286), in two halves of 9 and 10
// digits.
func AppendInt(dst []byte, n int64) []byte {
	switch {
	case n < 0:
		return strconv.AppendInt(dst, n, 10)
	case n < 10:
		return append(dst, byte('0'+n))
	case n < 100:
		return append(dst, digitPairs[2*n], digitPairs[2*n+1])
	case n < 1e18:
		var a [18]byte
		i := len(a)
		u := uint64(n)
		for u >= 100 {
			q := u / 100
			p := (u - q*100) * 2
			i -= 2
			a[i], a[i+1] = digitPairs[p], digitPairs[p+1]
			u = q
		}
		if u >= 10 {
			i -= 2
			a[i], a[i+1] = digitPairs[2*u], digitPairs[2*u+1]
		} else {
			i--
			a[i] = byte('0' + u)
		}
		return append(dst, a[i:]...)
	}
	dst = append(dst, "0000000000000000000"...)
	b := dst[len(dst)-19:]
	hi, lo := uint32(uint64(n)/1e10), uint64(n)%1e10 // 9 and 10 digits
	for i := 17; i >= 9; i -= 2 {
		q := lo / 100
		p := (lo - q*100) * 2
		b[i], b[i+1] = digitPairs[p], digitPairs[p+1]
		lo = q
	}
	for i := 7; i >= 1; i -= 2 {
		q := hi / 100
		p := (hi - q*100) * 2
		b[i], b[i+1] = digitPairs[p], digitPairs[p+1]
		hi = q
	}
	b[0] = byte('0' + hi)
	return dst
}

// digitPairs holds "00" to "99".
const digitPairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// BytesSize is the number of bytes [AppendBytes] writes for n bytes.
func BytesSize(n int) int { return base64.StdEncoding.EncodedLen(n) + 2 }

// AppendBytes appends b as a JSON string of its standard base64.
func AppendBytes(dst, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}
