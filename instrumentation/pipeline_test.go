package instrumentation

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/processor"
	"github.com/secaudit/secaudit/semconv"
)

// syncBuffer is a bytes.Buffer safe for the exporter and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(s.b.Bytes()), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("invalid JSONL line %q: %v", line, err)
		}
		out = append(out, m)
	}
	s.b.Reset()
	return out
}

// newPipeline is the production shape: Auditor → real sdk/log provider
// (key de-duplication off) → processor chain (scrubbing on) → simple
// exporting processor → JSONL exporter writing to w.
func newPipeline(tb testing.TB, w io.Writer, popts ...processor.Option) (*secaudit.Auditor, *sdklog.LoggerProvider) {
	tb.Helper()
	exp, err := exporter.NewJSONL(exporter.WithWriter(w))
	if err != nil {
		tb.Fatal(err)
	}
	chain, err := processor.NewChain(sdklog.NewSimpleProcessor(exp), append([]processor.Option{processor.WithoutEnv()}, popts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithAllowKeyDuplication(), sdklog.WithProcessor(chain))
	tb.Cleanup(func() { lp.Shutdown(context.Background()) })
	a, err := secaudit.New(secaudit.WithLoggerProvider(lp), secaudit.WithUsernames(false))
	if err != nil {
		tb.Fatal(err)
	}
	return a, lp
}

// TestBodyVectorsScrubbed runs the BODY vectors that capture something
// through the whole pipeline and compares the exported
// attributes["audit.request.body"] with the reference's scrubbed output.
// Adapted: BODY-37's integer beyond int64 is exported as its exact digits
// in a string (JSON numbers that large are not portable).
func TestBodyVectorsScrubbed(t *testing.T) {
	adapted := map[string]any{"BODY-37": map[string]any{"amount": "123456789012345678901234567890", "note": 1.1}}
	n := 0
	for _, v := range testsupport.Vectors[bodyVector](t, "BODY") {
		want, ok := v.Expect["request.body"]
		if !ok {
			continue
		}
		n++
		t.Run(v.ID, func(t *testing.T) {
			clearEnv(t)
			var out syncBuffer
			var popts []processor.Option
			if len(v.In.Core.KeyAllowlist) > 0 {
				popts = append(popts, processor.WithSensitiveKeyAllowlist(v.In.Core.KeyAllowlist...))
			}
			a, _ := newPipeline(t, &out, popts...)
			m, err := New(append([]Option{WithAuditor(a)}, v.options()...)...)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := v.request(t)
			m.Wrap(status(400)).ServeHTTP(httptest.NewRecorder(), req)
			lines := out.lines(t)
			if len(lines) != 1 {
				t.Fatalf("%d lines", len(lines))
			}
			attrs, _ := lines[0]["attributes"].(map[string]any)
			if a, ok := adapted[v.ID]; ok {
				want = a
			}
			if got := attrs["audit.request.body"]; !reflect.DeepEqual(normalJSON(t, got), normalJSON(t, want)) {
				t.Fatalf("exported body %v, want %v", got, want)
			}
		})
	}
	if n < 5 {
		t.Fatalf("only %d capturing vectors", n)
	}
}

// TestPipelineScrubsPanicsAndCarriesFacts: through the real pipeline a
// panic's message and stack are scrubbed, and the line carries the request
// facts and the envelope's event_type.
func TestPipelineScrubsPanicsAndCarriesFacts(t *testing.T) {
	clearEnv(t)
	var out syncBuffer
	a, _ := newPipeline(t, &out)
	m, err := New(WithAuditor(a))
	if err != nil {
		t.Fatal(err)
	}
	handler := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secaudit.SetUser(r.Context(), secaudit.User{ID: "42", Name: "bob"})
		panic("connect postgres://app:s3cr3tpw@db/prod failed")
	}))
	func() {
		defer func() { recover() }()
		handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/panic?password=x", nil))
	}()
	lines := out.lines(t)
	if len(lines) != 1 {
		t.Fatalf("%d lines", len(lines))
	}
	raw, _ := json.Marshal(lines[0])
	if strings.Contains(string(raw), "s3cr3tpw") {
		t.Fatalf("secret exported: %s", raw)
	}
	attrs := lines[0]["attributes"].(map[string]any)
	checks := map[string]any{
		"event_type": "http.response.server_error", "http.response.status_code": 500.0,
		"user.id": "42", "url.full": "http://example.com/panic", "url.path": "/panic",
		"exception.type": "string",
	}
	for k, want := range checks {
		if attrs[k] != want {
			t.Errorf("%s = %v, want %v", k, attrs[k], want)
		}
	}
	if _, ok := attrs["user.name"]; ok {
		t.Error("user.name exported with usernames off")
	}
	if !strings.Contains(attrs["exception.message"].(string), "postgres://") {
		t.Errorf("exception.message %q lost its non-secret part", attrs["exception.message"])
	}
}

// TestSamplingOnceWithoutTrace: the middleware and the processor chain
// both sample OK responses at SECAUDIT_SAMPLE_RATE's rate (as setup builds
// them). Without a trace id they decide on the same draw from the request
// id, so the rate applied is the rate set, not its square, and every kept
// record says so.
func TestSamplingOnceWithoutTrace(t *testing.T) {
	clearEnv(t)
	const rate, n = 0.5, 2000
	var out syncBuffer
	a, _ := newPipeline(t, &out, processor.WithSampleRate(rate))
	m, err := New(WithAuditor(a), WithLogOKResponses(true), WithSampleRate(rate))
	if err != nil {
		t.Fatal(err)
	}
	h := m.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for range n {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/ok", nil))
	}
	lines := out.lines(t)
	// Binomial(2000, 0.5): 1000 ± 22; at 0.25 (two independent draws) it
	// would be 500 ± 19.
	if len(lines) < 850 || len(lines) > 1150 {
		t.Fatalf("kept %d of %d OK responses at rate %v", len(lines), n, rate)
	}
	for _, l := range lines {
		if got := l["attributes"].(map[string]any)[string(semconv.AuditSampleRateKey)]; got != rate {
			t.Fatalf("kept record carries audit.sample_rate %v, want %v", got, rate)
		}
	}
	if s := m.Stats(); s.Emitted != uint64(len(lines)) {
		t.Fatalf("middleware emitted %d, exported %d: the processor dropped some again", s.Emitted, len(lines))
	}
}
