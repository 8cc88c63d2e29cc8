package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/semconv"
)

// auditHTTP is a minimal stand-in for the instrumentation middleware: one
// http.response.* event per request, request facts in the context.
func auditHTTP(next http.Handler, audit *secaudit.Auditor) (http.Handler, error) {
	logOK, _, err := envconf.Bool(envconf.LogOKResponses)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		peer, _, _ := net.SplitHostPort(r.RemoteAddr)
		var id [16]byte
		_, _ = rand.Read(id[:])
		facts := &secaudit.Request{
			ID: hex.EncodeToString(id[:]), ClientAddress: peer, PeerAddress: peer,
			Method: r.Method, Path: r.URL.Path,
		}
		r = r.WithContext(secaudit.ContextWithRequest(r.Context(), facts))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			facts.SetRoute(r.Pattern)
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			e := secaudit.Event{Body: semconv.BodyHTTPResponse, Action: semconv.ActionResponse}
			switch {
			case v != nil || status >= 500:
				status = max(status, http.StatusInternalServerError)
				e.Name, e.Severity, e.Outcome = semconv.EventHTTPResponseServerError, semconv.SeverityError, semconv.OutcomeFailure
			case status >= 400:
				e.Name, e.Severity, e.Outcome = semconv.EventHTTPResponseClientError, semconv.SeverityWarning, semconv.OutcomeFailure
			case status >= 300:
				e.Name, e.Severity = semconv.EventHTTPResponseRedirect, semconv.SeverityInfo
			default:
				e.Name, e.Severity, e.Outcome = semconv.EventHTTPResponseSuccess, semconv.SeverityInfo, semconv.OutcomeSuccess
			}
			if status < 400 && !logOK {
				return
			}
			e.Attributes = []attribute.KeyValue{
				semconv.HTTPResponseStatusCodeKey.Int(status),
				semconv.UserAgentOriginalKey.String(r.UserAgent()),
				semconv.AuditDurationKey.Int64(time.Since(start).Nanoseconds()),
			}
			if v != nil {
				e.Attributes = append(e.Attributes,
					semconv.ExceptionTypeKey.String(fmt.Sprintf("%T", v)),
					semconv.ExceptionMessageKey.String(fmt.Sprint(v)),
					semconv.ExceptionStacktraceKey.String(string(debug.Stack())))
			}
			_ = audit.Emit(r.Context(), e)
			if v != nil {
				panic(v)
			}
		}()
		next.ServeHTTP(sw, r)
	}), nil
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
