package instrumentation

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkHTTPParked serves each request on one long-lived goroutine that
// waits on a channel between requests, as net/http's connection goroutine
// waits on its socket: every GC shrinks the stack of a waiting goroutine
// that uses little of it, and the next request that goes deep grows it
// again by copying it (runtime.copystack, and pcvalue and step to adjust
// its frames). Run with the GC on to see it. The mix is the load's
// secaudit-default: OK responses not audited, one request in twenty a
// 404 whose client_error event goes through the processor chain and the
// JSONL exporter on the request's goroutine (the simple processor: deeper
// than the delivery queue's hand-over).
func BenchmarkHTTPParked(b *testing.B) {
	clearEnv(b)
	notFound := benchRequest()
	notFound.URL.Path = "/missing"
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		bareHandler().ServeHTTP(w, r)
	})
	parked := func(b *testing.B, h http.Handler) {
		ok := benchRequest()
		reqs := make(chan *http.Request)
		done := make(chan struct{})
		go func() {
			for r := range reqs {
				h.ServeHTTP(httptest.NewRecorder(), r)
				done <- struct{}{}
			}
		}()
		defer close(reqs)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			r := ok
			if i%20 == 19 {
				r = notFound
			}
			i++
			reqs <- r
			<-done
		}
	}
	b.Run("1-bare", func(b *testing.B) { parked(b, mux) })
	b.Run("2-secaudit-default", func(b *testing.B) {
		a, _ := newPipeline(b, &lineCounter{})
		m, err := New(WithAuditor(a))
		if err != nil {
			b.Fatal(err)
		}
		m.spanChecked.Store(true)
		parked(b, m.Wrap(mux))
	})
}
