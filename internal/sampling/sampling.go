package sampling

import (
	"crypto/sha256"
	"encoding/binary"
	"math/bits"
	"math/rand/v2"

	"go.opentelemetry.io/otel/trace"
)

// Key is the secret the decision is keyed with: a client that chooses its
// trace ids cannot tell which of them will be kept without it, so it
// cannot choose whether it is audited. The zero Key is a valid, public key;
// use [ProcessKey] or [KeyFromSecret].
type Key struct{ k0, k1 uint64 }

// processKey is drawn once per process from the runtime's generator, which
// is seeded from the operating system.
var processKey = Key{rand.Uint64(), rand.Uint64()}

// ProcessKey returns the key drawn at random for this process: the
// middleware and the sampling processor of one process agree with it, but
// other processes decide differently (set SECAUDIT_SAMPLE_KEY to agree).
func ProcessKey() Key { return processKey }

// MinSecretLen is the shortest secret [KeyFromSecret] is given from the
// environment (SECAUDIT_SAMPLE_KEY, read by internal/auditscope).
const MinSecretLen = 16

// KeyFromSecret derives a Key from secret: the first 16 bytes of its
// SHA-256.
func KeyFromSecret(secret string) Key {
	sum := sha256.Sum256([]byte(secret))
	return Key{binary.LittleEndian.Uint64(sum[:8]), binary.LittleEndian.Uint64(sum[8:16])}
}

// Draw returns the uniform number a record without a trace id is decided
// by: the keyed hash of its request id (audit.request_id), so that the
// middleware and the sampling processor, deciding one after the other on
// the same request, draw the same number and agree, as they do on a trace
// id.
func (k Key) Draw(requestID string) uint64 { return sipHash(k, requestID) }

// Keep reports whether a record of the trace id should be kept at rate
// (0..1). Rate ≥ 1 keeps everything and rate ≤ 0 nothing. The decision
// uses the keyed hash (SipHash-2-4) of the whole trace id as a uniform
// number, never the id's bits themselves: a trace id comes from the
// client (traceparent), and one ending in ff… or 00… must not decide for
// it. An invalid (zero) trace id is decided by fallback: [Key.Draw] of the
// request id when there is one, else a random number.
func (k Key) Keep(id trace.TraceID, rate float64, fallback uint64) bool {
	if rate >= 1 {
		return true
	}
	if !(rate > 0) {
		return false
	}
	x := fallback
	if id.IsValid() {
		x = sipHash16(k, (*[16]byte)(&id))
	}
	// Compare the top 63 bits with rate·2^63: exact enough, no float of x.
	bound := uint64(rate * (1 << 63))
	return x>>1 < bound
}

// sipHash is SipHash-2-4 (Aumasson and Bernstein) of p under k: a keyed
// pseudorandom function for short inputs.
func sipHash[T string | []byte](k Key, p T) uint64 {
	v0 := k.k0 ^ 0x736f6d6570736575
	v1 := k.k1 ^ 0x646f72616e646f6d
	v2 := k.k0 ^ 0x6c7967656e657261
	v3 := k.k1 ^ 0x7465646279746573
	n := len(p)
	for len(p) >= 8 {
		m := uint64(p[0]) | uint64(p[1])<<8 | uint64(p[2])<<16 | uint64(p[3])<<24 |
			uint64(p[4])<<32 | uint64(p[5])<<40 | uint64(p[6])<<48 | uint64(p[7])<<56
		v3 ^= m
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0 ^= m
		p = p[8:]
	}
	m := uint64(n) << 56
	for i := range len(p) {
		m |= uint64(p[i]) << (8 * i)
	}
	v3 ^= m
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0 ^= m
	v2 ^= 0xff
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	return v0 ^ v1 ^ v2 ^ v3
}

// sipHash16 is sipHash of a 16-byte input, unrolled: the trace id's case.
func sipHash16(k Key, p *[16]byte) uint64 {
	v0 := k.k0 ^ 0x736f6d6570736575
	v1 := k.k1 ^ 0x646f72616e646f6d
	v2 := k.k0 ^ 0x6c7967656e657261
	v3 := k.k1 ^ 0x7465646279746573
	m := binary.LittleEndian.Uint64(p[:8])
	v3 ^= m
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0 ^= m
	m = binary.LittleEndian.Uint64(p[8:])
	v3 ^= m
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0 ^= m
	const last = 16 << 56 // the length byte; no bytes left
	v3 ^= last
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0 ^= last
	v2 ^= 0xff
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	return v0 ^ v1 ^ v2 ^ v3
}

func sipRound(v0, v1, v2, v3 uint64) (uint64, uint64, uint64, uint64) {
	v0 += v1
	v1 = bits.RotateLeft64(v1, 13)
	v1 ^= v0
	v0 = bits.RotateLeft64(v0, 32)
	v2 += v3
	v3 = bits.RotateLeft64(v3, 16)
	v3 ^= v2
	v0 += v3
	v3 = bits.RotateLeft64(v3, 21)
	v3 ^= v0
	v2 += v1
	v1 = bits.RotateLeft64(v1, 17)
	v1 ^= v2
	v2 = bits.RotateLeft64(v2, 32)
	return v0, v1, v2, v3
}
