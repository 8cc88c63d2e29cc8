package instrumentation

import (
	"io"
	"net/http"
	"runtime"
	"sync"
	"testing"

	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// TestAuditedRequestKeepsItsStackSmall: a request whose response event goes
// through the whole pipeline (Auditor, SDK, processor chain, JSONL
// exporter) leaves its goroutine's stack as small as a request without
// one: the event ran on a worker. Before, every such goroutine grew to
// 16 KB, and a server's connections copied their stacks again after each
// garbage collection had halved them.
func TestAuditedRequestKeepsItsStackSmall(t *testing.T) {
	if testsupport.Race {
		t.Skip("stack sizes differ under -race")
	}
	clearEnv(t)
	a, _ := newPipeline(t, io.Discard)
	m, err := New(WithAuditor(a))
	if err != nil {
		t.Fatal(err)
	}
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }))
	req := benchRequest()
	h.ServeHTTP(&discardWriter{h: http.Header{}}, req) // warm up pools and workers

	// n goroutines serve one audited request each and stay parked, each
	// with the stack its request left it.
	const n = 200
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var served, parked sync.WaitGroup
	release := make(chan struct{})
	served.Add(n)
	parked.Add(n)
	for range n {
		go func() {
			defer parked.Done()
			h.ServeHTTP(&discardWriter{h: http.Header{}}, req)
			served.Done()
			<-release
		}()
	}
	served.Wait()
	runtime.ReadMemStats(&after)
	close(release)
	parked.Wait()
	if got := m.Stats().Emitted; got != n+1 {
		t.Fatalf("%d events emitted, want %d", got, n+1)
	}
	perGoroutine := (after.StackInuse - before.StackInuse) / n
	if perGoroutine > 8<<10 {
		t.Fatalf("%d bytes of stack per goroutine after an audited request, want at most 8 KB", perGoroutine)
	}
	t.Logf("%d bytes of stack per goroutine after an audited request", perGoroutine)
}

// TestEmitterFallsBackWhenWorkersAreBusy: with one worker allowed and
// many concurrent audited requests, the events no worker takes are
// emitted on their requests' goroutines: every one is emitted, with its
// own request's facts, and the worker ends once idle.
func TestEmitterFallsBackWhenWorkersAreBusy(t *testing.T) {
	h := newHarness(t, true)
	h.m.emitter = newEmitter(1)
	handler := h.m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }))
	goroutines := testsupport.Snapshot()
	const g, each = 8, 25
	var wg sync.WaitGroup
	for i := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				req := benchRequest()
				req.URL.Path = "/items/" + string(rune('a'+i))
				handler.ServeHTTP(&discardWriter{h: http.Header{}}, req)
			}
		}()
	}
	wg.Wait()
	recs := h.records()
	if len(recs) != g*each || h.m.Stats().Emitted != g*each {
		t.Fatalf("%d records, %d emitted, want %d", len(recs), h.m.Stats().Emitted, g*each)
	}
	perPath := map[string]int{}
	for _, r := range recs {
		a := attrsOf(r)
		if a[semconv.HTTPResponseStatusCodeKey].AsInt64() != 404 {
			t.Fatalf("record %v", r.Attributes)
		}
		perPath[a[semconv.URLPathKey].AsString()]++
	}
	for path, got := range perPath {
		if got != each {
			t.Fatalf("%d events for %s, want %d", got, path, each)
		}
	}
	if w := h.m.emitter.workers.Load(); w > 1 {
		t.Fatalf("%d workers, at most 1 allowed", w)
	}
	goroutines.Check(t) // the worker ends once idle
}

// TestEmitterOnlyWhenEventsAreTheException: workers take the events only
// when OK responses are not audited; when every response is, the request's
// goroutine emits its own event (its stack stays large anyway).
func TestEmitterOnlyWhenEventsAreTheException(t *testing.T) {
	for _, logOK := range []bool{false, true} {
		h := newHarness(t, true, WithLogOKResponses(logOK))
		if got := h.m.emitter != nil; got == logOK {
			t.Fatalf("WithLogOKResponses(%v): emitter %v, want %v", logOK, got, !logOK)
		}
	}
}
