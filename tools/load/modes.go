package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/processor"
	"github.com/secaudit/secaudit/semconv"
)

// buildMode returns the mode's handler and what to do at shutdown.
func buildMode(mode, dir string) (http.Handler, func(context.Context, *serverReport) error, error) {
	h := http.HandlerFunc(bare)
	withOtel := func(next http.Handler) (http.Handler, func(context.Context) error) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(noopSpanExporter{}))
		return otelhttp.NewHandler(next, "items", otelhttp.WithTracerProvider(tp)), tp.Shutdown
	}
	switch mode {
	case "bare":
		return h, nil, nil
	case "slog":
		f, err := os.Create(filepath.Join(dir, "slog.jsonl"))
		if err != nil {
			return nil, nil, err
		}
		logger := slog.New(slog.NewJSONHandler(f, nil))
		mw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w}
			h.ServeHTTP(sw, r)
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			logger.LogAttrs(r.Context(), slog.LevelInfo, "http.request",
				slog.String("http.request.method", r.Method), slog.String("url.path", r.URL.Path),
				slog.Int("http.response.status_code", sw.status), slog.Int64("http.server.duration_ns", int64(time.Since(start))),
				slog.String("client.address", host), slog.String("user_agent.original", r.UserAgent()),
				slog.String("enduser.id", r.Header.Get("X-User-Id")), slog.String("http.request.id", r.Header.Get("X-Request-Id")),
				slog.String("http.route", "/api/v1/items/{id}"), slog.Int("http.response.body.size", sw.bytes))
		})
		return mw, func(context.Context, *serverReport) error { return f.Close() }, nil
	case "otelhttp":
		oh, shutdown := withOtel(h)
		return oh, func(ctx context.Context, _ *serverReport) error { return shutdown(ctx) }, nil
	case "sdklog-floor":
		return buildFloor(h)
	case "setup-default", "otelhttp+setup-default":
		// What a service gets from setup.New and the middleware with every
		// default: detection on, blocking off, OK responses not audited.
		audited, stop, err := buildSetup(h, dir, false, false, false)
		if err != nil || mode == "setup-default" {
			return audited, stop, err
		}
		oh, shutdown := withOtel(audited)
		return oh, func(ctx context.Context, rep *serverReport) error {
			return errors.Join(stop(ctx, rep), shutdown(ctx))
		}, nil
	case "secaudit-block", "secaudit-block-default", "secaudit-ratelimit":
		return buildGuarded(h, dir, mode == "secaudit-ratelimit", mode == "secaudit-block")
	case "otelhttp+passthrough":
		// The allocations secaudit's middleware makes for a request it
		// does not audit (its per-request state, a context value, the
		// request's copy), and nothing else.
		type key struct{}
		mw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			state := &struct {
				id   [32]byte
				rest [300]byte
			}{}
			sw := &statusWriter{ResponseWriter: w}
			h.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), key{}, state)))
		})
		oh, shutdown := withOtel(mw)
		return oh, func(ctx context.Context, _ *serverReport) error { return shutdown(ctx) }, nil
	case "otelhttp+secaudit", "secaudit", "secaudit-simple", "secaudit-default", "otelhttp+secaudit-default":
		audited, stop, err := buildSecaudit(h, dir, mode == "secaudit-simple", !strings.HasSuffix(mode, "-default"))
		if err != nil {
			return nil, nil, err
		}
		if !strings.HasPrefix(mode, "otelhttp+") {
			return audited, stop, nil
		}
		oh, shutdown := withOtel(audited)
		return oh, func(ctx context.Context, rep *serverReport) error {
			return errors.Join(stop(ctx, rep), shutdown(ctx))
		}, nil
	}
	return nil, nil, fmt.Errorf("unknown mode %q (want one of %s)", mode, strings.Join(allModes, ", "))
}

// buildSecaudit wires the secaudit pipeline by hand: JSONL file (rotating)
// ← delivery processor (async) or SDK simple processor ← processor chain
// ← LoggerProvider ← Auditor ← middleware.
func buildSecaudit(h http.Handler, dir string, simple, logOK bool) (http.Handler, func(context.Context, *serverReport) error, error) {
	exp, err := exporter.NewJSONL(exporter.WithFile(filepath.Join(dir, "audit.jsonl")), exporter.WithRotation(64<<20, 2))
	if err != nil {
		return nil, nil, err
	}
	var exporting sdklog.Processor
	var dp *delivery.Processor
	if simple {
		exporting = sdklog.NewSimpleProcessor(exp)
	} else {
		dp, err = delivery.New(exp, delivery.WithName("jsonl"), delivery.WithoutCopy()) // the last processor: nothing after it changes records
		if err != nil {
			return nil, nil, err
		}
		exporting = dp
	}
	chain, err := processor.NewChain(exporting)
	if err != nil {
		return nil, nil, err
	}
	provider := sdklog.NewLoggerProvider(
		sdklog.WithResource(resource.NewSchemaless(semconv.ServiceNameKey.String("load"))),
		sdklog.WithAllowKeyDuplication(),
		sdklog.WithAttributeCountLimit(-1),
		sdklog.WithProcessor(chain),
	)
	auditor, err := secaudit.New(secaudit.WithLoggerProvider(provider))
	if err != nil {
		return nil, nil, err
	}
	opts := []instrumentation.Option{instrumentation.WithAuditor(auditor)}
	if logOK {
		opts = append(opts, instrumentation.WithLogOKResponses(true), instrumentation.WithSampleRate(1))
	}
	mw, err := instrumentation.New(opts...)
	if err != nil {
		return nil, nil, err
	}
	stop := func(ctx context.Context, rep *serverReport) error {
		err := provider.Shutdown(ctx)
		rep.Lines = exp.Stats().Records
		if dp != nil {
			st := dp.Stats()
			rep.Emitted, rep.Exported, rep.Dropped = st.Emitted, st.Exported, st.Dropped
		} else {
			rep.Emitted, rep.Exported = rep.Lines, rep.Lines
		}
		return err
	}
	return mw.Wrap(h), stop, nil
}

// discardProcessor is an sdk/log processor that only counts records.
type discardProcessor struct{ records atomic.Uint64 }

func (*discardProcessor) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (p *discardProcessor) OnEmit(context.Context, *sdklog.Record) error {
	p.records.Add(1)
	return nil
}
func (*discardProcessor) Shutdown(context.Context) error   { return nil }
func (*discardProcessor) ForceFlush(context.Context) error { return nil }

// buildFloor is the sdklog-floor mode: the attributes of secaudit's
// http.response.success event, built in one API record after the handler
// and emitted into the SDK, with nothing after the SDK but a counter.
func buildFloor(h http.Handler) (http.Handler, func(context.Context, *serverReport) error, error) {
	sink := &discardProcessor{}
	provider := sdklog.NewLoggerProvider(
		sdklog.WithResource(resource.NewSchemaless(semconv.ServiceNameKey.String("load"))),
		sdklog.WithAllowKeyDuplication(),
		sdklog.WithAttributeCountLimit(-1),
		sdklog.WithProcessor(sink),
	)
	logger := provider.Logger("floor")
	mw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
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
			semconv.AuditRequestIDKey.String(r.Header.Get("X-Request-Id")),
			semconv.ClientAddressKey.String(host),
			semconv.NetworkPeerAddressKey.String(host),
			semconv.HTTPRequestMethodKey.String(r.Method),
			semconv.URLPathKey.String(r.URL.Path),
			semconv.HTTPRouteKey.String("/api/v1/items/{id}"),
			semconv.HTTPResponseStatusCodeKey.Int(sw.status),
			semconv.URLFullKey.String("http://"+r.Host+r.URL.EscapedPath()),
			semconv.AuditDurationKey.Int64(int64(time.Since(start))),
			semconv.UserAgentOriginalKey.String(r.UserAgent()),
		)
		logger.Emit(r.Context(), rec)
	})
	stop := func(ctx context.Context, rep *serverReport) error {
		err := provider.Shutdown(ctx)
		n := sink.records.Load()
		rep.Emitted, rep.Exported = n, n
		return err
	}
	return mw, stop, nil
}
