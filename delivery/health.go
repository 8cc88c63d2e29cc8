package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/exporter"
)

// Stats are the processor's counters. Once Shutdown has returned,
// Emitted == Exported + Spilled + Dropped.
type Stats struct {
	// Emitted is the number of records handed to OnEmit.
	Emitted uint64
	// Exported is the number of records the exporter accepted.
	Exported uint64
	// Dropped is the number of records lost, for any reason; Drops breaks
	// it down by reason and event name (sorted).
	Dropped uint64
	Drops   []Drop
	// Spilled is the number of records the processor could not deliver
	// and the spill exporter wrote instead ([WithSpill]); Spills breaks it
	// down by the reason they would have been dropped for, and event name.
	// SpillErrors is the number of failed Export calls of the spill
	// exporter (their records are counted as dropped). SpillPending is
	// the number of records on their way to the spill exporter. SpillFull
	// is the number of batches not spilled because the spill file had
	// reached its cap ([WithSpillMaxBytes]; their records are counted as
	// dropped).
	Spilled      uint64
	Spills       []Drop
	SpillErrors  uint64
	SpillPending int
	SpillFull    uint64
	// ExportErrors is the number of failed Export calls.
	ExportErrors uint64
	// Queued is the number of records waiting now (the batch in the
	// exporter's hands not included); Capacity is the queue's bound.
	Queued   int
	Capacity int
	// Rejected is the number of requests [Processor.Admit] refused.
	Rejected uint64
	// WaitTimeouts is the number of blocking or strict records not exported
	// within their deadline (not a loss: they stayed queued).
	WaitTimeouts uint64
	// Summaries is the number of audit.pipeline.dropped records queued.
	// They are not counted in Emitted, Exported or Dropped.
	Summaries uint64
}

// DroppedFor returns the records lost for reason.
func (s Stats) DroppedFor(reason string) uint64 {
	var n uint64
	for _, d := range s.Drops {
		if d.Reason == reason {
			n += d.Count
		}
	}
	return n
}

// Stats returns the processor's counters. The zero value for a nil
// *Processor.
func (p *Processor) Stats() Stats {
	if p == nil {
		return Stats{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.statsLocked()
}

// statsLocked is Stats; p.mu must be held.
func (p *Processor) statsLocked() Stats {
	st := Stats{
		Dropped:  p.ledger.total,
		Drops:    sortedDrops(p.ledger.byKey),
		Queued:   p.q.size,
		Capacity: p.cfg.queueSize,
	}
	if s := p.spill; s != nil {
		st.Spilled, st.Spills = s.ledger.total, sortedDrops(s.ledger.byKey)
		st.SpillErrors, st.SpillPending, st.SpillFull = s.errors, p.spillPendingLocked(), s.full
	}
	st.Emitted = p.emitted.Load()
	st.Exported = p.exported.Load()
	st.ExportErrors = p.exportErrors.Load()
	st.Rejected = p.rejected.Load()
	st.WaitTimeouts = p.waitTimeouts.Load()
	st.Summaries = p.summaries.Load()
	return st
}

// Health statuses.
const (
	StatusOK          = "ok"          // delivering
	StatusDegraded    = "degraded"    // delivering, but the queue is filling or records were lost recently
	StatusUnavailable = "unavailable" // not delivering: the gate refuses strict requests
)

// degradedFill is the queue fill above which the status is degraded.
const degradedFill = 0.8

// spillRecent is how long after records were spilled the status stays
// degraded.
const spillRecent = time.Minute

// Health is the processor's state, as [HealthHandler] reports it.
type Health struct {
	Name string `json:"name"`
	// Ready is false when Status is unavailable.
	Ready bool `json:"ready"`
	// Status is ok, degraded or unavailable; Reason says why when it is not
	// ok. Neither Reason nor LastError quotes an export error: they name
	// its kind ("export failed: connection refused", "timeout",
	// "http 503 Service Unavailable"; see errorCategory), never the
	// endpoint's URL, host or port or a file path. The full error goes to
	// the OTel error handler (otel.Handle).
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	Mode   string `json:"mode"`

	QueueSize     int     `json:"queue_size"`
	QueueCapacity int     `json:"queue_capacity"`
	QueueFill     float64 `json:"queue_fill"`

	Emitted         uint64            `json:"emitted"`
	Exported        uint64            `json:"exported"`
	Dropped         uint64            `json:"dropped"`
	DroppedByReason map[string]uint64 `json:"dropped_by_reason,omitempty"`
	DroppedRecently uint64            `json:"dropped_since_last_summary"`
	Spilled         uint64            `json:"spilled,omitempty"`
	SpilledByReason map[string]uint64 `json:"spilled_by_reason,omitempty"`
	SpillErrors     uint64            `json:"spill_errors,omitempty"`
	SpillFull       uint64            `json:"spill_full,omitempty"`
	ExportErrors    uint64            `json:"export_errors"`
	Rejected        uint64            `json:"gate_rejected"`
	WaitTimeouts    uint64            `json:"wait_timeouts"`

	LastExport      *time.Time `json:"last_export,omitempty"`
	LastError       string     `json:"last_error,omitempty"`
	LastErrorAt     *time.Time `json:"last_error_at,omitempty"`
	ExportInFlightS float64    `json:"export_in_flight_seconds,omitempty"`

	// Sink has the JSONL exporter's counters when the exporter is one;
	// SpillSink the spill exporter's, likewise.
	Sink      *SinkHealth `json:"sink,omitempty"`
	SpillSink *SinkHealth `json:"spill_sink,omitempty"`
}

// SinkHealth are the counters of a JSONL exporter, as the health report
// shows them.
type SinkHealth = exporter.Stats

// Health returns the processor's state.
func (p *Processor) Health() Health {
	if p == nil {
		return Health{Ready: true, Status: StatusOK}
	}
	now := time.Now()
	p.mu.Lock()
	st := p.statsLocked()
	h := Health{
		Name:          p.cfg.name,
		Mode:          p.cfg.mode.String(),
		QueueSize:     st.Queued,
		QueueCapacity: st.Capacity,
		QueueFill:     float64(st.Queued) / float64(st.Capacity),
		Emitted:       st.Emitted,
		Exported:      st.Exported,
		Dropped:       st.Dropped,
		ExportErrors:  st.ExportErrors,
		Rejected:      st.Rejected,
		WaitTimeouts:  st.WaitTimeouts,
	}
	h.DroppedByReason = byReason(st.Drops)
	h.Spilled, h.SpilledByReason, h.SpillErrors, h.SpillFull = st.Spilled, byReason(st.Spills), st.SpillErrors, st.SpillFull

	cause := p.unavailableLocked(now)
	h.DroppedRecently = p.ledger.windowTotal
	spilling := p.spill != nil && (p.spillPendingLocked() > 0 || now.Sub(p.spill.last) < spillRecent)
	if !p.lastSuccess.IsZero() {
		t := p.lastSuccess.UTC()
		h.LastExport = &t
	}
	if p.lastErr != nil {
		t := p.lastErrAt.UTC()
		h.LastError, h.LastErrorAt = "export failed: "+errorCategory(p.lastErr), &t
	}
	if cause != nil && p.failing != nil && !p.closing {
		// unavailableLocked's cause quotes the exporter's error, for the
		// application (Admit): the report says only what kind it was.
		cause = fmt.Errorf("exports failing since %s: export failed: %s", p.failingSince.UTC().Format(time.RFC3339), errorCategory(p.failing))
	}
	if !p.exportStart.IsZero() {
		h.ExportInFlightS = now.Sub(p.exportStart).Seconds()
	}
	p.mu.Unlock()

	switch {
	case cause != nil:
		h.Status, h.Reason = StatusUnavailable, cause.Error()
	case h.QueueFill >= degradedFill:
		h.Status, h.Reason = StatusDegraded, "queue nearly full"
	case h.DroppedRecently > 0:
		h.Status, h.Reason = StatusDegraded, "records dropped since the last summary"
	case spilling:
		h.Status, h.Reason = StatusDegraded, "records spilled in the last minute"
	default:
		h.Status = StatusOK
	}
	h.Ready = h.Status != StatusUnavailable

	h.Sink = sinkHealth(p.exp)
	if p.spill != nil {
		h.SpillSink = sinkHealth(p.spillExporter())
	}
	return h
}

// byReason sums drops by reason; nil when there are none.
func byReason(drops []Drop) map[string]uint64 {
	var m map[string]uint64
	for _, d := range drops {
		if m == nil {
			m = map[string]uint64{}
		}
		m[d.Reason] += d.Count
	}
	return m
}

// sinkHealth reports a JSONL exporter's counters; nil for other exporters.
func sinkHealth(exp sdklog.Exporter) *SinkHealth {
	s, ok := exp.(interface{ Stats() exporter.Stats })
	if !ok {
		return nil
	}
	es := s.Stats()
	return &es
}

// HealthReport is the body [HealthHandler] writes.
type HealthReport struct {
	Ready     bool     `json:"ready"`
	Pipelines []Health `json:"pipelines"`
}

// HealthHandler reports the processors' state as JSON (a [HealthReport]),
// with status 200 when every one is ready and 503 otherwise, so that it
// can serve as a readiness check where strict delivery matters: not ready
// means a fail-closed request would be refused now. Only GET and HEAD are
// allowed.
//
// Serve it on an internal port (the one the orchestrator's probes and the
// operators reach), not on the public listener: the report shows how much
// is being lost and why, which tells an attacker when the audit trail is
// blind. It never shows an export error's text (see [Health]), which
// names the Collector's address or a file path; the full error goes to
// the OTel error handler.
func HealthHandler(ps ...*Processor) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep := Report(ps...)
		WriteHealth(w, r, rep.Ready, rep)
	})
}

// Report returns the health of each processor (nil ones are skipped),
// ready when every one is.
func Report(ps ...*Processor) HealthReport {
	rep := HealthReport{Ready: true, Pipelines: make([]Health, 0, len(ps))}
	for _, p := range ps {
		if p == nil {
			continue
		}
		h := p.Health()
		rep.Ready = rep.Ready && h.Ready
		rep.Pipelines = append(rep.Pipelines, h)
	}
	return rep
}

// WriteHealth answers a health request with v as indented JSON, status
// 200 when ready and 503 otherwise, uncached; only GET and HEAD are
// allowed. [HealthHandler] writes a [HealthReport] with it; a handler that
// reports more (setup's adds detection) embeds one in its own body.
func WriteHealth(w http.ResponseWriter, r *http.Request, ready bool, v any) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	} else {
		w.WriteHeader(http.StatusOK)
	}
	if r.Method == http.MethodGet {
		_, _ = w.Write(append(body, '\n'))
	}
}

// errExporterPanicked is wrapped by the error of an Export that panicked.
var errExporterPanicked = errors.New("delivery: exporter panicked")

// errorCategory names the kind of an export error for the health report,
// from a fixed set of phrases: "connection refused", "timeout",
// "http 503 Service Unavailable", "no space left on device"... It never
// returns any of the error's own text, which names the endpoint (URL, host,
// port, path) or a file path.
func errorCategory(err error) string {
	var (
		dnsErr   *net.DNSError
		netErr   net.Error
		pathErr  *fs.PathError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
		header   tls.RecordHeaderError
	)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, errExporterPanicked):
		return "exporter panicked"
	case errors.Is(err, sdklog.ErrExporterShutdown):
		return "exporter shut down"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "network unreachable"
	case errors.Is(err, syscall.ENOSPC):
		return "no space left on device"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case errors.As(err, &dnsErr):
		return "dns lookup failed"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.As(err, &unknown), errors.As(err, &hostname), errors.As(err, &invalid),
		errors.As(err, &verify), errors.As(err, &header):
		return "tls error"
	case errors.Is(err, os.ErrClosed):
		return "file closed"
	case errors.As(err, &pathErr):
		return "file error"
	}
	// Exporters that flatten their errors into text (gRPC's status, the
	// OTLP HTTP exporter's status errors): recognise the text, quote none.
	msg := strings.ToLower(err.Error())
	if code := httpStatus(msg); code != 0 {
		return fmt.Sprintf("http %d %s", code, http.StatusText(code))
	}
	for _, k := range []struct{ text, category string }{
		{"connection refused", "connection refused"},
		{"connection reset", "connection reset"},
		{"broken pipe", "broken pipe"},
		{"no such host", "dns lookup failed"},
		{"network is unreachable", "network unreachable"},
		{"no route to host", "network unreachable"},
		{"deadline exceeded", "timeout"},
		{"timeout", "timeout"},
		{"timed out", "timeout"},
		{"x509:", "tls error"},
		{"tls:", "tls error"},
		{"certificate", "tls error"},
		{"no space left", "no space left on device"},
		{"permission denied", "permission denied"},
		{"retry-able request failure", "http error, retryable (429, 502, 503 or 504)"},
		{"code = unavailable", "unavailable (grpc)"},
		{"code = unauthenticated", "unauthenticated (grpc)"},
		{"code = permissiondenied", "permission denied (grpc)"},
		{"code = resourceexhausted", "resource exhausted (grpc)"},
	} {
		if strings.Contains(msg, k.text) {
			return k.category
		}
	}
	return "unclassified error"
}

// httpStatus finds an HTTP status line ("503 service unavailable") in the
// lower-cased error text msg, as the OTLP HTTP exporter writes it, and
// returns its code, or 0.
func httpStatus(msg string) int {
	for i := 0; i+4 < len(msg); i++ {
		if i > 0 && msg[i-1] != ' ' {
			continue
		}
		d := msg[i : i+3]
		if d[0] < '1' || d[0] > '5' || d[1] < '0' || d[1] > '9' || d[2] < '0' || d[2] > '9' || msg[i+3] != ' ' {
			continue
		}
		code := int(d[0]-'0')*100 + int(d[1]-'0')*10 + int(d[2]-'0')
		if text := strings.ToLower(http.StatusText(code)); text != "" && strings.HasPrefix(msg[i+4:], text) {
			return code
		}
	}
	return 0
}
