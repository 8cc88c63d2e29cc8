package instrumentation

import (
	"regexp"
	"testing"
	"unsafe"
)

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
// objects need no malloc header, and which it reached: at most 416 bytes
// (it was 512 before the rare facts moved out and the response observer
// shrank).
func TestExchangeSize(t *testing.T) {
	if size := unsafe.Sizeof(exchange{}); size > 416 {
		t.Fatalf("exchange is %d bytes, want at most 416", size)
	}
}
