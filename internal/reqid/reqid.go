// Package reqid makes the request ids of secaudit's middlewares (HTTP and
// gRPC): 128 random bits from the runtime's ChaCha8 generator (seeded by
// the operating system) as 32 lowercase hex digits — unique and
// unpredictable enough for correlation, and never taken from the client.
package reqid

import (
	"encoding/binary"
	"math/rand/v2"
)

// Fill writes a new request id into out, eight hex digits at a time
// (hexWord), not byte by byte: it runs for every request.
func Fill(out *[32]byte) {
	a, b := rand.Uint64(), rand.Uint64()
	binary.BigEndian.PutUint64(out[0:], hexWord(uint32(a>>32)))
	binary.BigEndian.PutUint64(out[8:], hexWord(uint32(a)))
	binary.BigEndian.PutUint64(out[16:], hexWord(uint32(b>>32)))
	binary.BigEndian.PutUint64(out[24:], hexWord(uint32(b)))
}

// hexWord returns the eight lowercase hex digits of v, most significant
// first when stored big-endian: each nibble is spread into a byte of its
// own, then turned into '0'–'9' or 'a'–'f' in all eight bytes at once.
func hexWord(v uint32) uint64 {
	x := uint64(v)
	x = (x | x<<16) & 0x0000ffff0000ffff
	x = (x | x<<8) & 0x00ff00ff00ff00ff
	x = (x | x<<4) & 0x0f0f0f0f0f0f0f0f
	letters := ((x + 0x0606060606060606) >> 4) & 0x0101010101010101 // 1 where the nibble is 10–15
	return x + 0x3030303030303030 + letters*('a'-'0'-10)
}
