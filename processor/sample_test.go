package processor

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/internal/sampling"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// keptTraceID returns a valid trace id the process key keeps at rate (and
// so at every higher rate).
func keptTraceID(t *testing.T, rate float64) trace.TraceID {
	t.Helper()
	for i := range uint64(10000) {
		if id := traceID(i); sampling.ProcessKey().Keep(id, rate, 0) {
			return id
		}
	}
	t.Fatalf("no trace id kept at rate %v", rate)
	return trace.TraceID{}
}

// TestSamplerClientChosenTraceIDs: trace ids a client picks (all ending in
// ff…, all in 00…) are kept at about the rate, not never or always: the
// decision is a keyed hash of the id, not its low bits.
func TestSamplerClientChosenTraceIDs(t *testing.T) {
	const n, rate = 1000, 0.5
	tests := []struct {
		name string
		low  uint64
	}{
		{"low half ff…", ^uint64(0)},
		{"low half 00…", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr := &testsupport.Capture{}
			s, err := NewSampler(rr, WithoutEnv(), WithSampleRate(rate))
			if err != nil {
				t.Fatal(err)
			}
			for i := range uint64(n) {
				var id trace.TraceID
				binary.BigEndian.PutUint64(id[:8], i+1)
				binary.BigEndian.PutUint64(id[8:], tt.low)
				rec := testsupport.SDKRecord(t, apiRecord(semconv.EventHTTPResponseSuccess, attribute.Value{}))
				rec.SetTraceID(id)
				if err := s.OnEmit(context.Background(), &rec); err != nil {
					t.Fatal(err)
				}
			}
			// Binomial(1000, 0.5): 500 ± 16.
			if kept := len(rr.Records()); kept < 420 || kept > 580 {
				t.Fatalf("kept %d of %d client-chosen trace ids at rate %v", kept, n, rate)
			}
		})
	}
}

// TestSamplerKeyFromEnv: SECAUDIT_SAMPLE_KEY sets the key (two samplers
// with one secret decide alike; WithoutEnv keeps the process key), and a
// short one is refused with the variable's name.
func TestSamplerKeyFromEnv(t *testing.T) {
	t.Setenv(envconf.SampleRate, "")
	t.Setenv(envconf.SampleKey, "a-secret-shared-by-every-instance")
	s, err := NewSampler(&testsupport.Capture{}, WithSampleRate(0.5))
	if err != nil {
		t.Fatal(err)
	}
	if s.key != sampling.KeyFromSecret("a-secret-shared-by-every-instance") {
		t.Fatal("the sampler does not use SECAUDIT_SAMPLE_KEY")
	}
	if s, err := NewSampler(&testsupport.Capture{}, WithoutEnv()); err != nil || s.key != sampling.ProcessKey() {
		t.Fatalf("WithoutEnv: err %v, process key %v", err, err == nil && s.key == sampling.ProcessKey())
	}
	t.Setenv(envconf.SampleKey, "short")
	if _, err := NewSampler(&testsupport.Capture{}); err == nil || !strings.Contains(err.Error(), envconf.SampleKey) {
		t.Fatalf("error = %v, want one naming %s", err, envconf.SampleKey)
	}
}

// TestFilterMatchesEscapedPath: ignore patterns match the escaped path of
// url.full, as the middleware's do, so an encoded slash cannot make an
// event look like one of an ignored path it was not routed to; url.path
// decides when there is no url.full.
func TestFilterMatchesEscapedPath(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		full     string // "" for none
		filtered bool
	}{
		{"ignored path", "/healthz", "https://example.com/healthz", true},
		{"encoded slashes", "/x/1/../healthz", "https://example.com/x/1%2F..%2Fhealthz", false},
		{"encoded slash under an ignored prefix", "/static/../admin", "http://example.com/static%2F..%2Fadmin", false},
		{"no url.full: url.path", "/static/app.js", "", true},
		{"url.full without a path", "/healthz", "http://example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr := &testsupport.Capture{}
			f, err := NewFilter(rr, WithoutEnv(), WithIgnorePaths(`/healthz$`, `^/static/`))
			if err != nil {
				t.Fatal(err)
			}
			attrs := []attribute.KeyValue{semconv.URLPathKey.String(tt.path), semconv.HTTPResponseStatusCodeKey.Int(404)}
			if tt.full != "" {
				attrs = append(attrs, semconv.URLFullKey.String(tt.full))
			}
			emitAll(t, f, apiRecord(semconv.EventHTTPResponseClientError, attribute.StringValue(semconv.BodyHTTPResponse), attrs...))
			if got := len(rr.Records()) == 0; got != tt.filtered {
				t.Fatalf("filtered %v, want %v", got, tt.filtered)
			}
		})
	}
}
