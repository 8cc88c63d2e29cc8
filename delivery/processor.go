package delivery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/semconv"
)

var (
	// ErrShutdown is returned by OnEmit after Shutdown began; the record is
	// counted as dropped ([ReasonClosed]), or spilled while the spill
	// exporter still takes records.
	ErrShutdown = errors.New("delivery: processor is shut down")
	// ErrNotDelivered is returned by OnEmit for a blocking or strict record
	// that the exporter did not accept within the timeout (the record stays
	// queued), or that was dropped.
	ErrNotDelivered = errors.New("delivery: record not delivered in time")
)

// Processor is an [sdklog.Processor] that hands records to an exporter
// through a bounded, prioritised queue, with explicit delivery modes, and
// counts every record it loses. Create it with [New]; see the package
// documentation.
//
// Its methods are safe for concurrent use. A nil *Processor does nothing:
// OnEmit, Admit, ForceFlush and Shutdown return nil.
type Processor struct {
	exp sdklog.Exporter
	cfg resolved
	tel *telemetry
	// spill, when configured, takes the records the processor would
	// otherwise drop; see spill.go.
	spill *spiller
	// loud reports failed exports and lost records; see loud.go.
	loud lossReport

	mu           sync.Mutex
	q            queue
	seq          uint64             // last seq handed out
	numbered     uint64             // last audit.sequence given (WithStream)
	inflight     []meta             // the batch in the exporter's hands …
	inflightRecs []sdklog.Record    // … and its records
	exportGen    uint64             // exports started
	doneGen      uint64             // exports finished
	exportStart  time.Time          // zero when no export runs
	failing      error              // the last export failed and its records wait for a retry
	failingSince time.Time          // start of the current run of failures
	strictErr    error              // a strict record missed its deadline; cleared by a success
	lastSuccess  time.Time          //
	lastErr      error              //
	lastErrAt    time.Time          //
	progress     chan struct{}      // closed and replaced whenever waiters should look again
	closing      bool               // Shutdown began
	abandoned    bool               // Shutdown's context ended: the worker's results no longer count
	finalDone    bool               // the final summary was queued
	ledger       ledger             // drops
	waiters      map[uint64]*waiter // blocking and strict records' emitters, by seq
	stallAfter   time.Duration      // when an export is deemed stalled (see stalledLocked); tests shorten it
	template     *sdklog.Record     // resource and scope for summary records
	lastTrim     time.Time
	flushing     int // ForceFlush calls in progress: no lingering

	closed       atomic.Bool
	wake         chan struct{} // records wait: cap 1
	stop         chan struct{} // closed by Shutdown: drain, then exit
	quit         chan struct{} // closed when Shutdown gives up: exit now
	exited       chan struct{} // closed by the worker on exit
	exportCtx    context.Context
	cancelExport context.CancelFunc
	shutdownOnce sync.Once

	emitted, exported, exportErrors atomic.Uint64
	rejected, waitTimeouts          atomic.Uint64
	summaries                       atomic.Uint64
}

var (
	_ sdklog.Processor = (*Processor)(nil)
	_ Gate             = (*Processor)(nil)
)

// New returns a Processor exporting to exp, and starts its worker
// goroutine (stopped by Shutdown). It returns an error naming the option
// or environment variable when a setting is invalid.
func New(exp sdklog.Exporter, opts ...Option) (*Processor, error) {
	if exp == nil {
		return nil, errors.New("delivery: New: exporter is nil")
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	p := &Processor{
		exp:      exp,
		cfg:      cfg,
		progress: make(chan struct{}),
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		quit:     make(chan struct{}),
		exited:   make(chan struct{}),

		stallAfter: stallAfter,
	}
	p.ledger.windowStart = time.Now()
	p.loud = lossReport{name: cfg.name, interval: LossReportInterval}
	// The spill file first: its failure must leave nothing registered.
	if t := cfg.spill; t.exp != nil || t.dir != "" {
		exp, path := t.exp, ""
		if exp == nil {
			path = spillPath(t.dir, cfg.name)
			warnLeftover(path)
			if exp, err = newSpillExporter(path); err != nil {
				return nil, spillDirError(cfg, err)
			}
		}
		p.spill = newSpiller(exp, cfg.queueSize, path, cfg.spillMax)
	}
	if p.tel, err = newTelemetry(p); err != nil {
		if p.spill != nil {
			_ = p.spill.exp.Shutdown(context.Background())
		}
		return nil, err
	}
	if p.spill != nil {
		go p.runSpill()
	}
	p.exportCtx, p.cancelExport = context.WithCancel(context.Background())
	go p.run()
	return p, nil
}

// CopiesRecords reports whether OnEmit queues a copy of each record it is
// given: true unless the processor was built [WithoutCopy].
func (p *Processor) CopiesRecords() bool { return p != nil && !p.cfg.noCopy }

// Enabled reports whether the processor takes records: true until
// Shutdown.
func (p *Processor) Enabled(context.Context, sdklog.EnabledParameters) bool {
	return p != nil && !p.closed.Load()
}

// OnEmit queues a copy of r for export (r itself under [WithoutCopy]).
//
// In async mode it never waits: when the queue is full, a record of the
// lowest priority present makes room for r if r ranks higher (the newest
// record of the actor holding the most records of that priority), or if
// r ranks the same and that actor holds at least two more of them than
// r's actor; else r itself is dropped. Either loss is counted and OnEmit
// returns nil.
// Blocking and strict records (see [Mode]) wait, up to the timeout and
// while ctx lasts, first for room and then for the exporter to accept
// them; OnEmit then returns nil, or an error wrapping [ErrNotDelivered]
// (the record stays queued unless it was dropped). After Shutdown began it
// returns [ErrShutdown] and counts the record as dropped (or spills it).
func (p *Processor) OnEmit(ctx context.Context, r *sdklog.Record) error {
	if p == nil || r == nil {
		return nil
	}
	p.emitted.Add(1)
	m, mode := p.classify(r)
	if mode != ModeAsync {
		return p.emitWaiting(ctx, r, m, mode)
	}
	// The async path keeps a small stack frame: the record is cloned
	// straight into its queue slot.
	p.mu.Lock()
	if p.template == nil {
		p.setTemplate(r)
	}
	if p.closing {
		p.loseLocked(r, ReasonClosed)
		p.mu.Unlock()
		return ErrShutdown
	}
	if !p.makeRoomLocked(m) {
		p.loseLocked(r, ReasonQueueFull)
		p.mu.Unlock()
		return nil
	}
	wake := p.enqueueLocked(r, m, nil)
	p.mu.Unlock()
	if wake {
		p.signal()
	}
	return nil
}

// emitWaiting is OnEmit for blocking and strict records: wait for room,
// queue, wait for the export.
func (p *Processor) emitWaiting(ctx context.Context, r *sdklog.Record, m meta, mode Mode) error {
	w := &waiter{done: make(chan struct{})}
	deadline := time.Now().Add(p.cfg.timeout)
	var timer *time.Timer
	defer stopTimer(&timer)

	p.mu.Lock()
	if p.template == nil {
		p.setTemplate(r)
	}
	for {
		if p.closing {
			p.loseLocked(r, ReasonClosed)
			p.mu.Unlock()
			return ErrShutdown
		}
		if p.makeRoomLocked(m) {
			break
		}
		wait := time.Until(deadline)
		if wait <= 0 || ctx.Err() != nil {
			p.loseLocked(r, ReasonQueueFull)
			p.mu.Unlock()
			return fmt.Errorf("%w: queue full", ErrNotDelivered)
		}
		ch := p.progress
		p.mu.Unlock()
		resetTimer(&timer, wait)
		select {
		case <-ch:
		case <-timer.C:
		case <-ctx.Done():
		}
		p.mu.Lock()
	}
	wake := p.enqueueLocked(r, m, w)
	p.mu.Unlock()
	if wake {
		p.signal()
	}
	return p.await(ctx, w, mode, deadline, &timer)
}

// makeRoomLocked reports whether a record with meta m (class and actor)
// can be queued now. When the queue is full:
//
//   - A record of the trail classes (audit and security, see isTrail)
//     evicts the victim of the lowest class present if that class is below
//     the trail (OK responses, redirects, anonymous client errors: priority
//     first). When only trail and strict records are queued, fairness
//     between actors comes first, across the trail classes: the candidate
//     is the newest record of the lowest trail class of the actor M holding
//     the most trail records (see queue.trailVictim). It is evicted when M
//     is m's own actor and the candidate's class is below m's (an actor's
//     less valuable record makes room for its more valuable one); or when
//     M holds at least two more trail records than m's actor, whatever the
//     classes (one actor's flood of security events evicts its own records,
//     never the others' logins and model changes); or one more and the
//     candidate's class is below m's (priority between about equal shares).
//     Otherwise m is the record dropped.
//   - Any other record evicts the victim of the lowest class present (see
//     queue.victim) if that class is below m's, or if it is m's own class
//     (strict excepted: strict records wait) and the victim's actor holds
//     at least two more records of it than m's actor: one actor's flood
//     then evicts its own records, and actors end up holding equal shares.
//     So a sampled OK response never displaces a security event, however
//     many its actor holds.
//
// p.mu must be held.
func (p *Processor) makeRoomLocked(m meta) bool {
	if p.q.size < p.cfg.queueSize {
		return true
	}
	low := p.q.lowest()
	switch {
	case low < 0:
		return false
	case isTrail(m.class) && isTrail(uint8(low)):
		return p.makeTrailRoomLocked(m)
	case low < int(m.class):
		p.evictLocked(low, ReasonEvicted)
		return true
	case low == int(m.class) && low != classStrict:
		if v := p.q.at(p.q.victim(low)); v.actor != m.actor &&
			p.q.held(v.actor, m.class) >= p.q.held(m.actor, m.class)+2 {
			p.evictLocked(low, ReasonEvicted)
			return true
		}
	}
	return false
}

// makeTrailRoomLocked is makeRoomLocked for a record of a trail class
// when the lowest class queued is a trail class. p.mu must be held.
func (p *Processor) makeTrailRoomLocked(m meta) bool {
	s, heaviest := p.q.trailVictim()
	if s == 0 {
		return false
	}
	v := p.q.at(s)
	lower := v.class < m.class
	if v.actor == m.actor {
		if !lower {
			return false
		}
	} else if own := p.q.held(m.actor, classTrail); heaviest < own+2 && (!lower || heaviest < own+1) {
		return false
	}
	p.dropLocked(v, ReasonEvicted)
	p.q.remove(s)
	return true
}

// evictLocked drops the victim of class c: the newest record of the actor
// holding the most records of the class. p.mu must be held.
func (p *Processor) evictLocked(c int, reason string) {
	s := p.q.victim(c)
	p.dropLocked(p.q.at(s), reason)
	p.q.remove(s)
}

// evictOverflowLocked drops one record from a queue that holds more than
// it may (a failed batch was put back): the victim of the lowest class, or
// the trail victim (see queue.trailVictim) when that class is a trail
// class, as a new record of the highest class would. p.mu must be held.
func (p *Processor) evictOverflowLocked() {
	low := p.q.lowest()
	if !isTrail(uint8(low)) {
		p.evictLocked(low, ReasonQueueFull)
		return
	}
	s, _ := p.q.trailVictim()
	p.dropLocked(p.q.at(s), ReasonQueueFull)
	p.q.remove(s)
}

// packBeyond is the number of records that a stalled or failing exporter
// leaves held as SDK records: the queue packs the records behind them
// (see store).
const packBeyond = 32

// stallAfter is how long an export runs before the processor deems it
// stalled: records queued behind it then wait for long, through garbage
// collections. A healthy export takes milliseconds.
const stallAfter = 100 * time.Millisecond

// enqueueLocked copies r into a new queue slot (or, under WithoutCopy,
// takes its attribute array) and reports whether the
// worker needs waking: it may be idle or lingering, and has reason to
// stop when this is the first record, the batch is full, or someone
// waits. p.mu must be held.
func (p *Processor) enqueueLocked(r *sdklog.Record, m meta, w *waiter) (wake bool) {
	p.seq++
	m.seq = p.seq
	if w != nil {
		m.waits = true
		if p.waiters == nil {
			p.waiters = make(map[uint64]*waiter)
		}
		p.waiters[m.seq] = w
	} else if p.q.size >= packBeyond && p.stalledLocked() {
		// Held records are what every garbage collection marks: these
		// are held packed. Not those of a healthy exporter, even
		// behind a backlog: rebuilding a record costs its worker more
		// than the collections it would wait through.
		if h, ok := p.q.st.pack(r); ok {
			m.packed = true
			p.q.reserve(m).rec = h
			return p.q.size >= p.cfg.batchSize
		}
	}
	e := p.q.reserve(m)
	e.rec = p.q.st.newFull()
	dst := p.q.st.fullSlot(e.rec)
	switch {
	case p.cfg.noCopy:
		// WithoutCopy: no processor after this one changes r, and the
		// SDK made r for this Emit alone, so r's attribute array is
		// the queue's to keep (and to append the stream's attributes
		// to, past r's length).
		*dst = *r
	case p.cfg.stream != "" && p.q.size <= p.cfg.batchSize:
		// Taken with the next batch: numbered soon.
		moveInto(dst, r)
	default:
		cloneInto(dst, r)
	}
	return p.q.size == 1 || p.q.size >= p.cfg.batchSize || w != nil
}

// stalledLocked reports whether the records queued now will wait long: the
// last export failed, or the one in progress has run for p.stallAfter.
// p.mu must be held.
func (p *Processor) stalledLocked() bool {
	if p.failing != nil {
		return true
	}
	return !p.exportStart.IsZero() && time.Since(p.exportStart) >= p.stallAfter
}

// cloneInto deep-copies src into dst. Kept out of line so that its
// record-sized temporary is on the stack only for the copy: emitting
// goroutines are often deep in middleware, and a big frame on the record
// path makes their stacks grow (and be copied) again after every GC
// shrinks them.
//
//go:noinline
func cloneInto(dst, src *sdklog.Record) { *dst = src.Clone() }

// moveInto queues src as dst for a stream that numbers its records: dst
// takes src's attribute array and src gets a copy of it. The SDK grows a
// record's array by doubling as it copies the attributes in, so the array
// it built usually has room for the two attributes the worker adds
// (audit.stream.id, audit.sequence) where a clone, sized to fit, had none:
// numbering then allocates nothing, where it grew the clone (into twice
// its size: 1.1 KB for a 14-attribute record). The two records are equal,
// as after cloneInto; only which one holds the larger array changes.
//
//go:noinline
func moveInto(dst, src *sdklog.Record) {
	*dst = *src
	*src = dst.Clone()
}

// await waits for a blocking or strict record's export.
func (p *Processor) await(ctx context.Context, w *waiter, mode Mode, deadline time.Time, timer **time.Timer) error {
	if wait := time.Until(deadline); wait > 0 {
		resetTimer(timer, wait)
		select {
		case <-w.done:
		case <-(*timer).C:
		case <-ctx.Done():
		}
	}
	select {
	case <-w.done:
		if w.exported {
			return nil
		}
		return fmt.Errorf("%w: dropped", ErrNotDelivered)
	default:
	}
	if ctx.Err() != nil && time.Now().Before(deadline) {
		return fmt.Errorf("%w: %w", ErrNotDelivered, ctx.Err())
	}
	p.waitTimeouts.Add(1)
	err := fmt.Errorf("%w: not exported within %v", ErrNotDelivered, p.cfg.timeout)
	if mode == ModeStrict {
		p.mu.Lock()
		if p.strictErr == nil {
			p.strictErr = fmt.Errorf("a strict record was not exported within %v", p.cfg.timeout)
		}
		p.broadcastLocked()
		p.mu.Unlock()
	}
	return err
}

// classify returns r's queue class and actor (as a meta), and its mode.
func (p *Processor) classify(r *sdklog.Record) (meta, Mode) {
	actor, user := actorOf(r)
	name := r.EventName()
	if p.cfg.mode == ModeStrict || p.cfg.strict.match(name) {
		return meta{class: uint8(classStrict), actor: actor}, ModeStrict
	}
	mode := p.cfg.mode
	if mode == ModeAsync && p.cfg.blocking.match(name) {
		mode = ModeBlocking
	}
	if p.cfg.priority != nil {
		return meta{class: uint8(p.customPriority(r)), actor: actor}, mode
	}
	pr := basePriority(r)
	if pr == PrioritySecurity && !user && name == semconv.EventHTTPResponseClientError {
		pr = PriorityAnonymous
	}
	return meta{class: uint8(pr), actor: actor}, mode
}

func (p *Processor) customPriority(r *sdklog.Record) (pr Priority) {
	defer func() {
		if recover() != nil {
			pr = PriorityAudit
		}
	}()
	return min(p.cfg.priority(r), PrioritySecurity)
}

// setTemplate keeps r's resource and scope (and nothing of its content)
// for summary records.
func (p *Processor) setTemplate(r *sdklog.Record) {
	t := r.Clone()
	t.SetAttributes()
	t.SetBody(emptyValue)
	p.template = &t
}

// signal wakes the worker.
func (p *Processor) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// broadcastLocked wakes everyone waiting on progress; p.mu must be held.
func (p *Processor) broadcastLocked() {
	close(p.progress)
	p.progress = make(chan struct{})
}

// finishLocked tells m's waiter, if any, whether its record was exported,
// and forgets it. p.mu must be held.
func (p *Processor) finishLocked(m *meta, exported bool) {
	if !m.waits {
		return
	}
	if w := p.waiters[m.seq]; w != nil {
		delete(p.waiters, m.seq)
		w.exported = exported
		close(w.done)
	}
}

// dropLocked counts the queued record e as lost and tells its waiter; p.mu
// must be held. Without a spill exporter, a user record's event name is
// all the count needs: it is not rebuilt.
func (p *Processor) dropLocked(e *entry, reason string) {
	if p.spill == nil && !e.internal {
		p.finishLocked(&e.meta, false)
		p.ledger.add(reason, p.q.st.eventName(e.rec))
		return
	}
	p.dropHeldLocked(e, reason)
}

// dropHeldLocked is dropLocked with the record rebuilt. Kept out of line
// for its record-sized temporary; see cloneInto.
//
//go:noinline
func (p *Processor) dropHeldLocked(e *entry, reason string) {
	var r sdklog.Record
	p.q.st.load(&r, e.rec)
	p.dropMetaLocked(&e.meta, &r, reason)
}

func (p *Processor) dropMetaLocked(m *meta, r *sdklog.Record, reason string) {
	p.finishLocked(m, false)
	if m.internal {
		// A summary the exporter could not take goes to the spill file
		// too, uncounted: the account of losses is worth keeping.
		p.offerLocked(r, reasonInternal)
		return
	}
	p.loseLocked(r, reason)
}

// loseLocked hands r, which the processor cannot deliver, to the spill
// exporter, or counts it as dropped when there is none or its buffer is
// full. p.mu must be held.
func (p *Processor) loseLocked(r *sdklog.Record, reason string) {
	if !p.offerLocked(r, reason) {
		p.ledger.add(reason, r.EventName())
	}
}

// shrinkBatchAbove is the capacity above which an idle worker's batch
// buffers are given back when the queue is trimmed.
const shrinkBatchAbove = 64

// trimEvery is how often, at most, an idle worker gives back the queue
// buffers a burst grew.
const trimEvery = 10 * time.Second

// run is the worker: it exports batches as soon as records wait, retries
// failed batches with back-off, queues summaries, and drains the queue at
// Shutdown.
func (p *Processor) run() {
	defer close(p.exited)
	var tick <-chan time.Time
	if p.cfg.summary > 0 {
		t := time.NewTicker(p.cfg.summary)
		defer t.Stop()
		tick = t.C
	}
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	defer linger.Stop()
	// The batch buffers grow to the largest batch taken, not to the batch
	// size: a record is some 600 bytes of pointer-bearing memory that every
	// GC cycle scans, and a server with a few events a second would carry
	// a full batch's worth (300 KB at the default size) for nothing. They
	// are given back with the queue's buffers (below): when the worker
	// finds the queue empty after an export at least trimEvery after the
	// last trim, so after a burst, with the next events.
	var recs []sdklog.Record
	var metas []meta
	var backoff time.Duration
	for {
		select {
		case <-tick:
			p.mu.Lock()
			p.queueSummaryLocked(time.Now(), false)
			p.mu.Unlock()
		default:
		}
		p.mu.Lock()
		if p.q.size == 0 {
			if now := time.Now(); now.Sub(p.lastTrim) >= trimEvery {
				p.q.trim()
				if cap(recs) > shrinkBatchAbove {
					recs, metas = nil, nil
				}
				p.lastTrim = now
			}
		}
		for p.q.size == 0 && !p.abandoned {
			if p.closing {
				if p.queueSummaryLocked(time.Now(), true) {
					continue
				}
				p.mu.Unlock()
				return
			}
			p.mu.Unlock()
			select {
			case <-p.wake:
			case <-p.stop:
			case <-tick:
				p.mu.Lock()
				p.queueSummaryLocked(time.Now(), false)
				p.mu.Unlock()
			}
			p.mu.Lock()
		}
		if p.lingerLocked(linger) {
			p.mu.Unlock()
			return
		}
		recs, metas = p.q.take(recs[:0], metas[:0], p.cfg.batchSize)
		p.numberLocked(recs, metas)
		p.inflight, p.inflightRecs = metas, recs
		p.exportGen++
		p.exportStart = time.Now()
		p.broadcastLocked() // room in the queue
		p.mu.Unlock()

		err := p.export(recs)

		p.mu.Lock()
		if p.abandoned { // Shutdown counted the batch
			p.mu.Unlock()
			return
		}
		now := time.Now()
		p.doneGen = p.exportGen
		p.exportStart = time.Time{}
		p.inflight, p.inflightRecs = nil, nil
		var wait time.Duration
		if err == nil {
			p.succeededLocked(metas, now)
			backoff = 0
		} else {
			wait = p.failedLocked(recs, metas, err, now, &backoff)
		}
		p.broadcastLocked()
		p.mu.Unlock()
		clear(recs) // the queue holds its own copies of retried records
		clear(metas)

		if wait > 0 {
			retry.Reset(wait)
			select {
			case <-retry.C:
			case <-p.quit:
				return
			}
		}
	}
}

// numberLocked gives each record of a batch taken from the queue its
// audit.stream.id and audit.sequence (WithStream), once. p.mu must be held.
func (p *Processor) numberLocked(recs []sdklog.Record, metas []meta) {
	if p.cfg.stream == "" {
		return
	}
	for i := range metas {
		if metas[i].number != 0 {
			continue // a retry: the record has its number
		}
		p.numbered++
		metas[i].number = p.numbered
		recs[i].AddAttributes(
			semconv.AuditStreamIDKey.String(p.cfg.stream),
			semconv.AuditSequenceKey.Int64(int64(p.numbered)),
		)
	}
}

// lingerLocked waits, up to the linger time, for a batch to fill, unless
// someone waits for the records (a blocking or strict emitter, ForceFlush,
// Shutdown). It reports whether the worker must exit. p.mu must be held;
// it is released while waiting.
func (p *Processor) lingerLocked(t *time.Timer) (exit bool) {
	if p.cfg.linger <= 0 {
		return p.abandoned
	}
	deadline := time.Now().Add(p.cfg.linger)
	for !p.abandoned && !p.closing && p.flushing == 0 && p.q.waiters == 0 && p.q.size < p.cfg.batchSize {
		wait := time.Until(deadline)
		if wait <= 0 {
			break
		}
		p.mu.Unlock()
		t.Reset(wait)
		select {
		case <-p.wake:
		case <-t.C:
		case <-p.stop:
		case <-p.quit:
		}
		t.Stop()
		p.mu.Lock()
	}
	return p.abandoned
}

// export hands recs to the exporter. A panicking exporter is an error.
func (p *Processor) export(recs []sdklog.Record) (err error) {
	ctx, cancel := context.WithTimeout(p.exportCtx, p.cfg.exportTimeout)
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errExporterPanicked, r)
		}
		cancel()
		p.tel.exportDone(time.Since(start), err)
		// Failures and losses go to the error handler: the first at once,
		// then at most one report per LossReportInterval, with counts. The
		// full error, which names the endpoint or file, goes there only;
		// the health report shows its kind.
		var failed error
		if err != nil {
			failed = fmt.Errorf("export of %d records: %w", len(recs), err)
		}
		p.reportLoss(failed, false)
	}()
	return p.exp.Export(ctx, recs)
}

func (p *Processor) succeededLocked(metas []meta, now time.Time) {
	var n uint64
	for i := range metas {
		if !metas[i].internal {
			n++
		}
		p.finishLocked(&metas[i], true)
	}
	p.exported.Add(n)
	p.failing, p.strictErr = nil, nil
	p.lastSuccess = now
}

// failedLocked keeps the batch for a retry, or drops it when retrying is
// pointless or over time, and returns the back-off to wait.
func (p *Processor) failedLocked(recs []sdklog.Record, metas []meta, err error, now time.Time, backoff *time.Duration) time.Duration {
	p.exportErrors.Add(1)
	p.lastErr, p.lastErrAt = err, now
	if p.failing == nil {
		p.failingSince = now
	}
	p.failing = err
	permanent := errors.Is(err, sdklog.ErrExporterShutdown)
	if permanent || (p.cfg.retryElapsed > 0 && now.Sub(p.failingSince) >= p.cfg.retryElapsed) {
		for i := range metas {
			p.dropMetaLocked(&metas[i], &recs[i], ReasonExportFailed)
		}
		if permanent {
			return 0
		}
	} else {
		p.q.putBack(recs, metas)
		for p.q.size > p.cfg.queueSize {
			p.evictOverflowLocked()
		}
	}
	if *backoff == 0 {
		*backoff = p.cfg.retryInitial
	} else {
		*backoff = min(2**backoff, p.cfg.retryMax)
	}
	return *backoff
}

// ForceFlush waits until every record queued before the call has been
// exported, spilled or dropped, then flushes the exporter and the spill
// exporter. It returns ctx's error if ctx ends first (while the exporter
// keeps failing, for instance). Records on their way to the spill exporter
// are not waited for.
func (p *Processor) ForceFlush(ctx context.Context) error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	target := p.seq
	p.flushing++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.flushing--
		p.mu.Unlock()
	}()
	p.signal()
	for {
		p.mu.Lock()
		done := p.abandoned || p.settledLocked(target)
		ch := p.progress
		p.mu.Unlock()
		if done {
			break
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := p.exp.ForceFlush(ctx)
	if p.spill != nil {
		err = errors.Join(err, p.spillExporter().ForceFlush(ctx))
	}
	return err
}

// settledLocked reports whether no record with seq <= target waits.
func (p *Processor) settledLocked(target uint64) bool {
	if len(p.inflight) > 0 && p.inflight[0].seq <= target {
		return false
	}
	if s, ok := p.q.minSeq(); ok && s <= target {
		return false
	}
	return true
}

// Shutdown stops taking records, exports everything queued (retrying
// failures) and shuts the exporter down. If ctx ends first, every record
// not yet exported is counted as dropped ([ReasonShutdown]), the export in
// progress is cancelled, and ctx's error is returned: when Shutdown
// returns, emitted = exported + dropped. A record counted as dropped here
// may still have reached the exporter, if an export was cancelled after it
// had already sent it. Later calls return nil.
//
// With a spill exporter ([WithSpill], [WithSpillDir]), the records left at
// ctx's end are spilled instead, Shutdown then takes up to [SpillGrace]
// longer to write them, and when it returns emitted = exported + spilled +
// dropped.
func (p *Processor) Shutdown(ctx context.Context) error {
	if p == nil {
		return nil
	}
	var err error
	p.shutdownOnce.Do(func() {
		p.closed.Store(true)
		p.mu.Lock()
		p.closing = true
		p.broadcastLocked()
		p.mu.Unlock()
		close(p.stop)
		select {
		case <-p.exited:
		case <-ctx.Done():
			p.abandon()
			err = fmt.Errorf("delivery: shutdown: %w", ctx.Err())
		}
		p.cancelExport()
		if serr := p.shutdownSpill(ctx); serr != nil {
			err = errors.Join(err, serr)
		}
		if serr := p.exp.Shutdown(ctx); serr != nil {
			err = errors.Join(err, serr)
		}
		// Whatever was lost since the last report is said now, and a
		// failed Shutdown says what it cost.
		p.reportLoss(nil, true)
		if err != nil {
			dropped, spilled := p.lossTotals()
			err = fmt.Errorf("%w (%s: %d records lost, %d spilled, in all)", err, p.cfg.name, dropped, spilled)
		}
	})
	return err
}

// abandon counts everything still waiting as lost and releases the worker.
func (p *Processor) abandon() {
	p.mu.Lock()
	p.abandoned = true
	p.q.drain(func(e *entry) { p.dropLocked(e, ReasonShutdown) })
	for i := range p.inflight {
		p.dropMetaLocked(&p.inflight[i], &p.inflightRecs[i], ReasonShutdown)
	}
	p.inflight, p.inflightRecs = nil, nil
	p.broadcastLocked()
	p.mu.Unlock()
	close(p.quit)
}

func resetTimer(t **time.Timer, d time.Duration) {
	if *t == nil {
		*t = time.NewTimer(d)
		return
	}
	(*t).Reset(d)
}

func stopTimer(t **time.Timer) {
	if *t != nil {
		(*t).Stop()
	}
}
