package instrumentation

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/log/noop"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/internal/reqid"
	"github.com/secaudit/secaudit/internal/respwriter"
	"github.com/secaudit/secaudit/semconv"
)

// The benchmark shape of perf-anchors.md: one request built once, a fresh
// httptest.ResponseRecorder per iteration, a handler that sets a header,
// writes 200 and a 58-byte JSON body. The handler also names the user
// (secaudit.SetUser, a no-op without the middleware), as an application's
// auth layer would.

var benchBody = []byte(`{"id":42,"name":"widget","price":9.99,"tags":["a","b"]}..`)

func benchRequest() *http.Request {
	req := httptest.NewRequest("GET", "/api/v1/items/42", nil)
	req.RemoteAddr = "203.0.113.9:52100"
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) bench/1.0")
	req.Header.Set("X-Request-Id", "client-supplied-id")
	req.Header.Set("X-User-Id", "1")
	req.Header.Set("Authorization", "Bearer not-logged")
	return req
}

func bareHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secaudit.SetUser(r.Context(), secaudit.User{ID: r.Header.Get("X-User-Id")})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(benchBody)
	})
}

// slogMiddleware writes one slog JSON line with the same facts as the
// http.response.success event: the same 13 attributes (request id
// generated the same way, peer from RemoteAddr, url.full built the same
// way), through the same response-writer wrapper.
func slogMiddleware(next http.Handler, out io.Writer) http.Handler {
	logger := slog.New(slog.NewJSONHandler(out, nil))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var obs respwriter.Writer
		ww := obs.Reset(w)
		id := newRequestID()
		next.ServeHTTP(ww, r)
		peer, _, _ := net.SplitHostPort(r.RemoteAddr)
		logger.LogAttrs(r.Context(), slog.LevelInfo, semconv.BodyHTTPResponse,
			slog.String(string(semconv.AuditSchemaVersionKey), semconv.SchemaVersion),
			slog.String(string(semconv.AuditActionKey), semconv.ActionResponse),
			slog.String(string(semconv.AuditOutcomeKey), semconv.OutcomeSuccess),
			slog.String(string(semconv.UserIDKey), r.Header.Get("X-User-Id")),
			slog.String(string(semconv.AuditRequestIDKey), id),
			slog.String(string(semconv.ClientAddressKey), peer),
			slog.String(string(semconv.NetworkPeerAddressKey), peer),
			slog.String(string(semconv.HTTPRequestMethodKey), r.Method),
			slog.String(string(semconv.URLPathKey), r.URL.Path),
			slog.Int(string(semconv.HTTPResponseStatusCodeKey), obs.Status()),
			slog.String(string(semconv.URLFullKey), "http://"+r.Host+r.URL.EscapedPath()),
			slog.Int64(string(semconv.AuditDurationKey), int64(time.Since(start))),
			slog.String(string(semconv.UserAgentOriginalKey), r.UserAgent()),
		)
	})
}

// newSDKOnly is newPipeline without the processor chain: the real SDK
// (de-duplication off), the simple exporting processor and the JSONL
// exporter.
func newSDKOnly(b testing.TB, w io.Writer) (*secaudit.Auditor, *sdklog.LoggerProvider) {
	b.Helper()
	exp, err := exporter.NewJSONL(exporter.WithWriter(w))
	if err != nil {
		b.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithAllowKeyDuplication(), sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)))
	b.Cleanup(func() { lp.Shutdown(context.Background()) })
	a, err := secaudit.New(secaudit.WithLoggerProvider(lp))
	if err != nil {
		b.Fatal(err)
	}
	return a, lp
}

// floorMiddleware is perf-anchors' "Floor": the least an OTel emitter can
// do — the same wrapper and facts as slogMiddleware, one API record with
// the same 13 attributes built in one AddAttributes call, emitted straight
// to a logger. No request facts in the context, no Auditor.
func floorMiddleware(next http.Handler, logger otellog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var obs respwriter.Writer
		ww := obs.Reset(w)
		id := newRequestID()
		next.ServeHTTP(ww, r)
		peer, _, _ := net.SplitHostPort(r.RemoteAddr)
		var rec otellog.Record
		now := time.Now()
		rec.SetTimestamp(now)
		rec.SetObservedTimestamp(now)
		rec.SetEventName(semconv.EventHTTPResponseSuccess)
		rec.SetSeverity(semconv.SeverityInfo)
		rec.SetSeverityText(semconv.SeverityTextInfo)
		rec.SetBody(attribute.StringValue(semconv.BodyHTTPResponse))
		rec.AddAttributes(
			semconv.AuditSchemaVersionKey.String(semconv.SchemaVersion),
			semconv.AuditActionKey.String(semconv.ActionResponse),
			semconv.AuditOutcomeKey.String(semconv.OutcomeSuccess),
			semconv.UserIDKey.String(r.Header.Get("X-User-Id")),
			semconv.AuditRequestIDKey.String(id),
			semconv.ClientAddressKey.String(peer),
			semconv.NetworkPeerAddressKey.String(peer),
			semconv.HTTPRequestMethodKey.String(r.Method),
			semconv.URLPathKey.String(r.URL.Path),
			semconv.HTTPResponseStatusCodeKey.Int(obs.Status()),
			semconv.URLFullKey.String("http://"+r.Host+r.URL.EscapedPath()),
			semconv.AuditDurationKey.Int64(int64(time.Since(start))),
			semconv.UserAgentOriginalKey.String(r.UserAgent()),
		)
		logger.Emit(r.Context(), rec)
	})
}

// newRequestID is the middleware's request id as a plain string, for the
// comparison middlewares.
func newRequestID() string {
	var out [32]byte
	reqid.Fill(&out)
	return string(out[:])
}

// lineCounter discards what it is given and counts lines.
type lineCounter struct{ lines atomic.Int64 }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.lines.Add(int64(bytes.Count(p, []byte{'\n'})))
	return len(p), nil
}

// cpuTime is the process's user+system CPU time: on a shared machine it is
// far steadier than wall time, which includes waiting for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchServe(b *testing.B, h http.Handler, lines *lineCounter) {
	b.Helper()
	req := benchRequest()
	b.ReportAllocs()
	cpu0 := cpuTime()
	defer func() {
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	}()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
	if lines != nil {
		b.ReportMetric(float64(lines.lines.Load())/float64(b.N), "lines/op")
	}
}

func benchMiddleware(b *testing.B, a *secaudit.Auditor, opts ...Option) http.Handler {
	b.Helper()
	m, err := New(append([]Option{WithAuditor(a)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	// Most rows run without a span on purpose: no notice of it on stderr,
	// which go test mixes into the benchmark lines benchstat reads.
	m.spanChecked.Store(true)
	return m.Wrap(bareHandler())
}

// BenchmarkHTTP compares, in one run: the bare handler; a slog JSON line
// with the same facts; and this middleware emitting http.response.success
// through the Auditor and the real Logs SDK (key de-duplication off), the
// processor chain (scrubbing on), the simple exporting processor and the
// JSONL exporter, to a discarding writer. Extra rows isolate parts: the
// middleware with a no-op provider (nothing built past Enabled), the full
// pipeline with OK responses off (the default: no event for a 200), this
// middleware without the processor chain, and perf-anchors' floor (a bare
// API record straight into the same SDK and exporter, no chain).
func BenchmarkHTTP(b *testing.B) {
	clearEnv(b)
	b.Run("1-bare", func(b *testing.B) {
		benchServe(b, bareHandler(), nil)
	})
	b.Run("2-slog-line", func(b *testing.B) {
		lines := &lineCounter{}
		benchServe(b, slogMiddleware(bareHandler(), lines), lines)
	})
	b.Run("3-secaudit-full", func(b *testing.B) {
		lines := &lineCounter{}
		a, lp := newPipeline(b, lines)
		h := benchMiddleware(b, a, WithLogOKResponses(true))
		benchServe(b, h, nil)
		lp.ForceFlush(context.Background())
		b.ReportMetric(float64(lines.lines.Load())/float64(b.N), "lines/op")
	})
	b.Run("4-secaudit-noop-provider", func(b *testing.B) {
		a, err := secaudit.New(secaudit.WithLoggerProvider(noop.NewLoggerProvider()))
		if err != nil {
			b.Fatal(err)
		}
		benchServe(b, benchMiddleware(b, a, WithLogOKResponses(true)), nil)
	})
	b.Run("6-secaudit-no-chain", func(b *testing.B) {
		lines := &lineCounter{}
		a, _ := newSDKOnly(b, lines)
		benchServe(b, benchMiddleware(b, a, WithLogOKResponses(true)), lines)
	})
	b.Run("7-floor-direct-record-no-chain", func(b *testing.B) {
		lines := &lineCounter{}
		_, lp := newSDKOnly(b, lines)
		benchServe(b, floorMiddleware(bareHandler(), lp.Logger("floor")), lines)
	})
	b.Run("5-secaudit-ok-off", func(b *testing.B) {
		lines := &lineCounter{}
		a, _ := newPipeline(b, lines)
		benchServe(b, benchMiddleware(b, a), lines)
	})
}

// discardSpans is a SpanExporter that drops what it is given.
type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }

// BenchmarkHTTPBehindOtelhttp is the middleware with its defaults (OK
// responses not audited) behind otelhttp, against otelhttp alone: what it
// adds to a traced request in process, to set beside its cost without
// otelhttp (BenchmarkHTTP's 5-secaudit-ok-off against 1-bare). Spans go
// to a no-op exporter synchronously: with a batch processor its goroutine
// and queue made otelhttp's own figure swing by half.
func BenchmarkHTTPBehindOtelhttp(b *testing.B) {
	clearEnv(b)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSyncer(discardSpans{}))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	traced := func(h http.Handler) http.Handler {
		return otelhttp.NewHandler(h, "server", otelhttp.WithTracerProvider(tp))
	}
	b.Run("1-otelhttp", func(b *testing.B) {
		benchServe(b, traced(bareHandler()), nil)
	})
	b.Run("2-otelhttp+secaudit-ok-off", func(b *testing.B) {
		lines := &lineCounter{}
		a, _ := newPipeline(b, lines)
		benchServe(b, traced(benchMiddleware(b, a)), lines)
	})
}
