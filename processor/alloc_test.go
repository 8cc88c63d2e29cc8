package processor

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// TestCleanRecordAllocations locks in the zero-allocation clean path: a
// record with nothing to redact or bound is not rewritten.
func TestCleanRecordAllocations(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts differ under -race")
	}
	ctx := context.Background()
	chain := mustChain(t, discard{})
	filter, err := NewFilter(discard{}, WithoutEnv(), WithIgnorePaths("^/healthz$"), WithIgnoreStatusCodes(304))
	if err != nil {
		t.Fatal(err)
	}
	sampler, err := NewSampler(discard{}, WithoutEnv(), WithSampleRate(1))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		p      sdklog.Processor
		secret bool
		max    float64
	}{
		{"scrubber clean", mustScrubber(t), false, 0},
		{"limiter", mustLimiter(t), true, 0},
		{"filter", filter, true, 0},
		{"sampler", sampler, true, 0},
		{"chain clean", chain, false, 0},
		// A hit costs the pooled rebuild only: SetAttributes' own clone.
		{"scrubber secret", mustScrubber(t), true, 1},
	}
	for _, tt := range tests {
		base := benchRecord(t, tt.secret)
		r := new(sdklog.Record)
		got := testing.AllocsPerRun(200, func() {
			*r = base
			_ = tt.p.OnEmit(ctx, r)
		})
		if got > tt.max {
			t.Errorf("%s: %v allocations per record, want ≤ %v", tt.name, got, tt.max)
		}
	}
	// The record tools/load audits (BenchmarkChainLoadResponse).
	base := testsupport.SDKRecord(t, apiRecord(semconv.EventHTTPResponseSuccess,
		attribute.StringValue(semconv.BodyHTTPResponse), loadResponseAttrs()...))
	r := new(sdklog.Record)
	if got := testing.AllocsPerRun(200, func() {
		*r = base
		_ = chain.OnEmit(ctx, r)
	}); got > 0 {
		t.Errorf("chain, load response: %v allocations per record, want 0", got)
	}
}
