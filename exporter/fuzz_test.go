package exporter_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"

	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// validUTF8 is s with every invalid byte replaced by U+FFFD, which is what
// a line must carry for s.
func validUTF8(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

// FuzzAppendRecord feeds arbitrary strings, bytes, integers and floats as
// event name, body, resource, scope, attribute keys and values (nested maps
// and slices, duplicate and envelope-owned keys included) through a real
// LoggerProvider built WithAllowKeyDuplication, and checks every line
// AppendRecord writes: one line, valid UTF-8 JSON, no duplicate keys,
// envelope key order, event_name == attributes.event_type, within the limit.
func FuzzAppendRecord(f *testing.F) {
	f.Add("http.response.client_error", "http.response", "user.id", "1", []byte("raw"), int64(403), 0.25, "audit.request.body", uint16(0))
	f.Add("auth.login.failed", "", "", "", []byte{}, int64(0), 0.0, "", uint16(1))
	f.Add("événement 🔐", "résumé\u2028", "ключ", "日本語", []byte{0xff}, int64(-1), math.Copysign(0, -1), "map\u0085", uint16(500))
	f.Add("bad\xff", "body\xc3", "k\x80", "\xed\xa0\x80", []byte{0xc0, 0xaf}, int64(math.MinInt64), 1e-7, "n\xfe", uint16(65535))
	f.Add("line\nbreak", "\x00\x1b[31m\x7f", "k\r\n", "\"}\n{\"event_name\":\"forged\"}", []byte("\n"), int64(math.MaxInt64), 1e21, "\t", uint16(2))
	f.Add("nan", "b", "k", "v", []byte(nil), int64(3), math.NaN(), "m", uint16(3))
	f.Add("inf", "b", "k", "v", []byte(nil), int64(6), math.Inf(1), "m", uint16(4))
	f.Add("neg-inf", "b", semconv.EnvelopeEventTypeKey, "forged.event", []byte(nil), int64(9), math.Inf(-1), semconv.EnvelopeSchemaVersionKey, uint16(5))
	f.Add("huge", strings.Repeat("b", 3000), "k", strings.Repeat("\x01", 2000), []byte(strings.Repeat("x", 900)), int64(12), 1.5, "m", uint16(0))
	f.Add(semconv.EventMalformedRecord, semconv.BodyMalformedRecord, string(semconv.AuditSchemaVersionKey), strings.Repeat("9", 65), []byte("x"), int64(15), 2.0, "m", uint16(7))

	f.Fuzz(func(t *testing.T, event, body, key, value string, raw []byte, n int64, x float64, nestedKey string, limitSeed uint16) {
		maxRecordBytes := exporter.MinMaxRecordBytes + int(limitSeed)
		rec := fuzzRecord(t, event, body, key, value, raw, n, x, nestedKey)

		line := exporter.AppendRecord(nil, &rec, maxRecordBytes)
		env := checkLine(t, line)
		if len(line)-1 > maxRecordBytes {
			t.Fatalf("line of %d bytes exceeds the limit %d", len(line)-1, maxRecordBytes)
		}

		if env.EventName == semconv.EventMalformedRecord {
			if event == semconv.EventMalformedRecord {
				return // a record that names itself malformed_record: indistinguishable
			}
			if len(env.Attributes) != 2 || env.Body != semconv.BodyMalformedRecord || env.TraceID != nil {
				t.Fatalf("malformed_record line carries original content: %s", line)
			}
			return
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			t.Fatalf("record with a non-finite float was not replaced: %s", line)
		}
		if want := validUTF8(event); env.EventName != want {
			t.Fatalf("event_name = %q, want %q", env.EventName, want)
		}
		if (env.TraceID != nil) != (n%3 == 0) {
			t.Fatalf("trace fields present = %v for n=%d: %s", env.TraceID != nil, n, line)
		}
	})
}

// fuzzRecord builds an SDK record from fuzz input through a real provider
// that keeps duplicate keys.
func fuzzRecord(t *testing.T, event, body, key, value string, raw []byte, n int64, x float64, nestedKey string) sdklog.Record {
	var rec log.Record
	rec.SetEventName(event)
	rec.SetTimestamp(fixedTime)
	rec.SetObservedTimestamp(fixedObserved)
	rec.SetSeverity(log.Severity(n & 0x1f))
	if n%2 == 0 {
		rec.SetSeverityText(value)
		rec.SetBody(attribute.StringValue(body))
	} else {
		rec.SetBody(attribute.MapValue(
			attribute.String(body, value),
			attribute.Int64(body, n),
			attribute.Float64(key, x),
		))
	}
	rec.AddAttributes(
		attribute.String(key, value),
		attribute.ByteSlice(key+".raw", raw),
		attribute.Int64(nestedKey, n),
		attribute.String(semconv.EnvelopeEventTypeKey, value),
		semconv.AuditSchemaVersionKey.String(value),
		attribute.Map(nestedKey,
			attribute.String(key, value),
			attribute.String(key, body),
			attribute.Slice(nestedKey,
				attribute.StringValue(body),
				attribute.Int64Value(n),
				attribute.ByteSliceValue(raw),
				attribute.MapValue(attribute.Float64(key, x), attribute.Map(value, attribute.String(body, event))),
				attribute.Value{},
			),
			attribute.StringSlice(value, []string{key, body, event}),
		),
		attribute.String(key, body), // duplicate key at the top level
		attribute.Float64("audit.test.float", x),
	)

	ctx := context.Background()
	if n%3 == 0 {
		ctx = trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: fixedTraceID, SpanID: fixedSpanID, TraceFlags: trace.TraceFlags(n),
		}))
	}
	capture := &testsupport.Capture{}
	provider := sdklog.NewLoggerProvider(
		sdklog.WithAllowKeyDuplication(),
		sdklog.WithResource(resource.NewSchemaless(
			semconv.ServiceNameKey.String(value),
			attribute.String(nestedKey, body),
			attribute.Float64("host.load", x),
		)),
		sdklog.WithProcessor(capture),
	)
	provider.Logger(key, log.WithInstrumentationVersion(body)).Emit(ctx, rec)
	return capture.Only(t)
}
