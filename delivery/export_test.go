package delivery

import "time"

// DeemStalledAfter sets how long an export of p runs before p deems it
// stalled and packs the records queued behind it (see stalledLocked), so
// that a test of a stalled exporter need not wait for stallAfter.
func DeemStalledAfter(p *Processor, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stallAfter = d
}
