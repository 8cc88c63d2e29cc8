package sampling

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// TestSipHashVectors: the reference vectors of SipHash-2-4 (key 00…0f,
// message 00…n-1), from the paper's reference implementation.
func TestSipHashVectors(t *testing.T) {
	want := []uint64{
		0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d,
		0xcf2794e0277187b7, 0x18765564cd99a68d, 0xcbc9466e58fee3ce, 0xab0200f58b01d137,
		0x93f5f5799a932462, 0x9e0082df0ba9e4b0, 0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7,
		0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee, 0xa129ca6149be45e5,
		0x3f2acc7f57c29bdb, 0x699ae9f52cbe4794, 0x4bc1b3f0968dd39c, 0xbb6dc91da77961bd,
		0xbed65cf21aa2ee98, 0xd0f2cbb02e3b67c7, 0x93536795e3a33e88, 0xa80c038ccd5ccec8,
		0xb8ad50c6f649af94, 0xbce192de8a85b8ea, 0x17d835b85bbb15f3, 0x2f2e6163076bcfad,
		0xde4daaaca71dc9a5, 0xa6a2506687956571, 0xad87a3535c49ef28, 0x32d892fad841c342,
		0x7127512f72f27cce,
	}
	k := Key{0x0706050403020100, 0x0f0e0d0c0b0a0908}
	msg := make([]byte, len(want))
	for i := range msg {
		msg[i] = byte(i)
	}
	for n, w := range want {
		if got := sipHash(k, msg[:n]); got != w {
			t.Errorf("SipHash-2-4 of %d bytes = %#x, want %#x", n, got, w)
		}
		if got := sipHash(k, string(msg[:n])); got != w {
			t.Errorf("SipHash-2-4 of a %d-byte string = %#x, want %#x", n, got, w)
		}
		if n == 16 {
			if got := sipHash16(k, (*[16]byte)(msg[:16])); got != w {
				t.Errorf("SipHash-2-4 of 16 bytes (unrolled) = %#x, want %#x", got, w)
			}
		}
	}
}

func TestKeepBounds(t *testing.T) {
	var id trace.TraceID
	id[0] = 1
	k := ProcessKey()
	tests := []struct {
		name string
		rate float64
		want bool
	}{
		{"rate 1 keeps", 1, true},
		{"rate above 1 keeps", 2, true},
		{"rate 0 drops", 0, false},
		{"negative rate drops", -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for low := range uint64(64) {
				binary.BigEndian.PutUint64(id[8:], low*0x0123456789abcdef)
				if got := k.Keep(id, tt.rate, 0); got != tt.want {
					t.Fatalf("Keep(rate %v, %s) = %v, want %v", tt.rate, id, got, tt.want)
				}
			}
		})
	}
}

// TestClientChosenTraceIDsSampledAtRate: trace ids a client picks to
// steer the decision (all ending in ff…, all in 00…, all but one byte the
// same, the smallest and largest valid ids) are kept at about the rate,
// never all or none, and which of them are kept depends on the key.
func TestClientChosenTraceIDsSampledAtRate(t *testing.T) {
	const n, rate = 2000, 0.5
	r := rand.New(rand.NewPCG(3, 4))
	tests := []struct {
		name string
		id   func(i int) trace.TraceID
	}{
		{"low half ff…", func(i int) trace.TraceID {
			var id trace.TraceID
			binary.BigEndian.PutUint64(id[:8], r.Uint64())
			binary.BigEndian.PutUint64(id[8:], ^uint64(0))
			return id
		}},
		{"low half 00…", func(i int) trace.TraceID {
			var id trace.TraceID
			binary.BigEndian.PutUint64(id[:8], r.Uint64()|1)
			return id
		}},
		{"counter in the high half, ff… below", func(i int) trace.TraceID {
			var id trace.TraceID
			binary.BigEndian.PutUint64(id[:8], uint64(i+1))
			binary.BigEndian.PutUint64(id[8:], ^uint64(0))
			return id
		}},
		{"counter in the last byte", func(i int) trace.TraceID {
			var id trace.TraceID
			id[0], id[15] = 0xff, byte(i)
			id[14] = byte(i >> 8)
			return id
		}},
	}
	keys := []Key{ProcessKey(), KeyFromSecret("another deployment's secret")}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := make([]trace.TraceID, n)
			for i := range ids {
				ids[i] = tt.id(i)
			}
			var decisions [2][]bool
			for ki, k := range keys {
				kept := 0
				for _, id := range ids {
					d := k.Keep(id, rate, 0)
					decisions[ki] = append(decisions[ki], d)
					if d {
						kept++
					}
				}
				// Binomial(2000, 0.5): 1000 ± 22; 900–1100 is beyond 4σ.
				if kept < 900 || kept > 1100 {
					t.Errorf("key %d kept %d of %d client-chosen trace ids at rate %v", ki, kept, n, rate)
				}
			}
			same := 0
			for i := range ids {
				if decisions[0][i] == decisions[1][i] {
					same++
				}
			}
			if same > 1100 {
				t.Errorf("two keys agree on %d of %d decisions: the key does not decide", same, n)
			}
		})
	}
}

func TestKeepRateAndDeterminism(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	k := ProcessKey()
	const n = 20000
	kept := 0
	for range n {
		var id trace.TraceID
		binary.BigEndian.PutUint64(id[:8], r.Uint64())
		binary.BigEndian.PutUint64(id[8:], r.Uint64())
		d := k.Keep(id, 0.25, 0)
		if d != k.Keep(id, 0.25, r.Uint64()) {
			t.Fatal("decision for a valid trace id depends on the fallback")
		}
		if d {
			kept++
		}
	}
	if frac := float64(kept) / n; frac < 0.23 || frac > 0.27 {
		t.Fatalf("kept %.3f of records at rate 0.25", frac)
	}
}

func TestKeepInvalidTraceUsesFallback(t *testing.T) {
	k := ProcessKey()
	if !k.Keep(trace.TraceID{}, 0.5, 0) || k.Keep(trace.TraceID{}, 0.5, ^uint64(0)) {
		t.Fatal("zero trace id must be decided by the fallback")
	}
}

// TestDraw: one request id always draws the same number, so two samplers
// agree on it; across ids the draws keep about the share the rate asks for.
func TestDraw(t *testing.T) {
	const id = "8f14e45fceea167a5a36dedd4bea2543"
	k := ProcessKey()
	first := k.Draw(id)
	for range 3 {
		if k.Draw(id) != first {
			t.Fatal("Draw is not deterministic")
		}
	}
	const n, rate = 10000, 0.3
	kept := 0
	for i := range n {
		if k.Keep(trace.TraceID{}, rate, k.Draw(fmt.Sprintf("%032x", i))) {
			kept++
		}
	}
	// Binomial(10000, 0.3): 3000 ± 46.
	if kept < 2800 || kept > 3200 {
		t.Fatalf("kept %d of %d at rate %v", kept, n, rate)
	}
}

func TestKeyFromSecret(t *testing.T) {
	const secret = "a-secret-shared-by-every-instance"
	a, b := KeyFromSecret(secret), KeyFromSecret(secret)
	if a != b || a == KeyFromSecret(secret+"!") {
		t.Fatal("a key is not a function of its secret")
	}
}

// BenchmarkKeep measures the cost of one decision on a trace id (the
// keyed hash of its 16 bytes).
func BenchmarkKeep(b *testing.B) {
	k := ProcessKey()
	var id trace.TraceID
	id[0] = 1
	kept := 0
	for i := range b.N {
		id[15] = byte(i)
		if k.Keep(id, 0.5, 0) {
			kept++
		}
	}
	_ = kept
}

// BenchmarkDraw measures the decision's number for a request id (32 bytes).
func BenchmarkDraw(b *testing.B) {
	k := ProcessKey()
	const id = "8f14e45fceea167a5a36dedd4bea2543"
	var x uint64
	for range b.N {
		x ^= k.Draw(id)
	}
	_ = x
}
