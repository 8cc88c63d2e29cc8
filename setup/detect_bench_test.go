package setup_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/secaudit/secaudit/detect"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/setup"
)

// BenchmarkHTTPDetect is a whole audited request through setup's pipeline
// (middleware, Auditor, chain, delivery, JSONL to io.Discard), OK
// responses logged, with detection on (the default) and off: what
// detection adds to an ordinary request (benchstat on=… vs off=…), and to
// a 404 that the scanner rule counts.
func BenchmarkHTTPDetect(b *testing.B) {
	for _, tc := range []struct {
		name   string
		status int
	}{{"ok", http.StatusOK}, {"404", http.StatusNotFound}} {
		for _, on := range []bool{false, true} {
			name := tc.name + "/detect=off"
			if on {
				name = tc.name + "/detect=on"
			}
			b.Run(name, func(b *testing.B) {
				p, err := setup.New(context.Background(), setup.WithoutEnv(), setup.WithJSONLWriter(io.Discard),
					setup.WithDetectOptions(detect.WithEnabled(on)))
				if err != nil {
					b.Fatal(err)
				}
				defer func() { _ = p.Shutdown(context.Background()) }()
				m, err := instrumentation.New(instrumentation.WithAuditor(p.Auditor()), instrumentation.WithLogOKResponses(true),
					instrumentation.WithoutEnv())
				if err != nil {
					b.Fatal(err)
				}
				status := tc.status
				h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }))
				req := httptest.NewRequest(http.MethodGet, "/accounts/42", nil)
				b.ReportAllocs()
				for b.Loop() {
					h.ServeHTTP(httptest.NewRecorder(), req)
				}
			})
		}
	}
}
