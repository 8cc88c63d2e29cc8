package spillreplay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"

	"github.com/secaudit/secaudit/semconv"
)

// settings are the command's flags.
type settings struct {
	from    int           // first line to replay, 1-based
	batch   int           // records per Export
	timeout time.Duration // how long a batch is retried after its first failure
	backoff time.Duration // first wait between retries; doubles up to maxBackoff
}

const maxBackoff = 5 * time.Second

// maxLine bounds one line of the file; the JSONL exporter's records are
// far smaller (256 KiB by default).
const maxLine = 16 << 20

// maxBadLines is how many line numbers of bad lines a result keeps.
const maxBadLines = 20

// result is what a replay did.
type result struct {
	Lines    int   // lines read, from the first line replayed
	Sent     int   // records the exporter accepted
	Bad      int   // lines that are not records
	BadLines []int // the first of them
	// Resume is the line to replay from when the command gave up on a
	// batch (0 when every record was sent).
	Resume int
	// Partial has the endpoint's reports of batches it accepted with some
	// records rejected (counted in Sent: they are not sent again).
	Partial []string
}

// replay reads spill lines from r and exports them to exp in batches.
// A replayed record keeps the resource it was written with, so replay
// first unsets the variables the SDK would merge into every resource
// (clearResourceEnv): an operator who reuses the application's environment
// for the endpoint brings them along.
func replay(ctx context.Context, r io.Reader, exp sdklog.Exporter, s settings) (result, error) {
	clearResourceEnv()
	var res result
	rp := newReplayer()
	defer rp.shutdown()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	line, first := 0, 0 // first: the line of the batch's first record
	flush := func() error {
		if len(rp.batch) == 0 {
			return nil
		}
		if err := send(ctx, exp, rp.batch, s); err != nil {
			var partial *partialError
			if !errors.As(err, &partial) {
				res.Resume = first
				return err
			}
			res.Partial = append(res.Partial, partial.Error())
		}
		res.Sent += len(rp.batch)
		rp.reset()
		return nil
	}
	for sc.Scan() {
		line++
		if line < s.from || len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		res.Lines++
		if err := rp.emit(sc.Bytes()); err != nil {
			res.Bad++
			if len(res.BadLines) < maxBadLines {
				res.BadLines = append(res.BadLines, line)
			}
			continue
		}
		if len(rp.batch) == 1 {
			first = line
		}
		if len(rp.batch) >= s.batch {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		if ferr := flush(); ferr != nil {
			return res, errors.Join(err, ferr)
		}
		res.Resume = max(line+1, s.from)
		return res, fmt.Errorf("reading line %d: %w", line+1, err)
	}
	return res, flush()
}

// send exports batch, retrying with back-off until s.timeout after the
// first failure or until ctx ends.
func send(ctx context.Context, exp sdklog.Exporter, batch []sdklog.Record, s settings) error {
	var deadline time.Time
	wait := s.backoff
	for {
		err := exp.Export(ctx, batch)
		if err == nil {
			return nil
		}
		if isPartialSuccess(err) {
			// The endpoint took the batch and rejected some of it (too
			// old, say): sending it again would duplicate the rest.
			return &partialError{err}
		}
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(s.timeout)
		}
		if errors.Is(err, sdklog.ErrExporterShutdown) || now.Add(wait).After(deadline) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, maxBackoff)
	}
}

// isPartialSuccess reports whether err is otlploghttp's report of an
// export the endpoint accepted in part (a 2xx response naming rejected
// records). The exporter does not export its type, so the text is all
// there is to go by.
func isPartialSuccess(err error) bool {
	return strings.Contains(err.Error(), "OTLP partial success")
}

// partialError is a batch the endpoint accepted with some records
// rejected: sent, not to be sent again, and reported.
type partialError struct{ err error }

func (e *partialError) Error() string { return e.err.Error() }
func (e *partialError) Unwrap() error { return e.err }

// replayer turns lines into SDK records: one LoggerProvider per resource,
// one Logger per scope, each emitting into the batch being built.
type replayer struct {
	batch     []sdklog.Record
	providers map[string]*sdklog.LoggerProvider
	loggers   map[scopeKey]log.Logger
}

// scopeKey names a logger: the resource's raw JSON and the scope.
type scopeKey struct{ resource, name, version string }

func newReplayer() *replayer {
	return &replayer{providers: map[string]*sdklog.LoggerProvider{}, loggers: map[scopeKey]log.Logger{}}
}

func (rp *replayer) reset() { clear(rp.batch); rp.batch = rp.batch[:0] }

func (rp *replayer) shutdown() {
	for _, p := range rp.providers {
		_ = p.Shutdown(context.Background())
	}
}

// collector is the providers' only processor: it keeps what is emitted.
type collector struct{ rp *replayer }

func (c collector) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (c collector) OnEmit(_ context.Context, r *sdklog.Record) error {
	c.rp.batch = append(c.rp.batch, r.Clone())
	return nil
}
func (collector) Shutdown(context.Context) error   { return nil }
func (collector) ForceFlush(context.Context) error { return nil }

// logger returns the logger for a resource and scope, given as the raw
// JSON of the line (identical origins encode identically).
func (rp *replayer) logger(resRaw []byte, res []member, scope []member) log.Logger {
	provider, ok := rp.providers[string(resRaw)]
	if !ok {
		attrs := make([]attribute.KeyValue, 0, len(res))
		for _, m := range res {
			attrs = append(attrs, attribute.KeyValue{Key: attribute.Key(m.key), Value: toValue(m.val)})
		}
		provider = sdklog.NewLoggerProvider(
			sdklog.WithResource(resource.NewSchemaless(attrs...)),
			sdklog.WithProcessor(collector{rp}),
			sdklog.WithAllowKeyDuplication(),
			sdklog.WithAttributeCountLimit(-1),
			sdklog.WithAttributeValueLengthLimit(-1),
		)
		rp.providers[string(resRaw)] = provider
	}
	var name, version string
	for _, m := range scope {
		s, _ := m.val.(string)
		switch m.key {
		case "name":
			name = s
		case "version":
			version = s
		}
	}
	key := scopeKey{string(resRaw), name, version}
	l, ok := rp.loggers[key]
	if !ok {
		l = provider.Logger(name, log.WithInstrumentationVersion(version))
		rp.loggers[key] = l
	}
	return l
}

// emit parses one line and emits its record into the batch.
func (rp *replayer) emit(line []byte) error {
	top, resRaw, err := parseLine(line)
	if err != nil {
		return err
	}
	var (
		rec      log.Record
		res      []member
		scope    []member
		tid      trace.TraceID
		sid      trace.SpanID
		flags    trace.TraceFlags
		haveSpan int

		haveTimestamp, haveEventName bool
	)
	for _, m := range top {
		switch m.key {
		case "timestamp", "observed_timestamp":
			haveTimestamp = haveTimestamp || m.key == "timestamp"
			n, err := intOf(m.val)
			if err != nil {
				return fmt.Errorf("%s: %w", m.key, err)
			}
			if n != 0 {
				t := time.Unix(0, n)
				if m.key == "timestamp" {
					rec.SetTimestamp(t)
				} else {
					rec.SetObservedTimestamp(t)
				}
			}
		case "severity_text":
			s, _ := m.val.(string)
			rec.SetSeverityText(s)
		case "severity_number":
			n, err := intOf(m.val)
			if err != nil {
				return fmt.Errorf("severity_number: %w", err)
			}
			rec.SetSeverity(log.Severity(n))
		case "body":
			rec.SetBody(toValue(m.val))
		case "resource":
			res, _ = m.val.([]member)
		case "instrumentation_scope":
			scope, _ = m.val.([]member)
		case "attributes":
			attrs, _ := m.val.([]member)
			kvs := make([]attribute.KeyValue, 0, len(attrs))
			for _, a := range attrs {
				if a.key == semconv.EnvelopeEventTypeKey || a.key == semconv.EnvelopeSchemaVersionKey {
					continue // the envelope's own, not the record's
				}
				kvs = append(kvs, attribute.KeyValue{Key: attribute.Key(a.key), Value: toValue(a.val)})
			}
			rec.AddAttributes(kvs...)
		case "event_name":
			haveEventName = true
			s, _ := m.val.(string)
			rec.SetEventName(s)
		case "trace_id":
			if err := decodeHex(m.val, tid[:]); err != nil {
				return fmt.Errorf("trace_id: %w", err)
			}
			haveSpan++
		case "span_id":
			if err := decodeHex(m.val, sid[:]); err != nil {
				return fmt.Errorf("span_id: %w", err)
			}
			haveSpan++
		case "trace_flags":
			n, err := intOf(m.val)
			if err != nil {
				return fmt.Errorf("trace_flags: %w", err)
			}
			flags = trace.TraceFlags(n)
		}
	}
	// Every envelope has these; a malformed-record line of the last
	// resort has no resource (it is replayed with an empty one).
	if !haveTimestamp {
		return errors.New("no timestamp: not a spilled record")
	}
	if !haveEventName {
		return errors.New("no event_name: not a spilled record")
	}
	ctx := context.Background()
	if haveSpan == 2 {
		ctx = trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: flags}))
	}
	rp.logger(resRaw, res, scope).Emit(ctx, rec)
	return nil
}

// member is one member of a JSON object, in order.
type member struct {
	key string
	val any // string, json.Number, bool, nil, []any or []member
}

// parseLine decodes one line into its top-level members, keeping order,
// and the raw text of its resource member (to group records by resource).
func parseLine(line []byte) (top []member, resRaw []byte, err error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil {
		return nil, nil, err
	} else if tok != json.Delim('{') {
		return nil, nil, errors.New("not a JSON object")
	}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		start := dec.InputOffset()
		v, err := readValue(dec)
		if err != nil {
			return nil, nil, err
		}
		if kt == "resource" {
			resRaw = line[start:dec.InputOffset()]
		}
		top = append(top, member{key: kt.(string), val: v})
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, errors.New("data after the JSON object")
	}
	return top, resRaw, nil
}

// readValue reads one JSON value, objects as ordered members.
func readValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil // string, json.Number, bool or nil
	}
	switch d {
	case '{':
		var ms []member
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := readValue(dec)
			if err != nil {
				return nil, err
			}
			ms = append(ms, member{key: kt.(string), val: v})
		}
		_, err := dec.Token() // '}'
		return ms, err
	case '[':
		vs := []any{}
		for dec.More() {
			v, err := readValue(dec)
			if err != nil {
				return nil, err
			}
			vs = append(vs, v)
		}
		_, err := dec.Token() // ']'
		return vs, err
	}
	return nil, fmt.Errorf("unexpected %v", d)
}

// toValue converts a decoded JSON value to an attribute value: integers
// to int64, other numbers to float64, arrays to slices, objects to maps.
func toValue(v any) attribute.Value {
	switch t := v.(type) {
	case string:
		return attribute.StringValue(t)
	case bool:
		return attribute.BoolValue(t)
	case json.Number:
		// "-0" is a float the exporter wrote: as an integer it would come
		// back as 0.
		if i, err := strconv.ParseInt(string(t), 10, 64); err == nil && t != "-0" {
			return attribute.Int64Value(i)
		}
		f, _ := t.Float64()
		return attribute.Float64Value(f)
	case []member:
		kvs := make([]attribute.KeyValue, 0, len(t))
		for _, m := range t {
			kvs = append(kvs, attribute.KeyValue{Key: attribute.Key(m.key), Value: toValue(m.val)})
		}
		return attribute.MapValue(kvs...)
	case []any:
		return sliceValue(t)
	}
	return attribute.Value{}
}

func sliceValue(vs []any) attribute.Value {
	vals := make([]attribute.Value, len(vs))
	for i, v := range vs {
		vals[i] = toValue(v)
	}
	// A typed slice (StringSlice, Int64Slice, …) is written and sent just
	// like a slice of values of that type: nothing tells them apart.
	return attribute.SliceValue(vals...)
}

func intOf(v any) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, errors.New("not a number")
	}
	return strconv.ParseInt(string(n), 10, 64)
}

func decodeHex(v any, dst []byte) error {
	s, ok := v.(string)
	if !ok || len(s) != 2*len(dst) {
		return errors.New("not a hex id of the right length")
	}
	_, err := hex.Decode(dst, []byte(s))
	return err
}
