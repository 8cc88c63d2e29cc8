package exporter_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/semconv"
)

func TestAppendRecordKeepsPrefix(t *testing.T) {
	rec := clientErrorFactory().NewRecord()
	dst := []byte("earlier line\n")
	got := exporter.AppendRecord(dst, &rec, 0)
	if !strings.HasPrefix(string(got), "earlier line\n{") {
		t.Fatalf("prefix lost: %q", got)
	}
	checkLine(t, got[len("earlier line\n"):])
}

func TestAppendRecordNil(t *testing.T) {
	if got := exporter.AppendRecord([]byte("x"), nil, 0); string(got) != "x" {
		t.Fatalf("AppendRecord(nil record) = %q, want the input unchanged", got)
	}
}

// TestAppendRecordLimitBoundary: a line of exactly maxRecordBytes is kept;
// one byte more becomes a malformed_record line, for several limits.
func TestAppendRecordLimitBoundary(t *testing.T) {
	for _, limit := range []int{exporter.MinMaxRecordBytes, 4096, exporter.DefaultMaxRecordBytes} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			withPad := func(n int) sdklog.Record {
				f := clientErrorFactory()
				f.Attributes = []attribute.KeyValue{attribute.String("audit.test.pad", strings.Repeat("p", n))}
				return f.NewRecord()
			}
			base := withPad(0)
			baseLen := len(exporter.AppendRecord(nil, &base, limit)) - 1
			if baseLen >= limit {
				t.Fatalf("base line of %d bytes does not fit %d", baseLen, limit)
			}

			exact := withPad(limit - baseLen)
			line := exporter.AppendRecord(nil, &exact, limit)
			env := checkLine(t, line)
			if len(line)-1 != limit || env.EventName != semconv.EventHTTPResponseClientError {
				t.Errorf("line of exactly %d bytes: got %d bytes, event %q", limit, len(line)-1, env.EventName)
			}

			over := withPad(limit - baseLen + 1)
			line = exporter.AppendRecord(nil, &over, limit)
			env = checkLine(t, line)
			if env.EventName != semconv.EventMalformedRecord || len(line)-1 > limit {
				t.Errorf("line of %d bytes: got event %q, %d bytes", limit+1, env.EventName, len(line)-1)
			}
		})
	}
}

// TestAppendRecordFallbackSchemaVersion: a malformed_record line carries the
// record's schema version only when it is at most 64 bytes.
func TestAppendRecordFallbackSchemaVersion(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{give: "1.1", want: "1.1"},
		{give: strings.Repeat("v", 64), want: strings.Repeat("v", 64)},
		{give: strings.Repeat("v", 65), want: semconv.SchemaVersion},
	}
	for _, tt := range tests {
		f := clientErrorFactory()
		f.Attributes = []attribute.KeyValue{
			semconv.AuditSchemaVersionKey.String(tt.give),
			attribute.String("audit.test.huge", strings.Repeat(secret, 100)),
		}
		rec := f.NewRecord()
		env := checkLine(t, exporter.AppendRecord(nil, &rec, exporter.MinMaxRecordBytes))
		if env.EventName != semconv.EventMalformedRecord {
			t.Fatalf("event %q, want malformed_record", env.EventName)
		}
		if got := env.Attributes[semconv.EnvelopeSchemaVersionKey]; got != tt.want {
			t.Errorf("schema_version %q → %q, want %q", tt.give, got, tt.want)
		}
	}
}

// TestAppendRecordManyAttributes covers records past the inline attribute
// array and the pairwise de-duplication (the map path), with duplicates.
func TestAppendRecordManyAttributes(t *testing.T) {
	for _, n := range []int{31, 32, 33, 128, 300} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var rec log.Record
			rec.SetEventName(semconv.EventSuspiciousRequest)
			rec.SetTimestamp(fixedTime)
			rec.SetObservedTimestamp(fixedObserved)
			for i := range n {
				rec.AddAttributes(attribute.Int(fmt.Sprintf("audit.test.k%d", i%40), i))
			}
			sdkRec := emitDuplicating(t, context.Background(), rec)
			env := checkLine(t, exporter.AppendRecord(nil, &sdkRec, 0))
			// The SDK keeps the first 128 attributes (its default count limit).
			n := min(n, 128)
			if got := sdkRec.AttributesLen(); got != n {
				t.Fatalf("record holds %d attributes, want %d", got, n)
			}
			distinct := min(n, 40)
			if got := len(env.Attributes) - 2; got != distinct {
				t.Errorf("%d attributes written, want %d distinct keys", got, distinct)
			}
			for k := range distinct {
				key := fmt.Sprintf("audit.test.k%d", k)
				last := k + (n-1-k)/40*40 // the last i with i%40 == k
				if got := env.Attributes[key]; got != float64(last) {
					t.Errorf("%s = %v, want the last value %d", key, got, last)
				}
			}
		})
	}
}
