package processor

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

const benchUA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"

// benchAttrs are the 12 attributes of an http.response event; with secret,
// the last one carries a bearer token under a sensitive header key.
func benchAttrs(secret bool) []attribute.KeyValue {
	last := attribute.String("http.request.header.accept", "application/json")
	if secret {
		last = attribute.String("http.request.header.authorization", "Bearer not-logged")
	}
	return []attribute.KeyValue{
		semconv.AuditRequestIDKey.String("4bf92f3577b34da6a3ce929d0e0e4736"),
		semconv.AuditSchemaVersionKey.String(semconv.SchemaVersion),
		semconv.HTTPRequestMethodKey.String("GET"),
		semconv.URLPathKey.String("/api/accounts/42"),
		semconv.HTTPRouteKey.String("/api/accounts/{id}"),
		semconv.HTTPResponseStatusCodeKey.Int(200),
		semconv.AuditDurationKey.Int64(1834567),
		semconv.ClientAddressKey.String("203.0.113.7"),
		semconv.UserAgentOriginalKey.String(benchUA),
		semconv.UserIDKey.String("42"),
		semconv.AuditOutcomeKey.String(semconv.OutcomeSuccess),
		last,
	}
}

func benchRecord(b testing.TB, secret bool) sdklog.Record {
	return testsupport.SDKRecord(b, apiRecord(semconv.EventHTTPResponseSuccess,
		attribute.StringValue(semconv.BodyHTTPResponse), benchAttrs(secret)...))
}

// slogLine returns a func writing one slog JSON line with the same 12
// attributes as benchAttrs(false) to io.Discard: the baseline. Like a real
// call site (and the perf-anchors "Floor" baseline), it builds the
// attributes in the call.
func slogLine() func() {
	l := slog.New(slog.NewJSONHandler(io.Discard, nil))
	ctx := context.Background()
	return func() {
		l.LogAttrs(ctx, slog.LevelInfo, semconv.BodyHTTPResponse,
			slog.String(string(semconv.AuditRequestIDKey), "4bf92f3577b34da6a3ce929d0e0e4736"),
			slog.String(string(semconv.AuditSchemaVersionKey), semconv.SchemaVersion),
			slog.String(string(semconv.HTTPRequestMethodKey), "GET"),
			slog.String(string(semconv.URLPathKey), "/api/accounts/42"),
			slog.String(string(semconv.HTTPRouteKey), "/api/accounts/{id}"),
			slog.Int(string(semconv.HTTPResponseStatusCodeKey), 200),
			slog.Int64(string(semconv.AuditDurationKey), 1834567),
			slog.String(string(semconv.ClientAddressKey), "203.0.113.7"),
			slog.String(string(semconv.UserAgentOriginalKey), benchUA),
			slog.String(string(semconv.UserIDKey), "42"),
			slog.String(string(semconv.AuditOutcomeKey), semconv.OutcomeSuccess),
			slog.String("http.request.header.accept", "application/json"),
		)
	}
}

type discard struct{}

func (discard) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (discard) OnEmit(context.Context, *sdklog.Record) error           { return nil }
func (discard) Shutdown(context.Context) error                         { return nil }
func (discard) ForceFlush(context.Context) error                       { return nil }

// benchProcessors are the processors benchmarked, each in front of a
// no-op downstream where it wraps one.
func benchProcessors(b *testing.B) []struct {
	name string
	p    sdklog.Processor
} {
	filter, err := NewFilter(discard{}, WithoutEnv(), WithIgnorePaths("^/healthz$"), WithIgnoreStatusCodes(304))
	if err != nil {
		b.Fatal(err)
	}
	sampler, err := NewSampler(discard{}, WithoutEnv(), WithSampleRate(1))
	if err != nil {
		b.Fatal(err)
	}
	enricher, err := NewEnricher(WithEnrichFunc(func(context.Context, *sdklog.Record) []attribute.KeyValue {
		return []attribute.KeyValue{attribute.String("tenant.id", "acme")}
	}))
	if err != nil {
		b.Fatal(err)
	}
	return []struct {
		name string
		p    sdklog.Processor
	}{
		{"scrubber", mustScrubber(b)},
		{"limiter", mustLimiter(b)},
		{"filter", filter},
		{"sampler", sampler},
		{"enricher", enricher},
		{"chain", mustChain(b, discard{})},
	}
}

// BenchmarkOnEmit measures each processor's OnEmit on a 12-attribute
// http.response record, clean and with one secret (a bearer token under
// http.request.header.authorization), beside a slog JSON line of the same
// attributes.
func BenchmarkOnEmit(b *testing.B) {
	b.Run("slog_line", func(b *testing.B) {
		line := slogLine()
		b.ReportAllocs()
		for b.Loop() {
			line()
		}
	})
	// The floor of any rewrite: the SDK's SetAttributes of the 12
	// attributes plus audit.redacted_count.
	b.Run("sdk_set_attributes", func(b *testing.B) {
		base := benchRecord(b, true)
		attrs := append(attrsOf(&base), semconv.AuditRedactedCountKey.Int(1))
		r := new(sdklog.Record)
		b.ReportAllocs()
		for b.Loop() {
			*r = base
			r.SetAttributes(attrs...)
		}
	})
	ctx := context.Background()
	for _, bp := range benchProcessors(b) {
		for _, secret := range []bool{false, true} {
			name := bp.name + "/clean"
			if secret {
				name = bp.name + "/secret"
			}
			b.Run(name, func(b *testing.B) {
				base := benchRecord(b, secret)
				r := new(sdklog.Record)
				b.ReportAllocs()
				for b.Loop() {
					*r = base
					_ = bp.p.OnEmit(ctx, r)
				}
			})
		}
	}
}

// BenchmarkOnEmitParallel is BenchmarkOnEmit for the scrubber and the
// chain from all Ps at once (shared key cache and counters).
func BenchmarkOnEmitParallel(b *testing.B) {
	ctx := context.Background()
	for _, bp := range benchProcessors(b) {
		if bp.name != "scrubber" && bp.name != "chain" {
			continue
		}
		for _, secret := range []bool{false, true} {
			name := bp.name + "/clean"
			if secret {
				name = bp.name + "/secret"
			}
			b.Run(name, func(b *testing.B) {
				base := benchRecord(b, secret)
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					r := new(sdklog.Record)
					for pb.Next() {
						*r = base
						_ = bp.p.OnEmit(ctx, r)
					}
				})
			})
		}
	}
}

// BenchmarkLimiterHugeRecord is the Limiter on a record far over its byte
// cap: 10 attributes, each a three-level map of 12 entries per level whose
// leaves are 300-byte strings (about 5 MB of text in all). What it costs
// should follow the cap, not the size of what it cuts away.
func BenchmarkLimiterHugeRecord(b *testing.B) {
	l, err := NewLimiter(WithoutEnv(), WithMaxRecordBytes(4096))
	if err != nil {
		b.Fatal(err)
	}
	leaf := attribute.StringValue(strings.Repeat("é\u0085a", 100))
	var nest func(d int) attribute.Value
	nest = func(d int) attribute.Value {
		if d == 0 {
			return leaf
		}
		kvs := make([]attribute.KeyValue, 12)
		for i := range kvs {
			kvs[i] = attribute.KeyValue{Key: attribute.Key(fmt.Sprint("k", i)), Value: nest(d - 1)}
		}
		return attribute.MapValue(kvs...)
	}
	attrs := make([]attribute.KeyValue, 10)
	for i := range attrs {
		attrs[i] = attribute.KeyValue{Key: attribute.Key(fmt.Sprint("a", i)), Value: nest(3)}
	}
	rec := testsupport.SDKRecord(b, apiRecord(semconv.EventLoginFailed, attribute.StringValue("x"), attrs...))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r := rec.Clone()
		_ = l.OnEmit(ctx, &r)
	}
}

// loadResponseAttrs are the 12 attributes of the http.response.success
// record tools/load's secaudit mode emits (the exporter's
// BenchmarkAppendRecord/load_response encodes the same record): nothing in
// it is redacted, the common case. The request id is generated per
// request and the path, full URL and user agent come from the client.
func loadResponseAttrs() []attribute.KeyValue {
	return []attribute.KeyValue{
		semconv.AuditSchemaVersionKey.String(semconv.SchemaVersion),
		semconv.AuditActionKey.String(semconv.ActionResponse),
		semconv.AuditOutcomeKey.String(semconv.OutcomeSuccess),
		semconv.AuditRequestIDKey.String("32580eb61b230adbdc88ccd70f6065da"),
		semconv.ClientAddressKey.String("127.0.0.1"),
		semconv.NetworkPeerAddressKey.String("127.0.0.1"),
		semconv.HTTPRequestMethodKey.String("GET"),
		semconv.URLPathKey.String("/api/v1/items/42"),
		semconv.HTTPResponseStatusCodeKey.Int(200),
		semconv.URLFullKey.String("http://127.0.0.1:37657/api/v1/items/42"),
		semconv.AuditDurationKey.Int64(18925),
		semconv.UserAgentOriginalKey.String("secaudit-load/1.0"),
	}
}

// BenchmarkChainLoadResponse is the default chain (NewChain without
// options or environment) on the clean record of tools/load's loopback
// mode: what auditing every request costs in this package.
func BenchmarkChainLoadResponse(b *testing.B) {
	chain := mustChain(b, discard{})
	base := testsupport.SDKRecord(b, apiRecord(semconv.EventHTTPResponseSuccess,
		attribute.StringValue(semconv.BodyHTTPResponse), loadResponseAttrs()...))
	ctx := context.Background()
	r := new(sdklog.Record)
	b.ReportAllocs()
	for b.Loop() {
		*r = base
		_ = chain.OnEmit(ctx, r)
	}
}
