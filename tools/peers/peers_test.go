package peers

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutlog"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/semconv"
	"github.com/secaudit/secaudit/setup"
)

// flushEvery is how many records otel-batch-flush emits between two
// ForceFlush calls: the batch processor's export batch size, a quarter of
// its default queue.
const flushEvery = 512

// requestIDs are the request IDs the events cycle through, formatted once
// so that formatting them is no peer's cost.
var requestIDs = func() []string {
	ids := make([]string, 256)
	for i := range ids {
		ids[i] = fmt.Sprintf("%032x", i)
	}
	return ids
}()

// The values of the middleware's http.response.success event that do not
// vary per request in this benchmark.
const (
	userID    = "42"
	clientIP  = "203.0.113.7"
	method    = "GET"
	path      = "/api/v1/items/42"
	route     = "/api/v1/items/{id}"
	status    = 200
	fullURL   = "http://127.0.0.1:8080/api/v1/items/42"
	userAgent = "secaudit-load/1.0"
)

// requestID and duration are the values of event i that vary.
func requestID(i int) string { return requestIDs[i%len(requestIDs)] }
func duration(i int) int64   { return int64(17000 + i) }

// requestAttrs appends to buf the 11 attributes of event i that the
// middleware passes to the Auditor (which adds audit.schema.version,
// audit.action and audit.outcome).
func requestAttrs(buf []attribute.KeyValue, i int) []attribute.KeyValue {
	return append(buf,
		semconv.UserIDKey.String(userID),
		semconv.AuditRequestIDKey.String(requestID(i)),
		semconv.ClientAddressKey.String(clientIP),
		semconv.NetworkPeerAddressKey.String(clientIP),
		semconv.HTTPRequestMethodKey.String(method),
		semconv.URLPathKey.String(path),
		semconv.HTTPRouteKey.String(route),
		semconv.HTTPResponseStatusCodeKey.Int(status),
		semconv.URLFullKey.String(fullURL),
		semconv.AuditDurationKey.Int64(duration(i)),
		semconv.UserAgentOriginalKey.String(userAgent),
	)
}

// otelAttrs appends all 14 attributes of event i to buf[:0].
func otelAttrs(buf []attribute.KeyValue, i int) []attribute.KeyValue {
	return requestAttrs(append(buf[:0],
		semconv.AuditSchemaVersionKey.String(semconv.SchemaVersion),
		semconv.AuditActionKey.String(semconv.ActionResponse),
		semconv.AuditOutcomeKey.String(semconv.OutcomeSuccess),
	), i)
}

// slogAttrs appends event i as slog attributes to buf[:0]: its event name
// and its 14 attributes.
func slogAttrs(buf []slog.Attr, i int) []slog.Attr {
	return append(buf[:0],
		slog.String("event.name", semconv.EventHTTPResponseSuccess),
		slog.String(string(semconv.AuditSchemaVersionKey), semconv.SchemaVersion),
		slog.String(string(semconv.AuditActionKey), semconv.ActionResponse),
		slog.String(string(semconv.AuditOutcomeKey), semconv.OutcomeSuccess),
		slog.String(string(semconv.UserIDKey), userID),
		slog.String(string(semconv.AuditRequestIDKey), requestID(i)),
		slog.String(string(semconv.ClientAddressKey), clientIP),
		slog.String(string(semconv.NetworkPeerAddressKey), clientIP),
		slog.String(string(semconv.HTTPRequestMethodKey), method),
		slog.String(string(semconv.URLPathKey), path),
		slog.String(string(semconv.HTTPRouteKey), route),
		slog.Int(string(semconv.HTTPResponseStatusCodeKey), status),
		slog.String(string(semconv.URLFullKey), fullURL),
		slog.Int64(string(semconv.AuditDurationKey), duration(i)),
		slog.String(string(semconv.UserAgentOriginalKey), userAgent),
	)
}

// zapFields appends event i as zap fields to buf[:0].
func zapFields(buf []zap.Field, i int) []zap.Field {
	return append(buf[:0],
		zap.String("event.name", semconv.EventHTTPResponseSuccess),
		zap.String(string(semconv.AuditSchemaVersionKey), semconv.SchemaVersion),
		zap.String(string(semconv.AuditActionKey), semconv.ActionResponse),
		zap.String(string(semconv.AuditOutcomeKey), semconv.OutcomeSuccess),
		zap.String(string(semconv.UserIDKey), userID),
		zap.String(string(semconv.AuditRequestIDKey), requestID(i)),
		zap.String(string(semconv.ClientAddressKey), clientIP),
		zap.String(string(semconv.NetworkPeerAddressKey), clientIP),
		zap.String(string(semconv.HTTPRequestMethodKey), method),
		zap.String(string(semconv.URLPathKey), path),
		zap.String(string(semconv.HTTPRouteKey), route),
		zap.Int(string(semconv.HTTPResponseStatusCodeKey), status),
		zap.String(string(semconv.URLFullKey), fullURL),
		zap.Int64(string(semconv.AuditDurationKey), duration(i)),
		zap.String(string(semconv.UserAgentOriginalKey), userAgent),
	)
}

// lines is the writer every peer writes to: it keeps nothing but the
// number of lines it received and, when keep is set, the last one.
type lines struct {
	n    atomic.Int64
	keep bool
	last []byte
}

func (w *lines) Write(p []byte) (int, error) {
	n := bytes.Count(p, []byte{'\n'})
	w.n.Add(int64(n))
	if w.keep && n > 0 {
		line := bytes.TrimSuffix(p, []byte{'\n'})
		w.last = append(w.last[:0], line[bytes.LastIndexByte(line, '\n')+1:]...)
	}
	return len(p), nil
}

// pipeline is one peer, built to write to a *lines.
type pipeline struct {
	// emit logs event i.
	emit func(ctx context.Context, i int)
	// flush delivers what is still queued; nil for synchronous loggers.
	flush func(ctx context.Context) error
	// close releases the pipeline; nil when there is nothing to release.
	close func(ctx context.Context) error
	// counted is the records the pipeline itself counts as lost, known
	// after close; nil when it counts none.
	counted func() uint64
}

// peer builds a pipeline writing to w for a run of n events.
type peer struct {
	name string
	open func(w *lines, n int) (pipeline, error)
}

var peers = []peer{
	{"slog", openSlog},
	{"zap", openZap},
	{"zerolog", openZerolog},
	{"otel-batch", func(w *lines, n int) (pipeline, error) { return openOTel(w, 0) }},
	{"otel-batch-flush", func(w *lines, n int) (pipeline, error) { return openOTel(w, flushEvery) }},
	{"otel-batch-queue", func(w *lines, n int) (pipeline, error) {
		return openOTel(w, 0, sdklog.WithMaxQueueSize(max(n, flushEvery)))
	}},
	{"otel-simple", openOTelSimple},
	{"otelslog-batch", func(w *lines, n int) (pipeline, error) { return openOTelSlog(w, 0) }},
	{"otelslog-batch-flush", func(w *lines, n int) (pipeline, error) { return openOTelSlog(w, flushEvery) }},
	{"secaudit", openSecaudit},
}

func openSlog(w *lines, _ int) (pipeline, error) {
	logger := slog.New(slog.NewJSONHandler(w, nil))
	buf := make([]slog.Attr, 0, 16)
	return pipeline{emit: func(ctx context.Context, i int) {
		buf = slogAttrs(buf, i)
		logger.LogAttrs(ctx, slog.LevelInfo, semconv.BodyHTTPResponse, buf...)
	}}, nil
}

func openZap(w *lines, _ int) (pipeline, error) {
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(w), zapcore.InfoLevel)
	logger := zap.New(core)
	buf := make([]zap.Field, 0, 16)
	return pipeline{
		emit: func(_ context.Context, i int) {
			buf = zapFields(buf, i)
			logger.Info(semconv.BodyHTTPResponse, buf...)
		},
		close: func(context.Context) error { return logger.Sync() },
	}, nil
}

func openZerolog(w *lines, _ int) (pipeline, error) {
	logger := zerolog.New(w).With().Timestamp().Logger()
	return pipeline{emit: func(_ context.Context, i int) {
		logger.Info().
			Str("event.name", semconv.EventHTTPResponseSuccess).
			Str(string(semconv.AuditSchemaVersionKey), semconv.SchemaVersion).
			Str(string(semconv.AuditActionKey), semconv.ActionResponse).
			Str(string(semconv.AuditOutcomeKey), semconv.OutcomeSuccess).
			Str(string(semconv.UserIDKey), userID).
			Str(string(semconv.AuditRequestIDKey), requestID(i)).
			Str(string(semconv.ClientAddressKey), clientIP).
			Str(string(semconv.NetworkPeerAddressKey), clientIP).
			Str(string(semconv.HTTPRequestMethodKey), method).
			Str(string(semconv.URLPathKey), path).
			Str(string(semconv.HTTPRouteKey), route).
			Int(string(semconv.HTTPResponseStatusCodeKey), status).
			Str(string(semconv.URLFullKey), fullURL).
			Int64(string(semconv.AuditDurationKey), duration(i)).
			Str(string(semconv.UserAgentOriginalKey), userAgent).
			Msg(semconv.BodyHTTPResponse)
	}}, nil
}

// otelProvider is stock OpenTelemetry: proc (built around the stdoutlog
// exporter writing to w) in a LoggerProvider.
func otelProvider(w *lines, proc func(sdklog.Exporter) sdklog.Processor) (*sdklog.LoggerProvider, error) {
	exp, err := stdoutlog.New(stdoutlog.WithWriter(w))
	if err != nil {
		return nil, err
	}
	return sdklog.NewLoggerProvider(sdklog.WithProcessor(proc(exp))), nil
}

// otelPipeline emits through emit into lp, calling ForceFlush after every
// flushEvery records when flushEvery is above 0.
func otelPipeline(lp *sdklog.LoggerProvider, flushEvery int, emit func(ctx context.Context, i int)) pipeline {
	if flushEvery > 0 {
		plain := emit
		emit = func(ctx context.Context, i int) {
			plain(ctx, i)
			if (i+1)%flushEvery == 0 {
				_ = lp.ForceFlush(ctx)
			}
		}
	}
	return pipeline{emit: emit, flush: lp.ForceFlush, close: lp.Shutdown}
}

// openOTel is stock OpenTelemetry: the batch processor (with opts) and
// stdoutlog, an API record per event.
func openOTel(w *lines, flushEvery int, opts ...sdklog.BatchProcessorOption) (pipeline, error) {
	lp, err := otelProvider(w, func(exp sdklog.Exporter) sdklog.Processor { return sdklog.NewBatchProcessor(exp, opts...) })
	if err != nil {
		return pipeline{}, err
	}
	return otelPipeline(lp, flushEvery, otelEmitter(lp)), nil
}

// openOTelSimple is stock OpenTelemetry with the simple processor: one
// Export per record, on the emitting goroutine.
func openOTelSimple(w *lines, _ int) (pipeline, error) {
	lp, err := otelProvider(w, func(exp sdklog.Exporter) sdklog.Processor { return sdklog.NewSimpleProcessor(exp) })
	if err != nil {
		return pipeline{}, err
	}
	return otelPipeline(lp, 0, otelEmitter(lp)), nil
}

// otelEmitter emits event i as the middleware's record through the Logs
// API.
func otelEmitter(lp *sdklog.LoggerProvider) func(ctx context.Context, i int) {
	logger := lp.Logger("github.com/secaudit/secaudit/tools/peers")
	buf := make([]attribute.KeyValue, 0, 16)
	return func(ctx context.Context, i int) {
		var r log.Record
		now := time.Now()
		r.SetTimestamp(now)
		r.SetObservedTimestamp(now)
		r.SetEventName(semconv.EventHTTPResponseSuccess)
		r.SetSeverity(semconv.SeverityInfo)
		r.SetSeverityText(semconv.SeverityTextInfo)
		r.SetBody(attribute.StringValue(semconv.BodyHTTPResponse))
		buf = otelAttrs(buf, i)
		r.AddAttributes(buf...)
		logger.Emit(ctx, r)
	}
}

// openOTelSlog is slog through the otelslog bridge into stock
// OpenTelemetry's batch processor and stdoutlog.
func openOTelSlog(w *lines, flushEvery int) (pipeline, error) {
	lp, err := otelProvider(w, func(exp sdklog.Exporter) sdklog.Processor { return sdklog.NewBatchProcessor(exp) })
	if err != nil {
		return pipeline{}, err
	}
	logger := slog.New(otelslog.NewHandler("github.com/secaudit/secaudit/tools/peers", otelslog.WithLoggerProvider(lp)))
	buf := make([]slog.Attr, 0, 16)
	return otelPipeline(lp, flushEvery, func(ctx context.Context, i int) {
		buf = slogAttrs(buf, i)
		logger.LogAttrs(ctx, slog.LevelInfo, semconv.BodyHTTPResponse, buf...)
	}), nil
}

// openSecaudit is secaudit's default pipeline with the JSONL exporter
// writing to w, the event emitted through its Auditor as the middleware
// emits it.
func openSecaudit(w *lines, _ int) (pipeline, error) {
	p, err := setup.New(context.Background(), setup.WithoutEnv(), setup.WithJSONLWriter(w))
	if err != nil {
		return pipeline{}, err
	}
	a := p.Auditor()
	buf := make([]attribute.KeyValue, 0, 16)
	return pipeline{
		emit: func(ctx context.Context, i int) {
			buf = requestAttrs(buf[:0], i)
			_ = a.Emit(ctx, secaudit.Event{
				Name: semconv.EventHTTPResponseSuccess, Severity: semconv.SeverityInfo, Body: semconv.BodyHTTPResponse,
				Action: semconv.ActionResponse, Outcome: semconv.OutcomeSuccess, Attributes: buf,
			})
		},
		flush: p.ForceFlush,
		close: p.Shutdown,
		counted: func() uint64 {
			var dropped uint64
			for _, dp := range p.Delivery() {
				dropped += dp.Stats().Dropped
			}
			return dropped
		},
	}, nil
}

// run emits n events through p's pipeline writing to w, timing the events
// and the flush of what they left queued when b is not nil, and returns
// the records the pipeline counts as lost.
func run(tb testing.TB, p peer, w *lines, n int) (counted uint64) {
	tb.Helper()
	ctx := context.Background()
	pl, err := p.open(w, n)
	if err != nil {
		tb.Fatal(err)
	}
	b, _ := tb.(*testing.B)
	if b != nil {
		b.ReportAllocs()
		b.ResetTimer()
	}
	for i := range n {
		pl.emit(ctx, i)
	}
	if pl.flush != nil {
		if err := pl.flush(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	if b != nil {
		b.StopTimer()
	}
	if pl.close != nil {
		if err := pl.close(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	if pl.counted != nil {
		counted = pl.counted()
	}
	return counted
}

// BenchmarkPeers is one audited event through each peer (see the package
// doc). written/op is the records its writer received, lost/op the rest;
// counted-lost/op, for secaudit, the losses its delivery counted.
func BenchmarkPeers(b *testing.B) {
	for _, p := range peers {
		b.Run(p.name, func(b *testing.B) {
			w := &lines{}
			counted := run(b, p, w, b.N)
			written := w.n.Load()
			b.ReportMetric(float64(written)/float64(b.N), "written/op")
			b.ReportMetric(float64(int64(b.N)-written)/float64(b.N), "lost/op")
			if p.name == "secaudit" {
				b.ReportMetric(float64(counted)/float64(b.N), "counted-lost/op")
			}
		})
	}
}

// TestPeersWriteTheEvent: every peer writes one line per event, holding
// the event's name, its 14 attribute keys and its varying values, when
// the run is shorter than any queue.
func TestPeersWriteTheEvent(t *testing.T) {
	const n = 300
	keys := []attribute.Key{
		semconv.AuditSchemaVersionKey, semconv.AuditActionKey, semconv.AuditOutcomeKey,
		semconv.UserIDKey, semconv.AuditRequestIDKey, semconv.ClientAddressKey,
		semconv.NetworkPeerAddressKey, semconv.HTTPRequestMethodKey, semconv.URLPathKey,
		semconv.HTTPRouteKey, semconv.HTTPResponseStatusCodeKey, semconv.URLFullKey,
		semconv.AuditDurationKey, semconv.UserAgentOriginalKey,
	}
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			w := &lines{keep: true}
			if counted := run(t, p, w, n); counted != 0 {
				t.Errorf("%d records counted as lost", counted)
			}
			if got := w.n.Load(); got != n {
				t.Errorf("%d lines written for %d events", got, n)
			}
			last := string(w.last)
			want := []string{semconv.EventHTTPResponseSuccess, requestID(n - 1), fmt.Sprint(duration(n - 1))}
			for _, k := range keys {
				want = append(want, string(k))
			}
			for _, s := range want {
				if !bytes.Contains(w.last, []byte(s)) {
					t.Errorf("last line lacks %q: %s", s, last)
				}
			}
		})
	}
}

// TestSecauditLosesNothing: secaudit's pipeline, configured as
// BenchmarkPeers configures it and with one P as cachegrind.sh measures
// it, writes every record of a run three times as long as its delivery
// queue (8192 records by default), and counts no loss.
func TestSecauditLosesNothing(t *testing.T) {
	const n = 3 * 8192
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, p := range peers {
		if p.name != "secaudit" {
			continue
		}
		w := &lines{}
		if counted := run(t, p, w, n); counted != 0 {
			t.Errorf("secaudit counted %d records lost of %d", counted, n)
		}
		if got := w.n.Load(); got != n {
			t.Errorf("secaudit wrote %d lines for %d events", got, n)
		}
		return
	}
	t.Fatal("no secaudit peer")
}
