package processor

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/internal/testsupport"
)

// capture emits rec through procs followed by a testsupport.Capture (in a
// provider built like secaudit's setup builds it) and returns what the
// capture saw last.
func capture(t testing.TB, rec log.Record, procs ...sdklog.Processor) sdklog.Record {
	t.Helper()
	rr := &testsupport.Capture{}
	lp := testsupport.NewProvider(append(procs, rr)...)
	lp.Logger("test").Emit(context.Background(), rec)
	return rr.Last(t)
}

func apiRecord(event string, body attribute.Value, attrs ...attribute.KeyValue) log.Record {
	var r log.Record
	r.SetEventName(event)
	r.SetBody(body)
	r.AddAttributes(attrs...)
	return r
}

func attrsOf(r *sdklog.Record) []attribute.KeyValue {
	var out []attribute.KeyValue
	r.WalkAttributes(func(kv attribute.KeyValue) bool { out = append(out, kv); return true })
	return out
}

func mustScrubber(t testing.TB, opts ...ScrubOption) *Scrubber {
	t.Helper()
	s, err := NewScrubber(append([]ScrubOption{WithoutEnv()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustLimiter(t testing.TB, opts ...LimitOption) *Limiter {
	t.Helper()
	l, err := NewLimiter(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
