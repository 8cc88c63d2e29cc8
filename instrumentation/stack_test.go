package instrumentation

import (
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"testing"
	"unsafe"

	"github.com/secaudit/secaudit/internal/testsupport"
)

// depthWriter is an exporter's writer that records the lowest stack
// address it is written from: the bottom of an audited request's path
// when the export is synchronous (the simple processor).
type depthWriter struct{ lowest uintptr }

func (w *depthWriter) Write(p []byte) (int, error) {
	var here byte
	if a := uintptr(unsafe.Pointer(&here)); w.lowest == 0 || a < w.lowest {
		w.lowest = a
	}
	return len(p), nil
}

// growStack grows its goroutine's stack past 64 KB, so that the stack does
// not move (nor, with the GC off, shrink) while a request is measured.
//
//go:noinline
func growStack(i int) byte {
	var big [64 << 10]byte
	big[i] = byte(i)
	return big[len(big)-1-i]
}

// stackDepth returns how deep into its goroutine's stack h serves one
// request before its record reaches w, from the frame that calls
// ServeHTTP.
func stackDepth(h http.Handler, w *depthWriter) uintptr {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	w.lowest = 0
	depth := make(chan uintptr)
	go func() {
		growStack(1)
		var top byte
		at := uintptr(unsafe.Pointer(&top))
		h.ServeHTTP(httptest.NewRecorder(), benchRequest())
		depth <- at - w.lowest
	}()
	return <-depth
}

// TestStackDepth: an audited request's record reaches the exporter no
// deeper into the request goroutine's stack than the same record built by
// hand and emitted into the same SDK and exporter (BenchmarkHTTP's
// 7-floor-direct-record-no-chain, whose 13 attributes are a literal on
// its middleware's stack). A goroutine's stack is shrunk by every GC while
// it waits and grown again, by copying it, on the next request that needs
// the depth: the audit's frames should not be what makes it grow. (Go
// 1.26, sdk/log v1.47: 4696 bytes against the floor's 5472; 4968 before
// the Auditor built its record in place and ServeHTTP left the origin to
// begin.)
func TestStackDepth(t *testing.T) {
	if testsupport.Race {
		t.Skip("frames differ under -race")
	}
	clearEnv(t)
	var sw, fw depthWriter
	a, _ := newSDKOnly(t, &sw)
	m, err := New(WithAuditor(a), WithLogOKResponses(true))
	if err != nil {
		t.Fatal(err)
	}
	m.spanChecked.Store(true)
	audited := stackDepth(m.Wrap(bareHandler()), &sw)
	_, lp := newSDKOnly(t, &fw)
	floor := stackDepth(floorMiddleware(bareHandler(), lp.Logger("floor")), &fw)
	if audited == 0 || floor == 0 {
		t.Fatalf("nothing exported: audited %d, floor %d", audited, floor)
	}
	t.Logf("stack depth at the exporter: audited %d bytes, floor %d bytes: %+d", audited, floor, int(audited)-int(floor))
	if audited > floor {
		t.Fatalf("an audited request reaches the exporter %d bytes deep, deeper than the floor's %d", audited, floor)
	}
}
