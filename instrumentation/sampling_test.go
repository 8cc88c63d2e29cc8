package instrumentation

import (
	"context"
	"encoding/binary"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/processor"
	"github.com/secaudit/secaudit/semconv"
)

// TestClientCannotSteerSampling: with a sample rate of 0.5, requests whose
// traceparent trace ids the client chose (ending in ff…, or in 00…) are
// audited at about the rate, not never or always; and the middleware and
// the sampling processor, given the same key (SECAUDIT_SAMPLE_KEY), decide
// alike on every trace, so the processor never drops what the middleware
// kept.
func TestClientCannotSteerSampling(t *testing.T) {
	const n, rate = 400, 0.5
	tests := []struct {
		name string
		low  uint64
	}{
		{"trace ids ending in ff…", ^uint64(0)},
		{"trace ids ending in 00…", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, false, WithLogOKResponses(true), WithSampleRate(rate))
			t.Setenv(envconf.SampleKey, "one-secret-for-every-instance")
			m, err := New(WithAuditor(h.a), WithLogOKResponses(true), WithSampleRate(rate))
			if err != nil {
				t.Fatal(err)
			}
			h.m = m
			count := &testsupport.Capture{}
			sampler, err := processor.NewSampler(count, processor.WithSampleRate(rate))
			if err != nil {
				t.Fatal(err)
			}
			kept := 0
			for i := range uint64(n) {
				var tid trace.TraceID
				binary.BigEndian.PutUint64(tid[:8], i+1)
				binary.BigEndian.PutUint64(tid[8:], tt.low)
				sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled})
				req := httptest.NewRequest("GET", "/x", nil)
				req = req.WithContext(trace.ContextWithSpanContext(req.Context(), sc))
				h.serve(status(200), req)
				byMiddleware := len(h.records()) == 1

				var r sdklog.Record
				r.SetEventName(semconv.EventHTTPResponseSuccess)
				r.SetSeverity(log.SeverityInfo)
				r.SetTraceID(tid)
				before := count.Len()
				if err := sampler.OnEmit(context.Background(), &r); err != nil {
					t.Fatal(err)
				}
				if byProcessor := count.Len() > before; byProcessor != byMiddleware {
					t.Fatalf("trace %s: middleware kept %v, processor kept %v", tid, byMiddleware, byProcessor)
				}
				if byMiddleware {
					kept++
				}
			}
			// Binomial(400, 0.5): 200 ± 10.
			if kept < 150 || kept > 250 {
				t.Fatalf("audited %d of %d requests with client-chosen trace ids at rate %v", kept, n, rate)
			}
		})
	}
}
