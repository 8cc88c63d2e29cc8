package processor

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/secaudit/secaudit/semconv"
)

// TestKeyCacheKeepsContractConstants: the key cache keeps, for a key of
// secaudit's own events, the constant itself even when the first record
// that brought it had a copy, so that records built from the constants
// match the positional cache at the pointer (no byte comparison); any
// other key is kept as a copy of its own, never the caller's string.
func TestKeyCacheKeepsContractConstants(t *testing.T) {
	var kc keyCache
	var kr keyRules
	for _, tc := range []struct {
		key      string
		constant bool
	}{
		{string(semconv.URLPathKey), true},
		{string(semconv.UserAgentOriginalKey), true},
		{string(semconv.AuditRequestIDKey), true},
		{"http.request.header.accept", false},
	} {
		heap := strings.Clone(tc.key)
		kc.lookupAt(&kr, 0, heap)
		e := kc.byPos[0].Load()
		if e == nil || e.key != tc.key {
			t.Fatalf("%s: entry %+v", tc.key, e)
		}
		if got := unsafe.StringData(e.key) == unsafe.StringData(tc.key); got != tc.constant {
			t.Errorf("%s: entry shares the constant's bytes: %v, want %v", tc.key, got, tc.constant)
		}
		if unsafe.StringData(e.key) == unsafe.StringData(heap) {
			t.Errorf("%s: entry keeps the caller's string", tc.key)
		}
	}
}
