package detect_test

import (
	"context"
	"strconv"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/detect"
	"github.com/secaudit/secaudit/internal/claim"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// ordinary records: no rule counts them.
func ordinary(t testing.TB) map[string]*sdklog.Record {
	common := []attribute.KeyValue{
		semconv.AuditSchemaVersionKey.String(semconv.SchemaVersion), semconv.ClientAddressKey.String("203.0.113.7"),
		semconv.AuditRequestIDKey.String("0123456789abcdef0123456789abcdef"), semconv.HTTPRequestMethodKey.String("GET"),
		semconv.URLPathKey.String("/accounts/42"), semconv.HTTPRouteKey.String("/accounts/{id}"),
	}
	return map[string]*sdklog.Record{
		"success": sdkRecord(t, semconv.EventHTTPResponseSuccess, append(common, semconv.HTTPResponseStatusCodeKey.Int(200))...),
		"400":     sdkRecord(t, semconv.EventHTTPResponseClientError, append(common, semconv.HTTPResponseStatusCodeKey.Int(400))...),
	}
}

// TestDetectAlloc: an ordinary record costs detection no allocation.
func TestDetectAlloc(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts differ under -race")
	}
	p, err := detect.New(detect.WithoutEnv())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, rec := range ordinary(t) {
		if n := testing.AllocsPerRun(1000, func() { _ = p.OnEmit(ctx, rec) }); n != 0 {
			t.Errorf("%s: %.1f allocations per record, want 0", name, n)
		}
	}
}

func BenchmarkDetect(b *testing.B) {
	p, err := detect.New(detect.WithoutEnv())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for name, rec := range ordinary(b) {
		b.Run("ordinary/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = p.OnEmit(ctx, rec)
			}
		})
	}
	b.Run("login_failed", func(b *testing.B) {
		// A new address and claimed name each time: every rule counts it,
		// none fires.
		recs := make([]*sdklog.Record, 1024)
		ctxs := make([]context.Context, len(recs))
		for i := range recs {
			recs[i] = failedLogin(b, "198.51.100."+strconv.Itoa(i))
			ctxs[i] = claim.WithUser(ctx, "user"+strconv.Itoa(i))
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_ = p.OnEmit(ctxs[i%len(recs)], recs[i%len(recs)])
			i++
		}
	})
}
