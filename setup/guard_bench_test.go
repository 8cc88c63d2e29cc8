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
