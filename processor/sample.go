package processor

import (
	"context"
	"errors"
	"math/rand/v2"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/internal/auditscope"
	"github.com/secaudit/secaudit/internal/sampling"
	"github.com/secaudit/secaudit/semconv"
)

// Sampler is an sdk/log processor that wraps the downstream processor and
// keeps only a share of http.response.success and http.response.redirect
// events. Every other record (security events included) always passes. The
// decision is the middleware's: a keyed hash (SipHash-2-4) of the record's
// trace id, so one trace's events are kept or dropped together, and a
// client that picks its trace ids cannot pick which are kept; records
// without a trace id are decided by the keyed hash of their
// audit.request_id (again as the middleware does), or at random when they
// have none. The key is random per process, or derived from
// SECAUDIT_SAMPLE_KEY (a secret of at least 16 characters; set it alike on
// instances that must decide alike). A kept OK-response record carries audit.sample_rate when the
// rate is below 1 (its absence means 1). Dropped records are counted
// ([Stats.SampledOut]).
//
// Enabled reports false for sampled event names at rate 0, so emitters can
// skip building them; otherwise it asks the downstream processor. It is safe
// for concurrent use. A Sampler with a nil next drops everything.
type Sampler struct {
	next sdklog.Processor
	rate float64
	key  sampling.Key

	stats counters
}

var _ sdklog.Processor = (*Sampler)(nil)

// NewSampler returns a Sampler in front of next, configured by opts
// (WithSampleRate; option > SECAUDIT_SAMPLE_RATE > 1; the key from
// SECAUDIT_SAMPLE_KEY, unless WithoutEnv, else the process's).
func NewSampler(next sdklog.Processor, opts ...SampleOption) (*Sampler, error) {
	return newSampler(next, newConfig(opts))
}

func newSampler(next sdklog.Processor, c config) (*Sampler, error) {
	rate, errRate := auditscope.SampleRate(c.sampleRate, c.noEnv)
	key, errKey := auditscope.SampleKey(c.noEnv)
	if err := errors.Join(errRate, errKey); err != nil {
		return nil, err
	}
	return &Sampler{next: next, rate: rate, key: key}, nil
}

// Rate returns the sampling rate in force.
func (s *Sampler) Rate() float64 {
	if s == nil {
		return 1
	}
	return s.rate
}

// IsSampledEvent reports whether events named name are subject to sampling:
// http.response.success and http.response.redirect only.
func IsSampledEvent(name string) bool {
	return name == semconv.EventHTTPResponseSuccess || name == semconv.EventHTTPResponseRedirect
}

// Enabled reports false for sampled events at rate 0, else asks downstream.
func (s *Sampler) Enabled(ctx context.Context, p sdklog.EnabledParameters) bool {
	if s == nil || s.next == nil {
		return false
	}
	if !(s.rate > 0) && IsSampledEvent(p.EventName) {
		return false
	}
	return s.next.Enabled(ctx, p)
}

// OnEmit passes r downstream unless it is a sampled-out OK response.
func (s *Sampler) OnEmit(ctx context.Context, r *sdklog.Record) error {
	if s == nil || s.next == nil || r == nil {
		return nil
	}
	if s.rate < 1 && IsSampledEvent(r.EventName()) {
		tid := r.TraceID()
		var x uint64
		shared := tid.IsValid()
		if !shared {
			if id, ok := requestID(r); ok {
				x, shared = s.key.Draw(id), true
			} else {
				x = rand.Uint64()
			}
		}
		if !s.key.Keep(tid, s.rate, x) {
			s.stats.sampledOut.Add(1)
			return nil
		}
		setSampleRate(r, s.rate, shared)
	}
	return s.next.OnEmit(ctx, r)
}

// requestID returns r's audit.request_id.
func requestID(r *sdklog.Record) (id string, ok bool) {
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		if kv.Key == semconv.AuditRequestIDKey && kv.Value.Type() == attribute.STRING {
			id, ok = kv.Value.AsString(), true
			return false
		}
		return true
	})
	return id, ok
}

// setSampleRate records on r the rate it was kept at. An earlier sampler
// (the middleware's) may have recorded its own. When both decided from the
// same number (shared: the trace id, or the request id's draw), the rate
// applied is the lower one; otherwise they drew independently, and it is
// the product.
func setSampleRate(r *sdklog.Record, rate float64, shared bool) {
	prev, found := 0.0, false
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		if kv.Key != semconv.AuditSampleRateKey {
			return true
		}
		switch kv.Value.Type() {
		case attribute.FLOAT64:
			prev, found = kv.Value.AsFloat64(), true
		case attribute.INT64:
			prev, found = float64(kv.Value.AsInt64()), true
		}
		return false
	})
	if !found {
		r.AddAttributes(semconv.AuditSampleRateKey.Float64(rate))
		return
	}
	applied := prev * rate
	if shared {
		applied = min(prev, rate)
	}
	if applied == prev {
		return
	}
	attrs := make([]attribute.KeyValue, 0, r.AttributesLen())
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		if kv.Key == semconv.AuditSampleRateKey {
			kv.Value = attribute.Float64Value(applied)
		}
		attrs = append(attrs, kv)
		return true
	})
	r.SetAttributes(attrs...)
}

// Shutdown shuts the downstream processor down.
func (s *Sampler) Shutdown(ctx context.Context) error {
	if s == nil || s.next == nil {
		return nil
	}
	return s.next.Shutdown(ctx)
}

// ForceFlush flushes the downstream processor.
func (s *Sampler) ForceFlush(ctx context.Context) error {
	if s == nil || s.next == nil {
		return nil
	}
	return s.next.ForceFlush(ctx)
}

// Stats returns the Sampler's counters.
func (s *Sampler) Stats() Stats {
	if s == nil {
		return Stats{}
	}
	return s.stats.snapshot()
}
