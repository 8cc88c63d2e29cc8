package processor

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// hammer emits mixed records through p from several goroutines and checks
// that every one that reaches rr is scrubbed.
func hammer(t *testing.T, p sdklog.Processor, rr *testsupport.Capture) {
	t.Helper()
	goroutines := testsupport.Snapshot()
	lp := testsupport.NewProvider(p)
	if rr != nil {
		lp = testsupport.NewProvider(p, rr)
	}
	logger := lp.Logger("concurrent")
	const workers, perWorker = 8, 200
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			ctx := context.Background()
			for i := 0; i < perWorker; i++ {
				attrs := benchAttrs(i%2 == 0)
				// Varying keys exercise the key cache's slots concurrently.
				attrs = append(attrs, attribute.String("k"+string(rune('a'+(i+w)%26)), "password=hunter2"))
				// One request id per record: the sampler decides by it.
				for j := range attrs {
					if attrs[j].Key == semconv.AuditRequestIDKey {
						attrs[j].Value = attribute.StringValue(strconv.Itoa(w*perWorker + i))
					}
				}
				name := semconv.EventHTTPResponseSuccess
				if i%3 == 0 {
					name = semconv.EventLoginFailed
				}
				logger.Emit(ctx, apiRecord(name, attribute.StringValue("token=abc"), attrs...))
			}
		}(w)
	}
	wg.Wait()
	if err := lp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rr != nil {
		recs := rr.Records()
		if len(recs) == 0 {
			t.Fatal("nothing recorded")
		}
		for _, r := range recs {
			text := allText(&r)
			for _, secret := range []string{"hunter2", "not-logged", "abc\n"} {
				if contains(text, secret) {
					t.Fatalf("%q survived: %s", secret, text)
				}
			}
		}
	}
	// Nothing here starts goroutines that outlive Shutdown.
	goroutines.Check(t)
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestScrubberConcurrentSafe(t *testing.T) {
	hammer(t, mustScrubber(t), &testsupport.Capture{})
}

func TestLimiterConcurrentSafe(t *testing.T) {
	l := mustLimiter(t, WithMaxStringLength(8))
	hammer(t, l, nil)
	if l.Stats().LimitTruncated == 0 {
		t.Fatal("no truncation counted")
	}
}

func TestFilterConcurrentSafe(t *testing.T) {
	rr := &testsupport.Capture{}
	f, err := NewFilter(rr, WithoutEnv(), WithIgnorePaths("^/api/"),
		WithFilterFunc(func(context.Context, *sdklog.Record) bool { return true }))
	if err != nil {
		t.Fatal(err)
	}
	hammer(t, f, nil)
	if f.Stats().FilteredPath == 0 || len(rr.Records()) == 0 {
		t.Fatalf("stats %+v, kept %d", f.Stats(), len(rr.Records()))
	}
}

func TestSamplerConcurrentSafe(t *testing.T) {
	rr := &testsupport.Capture{}
	s, err := NewSampler(rr, WithoutEnv(), WithSampleRate(0.5))
	if err != nil {
		t.Fatal(err)
	}
	hammer(t, s, nil)
	if s.Stats().SampledOut == 0 || len(rr.Records()) == 0 {
		t.Fatalf("stats %+v, kept %d", s.Stats(), len(rr.Records()))
	}
}

func TestEnricherConcurrentSafe(t *testing.T) {
	e, err := NewEnricher(WithEnrichFunc(func(context.Context, *sdklog.Record) []attribute.KeyValue {
		return []attribute.KeyValue{attribute.String("tenant.id", "acme"), semconv.SessionIDKey.String("x")}
	}))
	if err != nil {
		t.Fatal(err)
	}
	hammer(t, e, nil)
	if e.Stats().EnricherProtected == 0 {
		t.Fatal("no protected key counted")
	}
}

func TestChainConcurrentSafe(t *testing.T) {
	rr := &testsupport.Capture{}
	hammer(t, mustChain(t, rr, WithSampleRate(0.5), WithPseudonymization([]byte("0123456789abcdef"), "user.id")), rr)
}
