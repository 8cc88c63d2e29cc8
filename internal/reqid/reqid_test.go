package reqid

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"regexp"
	"testing"
)

func TestHexWord(t *testing.T) {
	words := []uint32{0, 1, 9, 10, 15, 16, 0x9a9a9a9a, 0xa9a9a9a9, 0x01234567, 0x89abcdef, 0xfedcba98, 0xffffffff}
	for range 1000 {
		words = append(words, rand.Uint32())
	}
	for _, v := range words {
		var got [8]byte
		binary.BigEndian.PutUint64(got[:], hexWord(v))
		var raw [4]byte
		binary.BigEndian.PutUint32(raw[:], v)
		if want := hex.EncodeToString(raw[:]); string(got[:]) != want {
			t.Errorf("hexWord(%#x) = %q, want %q", v, got, want)
		}
	}
}

func FuzzHexWord(f *testing.F) {
	f.Add(uint32(0xdeadbeef))
	f.Fuzz(func(t *testing.T, v uint32) {
		var got [8]byte
		binary.BigEndian.PutUint64(got[:], hexWord(v))
		var raw [4]byte
		binary.BigEndian.PutUint32(raw[:], v)
		if want := hex.EncodeToString(raw[:]); string(got[:]) != want {
			t.Fatalf("hexWord(%#x) = %q, want %q", v, got, want)
		}
	})
}

func TestFill(t *testing.T) {
	valid := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := map[[32]byte]bool{}
	for range 1000 {
		var id [32]byte
		Fill(&id)
		if !valid.Match(id[:]) {
			t.Fatalf("id %q is not 32 lowercase hex digits", id)
		}
		if seen[id] {
			t.Fatalf("id %q given twice", id)
		}
		seen[id] = true
	}
}
