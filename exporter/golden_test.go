package exporter_test

import (
	"bytes"
	"context"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/log/logtest"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"

	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/semconv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// secret is planted in records that must become malformed_record lines; it
// must never appear in their output.
const secret = "s3cr3t-original-content"

type goldenCase struct {
	name   string
	record func(t *testing.T) sdklog.Record
	max    int // maxRecordBytes; 0 = default
	// malformed: the line must be a malformed_record line without secret.
	malformed bool
}

func goldenCases() []goldenCase {
	return []goldenCase{
		{
			name: "info_success",
			record: func(*testing.T) sdklog.Record {
				attrs := append(clientErrorAttributes()[:0:0], clientErrorAttributes()...)
				attrs[2] = semconv.AuditOutcomeKey.String(semconv.OutcomeSuccess)
				attrs[4] = semconv.HTTPResponseStatusCodeKey.Int(200)
				return logtest.RecordFactory{
					EventName:            semconv.EventHTTPResponseSuccess,
					Timestamp:            fixedTime,
					ObservedTimestamp:    fixedObserved,
					Severity:             semconv.SeverityInfo,
					Body:                 attribute.StringValue(semconv.BodyHTTPResponse),
					Attributes:           attrs,
					Resource:             shopResource,
					InstrumentationScope: auditScope,
				}.NewRecord()
			},
		},
		{
			name: "client_error_trace",
			record: func(*testing.T) sdklog.Record {
				return clientErrorFactory().NewRecord()
			},
		},
		{
			name: "unsampled_trace_custom_severity_text",
			record: func(*testing.T) sdklog.Record {
				f := clientErrorFactory()
				f.EventName = semconv.EventLoginFailed
				f.Body = attribute.StringValue(semconv.EventLoginFailed)
				f.SeverityText = "WARN"
				f.TraceFlags = trace.FlagsRandom // not sampled
				f.Attributes = []attribute.KeyValue{
					semconv.AuditSchemaVersionKey.String(semconv.SchemaVersion),
					semconv.AuditActionKey.String(semconv.ActionLogin),
					semconv.AuditOutcomeKey.String(semconv.OutcomeFailure),
					semconv.AuditReasonKey.String("bad_password"),
				}
				return f.NewRecord()
			},
		},
		{
			name: "span_without_trace_id",
			record: func(*testing.T) sdklog.Record {
				f := clientErrorFactory()
				f.TraceID = trace.TraceID{}
				return f.NewRecord()
			},
		},
		{
			name: "nested_values",
			record: func(*testing.T) sdklog.Record {
				return logtest.RecordFactory{
					EventName:         semconv.EventModelUpdate,
					Timestamp:         fixedTime,
					ObservedTimestamp: fixedObserved,
					Severity:          semconv.SeverityInfo,
					Body: attribute.MapValue(
						attribute.String("kind", "model.event"),
						attribute.Int("version", 2),
					),
					Attributes: []attribute.KeyValue{
						semconv.AuditModelNameKey.String("account"),
						semconv.AuditModelIDKey.String("1"),
						semconv.AuditModelChangedFieldsKey.StringSlice([]string{"email", "display_name"}),
						attribute.Int64Slice("audit.test.ints", []int64{-1, 0, math.MaxInt64}),
						attribute.Float64Slice("audit.test.floats", []float64{0.1, 1e21, 1e-7, math.Copysign(0, -1), 3, 123456789.125, 5e-324, math.MaxFloat64}),
						attribute.BoolSlice("audit.test.bools", []bool{true, false}),
						attribute.ByteSlice("audit.test.bytes", []byte{0x00, 0xff, 'h', 'i'}),
						attribute.Bool("audit.test.bool", true),
						attribute.Float64("audit.test.float", 0.5),
						{Key: "audit.test.empty", Value: attribute.Value{}},
						attribute.Slice("audit.test.mixed",
							attribute.StringValue("a"),
							attribute.Int64Value(1),
							attribute.SliceValue(attribute.BoolValue(false)),
							attribute.MapValue(attribute.String("k", "v")),
							attribute.Value{},
						),
						attribute.Map(string(semconv.AuditRequestBodyKey),
							attribute.String("amount", "10.00"),
							attribute.Map("beneficiary",
								attribute.String("iban", "[REDACTED]"),
								attribute.StringSlice("tags", []string{"x", "y"}),
								attribute.Map("deeper", attribute.Int("level", 3)),
							),
							attribute.Slice("lines", attribute.MapValue(attribute.Int("n", 1))),
						),
						attribute.Map("audit.test.empty_map"),
						attribute.Slice("audit.test.empty_slice"),
					},
					Resource: resource.NewSchemaless(
						semconv.ServiceNameKey.String("shop"),
						attribute.Int("service.instance.number", 7),
						attribute.StringSlice("process.command_args", []string{"shop", "-addr", ":8080"}),
					),
					InstrumentationScope: &instrumentation.Scope{Name: "github.com/secaudit/secaudit/instrumentation"},
				}.NewRecord()
			},
		},
		{
			name: "unicode",
			record: func(*testing.T) sdklog.Record {
				f := clientErrorFactory()
				f.Attributes = []attribute.KeyValue{
					semconv.UserNameKey.String("Zoë Ångström 日本語 🔐"),
					attribute.String("audit.test.ключ", "значение"),
					attribute.String("audit.test.separators", "line\u2028para\u2029end"),
					attribute.String("audit.test.c1", "next\u0085line\u009b31m"),
					attribute.String("audit.test.bidi", "user\u202Etxt.exe"),
					attribute.String("audit.test.replacement", "already \uFFFD here"),
					attribute.String("audit.test.html", "<script>alert('&')</script>"),
				}
				f.Body = attribute.StringValue("résumé ✓")
				return f.NewRecord()
			},
		},
		{
			name: "invalid_utf8",
			record: func(*testing.T) sdklog.Record {
				f := clientErrorFactory()
				f.EventName = "security.suspicious_request\xff"
				f.Attributes = []attribute.KeyValue{
					semconv.UserAgentOriginalKey.String("bad\xff\xfebytes"),
					attribute.String("audit.test.truncated_sequence", "euro\xe2\x82"),
					attribute.String("audit.test.surrogate", "\xed\xa0\x80"),
					attribute.String("audit.test.overlong", "\xc0\xafslash"),
					attribute.String("audit.test.key\x80", "value"),
					attribute.StringSlice("audit.test.slice", []string{"ok", "\xff"}),
				}
				f.Body = attribute.StringValue("body\xf0\x9f")
				f.Resource = resource.NewSchemaless(semconv.ServiceNameKey.String("shop\xc3"))
				f.InstrumentationScope = &instrumentation.Scope{Name: "scope\xff", Version: "v\xfe"}
				return f.NewRecord()
			},
		},
		{
			// Keys that differ only in invalid bytes are written alike
			// ("\ufffd"); only the last of them may appear in an object.
			name: "invalid_utf8_key_collision",
			record: func(*testing.T) sdklog.Record {
				f := clientErrorFactory()
				f.Attributes = []attribute.KeyValue{
					attribute.String("audit.test.\xff", "first"),
					attribute.String("audit.test.\uFFFD", "second"),
					attribute.String("audit.test.ok", "kept"),
					attribute.String("audit.test.\xfe", "last"),
					attribute.Map("audit.test.map",
						attribute.Int("\xc3", 1),
						attribute.Int("\xed", 2),
					),
				}
				f.Resource = resource.NewSchemaless(
					semconv.ServiceNameKey.String("shop"),
					attribute.String("host.\xff", "a"),
					attribute.String("host.\xfe", "b"),
				)
				return f.NewRecord()
			},
		},
		{
			name: "control_characters",
			record: func(*testing.T) sdklog.Record {
				f := clientErrorFactory()
				f.Attributes = []attribute.KeyValue{
					semconv.URLPathKey.String("/login\r\nX-Injected: 1"),
					semconv.UserAgentOriginalKey.String("tab\there\x00nul\x1b[31mred\x7fdel\x08bs\x0cff"),
					attribute.String("audit.test.quotes", `say "hi" \ bye`),
					attribute.String("audit.test.forged_line", "x\"}\n{\"event_name\":\"auth.login.success\"}"),
					attribute.String("audit.test.key\nwith\tcontrols", "v"),
				}
				f.Body = attribute.StringValue("line1\nline2")
				return f.NewRecord()
			},
		},
		{
			name: "duplicate_keys",
			record: func(t *testing.T) sdklog.Record {
				var rec log.Record
				rec.SetEventName(semconv.EventLoginSuccess)
				rec.SetTimestamp(fixedTime)
				rec.SetObservedTimestamp(fixedObserved)
				rec.SetSeverity(semconv.SeverityInfo)
				rec.SetBody(attribute.MapValue(
					attribute.String("dup", "first"),
					attribute.String("dup", "last"),
				))
				rec.AddAttributes(
					semconv.UserIDKey.String("first"),
					semconv.AuditSchemaVersionKey.String("1.0"),
					attribute.String(semconv.EnvelopeEventTypeKey, "forged.event"),
					attribute.String(semconv.EnvelopeSchemaVersionKey, "9.9"),
					attribute.Map("audit.test.map",
						attribute.String("k", "first"),
						attribute.String("other", "kept"),
						attribute.String("k", "last"),
					),
					semconv.UserIDKey.String("last"),
					semconv.AuditSchemaVersionKey.String("1.1"),
				)
				return emitDuplicating(t, context.Background(), rec)
			},
		},
		{
			name: "real_span_context",
			record: func(t *testing.T) sdklog.Record {
				sc := trace.NewSpanContext(trace.SpanContextConfig{
					TraceID:    fixedTraceID,
					SpanID:     fixedSpanID,
					TraceFlags: trace.FlagsSampled,
					Remote:     true,
				})
				ctx := trace.ContextWithSpanContext(context.Background(), sc)
				var rec log.Record
				rec.SetEventName(semconv.EventAuthzDenied)
				rec.SetTimestamp(fixedTime)
				rec.SetObservedTimestamp(fixedObserved)
				rec.SetSeverity(semconv.SeverityWarning)
				rec.SetBody(attribute.StringValue(semconv.EventAuthzDenied))
				rec.AddAttributes(semconv.UserIDKey.String("2"))
				return emitDuplicating(t, ctx, rec)
			},
		},
		{
			name: "empty_record",
			record: func(*testing.T) sdklog.Record {
				return logtest.RecordFactory{}.NewRecord()
			},
		},
		{
			name: "observed_only",
			record: func(*testing.T) sdklog.Record {
				return logtest.RecordFactory{
					EventName:         semconv.EventRateLimited,
					ObservedTimestamp: fixedObserved,
					Severity:          semconv.SeverityCritical,
				}.NewRecord()
			},
		},
		{
			name:      "oversize",
			malformed: true,
			record: func(*testing.T) sdklog.Record {
				f := clientErrorFactory()
				f.Attributes = append(f.Attributes, attribute.String("audit.test.huge", strings.Repeat(secret, 20000)))
				return f.NewRecord()
			},
		},
		{
			name:      "oversize_minimal",
			malformed: true,
			max:       exporter.MinMaxRecordBytes,
			record: func(*testing.T) sdklog.Record {
				f := clientErrorFactory()
				f.Resource = resource.NewSchemaless(
					semconv.ServiceNameKey.String("shop"),
					attribute.String("host.name", strings.Repeat("h", 2000)),
				)
				f.Attributes = append(f.Attributes, attribute.String("audit.test.huge", strings.Repeat(secret, 100)))
				return f.NewRecord()
			},
		},
		{
			name:      "oversize_last_resort",
			malformed: true,
			max:       exporter.MinMaxRecordBytes,
			record: func(*testing.T) sdklog.Record {
				f := clientErrorFactory()
				f.Resource = resource.NewSchemaless(semconv.ServiceNameKey.String(strings.Repeat("\x01", 300)))
				f.Attributes = append(f.Attributes, attribute.String("audit.test.huge", strings.Repeat(secret, 100)))
				return f.NewRecord()
			},
		},
		{
			name:      "nan",
			malformed: true,
			record: func(*testing.T) sdklog.Record {
				f := clientErrorFactory()
				f.Attributes = append(f.Attributes,
					attribute.String("audit.test.secret", secret),
					attribute.Float64("audit.test.nan", math.NaN()),
				)
				return f.NewRecord()
			},
		},
		{
			name:      "inf_in_body",
			malformed: true,
			record: func(*testing.T) sdklog.Record {
				f := clientErrorFactory()
				f.Body = attribute.SliceValue(attribute.StringValue(secret), attribute.Float64Value(math.Inf(-1)))
				f.Attributes = append(f.Attributes, semconv.AuditSchemaVersionKey.String("1.7"))
				return f.NewRecord()
			},
		},
		{
			name:      "nan_in_resource",
			malformed: true,
			record: func(*testing.T) sdklog.Record {
				f := clientErrorFactory()
				f.Resource = resource.NewSchemaless(
					semconv.ServiceNameKey.String("shop"),
					attribute.Float64("host.load", math.Inf(1)),
				)
				f.Attributes = append(f.Attributes, attribute.String("audit.test.secret", secret))
				return f.NewRecord()
			},
		},
	}
}

func TestEnvelopeGolden(t *testing.T) {
	for _, tt := range goldenCases() {
		t.Run(tt.name, func(t *testing.T) {
			rec := tt.record(t)
			max := tt.max
			if max == 0 {
				max = exporter.DefaultMaxRecordBytes
			}
			got := exporter.AppendRecord(nil, &rec, max)

			env := checkLine(t, got)
			if len(got)-1 > max {
				t.Errorf("line is %d bytes, limit %d", len(got)-1, max)
			}
			isMalformed := env.EventName == semconv.EventMalformedRecord
			if isMalformed != tt.malformed {
				t.Errorf("malformed = %v, want %v: %s", isMalformed, tt.malformed, got)
			}
			if tt.malformed {
				checkMalformed(t, got, env)
			}

			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("line differs from %s\ngot:  %s\nwant: %s", path, got, want)
			}
		})
	}
}

// checkMalformed verifies a malformed_record line: fixed event, body and
// severity, no trace fields, no original content.
func checkMalformed(t *testing.T, line []byte, env envelope) {
	t.Helper()
	if bytes.Contains(line, []byte(secret)) || bytes.Contains(line, []byte("s3cr3t")) {
		t.Errorf("malformed_record line leaks original content: %s", line)
	}
	if env.Body != semconv.BodyMalformedRecord || env.SeverityText != semconv.SeverityTextError ||
		env.SeverityNumber != int(semconv.SeverityError) {
		t.Errorf("malformed_record line has body %v, severity %q/%d", env.Body, env.SeverityText, env.SeverityNumber)
	}
	if env.TraceID != nil || env.SpanID != nil || env.TraceFlags != nil {
		t.Errorf("malformed_record line carries trace fields: %s", line)
	}
	if len(env.Attributes) != 2 {
		t.Errorf("malformed_record attributes = %v, want only event_type and schema_version", env.Attributes)
	}
	if env.Timestamp != fixedTime.UnixNano() || env.ObservedTimestamp != fixedObserved.UnixNano() {
		t.Errorf("malformed_record timestamps = %d/%d, want the record's", env.Timestamp, env.ObservedTimestamp)
	}
}
