package exporter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/log/logtest"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"

	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

var (
	fixedTime     = time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	fixedObserved = fixedTime.Add(1500 * time.Microsecond)

	shopResource = resource.NewSchemaless(
		semconv.ServiceNameKey.String("shop"),
		attribute.String("service.version", "1.4.2"),
		attribute.String("deployment.environment.name", "production"),
	)
	auditScope = &instrumentation.Scope{Name: "github.com/secaudit/secaudit", Version: "0.1.0"}

	fixedTraceID = trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	fixedSpanID  = trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
)

// clientErrorAttributes are the 12 attributes of a realistic
// http.response.client_error event.
func clientErrorAttributes() []attribute.KeyValue {
	return []attribute.KeyValue{
		semconv.AuditSchemaVersionKey.String(semconv.SchemaVersion),
		semconv.AuditRequestIDKey.String("8f14e45fceea167a5a36dedd4bea2543"),
		semconv.AuditOutcomeKey.String(semconv.OutcomeFailure),
		semconv.HTTPRequestMethodKey.String("GET"),
		semconv.HTTPResponseStatusCodeKey.Int(403),
		semconv.HTTPRouteKey.String("/api/accounts/{id}"),
		semconv.URLPathKey.String("/api/accounts/2"),
		semconv.ClientAddressKey.String("203.0.113.7"),
		semconv.NetworkPeerAddressKey.String("10.0.0.12"),
		semconv.UserAgentOriginalKey.String("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
		semconv.UserIDKey.String("1"),
		semconv.AuditDurationKey.Int64(1843211),
	}
}

// clientErrorFactory builds a realistic client_error record with a trace.
func clientErrorFactory() logtest.RecordFactory {
	return logtest.RecordFactory{
		EventName:            semconv.EventHTTPResponseClientError,
		Timestamp:            fixedTime,
		ObservedTimestamp:    fixedObserved,
		Severity:             semconv.SeverityWarning,
		Body:                 attribute.StringValue(semconv.BodyHTTPResponse),
		Attributes:           clientErrorAttributes(),
		TraceID:              fixedTraceID,
		SpanID:               fixedSpanID,
		TraceFlags:           trace.FlagsSampled,
		Resource:             shopResource,
		InstrumentationScope: auditScope,
	}
}

// emitDuplicating sends rec through a real LoggerProvider built with
// WithAllowKeyDuplication (as secaudit's setup builds it), so duplicate keys
// survive to the exporter, and returns the SDK record.
func emitDuplicating(t testing.TB, ctx context.Context, rec log.Record) sdklog.Record {
	t.Helper()
	capture := &testsupport.Capture{}
	provider := sdklog.NewLoggerProvider(
		sdklog.WithAllowKeyDuplication(),
		sdklog.WithResource(shopResource),
		sdklog.WithProcessor(capture),
	)
	provider.Logger(auditScope.Name, log.WithInstrumentationVersion(auditScope.Version)).Emit(ctx, rec)
	if err := provider.Shutdown(context.Background()); err != nil {
		t.Fatalf("provider shutdown: %v", err)
	}
	return capture.Only(t)
}

// envelope is the decoded shape of a line, for assertions.
type envelope struct {
	Timestamp         int64          `json:"timestamp"`
	ObservedTimestamp int64          `json:"observed_timestamp"`
	SeverityText      string         `json:"severity_text"`
	SeverityNumber    int            `json:"severity_number"`
	Body              any            `json:"body"`
	Resource          map[string]any `json:"resource"`
	Scope             *struct {
		Name    string  `json:"name"`
		Version *string `json:"version"`
	} `json:"instrumentation_scope"`
	Attributes map[string]any `json:"attributes"`
	EventName  string         `json:"event_name"`
	TraceID    *string        `json:"trace_id"`
	SpanID     *string        `json:"span_id"`
	TraceFlags *int           `json:"trace_flags"`
}

// envelopeKeys is the top-level key order every line must follow; optional
// keys may be missing but never reordered.
var envelopeKeys = []string{
	"timestamp", "observed_timestamp", "severity_text", "severity_number", "body",
	"resource", "instrumentation_scope", "attributes", "event_name",
	"trace_id", "span_id", "trace_flags",
	"seq", "prev_hash", // WithChain only
}

// checkLine verifies the guarantees of one line: a single '\n' at the end,
// valid UTF-8, valid JSON, no duplicate keys at any level, the envelope key
// order, and event_name == attributes.event_type. It returns the decoded
// envelope.
func checkLine(t testing.TB, line []byte) envelope {
	t.Helper()
	if len(line) == 0 || line[len(line)-1] != '\n' {
		t.Fatalf("line does not end with a newline: %q", line)
	}
	if i := bytes.IndexByte(line, '\n'); i != len(line)-1 {
		t.Fatalf("line has a newline at %d of %d: %q", i, len(line), line)
	}
	if !utf8.Valid(line) {
		t.Fatalf("line is not valid UTF-8: %q", line)
	}
	if !json.Valid(line) {
		t.Fatalf("line is not valid JSON: %q", line)
	}
	keys, err := objectStructure(line)
	if err != nil {
		t.Fatalf("%v: %q", err, line)
	}
	if err := inOrder(keys, envelopeKeys); err != nil {
		t.Fatalf("%v: %q", err, line)
	}
	var env envelope
	if err := json.Unmarshal(line, &env); err != nil {
		t.Fatalf("unmarshal: %v: %q", err, line)
	}
	if got := env.Attributes[semconv.EnvelopeEventTypeKey]; got != env.EventName {
		t.Fatalf("attributes.event_type = %#v, event_name = %q: %q", got, env.EventName, line)
	}
	if _, ok := env.Attributes[semconv.EnvelopeSchemaVersionKey].(string); !ok {
		t.Fatalf("attributes.schema_version missing or not a string: %q", line)
	}
	return env
}

// objectStructure walks a JSON document, fails on a duplicate key in any
// object, and returns the top-level keys in order.
func objectStructure(data []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		object  bool
		keys    map[string]bool
		wantKey bool
	}
	var stack []*frame
	var top []string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return top, nil
		}
		if err != nil {
			return nil, err
		}
		var cur *frame
		if len(stack) > 0 {
			cur = stack[len(stack)-1]
		}
		if cur != nil && cur.object && cur.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			key := tok.(string)
			if cur.keys[key] {
				return nil, fmt.Errorf("duplicate key %q", key)
			}
			cur.keys[key] = true
			if len(stack) == 1 {
				top = append(top, key)
			}
			cur.wantKey = false
			continue
		}
		if cur != nil && cur.object {
			cur.wantKey = true // this token is the member's value (or opens it)
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, &frame{object: true, keys: map[string]bool{}, wantKey: true})
			case '[':
				stack = append(stack, &frame{})
			case ']':
				stack = stack[:len(stack)-1]
			}
		}
	}
}

// inOrder reports an error unless keys is a subsequence of order.
func inOrder(keys, order []string) error {
	j := 0
	for _, k := range keys {
		for j < len(order) && order[j] != k {
			j++
		}
		if j == len(order) {
			return fmt.Errorf("top-level keys %q not in envelope order %q", keys, order)
		}
		j++
	}
	return nil
}
