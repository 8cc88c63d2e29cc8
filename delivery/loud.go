package delivery

import (
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
)

// LossReportInterval is how often, at most, a processor reports failed
// exports and lost records through the OTel error handler after its first
// report, which is made at once. Each later report counts what happened
// since the one before.
const LossReportInterval = 10 * time.Second

// lossReport rate-limits the reports of failed exports and of records
// dropped or spilled: the first is made at once, then at most one per
// interval, with counts, so that an outage is loud on stderr without
// flooding it. Its methods are safe for concurrent use.
type lossReport struct {
	name     string
	interval time.Duration

	mu       sync.Mutex
	last     time.Time // of the last report; zero before the first
	failures uint64    // export failures since the last report
	lastErr  error     // the latest of them
	dropped  uint64    // totals at the last report
	spilled  uint64
}

// observe records an export failure (exportErr non-nil) and the current
// totals of dropped and spilled records, and returns the report to make
// now, or nil. force reports pending news regardless of the interval (at
// Shutdown).
func (r *lossReport) observe(now time.Time, exportErr error, dropped, spilled uint64, force bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if exportErr != nil {
		r.failures++
		r.lastErr = exportErr
	}
	if r.failures == 0 && dropped <= r.dropped && spilled <= r.spilled {
		return nil // nothing new
	}
	first := r.last.IsZero()
	if !first && !force && now.Sub(r.last) < r.interval {
		return nil
	}
	var msg error
	newDropped, newSpilled := dropped-r.dropped, spilled-r.spilled
	switch {
	case first && r.failures > 0:
		msg = fmt.Errorf("delivery: %s: export failed: %w (%d records dropped, %d spilled so far; further failures are reported at most every %s)",
			r.name, r.lastErr, dropped, spilled, r.interval)
	case first:
		msg = fmt.Errorf("delivery: %s: %d records dropped, %d spilled (further losses are reported at most every %s)",
			r.name, dropped, spilled, r.interval)
	case r.failures > 0:
		msg = fmt.Errorf("delivery: %s: %d exports failed since the last report, the latest: %w; %d records dropped and %d spilled since then (%d and %d in all)",
			r.name, r.failures, r.lastErr, newDropped, newSpilled, dropped, spilled)
	default:
		msg = fmt.Errorf("delivery: %s: %d records dropped and %d spilled since the last report (%d and %d in all)",
			r.name, newDropped, newSpilled, dropped, spilled)
	}
	r.last, r.failures, r.lastErr, r.dropped, r.spilled = now, 0, nil, dropped, spilled
	return msg
}

// lossTotals returns the records dropped and spilled so far.
func (p *Processor) lossTotals() (dropped, spilled uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	dropped = p.ledger.total
	if s := p.spill; s != nil {
		spilled = s.ledger.total
	}
	return dropped, spilled
}

// reportLoss hands the processor's loss report, if one is due, to the OTel
// error handler. exportErr is the failure of the export that just ended,
// or nil. It must be called without p.mu held.
func (p *Processor) reportLoss(exportErr error, force bool) {
	dropped, spilled := p.lossTotals()
	if msg := p.loud.observe(time.Now(), exportErr, dropped, spilled, force); msg != nil {
		otel.Handle(msg)
	}
}
