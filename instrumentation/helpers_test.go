package instrumentation

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log/logtest"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/internal/testsupport"
)

// clearEnv unsets every SECAUDIT_* and OTEL_* variable for the test's
// duration (testsupport.ClearEnv): not only the names New reads, so a list
// of them cannot go stale.
func clearEnv(t testing.TB) {
	t.Helper()
	testsupport.ClearEnv(t)
}

// harness is a Middleware recording into a logtest.Recorder.
type harness struct {
	t   *testing.T
	m   *Middleware
	rec *logtest.Recorder
	a   *secaudit.Auditor
}

func newHarness(t *testing.T, usernames bool, opts ...Option) *harness {
	t.Helper()
	clearEnv(t)
	rec := logtest.NewRecorder()
	a, err := secaudit.New(secaudit.WithLoggerProvider(rec), secaudit.WithUsernames(usernames))
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(append([]Option{WithAuditor(a)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, m: m, rec: rec, a: a}
}

// serve runs req through the middleware around h and returns the recorder.
func (h *harness) serve(next http.Handler, req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.m.Wrap(next).ServeHTTP(w, req)
	return w
}

// records returns every record emitted so far, and resets the recorder.
func (h *harness) records() []logtest.Record {
	h.t.Helper()
	var out []logtest.Record
	for scope, recs := range h.rec.Result() {
		if scope.Name != secaudit.ScopeName {
			h.t.Fatalf("record from scope %q", scope.Name)
		}
		out = append(out, recs...)
	}
	h.rec.Reset()
	return out
}

// only returns the single record emitted, failing otherwise.
func (h *harness) only() logtest.Record {
	h.t.Helper()
	recs := h.records()
	if len(recs) != 1 {
		names := make([]string, len(recs))
		for i, r := range recs {
			names[i] = r.EventName
		}
		h.t.Fatalf("got %d records %v, want 1", len(recs), names)
	}
	return recs[0]
}

func attrsOf(r logtest.Record) map[attribute.Key]attribute.Value {
	out := make(map[attribute.Key]attribute.Value, len(r.Attributes))
	for _, kv := range r.Attributes {
		out[kv.Key] = kv.Value
	}
	return out
}

func str(r logtest.Record, k attribute.Key) (string, bool) {
	v, ok := attrsOf(r)[k]
	if !ok {
		return "", false
	}
	return v.AsString(), true
}

func status(code int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
	})
}

type recorderAuditor struct {
	a   *secaudit.Auditor
	rec *logtest.Recorder
}

// newRecorderAuditor is an Auditor recording into a logtest.Recorder, for
// tests that build the Middleware themselves.
func newRecorderAuditor(t *testing.T) recorderAuditor {
	t.Helper()
	rec := logtest.NewRecorder()
	a, err := secaudit.New(secaudit.WithLoggerProvider(rec), secaudit.WithUsernames(false))
	if err != nil {
		t.Fatal(err)
	}
	return recorderAuditor{a: a, rec: rec}
}
