package spillreplay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"

	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/semconv"
)

// memExporter keeps what it is given; fail, when set, decides each
// Export's error from its 1-based number.
type memExporter struct {
	mu      sync.Mutex
	records []sdklog.Record
	calls   int
	fail    func(call int) error
}

func (e *memExporter) Export(_ context.Context, recs []sdklog.Record) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls++
	if e.fail != nil {
		if err := e.fail(e.calls); err != nil {
			return err
		}
	}
	for i := range recs {
		e.records = append(e.records, recs[i].Clone())
	}
	return nil
}
func (e *memExporter) Shutdown(context.Context) error   { return nil }
func (e *memExporter) ForceFlush(context.Context) error { return nil }

// lines encodes records as the JSONL exporter does, a line each.
func lines(recs []sdklog.Record) []string {
	out := make([]string, len(recs))
	for i := range recs {
		out[i] = strings.TrimSuffix(string(exporter.AppendRecord(nil, &recs[i], 0)), "\n")
	}
	return out
}

// spillRecords are records of two services and two scopes, with and
// without a span, and attribute values of every kind the envelope holds.
func spillRecords(t *testing.T, n int) []sdklog.Record {
	t.Helper()
	mem := &memExporter{}
	var providers []*sdklog.LoggerProvider
	for _, svc := range []string{"shop", "billing"} {
		providers = append(providers, sdklog.NewLoggerProvider(
			sdklog.WithResource(resource.NewSchemaless(semconv.ServiceNameKey.String(svc), attribute.Int("replica", 2))),
			sdklog.WithProcessor(sdklog.NewSimpleProcessor(mem)),
			sdklog.WithAllowKeyDuplication(),
		))
	}
	defer func() {
		for _, p := range providers {
			_ = p.Shutdown(context.Background())
		}
	}()
	base := time.Date(2026, 11, 22, 12, 0, 0, 123456789, time.UTC)
	for i := range n {
		logger := providers[i%2].Logger("github.com/secaudit/secaudit", log.WithInstrumentationVersion("0.1.0"))
		if i%3 == 0 {
			logger = providers[i%2].Logger("go.opentelemetry.io/contrib/bridges/otelslog")
		}
		var r log.Record
		r.SetTimestamp(base.Add(time.Duration(i) * time.Millisecond))
		r.SetObservedTimestamp(base.Add(time.Duration(i)*time.Millisecond + time.Microsecond))
		r.SetEventName(semconv.EventLoginFailed)
		r.SetSeverity(semconv.SeverityWarning)
		if i%4 != 0 {
			r.SetSeverityText("WARNING")
			r.SetBody(attribute.StringValue("auth.login"))
		}
		r.AddAttributes(
			semconv.AuditSchemaVersionKey.String(semconv.SchemaVersion),
			semconv.AuditRequestIDKey.String(fmt.Sprintf("%032x", i)),
			semconv.HTTPResponseStatusCodeKey.Int(401),
			semconv.AuditSampleRateKey.Float64(0.25),
			attribute.Float64("whole", 2),
			attribute.Float64("negzero", math.Copysign(0, -1)),
			attribute.Bool("ok", i%2 == 0),
			attribute.StringSlice("fields", []string{"nickname", "é\u0085\"<>"}),
			attribute.Int64Slice("codes", []int64{1, -2}),
			attribute.Slice("mixed", attribute.StringValue("a"), attribute.IntValue(1), attribute.MapValue(attribute.String("k", "v"))),
			attribute.Map("nested", attribute.String("z", "last"), attribute.Slice("a", attribute.BoolValue(true))),
			attribute.Slice("empty"),
			attribute.KeyValue{Key: "raw", Value: attribute.ByteSliceValue([]byte{0, 1, 0xff})},
		)
		ctx := context.Background()
		if i%2 == 1 {
			ctx = trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: trace.TraceID{1, byte(i)}, SpanID: trace.SpanID{2, byte(i)}, TraceFlags: trace.TraceFlags(i % 4 / 2),
			}))
		}
		logger.Emit(ctx, r)
	}
	if len(mem.records) != n {
		t.Fatalf("built %d records, want %d", len(mem.records), n)
	}
	return mem.records
}

var fast = settings{from: 1, batch: 4, timeout: time.Second, backoff: time.Millisecond}

// TestReplayRoundTrip: every replayed record encodes to exactly the line
// it was read from, so it carries the same timestamps, severity, body,
// event name, attributes, span, resource and scope.
func TestReplayRoundTrip(t *testing.T) {
	want := lines(spillRecords(t, 10))
	mem := &memExporter{}
	res, err := replay(context.Background(), strings.NewReader(strings.Join(want, "\n")+"\n"), mem, fast)
	if err != nil {
		t.Fatal(err)
	}
	if res.Lines != 10 || res.Sent != 10 || res.Bad != 0 || res.Resume != 0 {
		t.Fatalf("result %+v", res)
	}
	if mem.calls != 3 {
		t.Errorf("%d exports of batches of 4 for 10 records, want 3", mem.calls)
	}
	got := lines(mem.records)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}

// TestReplayRetriesAndResumes: a failing endpoint is retried; when it
// keeps failing past the timeout, the result says how many records were
// sent and the line to resume from, and resuming sends the rest once.
func TestReplayRetriesAndResumes(t *testing.T) {
	want := lines(spillRecords(t, 10))
	file := strings.Join(want, "\n") + "\n"
	errDown := errors.New("collector down")

	flaky := &memExporter{fail: func(call int) error {
		if call <= 2 {
			return errDown
		}
		return nil
	}}
	if res, err := replay(context.Background(), strings.NewReader(file), flaky, fast); err != nil || res.Sent != 10 {
		t.Fatalf("flaky endpoint: %+v, %v", res, err)
	}

	// Down for good from the second batch (lines 5-8).
	down := &memExporter{fail: func(call int) error {
		if call >= 2 {
			return errDown
		}
		return nil
	}}
	s := fast
	s.timeout = 20 * time.Millisecond
	res, err := replay(context.Background(), strings.NewReader(file), down, s)
	if !errors.Is(err, errDown) || res.Sent != 4 || res.Resume != 5 {
		t.Fatalf("endpoint down: %+v, %v; want 4 sent, resume at line 5", res, err)
	}
	rest := &memExporter{}
	s.from = res.Resume
	if res, err := replay(context.Background(), strings.NewReader(file), rest, s); err != nil || res.Sent != 6 {
		t.Fatalf("resumed: %+v, %v", res, err)
	}
	if got := append(lines(down.records), lines(rest.records)...); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Error("the two runs did not send every record exactly once, in order")
	}
}

// TestReplayBadLines: lines that are not spilled records are counted with
// their numbers and skipped; the records around them are sent.
func TestReplayBadLines(t *testing.T) {
	want := lines(spillRecords(t, 3))
	var b bytes.Buffer
	for _, l := range []string{want[0], "not json", `[1,2]`, `{"event_name":"x"}`, want[1], `{"timestamp":1,"event_name":"x","trace_id":"zz"}`, want[2]} {
		b.WriteString(l + "\n")
	}
	mem := &memExporter{}
	res, err := replay(context.Background(), &b, mem, fast)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 3 || res.Bad != 4 || fmt.Sprint(res.BadLines) != "[2 3 4 6]" {
		t.Fatalf("result %+v; want 3 sent, lines 2, 3, 4 and 6 bad", res)
	}
	if got := lines(mem.records); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("sent:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestReplayMalformedRecordLines: the exporter's malformed-record lines
// are records too. A full one replays as itself; one of the last resort,
// without resource or scope, replays under an empty resource.
func TestReplayMalformedRecordLines(t *testing.T) {
	rec := spillRecords(t, 1)[0]
	rec.SetBody(attribute.StringValue(strings.Repeat("x", 4096)))
	full := strings.TrimSuffix(string(exporter.AppendRecord(nil, &rec, 1024)), "\n")
	if !strings.Contains(full, `"event_name":"`+semconv.EventMalformedRecord+`"`) || !strings.Contains(full, `"resource":{`) {
		t.Fatalf("not a full malformed-record line: %s", full)
	}
	lastResort := `{"timestamp":1,"observed_timestamp":2,"severity_text":"ERROR","severity_number":17,` +
		`"body":"audit.logging.malformed_record","attributes":{"event_type":"audit.logging.malformed_record",` +
		`"schema_version":"1.0"},"event_name":"audit.logging.malformed_record"}`
	mem := &memExporter{}
	res, err := replay(context.Background(), strings.NewReader(full+"\n"+lastResort+"\n"), mem, fast)
	if err != nil || res.Sent != 2 || res.Bad != 0 {
		t.Fatalf("result %+v, %v", res, err)
	}
	if got := lines(mem.records[:1])[0]; got != full {
		t.Errorf("full malformed line:\n got %s\nwant %s", got, full)
	}
	last := mem.records[1]
	if last.EventName() != semconv.EventMalformedRecord || last.Resource().Len() != 0 || last.Timestamp() != time.Unix(0, 1) {
		t.Errorf("last-resort line replayed as %s", lines(mem.records[1:])[0])
	}
}

// TestReplayIgnoresEnvironment: the SDK merges OTEL_RESOURCE_ATTRIBUTES and
// OTEL_SERVICE_NAME into every resource it is given; the command clears
// them, so a replayed record keeps exactly the resource it was written
// with, also when the operator reuses the application's environment.
func TestReplayIgnoresEnvironment(t *testing.T) {
	want := lines(spillRecords(t, 4))
	want = append(want, `{"timestamp":1,"observed_timestamp":2,"severity_text":"ERROR","severity_number":17,`+
		`"body":"audit.logging.malformed_record","attributes":{"event_type":"audit.logging.malformed_record",`+
		`"schema_version":"1.0"},"event_name":"audit.logging.malformed_record"}`)
	t.Setenv("OTEL_SERVICE_NAME", "replayer")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod")
	mem := &memExporter{}
	if _, err := replay(context.Background(), strings.NewReader(strings.Join(want, "\n")), mem, fast); err != nil {
		t.Fatal(err)
	}
	got := lines(mem.records)
	for i := range want[:4] {
		if got[i] != want[i] {
			t.Errorf("record %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
	if n := mem.records[4].Resource().Len(); n != 0 {
		t.Errorf("a record written without a resource replayed with %d resource attributes", n)
	}
}

// TestReplayPartialSuccess: an endpoint that accepts a batch but rejects
// some of its records (OTLP partial success) has had it: it is reported,
// not sent again.
func TestReplayPartialSuccess(t *testing.T) {
	want := lines(spillRecords(t, 8))
	mem := &memExporter{fail: func(call int) error {
		if call == 1 {
			return errors.New("OTLP partial success: too old (2 logs rejected)")
		}
		return nil
	}}
	res, err := replay(context.Background(), strings.NewReader(strings.Join(want, "\n")), mem, fast)
	if err != nil || res.Sent != 8 || len(res.Partial) != 1 || mem.calls != 2 {
		t.Fatalf("result %+v, %v, %d exports; want 8 sent, one partial report, 2 exports", res, err, mem.calls)
	}
}

// errAfter reads r and then fails.
type errAfter struct{ r io.Reader }

func (e errAfter) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, errors.New("disk read error")
	}
	return n, err
}

// TestReplayReadErrorResume: a read error says to resume after the last
// line read, and never before -from.
func TestReplayReadErrorResume(t *testing.T) {
	want := lines(spillRecords(t, 3))
	file := strings.Join(want, "\n") + "\n"
	for _, from := range []int{1, 2, 9} {
		s := fast
		s.from = from
		res, err := replay(context.Background(), errAfter{strings.NewReader(file)}, &memExporter{}, s)
		if err == nil || res.Resume != max(4, from) {
			t.Errorf("-from %d: %+v, %v; want an error and resume at %d", from, res, err, max(4, from))
		}
	}
}
