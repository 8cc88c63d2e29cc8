package delivery

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrUnavailable is wrapped by the error [Processor.Admit] returns when the
// pipeline cannot deliver a strict record now. A middleware answers 503
// Service Unavailable instead of serving the request unaudited.
var ErrUnavailable = errors.New("delivery: audit pipeline unavailable")

// Gate is what a middleware asks before it serves a request whose events
// must not go unaudited (fail-closed routes). Admit returns nil to serve,
// or an error to refuse with 503. [Processor] and [All] implement it; the
// interface is small so that a middleware can declare its own copy and
// never import this package.
type Gate interface {
	Admit(ctx context.Context) error
}

// errExportInFlight and errQueueFull are the reasons worth waiting out.
var (
	errExportInFlight = errors.New("an export is in progress")
	errQueueFull      = errors.New("the queue is full of strict records")
)

// Admit reports whether a strict record handed to the processor now would
// be exported: it returns nil at once while the pipeline delivers, and an
// error wrapping [ErrUnavailable] while it is known not to (shut down; the
// last export failed and its records wait for a retry; an export has been
// running for longer than the timeout; a strict record recently missed
// its deadline). When an export is in progress it waits for that export's
// outcome, and when the queue is full of strict records it waits for
// room, both for at most the timeout ([WithTimeout]) and while ctx lasts.
// Every refusal is counted ([MetricGateRejected]).
//
// A middleware calls it before the handler of a fail-closed route:
//
//	if err := gate.Admit(r.Context()); err != nil {
//		http.Error(w, "audit unavailable", http.StatusServiceUnavailable)
//		return
//	}
//
// Admit cannot see a failure that has not happened yet: a request
// admitted just before the exporter stalls is served, its strict events
// wait up to the timeout (they stay queued, and are exported or counted
// later), and the first such miss closes the gate at once.
func (p *Processor) Admit(ctx context.Context) error {
	if p == nil {
		return nil
	}
	deadline := time.Now().Add(p.cfg.timeout)
	var timer *time.Timer
	defer stopTimer(&timer)
	var waitGen uint64
	for {
		now := time.Now()
		p.mu.Lock()
		until, cause := p.admissionLocked(now, &waitGen)
		ch := p.progress
		p.mu.Unlock()
		if cause == nil {
			return nil
		}
		if until.IsZero() || !now.Before(deadline) {
			return p.refuse(cause)
		}
		if deadline.Before(until) {
			until = deadline
		}
		resetTimer(&timer, until.Sub(now))
		select {
		case <-ch:
		case <-timer.C:
		case <-ctx.Done():
			return p.refuse(ctx.Err())
		}
	}
}

func (p *Processor) refuse(cause error) error {
	p.rejected.Add(1)
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, p.cfg.name, cause)
}

// admissionLocked returns a nil cause when the pipeline delivers, or why it
// does not; a non-zero until means the reason may clear by itself and is
// worth waiting for until then. waitGen remembers the export Admit waits for.
// p.mu must be held.
func (p *Processor) admissionLocked(now time.Time, waitGen *uint64) (until time.Time, cause error) {
	if cause := p.unavailableLocked(now); cause != nil {
		return time.Time{}, cause
	}
	if !p.exportStart.IsZero() && (*waitGen == 0 || p.doneGen < *waitGen) {
		if *waitGen == 0 {
			*waitGen = p.exportGen
		}
		return p.exportStart.Add(p.cfg.timeout), errExportInFlight
	}
	if p.q.size >= p.cfg.queueSize && p.q.lowest() == classStrict {
		return now.Add(p.cfg.timeout), errQueueFull
	}
	return time.Time{}, nil
}

// unavailableLocked returns why the pipeline does not deliver at all right
// now, or nil. p.mu must be held.
func (p *Processor) unavailableLocked(now time.Time) error {
	switch {
	case p.closing:
		return ErrShutdown
	case p.failing != nil:
		return fmt.Errorf("exports failing since %s: %w", p.failingSince.UTC().Format(time.RFC3339), p.failing)
	case p.strictErr != nil:
		return p.strictErr
	case !p.exportStart.IsZero() && now.Sub(p.exportStart) >= p.cfg.timeout:
		return fmt.Errorf("export stalled for %v", now.Sub(p.exportStart).Round(time.Millisecond))
	}
	return nil
}

// All returns a Gate that admits a request only when every gate does, for
// a pipeline with several exporting processors (a JSONL file and OTLP,
// say): a strict record must reach all of them. Nil gates are skipped.
func All(gates ...Gate) Gate {
	var gs allGates
	for _, g := range gates {
		if g != nil {
			gs = append(gs, g)
		}
	}
	return gs
}

type allGates []Gate

func (gs allGates) Admit(ctx context.Context) error {
	for _, g := range gs {
		if err := g.Admit(ctx); err != nil {
			return err
		}
	}
	return nil
}
