package instrumentation

import (
	"io"
	"net/http"
	"runtime"
	"testing"

	"go.opentelemetry.io/otel/log/noop"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/internal/testsupport"
)

// discardWriter is a ResponseWriter that allocates nothing per request.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// allocsOver returns the allocations per request of h beyond those of the
// bare handler.
func allocsOver(t *testing.T, h http.Handler) float64 {
	t.Helper()
	req := benchRequest()
	w := &discardWriter{h: http.Header{"Content-Type": {""}}}
	run := func(h http.Handler) float64 {
		return testing.AllocsPerRun(200, func() {
			w.code = 0
			h.ServeHTTP(w, req)
			if w.code != http.StatusOK {
				t.Fatalf("status %d", w.code)
			}
		})
	}
	return run(h) - run(bareHandler())
}

// bytesOver returns the bytes per request h allocates beyond those of the
// bare handler.
func bytesOver(t *testing.T, h http.Handler) float64 {
	t.Helper()
	req := benchRequest()
	w := &discardWriter{h: http.Header{"Content-Type": {""}}}
	const runs = 1000
	run := func(h http.Handler) float64 {
		h.ServeHTTP(w, req) // warm up pools and caches
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range runs {
			h.ServeHTTP(w, req)
		}
		runtime.ReadMemStats(&after)
		return float64(after.TotalAlloc-before.TotalAlloc) / runs
	}
	return run(h) - run(bareHandler())
}

// TestByteBudget locks the bytes the middleware adds to a request it does
// not audit (OK responses off): its per-request state, the exchange, which
// holds the handler's request and is its context, in the 640-byte size
// class (it was 736: the exchange, 416 bytes, and the request copy
// WithContext made, 320).
func TestByteBudget(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation sizes differ under -race")
	}
	clearEnv(t)
	a, err := secaudit.New(secaudit.WithLoggerProvider(noop.NewLoggerProvider()))
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(WithAuditor(a))
	if err != nil {
		t.Fatal(err)
	}
	const budget = 640
	// Half a byte per request of slack for what the runtime allocates
	// in the background during the runs.
	if got := bytesOver(t, m.Wrap(bareHandler())); got > budget+0.5 {
		t.Fatalf("%v bytes per request over bare, budget %v", got, budget)
	} else {
		t.Logf("%v bytes per request over bare (budget %v)", got, budget)
	}
}

// TestAllocationBudget locks the allocations the audit path adds per
// request. Middleware alone (a no-op provider, so nothing is built past
// Enabled): the per-request state (request facts, request id, the
// handler's request, which carries them in its context, and the response
// observer: one allocation) and url.full (the application's SetUser
// allocates nothing). Full pipeline: the same plus the Logs API record's
// attribute overflow, the SDK record and its
// attribute growth, and the copies of the request facts that records
// carry (one allocation per audited request, so that a queued record does
// not keep its request alive); the processor chain and the JSONL exporter
// allocate nothing for this event.
func TestAllocationBudget(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts differ under -race")
	}
	clearEnv(t)
	noopAuditor, err := secaudit.New(secaudit.WithLoggerProvider(noop.NewLoggerProvider()))
	if err != nil {
		t.Fatal(err)
	}
	full, _ := newPipeline(t, io.Discard)
	tests := []struct {
		name   string
		a      *secaudit.Auditor
		opts   []Option
		budget float64
	}{
		{"middleware, OK responses off", noopAuditor, nil, 1},
		{"middleware, event built up to Enabled", noopAuditor, []Option{WithLogOKResponses(true)}, 2},
		{"full pipeline to JSONL", full, []Option{WithLogOKResponses(true)}, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(append([]Option{WithAuditor(tt.a)}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			got := allocsOver(t, m.Wrap(bareHandler()))
			if got > tt.budget {
				t.Fatalf("%v allocations per request over bare, budget %v", got, tt.budget)
			}
			t.Logf("%v allocations per request over bare (budget %v)", got, tt.budget)
		})
	}
}
