package delivery

import sdklog "go.opentelemetry.io/otel/sdk/log"

// entry is one queued record.
type entry struct {
	rec sdklog.Record
	meta
}

// meta is what the processor knows about a record besides the record.
type meta struct {
	seq      uint64  // arrival order, from 1
	class    uint8   // index into queue.classes
	internal bool    // a summary record: not counted as emitted, exported or dropped
	w        *waiter // blocking and strict records: told when the record leaves
}

// waiter is how a blocking or strict OnEmit learns its record's fate.
type waiter struct {
	done     chan struct{} // closed when the record was exported or dropped
	exported bool          // written before done is closed
}

// finish tells the waiter, if any, and forgets it.
func (e *meta) finish(exported bool) {
	if e.w != nil {
		e.w.exported = exported
		close(e.w.done)
		e.w = nil
	}
}

// deque is a growable ring of entries, ordered by seq.
type deque struct {
	buf  []entry
	head int
	n    int
}

// shrinkAbove is the capacity above which an empty deque gives its buffer
// back when the queue is trimmed, so that a burst does not pin its memory.
const shrinkAbove = 1024

func (d *deque) grow() {
	buf := make([]entry, max(16, 2*len(d.buf)))
	for i := range d.n {
		buf[i] = d.buf[(d.head+i)%len(d.buf)]
	}
	d.buf, d.head = buf, 0
}

func (d *deque) pushBack(e entry) {
	if d.n == len(d.buf) {
		d.grow()
	}
	d.buf[(d.head+d.n)%len(d.buf)] = e
	d.n++
}

func (d *deque) pushFront(e entry) {
	if d.n == len(d.buf) {
		d.grow()
	}
	d.head = (d.head - 1 + len(d.buf)) % len(d.buf)
	d.buf[d.head] = e
	d.n++
}

func (d *deque) front() *entry { return &d.buf[d.head] }

func (d *deque) back() *entry { return &d.buf[(d.head+d.n-1)%len(d.buf)] }

// reserveBack appends an empty slot and returns it.
func (d *deque) reserveBack() *entry {
	if d.n == len(d.buf) {
		d.grow()
	}
	d.n++
	return d.back()
}

// queue holds the waiting records in one deque per class; size counts
// them all.
type queue struct {
	classes [numClasses]deque
	size    int
	waiters int // entries with a waiter
}

func (q *queue) count(e *meta, delta int) {
	q.size += delta
	if e.w != nil {
		q.waiters += delta
	}
}

// lowest returns the lowest non-empty class, or -1.
func (q *queue) lowest() int {
	for c := range q.classes {
		if q.classes[c].n > 0 {
			return c
		}
	}
	return -1
}

// oldest returns the class whose front has the smallest seq, or -1.
func (q *queue) oldest() int {
	best := -1
	var seq uint64
	for c := range q.classes {
		if d := &q.classes[c]; d.n > 0 && (best < 0 || d.front().seq < seq) {
			best, seq = c, d.front().seq
		}
	}
	return best
}

func (q *queue) push(e entry) {
	q.count(&e.meta, 1)
	q.classes[e.class].pushBack(e)
}

// reserve appends a slot for a record with meta m and returns it, for the
// caller to fill in place.
func (q *queue) reserve(m meta) *entry {
	q.count(&m, 1)
	e := q.classes[m.class].reserveBack()
	e.meta = m
	return e
}

// take appends up to n of the oldest records to recs and their meta to
// metas, in arrival order.
func (q *queue) take(recs []sdklog.Record, metas []meta, n int) ([]sdklog.Record, []meta) {
	for len(recs) < n {
		c := q.oldest()
		if c < 0 {
			break
		}
		d := &q.classes[c]
		e := &d.buf[d.head]
		q.count(&e.meta, -1)
		recs = append(recs, e.rec)
		metas = append(metas, e.meta)
		*e = entry{}
		d.head = (d.head + 1) % len(d.buf)
		d.n--
	}
	return recs, metas
}

// putBack returns a batch taken by take to the front of its classes.
func (q *queue) putBack(recs []sdklog.Record, metas []meta) {
	for i := len(recs) - 1; i >= 0; i-- {
		q.count(&metas[i], 1)
		q.classes[metas[i].class].pushFront(entry{rec: recs[i], meta: metas[i]})
	}
}

// newest returns the newest entry of class c, which must not be empty.
func (q *queue) newest(c int) *entry { return q.classes[c].back() }

// removeNewest removes the newest entry of class c.
func (q *queue) removeNewest(c int) {
	d := &q.classes[c]
	e := d.back()
	q.count(&e.meta, -1)
	*e = entry{}
	d.n--
}

// minSeq returns the smallest seq waiting, if any.
func (q *queue) minSeq() (uint64, bool) {
	c := q.oldest()
	if c < 0 {
		return 0, false
	}
	return q.classes[c].front().seq, true
}

// trim gives back the buffers of empty classes above shrinkAbove. Buffers
// are kept between bursts otherwise: regrowing them on every burst would
// cost more than the queue itself.
func (q *queue) trim() {
	for c := range q.classes {
		if d := &q.classes[c]; d.n == 0 && len(d.buf) > shrinkAbove {
			*d = deque{}
		}
	}
}

// drain removes every entry, calling f on each.
func (q *queue) drain(f func(*entry)) {
	for c := range q.classes {
		d := &q.classes[c]
		for ; d.n > 0; d.n-- {
			e := d.front()
			f(e)
			*e = entry{}
			d.head = (d.head + 1) % len(d.buf)
		}
		d.head = 0
	}
	q.size, q.waiters = 0, 0
}
