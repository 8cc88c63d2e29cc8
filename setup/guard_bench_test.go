package setup_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/secaudit/secaudit/detect/guard"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/setup"
)

// BenchmarkHTTPGuard is a whole audited request through setup's pipeline
// (as BenchmarkHTTPDetect), OK responses logged: without a guard, with the
// pipeline's guard off (the default), on with no block, on while another
// address is blocked (a read lock and a map lookup), and for the blocked
// address itself (429 before the handler).
func BenchmarkHTTPGuard(b *testing.B) {
	for _, tc := range []struct {
		name        string
		withGuard   bool
		on          bool
		blockRemote bool
		blockOther  bool
	}{
		{name: "none"},
		{name: "off", withGuard: true},
		{name: "on-empty", withGuard: true, on: true},
		{name: "on-other-blocked", withGuard: true, on: true, blockOther: true},
		{name: "on-refused", withGuard: true, on: true, blockRemote: true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p, err := setup.New(context.Background(), setup.WithoutEnv(), setup.WithJSONLWriter(io.Discard),
				setup.WithGuardOptions(guard.WithEnabled(tc.on)))
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = p.Shutdown(context.Background()) }()
			opts := []instrumentation.Option{instrumentation.WithAuditor(p.Auditor()),
				instrumentation.WithLogOKResponses(true), instrumentation.WithoutEnv()}
			if tc.withGuard {
				opts = append(opts, instrumentation.WithGuard(p.Guard()))
			}
			m, err := instrumentation.New(opts...)
			if err != nil {
				b.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodGet, "/accounts/42", nil) // from 192.0.2.1
			block := func(addr string) {
				if err := p.Guard().Block(context.Background(), guard.ScopeAddress, guard.Subject{Address: addr}, time.Hour, ""); err != nil {
					b.Fatal(err)
				}
			}
			if tc.blockOther {
				block("203.0.113.7")
			}
			if tc.blockRemote {
				block("192.0.2.1")
			}
			h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}

// BenchmarkHTTPBlocking pairs a whole audited request through setup's
// pipeline (as BenchmarkHTTP's full row: middleware, Auditor, chain,
// delivery, JSONL to io.Discard; OK responses logged, detection on) with
// the same request when blocking is on with the memory store, without and
// with a rate limit the address stays under: what turning the response on
// adds to a request it lets through. Compare base with block and
// block+rate (benchstat, or instructions per request under cachegrind).
func BenchmarkHTTPBlocking(b *testing.B) {
	for _, tc := range []struct {
		name  string
		guard []guard.Option // nil: no guard in the middleware
	}{
		{name: "0-base"},
		{name: "1-block", guard: []guard.Option{guard.WithEnabled(true)}},
		{name: "2-block+rate", guard: []guard.Option{guard.WithEnabled(true), guard.WithRateLimit(1<<30, time.Hour)}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p, err := setup.New(context.Background(), setup.WithoutEnv(), setup.WithJSONLWriter(io.Discard),
				setup.WithGuardOptions(tc.guard...))
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = p.Shutdown(context.Background()) }()
			opts := []instrumentation.Option{instrumentation.WithAuditor(p.Auditor()),
				instrumentation.WithLogOKResponses(true), instrumentation.WithoutEnv()}
			if tc.guard != nil {
				opts = append(opts, instrumentation.WithGuard(p.Guard()))
			}
			m, err := instrumentation.New(opts...)
			if err != nil {
				b.Fatal(err)
			}
			h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
			req := httptest.NewRequest(http.MethodGet, "/accounts/42", nil)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}

// BenchmarkHTTPRateLimited pairs, with blocking on and the middleware's
// defaults (OK responses not audited), a request served with a request
// the rate limit refuses quietly (429, counted into the window's summary,
// no event of its own): the 429 path must cost less than serving.
func BenchmarkHTTPRateLimited(b *testing.B) {
	for _, tc := range []struct {
		name   string
		limit  int // requests per hour; 0: no rate limit
		status int
	}{
		{name: "served", status: http.StatusOK},
		{name: "refused", limit: 1, status: http.StatusTooManyRequests},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p, err := setup.New(context.Background(), setup.WithoutEnv(), setup.WithJSONLWriter(io.Discard),
				setup.WithGuardOptions(guard.WithEnabled(true), guard.WithRateLimit(tc.limit, time.Hour)))
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = p.Shutdown(context.Background()) }()
			m, err := instrumentation.New(instrumentation.WithAuditor(p.Auditor()), instrumentation.WithGuard(p.Guard()),
				instrumentation.WithoutEnv())
			if err != nil {
				b.Fatal(err)
			}
			h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"id":42,"name":"widget","price_cents":1999,"in_stock":true}`))
			}))
			req := httptest.NewRequest(http.MethodGet, "/accounts/42", nil)
			if tc.limit > 0 {
				h.ServeHTTP(httptest.NewRecorder(), req) // the window's one allowed request
				h.ServeHTTP(httptest.NewRecorder(), req) // its first refusal: a full event
			}
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != tc.status {
					b.Fatalf("status %d, want %d", w.Code, tc.status)
				}
			}
		})
	}
}
