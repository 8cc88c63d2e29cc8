package processor

import (
	"context"
	"errors"

	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// Chain is secaudit's whole processing pipeline as one sdk/log processor,
// in front of the exporting processor next. Each record goes, in order,
// through
//
//	enrich → scrub → limit → filter → sample → next
//
// Enrichment comes first so that what enrichers add is scrubbed and bounded
// like everything else; filter and sample wrap next, so a dropped record
// never reaches it. It is safe for concurrent use.
type Chain struct {
	enricher *Enricher
	scrubber *Scrubber
	limiter  *Limiter
	filter   *Filter
	sampler  *Sampler
}

var _ sdklog.Processor = (*Chain)(nil)

// NewChain builds the pipeline in front of next from opts (every option of
// this package applies; each documents its SECAUDIT_* variable and
// default). An invalid option or environment value is an error naming it.
// A nil next drops every record after counting it through the pipeline.
func NewChain(next sdklog.Processor, opts ...Option) (*Chain, error) {
	c := newConfig(opts)
	scrubber, errScrub := newScrubber(c)
	limiter, errLimit := newLimiter(c)
	sampler, errSample := newSampler(next, c)
	var downstream sdklog.Processor
	if sampler != nil {
		downstream = sampler
	}
	filter, errFilter := newFilter(downstream, c) // also on error, to report every bad setting
	if err := errors.Join(errScrub, errLimit, errSample, errFilter); err != nil {
		return nil, err
	}
	return &Chain{
		enricher: newEnricher(c),
		scrubber: scrubber,
		limiter:  limiter,
		filter:   filter,
		sampler:  sampler,
	}, nil
}

// Enabled reports whether the filter, the sampler and next would take a
// record with these parameters.
func (c *Chain) Enabled(ctx context.Context, p sdklog.EnabledParameters) bool {
	return c != nil && c.filter.Enabled(ctx, p)
}

// OnEmit runs r through the pipeline. Only next's error is returned.
func (c *Chain) OnEmit(ctx context.Context, r *sdklog.Record) error {
	if c == nil || c.filter == nil || r == nil {
		return nil
	}
	if len(c.enricher.funcs) > 0 {
		_ = c.enricher.OnEmit(ctx, r)
	}
	// The scrubber's walks also feed the limiter's check, so a record is
	// walked again only when it must be limited.
	var p limitProbe
	c.scrubber.scrub(r, c.limiter, &p)
	if c.limiter.probeDone(r, &p) {
		c.limiter.apply(r, p.dirty)
	}
	return c.filter.OnEmit(ctx, r)
}

// Shutdown shuts next down.
func (c *Chain) Shutdown(ctx context.Context) error {
	if c == nil || c.filter == nil {
		return nil
	}
	return c.filter.Shutdown(ctx)
}

// ForceFlush flushes next.
func (c *Chain) ForceFlush(ctx context.Context) error {
	if c == nil || c.filter == nil {
		return nil
	}
	return c.filter.ForceFlush(ctx)
}

// Stats returns the sum of every stage's counters.
func (c *Chain) Stats() Stats {
	if c == nil {
		return Stats{}
	}
	return c.enricher.Stats().add(c.scrubber.Stats()).add(c.limiter.Stats()).
		add(c.filter.Stats()).add(c.sampler.Stats())
}

// Scrubber returns the chain's scrubber stage (for reuse, e.g. to scrub a
// value the same way outside the log pipeline).
func (c *Chain) Scrubber() *Scrubber {
	if c == nil {
		return nil
	}
	return c.scrubber
}

// Limits returns the limits the chain enforces.
func (c *Chain) Limits() Limits {
	if c == nil {
		return Limits{}
	}
	return c.limiter.Limits()
}

// SampleRate returns the sampling rate the chain applies to OK responses.
func (c *Chain) SampleRate() float64 {
	if c == nil {
		return 1
	}
	return c.sampler.Rate()
}
