package instrumentation

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"testing"
	"unsafe"
)

// TestHexWord: hexWord's eight digits are fmt's %08x of the word, for the
// edges and for random words.
func TestHexWord(t *testing.T) {
	words := []uint32{0, 1, 9, 10, 15, 16, 0x9a9a9a9a, 0xa9a9a9a9, 0x01234567, 0x89abcdef, 0xfedcba98, 0xffffffff}
	for range 1000 {
		words = append(words, rand.Uint32())
	}
	for _, v := range words {
		w := hexWord(v)
		var got [8]byte
		for i := range got {
			got[i] = byte(w >> (56 - 8*i))
		}
		if want := fmt.Sprintf("%08x", v); string(got[:]) != want {
			t.Fatalf("hexWord(%#x) = %q, want %q", v, got, want)
		}
	}
}

// TestRequestIDForm: 32 lowercase hex digits, different every time.
func TestRequestIDForm(t *testing.T) {
	form := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := map[string]bool{}
	for range 1000 {
		var x exchange
		id := x.newRequestID()
		if !form.MatchString(id) {
			t.Fatalf("request id %q is not 32 lowercase hex digits", id)
		}
		if seen[id] {
			t.Fatalf("request id %q repeated", id)
		}
		seen[id] = true
	}
}

// TestExchangeSize: the per-request state stays in a size class whose
// objects need no malloc header (at most 512 bytes).
func TestExchangeSize(t *testing.T) {
	if size := unsafe.Sizeof(exchange{}); size > 512 {
		t.Fatalf("exchange is %d bytes, want at most 512", size)
	}
}
