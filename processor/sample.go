package processor

import (
	"context"
	"math/rand/v2"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/internal/sampling"
	"github.com/secaudit/secaudit/semconv"
)

// Sampler is an sdk/log processor that wraps the downstream processor and
// keeps only a share of http.response.success and http.response.redirect
// events. Every other record (security events included) always passes. The
// decision is [sampling.Keep] on the record's trace id, the same one the
// middleware uses, so one trace's events are kept or dropped together;
// records without a trace id are decided at random. A kept OK-response
// record carries audit.sample_rate when the rate is below 1 (its absence
// means 1). Dropped records are counted ([Stats.SampledOut]).
//
// Enabled reports false for sampled event names at rate 0, so emitters can
// skip building them; otherwise it asks the downstream processor. It is safe
// for concurrent use. A Sampler with a nil next drops everything.
type Sampler struct {
	next sdklog.Processor
	rate float64

	stats counters
}

var _ sdklog.Processor = (*Sampler)(nil)

// NewSampler returns a Sampler in front of next, configured by opts
// (WithSampleRate; option > SECAUDIT_SAMPLE_RATE > 1).
func NewSampler(next sdklog.Processor, opts ...Option) (*Sampler, error) {
	c, err := newConfig(partSample, opts)
	if err != nil {
		return nil, err
	}
	return newSampler(next, c)
}

func newSampler(next sdklog.Processor, c config) (*Sampler, error) {
	rate := 1.0
	if c.sample.rate != nil {
		rate = *c.sample.rate
	} else if !c.noEnv {
		v, ok, err := envconf.Rate(envconf.SampleRate)
		if err != nil {
			return nil, wrapEnv(err)
		}
		if ok {
			rate = v
		}
	}
	return &Sampler{next: next, rate: rate}, nil
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
		if !sampling.Keep(r.TraceID(), s.rate, rand.Uint64()) {
			s.stats.sampledOut.Add(1)
			return nil
		}
		setSampleRate(r, s.rate)
	}
	return s.next.OnEmit(ctx, r)
}

// setSampleRate records on r the rate it was kept at. An earlier sampler
// (the middleware's) may have recorded its own: both decide from the same
// trace id, so the rate applied is the lower one; without a trace id they
// drew independently, so it is the product.
func setSampleRate(r *sdklog.Record, rate float64) {
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
	if r.TraceID().IsValid() {
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
