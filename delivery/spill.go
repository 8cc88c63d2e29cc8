package delivery

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/exporter"
)

// SpillGrace bounds how long Shutdown goes on writing records to the spill
// exporter after its context has ended: the records left in the queue at
// the deadline are spilled rather than dropped, and those not written
// within SpillGrace are counted as dropped ([ReasonShutdown]).
const SpillGrace = time.Second

// spillSync is how often, at most, the spill file of WithSpillDir is
// fsynced.
const spillSync = time.Second

// spillFileName checks that the processor's name can name the spill file.
func spillFileName(name string) error {
	if name == "." || name == ".." || strings.ContainsAny(name, `/\`+"\x00") {
		return fmt.Errorf("processor name %q cannot name a file: give WithName a plain name", name)
	}
	return nil
}

// spillPath is the dead-letter JSONL file of WithSpillDir.
func spillPath(dir, name string) string { return filepath.Join(dir, name+".spill.jsonl") }

// warnLeftover reports, through the OTel error handler, a spill file that
// already holds records (from an earlier run, or an outage not yet
// replayed): they reach no backend until someone replays them.
func warnLeftover(path string) {
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		otel.Handle(fmt.Errorf("delivery: spill file %s already holds %d bytes of records no backend has; send them with tools/spillreplay, then remove the file", path, fi.Size()))
	}
}

// newSpillExporter opens the dead-letter JSONL file at path.
func newSpillExporter(path string) (sdklog.Exporter, error) {
	exp, err := exporter.NewJSONL(exporter.WithFile(path), exporter.WithFsync(exporter.FsyncInterval(spillSync)))
	if err != nil {
		return nil, err
	}
	return exp, nil
}

// errSpillFull is the error a spill batch fails with once the spill file
// has reached its cap.
var errSpillFull = errors.New("delivery: spill file reached its size cap (WithSpillMaxBytes)")

// spiller is the processor's dead-letter path: records the processor would
// drop wait in a buffer (guarded by the processor's mutex) for a goroutine
// of their own that exports them to the spill exporter. Records waiting
// and records being exported are bounded together by limit. The
// emitting goroutine and the worker only copy a record; a slow disk costs
// them nothing.
type spiller struct {
	exp   sdklog.Exporter
	limit int
	// path and maxBytes: the file of WithSpillDir and its cap; path is
	// empty for an exporter given to WithSpill.
	path     string
	maxBytes int64

	// Guarded by Processor.mu.
	recs     []sdklog.Record
	reasons  []string
	inflight []spilled // being exported now
	closed   bool      // Shutdown is done with the queue: exit once empty
	gaveUp   bool      // Shutdown's grace ended: the goroutine's results no longer count
	ledger   ledger    // records written, by reason and event name
	errors   uint64    // failed Export calls
	full     uint64    // batches refused because the file reached its cap
	last     time.Time // when records were last written

	wake chan struct{} // cap 1
	done chan struct{} // closed when the goroutine exits
	ctx  context.Context
	stop context.CancelFunc
}

// spilled is what the accounting needs of a record being spilled.
type spilled struct{ reason, event string }

// reasonInternal marks a spilled summary record: written like the others,
// counted nowhere (summaries are not emitted records).
const reasonInternal = ""

func newSpiller(exp sdklog.Exporter, limit int, path string, maxBytes int64) *spiller {
	s := &spiller{exp: exp, limit: limit, path: path, maxBytes: maxBytes, wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.ctx, s.stop = context.WithCancel(context.Background())
	return s
}

// offerLocked copies r into the spill buffer and reports whether it did;
// false when there is no spill exporter, or its buffer is full or closed.
// p.mu must be held.
func (p *Processor) offerLocked(r *sdklog.Record, reason string) bool {
	s := p.spill
	if s == nil || s.closed || len(s.recs)+len(s.inflight) >= s.limit {
		return false
	}
	s.recs = append(s.recs, sdklog.Record{})
	cloneInto(&s.recs[len(s.recs)-1], r)
	s.reasons = append(s.reasons, reason)
	if len(s.recs) == 1 {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// spillPendingLocked is the number of records handed to the spiller and
// not yet counted as spilled or dropped. p.mu must be held.
func (p *Processor) spillPendingLocked() int {
	if p.spill == nil {
		return 0
	}
	return len(p.spill.recs) + len(p.spill.inflight)
}

// runSpill is the spill goroutine: it takes the buffered records, exports
// them in batches and counts each as spilled, or as dropped for its
// original reason when the spill exporter fails.
func (p *Processor) runSpill() {
	s := p.spill
	defer close(s.done)
	var spare []sdklog.Record
	var spareReasons []string
	for {
		p.mu.Lock()
		for len(s.recs) == 0 && !s.closed && !s.gaveUp {
			p.mu.Unlock()
			<-s.wake
			p.mu.Lock()
		}
		if s.gaveUp || len(s.recs) == 0 {
			p.mu.Unlock()
			return
		}
		recs, reasons := s.recs, s.reasons
		s.recs, s.reasons = spare, spareReasons
		s.inflight = s.inflight[:0]
		for i := range recs {
			s.inflight = append(s.inflight, spilled{reasons[i], recs[i].EventName()})
		}
		p.mu.Unlock()

		for start := 0; start < len(recs); start += p.cfg.batchSize {
			end := min(start+p.cfg.batchSize, len(recs))
			err := p.exportSpill(recs[start:end])
			// Written or failed: let them go before the buffer may refill
			// into their room.
			clear(recs[start:end])
			p.mu.Lock()
			if s.gaveUp { // Shutdown counted them
				p.mu.Unlock()
				return
			}
			switch {
			case errors.Is(err, errSpillFull):
				s.full++
			case err != nil:
				s.errors++
			default:
				s.last = time.Now()
			}
			for _, sp := range s.inflight[:end-start] {
				if sp.reason == reasonInternal {
					continue
				}
				if err == nil {
					s.ledger.add(sp.reason, sp.event)
				} else {
					p.ledger.add(sp.reason, sp.event)
				}
			}
			s.inflight = s.inflight[end-start:]
			p.broadcastLocked()
			p.mu.Unlock()
		}
		spare, spareReasons = recs[:0], reasons[:0]
		if cap(spare) > 4*p.cfg.batchSize {
			spare, spareReasons = nil, nil // give back what a burst grew
		}
	}
}

// exportSpill hands recs to the spill exporter, unless its file has
// reached its cap. A panic is an error.
func (p *Processor) exportSpill(recs []sdklog.Record) (err error) {
	s := p.spill
	if s.path != "" {
		fi, err := os.Stat(s.path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// The file was moved or removed (taken away to be re-ingested,
			// say): start a new one, or records would go on into a file
			// nobody sees, beyond the cap's reach.
			if err := p.reopenSpill(); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("delivery: spill file: %w", err)
		case fi.Size() >= s.maxBytes:
			return errSpillFull
		}
	}
	ctx, cancel := context.WithTimeout(s.ctx, p.cfg.exportTimeout)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("delivery: spill exporter panicked: %v", r)
		}
		cancel()
	}()
	return p.spillExporter().Export(ctx, recs)
}

// spillExporter returns the spill exporter in use (reopenSpill replaces
// it).
func (p *Processor) spillExporter() sdklog.Exporter {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.spill.exp
}

// reopenSpill opens a new spill file at the spill path and shuts the old
// exporter down. It is called by the spill goroutine only.
func (p *Processor) reopenSpill() error {
	s := p.spill
	exp, err := newSpillExporter(s.path)
	if err != nil {
		return fmt.Errorf("delivery: reopening the spill file: %w", err)
	}
	p.mu.Lock()
	old := s.exp
	if s.gaveUp { // Shutdown is shutting the current one down
		old = exp
	} else {
		s.exp = exp
	}
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), SpillGrace)
	defer cancel()
	_ = old.Shutdown(ctx) // its file is gone: closing it is all that is left
	if old == exp {
		return errors.New("delivery: spill: shut down")
	}
	return nil
}

// shutdownSpill lets the spill goroutine write what it holds, within ctx
// and, when ctx ends first, for up to SpillGrace more; counts whatever is
// left then as dropped; and shuts the spill exporter down.
func (p *Processor) shutdownSpill(ctx context.Context) error {
	s := p.spill
	if s == nil {
		return nil
	}
	p.mu.Lock()
	s.closed = true
	p.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	var err error
	if !waitDone(ctx, s.done) {
		grace, cancel := context.WithTimeout(context.Background(), SpillGrace)
		done := waitDone(grace, s.done)
		cancel()
		if !done {
			p.mu.Lock()
			s.gaveUp = true
			for _, sp := range s.inflight {
				if sp.reason != reasonInternal {
					p.ledger.add(sp.reason, sp.event)
				}
			}
			for i := range s.recs {
				if s.reasons[i] != reasonInternal {
					p.ledger.add(s.reasons[i], s.recs[i].EventName())
				}
			}
			s.inflight, s.recs, s.reasons = nil, nil, nil
			p.broadcastLocked()
			p.mu.Unlock()
			err = fmt.Errorf("delivery: spill: gave up %v after the deadline", SpillGrace)
		}
	}
	s.stop() // ends an Export still running, so that Shutdown below gets the lock
	sctx, cancel := context.WithTimeout(context.Background(), SpillGrace)
	defer cancel()
	if serr := p.spillExporter().Shutdown(sctx); serr != nil {
		err = errors.Join(err, fmt.Errorf("delivery: spill exporter shutdown: %w", serr))
	}
	return err
}

// waitDone waits for done or ctx's end and reports whether done is
// closed, preferring done when both are ready.
func waitDone(ctx context.Context, done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	case <-ctx.Done():
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
}
