package delivery

import (
	"math/bits"

	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// entry is one queued record, in a slot of the queue's pool. It holds no
// pointers (the record is in the queue's store, see held), so that the
// garbage collector does not scan the pool.
type entry struct {
	meta
	rec held
	// Links, as slot numbers (index+1; 0 for none): the neighbours in the
	// record's class by arrival (older, newer), and among the records of
	// its group (same actor, same class), likewise. grp is the group's
	// number.
	prev, next   int32
	aprev, anext int32
	grp          int32
}

// meta is what the processor knows about a record besides the record.
type meta struct {
	seq      uint64 // arrival order, from 1
	actor    uint64 // who the record is about (see actorOf); 0 for summaries
	number   uint64 // its audit.sequence (WithStream); 0 until taken
	class    uint8  // index into queue.classes
	internal bool   // a summary record: not counted as emitted, exported or dropped
	waits    bool   // a blocking or strict emitter waits for it: see Processor.waiters
	packed   bool   // the queue held it packed (see store): it is packed again if put back
}

// waiter is how a blocking or strict OnEmit learns its record's fate.
type waiter struct {
	done     chan struct{} // closed when the record was exported or dropped
	exported bool          // written before done is closed
}

// classTrail is the pseudo-class of the groups that count an actor's
// records of the trail classes.
const classTrail = uint8(numClasses)

// isTrail reports whether class c is one of the audit trail's: records
// that only a heavier actor's records may displace (PriorityAudit and
// above, strict excepted), whatever their class; see
// Processor.makeRoomLocked.
func isTrail(c uint8) bool { return c >= uint8(PriorityAudit) && c < uint8(classStrict) }

// shrinkAbove is the capacity above which an empty queue gives its
// buffers back when trimmed, so that a burst does not pin its memory.
const shrinkAbove = 1024

// classList is a class's records, oldest to newest, linked through their
// slots.
type classList struct {
	oldest, newest int32
	n              int
}

// group is the records of one actor in one class: how many, the oldest
// and newest (linked through their slots' aprev and anext), and the
// group's place in its class's heap. The group of an actor in the
// pseudo-class classTrail counts its records of the trail classes (see
// isTrail) and links none: newestSeq is that of the newest of them.
type group struct {
	actor          uint64
	newestSeq      uint64 // the newest record's seq, kept here for the heap
	class          uint8
	n              int32
	oldest, newest int32
	heap           int32
}

// queue holds the waiting records. Each record sits in a slot of one pool
// and on two lists: its class's, in arrival order, and its group's (its
// actor's records of that class). Per class, a max-heap orders the groups
// by their number of records (then by their newest record's arrival), so
// that the victim of an eviction from a class — the newest record of the
// actor holding most records of that class — is found, and removed, in
// O(log actors). One more heap orders the actors by their records of the
// trail classes, whatever the class, for trailVictim. A hash index finds
// an actor's group. Every operation is
// O(log actors) at most, with no allocation once the buffers have grown.
// The heaps are kept in order only from the first eviction until the queue
// is next empty: a queue that never fills does not pay for them, and the
// O(actors) ordering at the first eviction is paid for by the records that
// filled the queue since it was last empty. size counts the records.
type queue struct {
	slots   []entry
	free    int32 // first free slot, chained through next
	classes [numClasses]classList
	filled  uint8 // bit c set when class c holds records

	groups  []group
	gfree   int32   // first free group, chained through oldest
	index   []int32 // open addressing on (actor, class): group numbers, 0 for empty
	ngroups int
	// Per class, its groups, heaviest first when ordered; heaps[classTrail]
	// holds every actor's trail group.
	heaps   [numClasses + 1][]int32
	ordered bool // the heaps are in heap order

	size    int
	waiters int // entries with a waiter

	st store // the records
}

func (q *queue) at(s int32) *entry { return &q.slots[s-1] }

func (q *queue) count(e *meta, delta int) {
	q.size += delta
	if e.waits {
		q.waiters += delta
	}
}

// lowest returns the lowest non-empty class, or -1.
func (q *queue) lowest() int {
	if q.filled == 0 {
		return -1
	}
	return bits.TrailingZeros8(q.filled)
}

// oldest returns the class whose oldest record arrived first, or -1.
func (q *queue) oldest() int {
	best := -1
	var seq uint64
	for m := q.filled; m != 0; m &= m - 1 {
		c := bits.TrailingZeros8(m)
		if s := q.at(q.classes[c].oldest).seq; best < 0 || s < seq {
			best, seq = c, s
		}
	}
	return best
}

// alloc returns a free slot, growing the pool if there is none.
func (q *queue) alloc() int32 {
	if s := q.free; s != 0 {
		e := q.at(s)
		q.free, e.next = e.next, 0
		return s
	}
	if len(q.slots) == cap(q.slots) {
		// Doubling, not append's gentler growth for large slices: every
		// growth copies the records, under the processor's lock.
		slots := make([]entry, len(q.slots), max(16, 2*cap(q.slots)))
		copy(slots, q.slots)
		q.slots = slots
	}
	q.slots = q.slots[:len(q.slots)+1]
	return int32(len(q.slots))
}

// insert links the record in slot s, whose meta is set, into the queue:
// at the newest end of its class and group, or at the oldest with front.
func (q *queue) insert(s int32, front bool) {
	e := q.at(s)
	q.count(&e.meta, 1)
	l := &q.classes[e.class]
	if front {
		e.prev, e.next = 0, l.oldest
		if l.oldest != 0 {
			q.at(l.oldest).prev = s
		} else {
			l.newest = s
		}
		l.oldest = s
	} else {
		e.prev, e.next = l.newest, 0
		if l.newest != 0 {
			q.at(l.newest).next = s
		} else {
			l.oldest = s
		}
		l.newest = s
	}
	if l.n == 0 {
		q.filled |= 1 << e.class
	}
	l.n++

	g := q.group(e.actor, e.class)
	e.grp = g
	gr := &q.groups[g-1]
	if front {
		e.aprev, e.anext = 0, gr.oldest
		if gr.oldest != 0 {
			q.at(gr.oldest).aprev = s
		} else {
			gr.newest, gr.newestSeq = s, e.seq
		}
		gr.oldest = s
	} else {
		e.aprev, e.anext = gr.newest, 0
		if gr.newest != 0 {
			q.at(gr.newest).anext = s
		} else {
			gr.oldest = s
		}
		gr.newest, gr.newestSeq = s, e.seq
	}
	gr.n++
	if q.ordered {
		q.up(e.class, int(gr.heap)) // heavier, or as heavy and newer
	}
	if isTrail(e.class) {
		t := &q.groups[q.group(e.actor, classTrail)-1]
		t.n++
		t.newestSeq = max(t.newestSeq, e.seq)
		if q.ordered {
			q.up(classTrail, int(t.heap))
		}
	}
}

// remove unlinks the record in slot s and frees the slot.
func (q *queue) remove(s int32) {
	e := q.at(s)
	q.count(&e.meta, -1)
	l := &q.classes[e.class]
	if e.prev != 0 {
		q.at(e.prev).next = e.next
	} else {
		l.oldest = e.next
	}
	if e.next != 0 {
		q.at(e.next).prev = e.prev
	} else {
		l.newest = e.prev
	}
	if l.n--; l.n == 0 {
		q.filled &^= 1 << e.class
	}

	g := e.grp
	gr := &q.groups[g-1]
	if e.aprev != 0 {
		q.at(e.aprev).anext = e.anext
	} else {
		gr.oldest = e.anext
	}
	if e.anext != 0 {
		q.at(e.anext).aprev = e.aprev
	} else if gr.newest = e.aprev; e.aprev != 0 {
		gr.newestSeq = q.at(e.aprev).seq
	}
	gr.n--
	if gr.n == 0 {
		q.dropGroup(g)
	} else if q.ordered {
		q.down(e.class, int(gr.heap)) // lighter, or as heavy and older
	}
	if isTrail(e.class) {
		q.removeTrail(e.actor, e.seq)
	}
	q.st.release(e.rec)
	*e = entry{next: q.free}
	q.free = s
	if q.size == 0 {
		q.ordered = false
	}
}

// removeTrail takes a record of a trail class, with sequence number seq,
// off its actor's trail group, once it is off its class group.
func (q *queue) removeTrail(actor, seq uint64) {
	g, _ := q.find(actor, classTrail)
	t := &q.groups[g-1]
	if t.n--; t.n == 0 {
		q.dropGroup(g)
		return
	}
	if seq == t.newestSeq {
		t.newestSeq = 0
		for c := uint8(PriorityAudit); c < uint8(classStrict); c++ {
			if cg, _ := q.find(actor, c); cg != 0 {
				t.newestSeq = max(t.newestSeq, q.groups[cg-1].newestSeq)
			}
		}
	}
	if q.ordered {
		q.down(classTrail, int(t.heap))
	}
}

// push queues e, whose record the store holds already.
func (q *queue) push(e entry) {
	s := q.alloc()
	*q.at(s) = entry{rec: e.rec, meta: e.meta}
	q.insert(s, false)
}

// pushRecord queues r, held as an SDK record, with meta m.
func (q *queue) pushRecord(r sdklog.Record, m meta) {
	h := q.st.newFull()
	*q.st.fullSlot(h) = r
	q.push(entry{meta: m, rec: h})
}

// reserve appends a slot for a record with meta m and returns it, for the
// caller to give it its record (see store).
func (q *queue) reserve(m meta) *entry {
	s := q.alloc()
	q.at(s).meta = m
	q.insert(s, false)
	return q.at(s)
}

// take appends up to n of the oldest records to recs and their meta to
// metas, in arrival order. Records held packed are rebuilt into the
// elements of recs past its length, when it has the capacity.
func (q *queue) take(recs []sdklog.Record, metas []meta, n int) ([]sdklog.Record, []meta) {
	for len(recs) < n {
		c := q.oldest()
		if c < 0 {
			break
		}
		s := q.classes[c].oldest
		e := q.at(s)
		if len(recs) < cap(recs) {
			recs = recs[:len(recs)+1]
		} else {
			recs = append(recs, sdklog.Record{})
		}
		q.st.load(&recs[len(recs)-1], e.rec)
		metas = append(metas, e.meta)
		q.remove(s)
	}
	return recs, metas
}

// putBack returns a batch taken by take to the front of its classes: the
// records that were held packed are packed again, the others kept as they
// are.
func (q *queue) putBack(recs []sdklog.Record, metas []meta) {
	for i := len(recs) - 1; i >= 0; i-- {
		s := q.alloc()
		e := q.at(s)
		e.meta = metas[i]
		e.rec = q.st.hold(&recs[i], metas[i].packed)
		q.insert(s, true)
	}
}

// victim returns the slot of the record to evict from class c, which must
// not be empty: the newest record of the actor holding the most records of
// the class (of those that hold as many, the one that queued last).
func (q *queue) victim(c int) int32 {
	q.order()
	return q.groups[q.heaps[c][0]-1].newest
}

// trailVictim returns the slot of the record to evict among the trail
// classes, or 0 if they are empty: of the actor holding the most records
// of them (of those holding as many, the one that queued last), the newest
// record of its lowest trail class; and how many trail records that actor
// holds.
func (q *queue) trailVictim() (s int32, held int) {
	h := q.heaps[classTrail]
	if len(h) == 0 {
		return 0, 0
	}
	q.order()
	t := &q.groups[h[0]-1]
	for c := uint8(PriorityAudit); c < uint8(classStrict); c++ {
		if g, _ := q.find(t.actor, c); g != 0 {
			return q.groups[g-1].newest, int(t.n)
		}
	}
	return 0, 0 // unreachable: a trail group counts records of its actor's class groups
}

// order puts the heaps in heap order, if they are not: O(groups), once
// per filling of the queue.
func (q *queue) order() {
	if q.ordered {
		return
	}
	for c := range q.heaps {
		for i := len(q.heaps[c])/2 - 1; i >= 0; i-- {
			q.down(uint8(c), i)
		}
	}
	q.ordered = true
}

// held returns the number of records of class c that actor holds (of the
// trail classes, for classTrail).
func (q *queue) held(actor uint64, c uint8) int {
	if g, _ := q.find(actor, c); g != 0 {
		return int(q.groups[g-1].n)
	}
	return 0
}

// minSeq returns the smallest seq waiting, if any.
func (q *queue) minSeq() (uint64, bool) {
	c := q.oldest()
	if c < 0 {
		return 0, false
	}
	return q.at(q.classes[c].oldest).seq, true
}

// trim gives back the buffers of an empty queue above shrinkAbove, and
// the store's current chunk. Buffers are kept between bursts otherwise:
// regrowing them on every burst would cost more than the queue itself.
func (q *queue) trim() {
	if q.size != 0 {
		return
	}
	q.st.trim()
	if cap(q.slots) > shrinkAbove {
		q.slots, q.free = nil, 0
	}
	if cap(q.groups) > shrinkAbove {
		q.groups, q.gfree, q.index = nil, 0, nil
		q.heaps = [numClasses + 1][]int32{}
	}
}

// drain removes every entry, calling f on each, class by class.
func (q *queue) drain(f func(*entry)) {
	for c := range q.classes {
		for s := q.classes[c].oldest; s != 0; s = q.at(s).next {
			f(q.at(s))
		}
		q.classes[c] = classList{}
	}
	q.filled = 0
	clear(q.slots)
	q.slots, q.free = q.slots[:0], 0
	q.st.reset()
	clear(q.groups)
	q.groups, q.gfree = q.groups[:0], 0
	clear(q.index)
	q.ngroups = 0
	for c := range q.heaps {
		q.heaps[c] = q.heaps[c][:0]
	}
	q.size, q.waiters, q.ordered = 0, 0, false
}

// groupHash spreads (actor, class) over the index. actor is already a
// seeded hash.
func groupHash(actor uint64, class uint8) int {
	h := actor ^ uint64(class+1)*0x9e3779b97f4a7c15
	h ^= h >> 31
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 29
	return int(h >> 1)
}

// find returns the group of (actor, class), or 0 and the index position
// where it would go.
func (q *queue) find(actor uint64, class uint8) (g int32, pos int) {
	if len(q.index) == 0 {
		return 0, -1
	}
	mask := len(q.index) - 1
	for i := groupHash(actor, class) & mask; ; i = (i + 1) & mask {
		g := q.index[i]
		if g == 0 {
			return 0, i
		}
		if gr := &q.groups[g-1]; gr.actor == actor && gr.class == class {
			return g, i
		}
	}
}

// group returns the group of (actor, class), creating it (empty, at the
// end of its class's heap) if needed.
func (q *queue) group(actor uint64, class uint8) int32 {
	g, pos := q.find(actor, class)
	if g != 0 {
		return g
	}
	if 2*(q.ngroups+1) > len(q.index) {
		q.rehash(max(16, 2*len(q.index)))
		_, pos = q.find(actor, class)
	}
	if g = q.gfree; g != 0 {
		q.gfree = q.groups[g-1].oldest
	} else {
		q.groups = append(q.groups, group{})
		g = int32(len(q.groups))
	}
	h := &q.heaps[class]
	q.groups[g-1] = group{actor: actor, class: class, heap: int32(len(*h))}
	*h = append(*h, g)
	q.index[pos] = g
	q.ngroups++
	return g
}

func (q *queue) rehash(n int) {
	old := q.index
	q.index = make([]int32, n)
	mask := n - 1
	for _, g := range old {
		if g == 0 {
			continue
		}
		gr := &q.groups[g-1]
		i := groupHash(gr.actor, gr.class) & mask
		for q.index[i] != 0 {
			i = (i + 1) & mask
		}
		q.index[i] = g
	}
}

// dropGroup removes the empty group g from its heap and the index, and
// frees it.
func (q *queue) dropGroup(g int32) {
	gr := &q.groups[g-1]
	c, i := gr.class, int(gr.heap)
	h := q.heaps[c]
	last := len(h) - 1
	if i != last {
		q.swap(c, i, last)
	}
	q.heaps[c] = h[:last]
	if i != last && q.ordered {
		q.down(c, i)
		q.up(c, i)
	}

	// Backward-shift deletion from the linear-probing index.
	mask := len(q.index) - 1
	i = groupHash(gr.actor, gr.class) & mask
	for q.index[i] != g {
		i = (i + 1) & mask
	}
	for j := i; ; {
		j = (j + 1) & mask
		o := q.index[j]
		if o == 0 {
			break
		}
		og := &q.groups[o-1]
		// o stays at j while its home lies cyclically in (i, j].
		if k := groupHash(og.actor, og.class) & mask; (i < j && i < k && k <= j) || (i > j && (i < k || k <= j)) {
			continue
		}
		q.index[i] = o
		i = j
	}
	q.index[i] = 0
	q.ngroups--
	*gr = group{oldest: q.gfree}
	q.gfree = g
}

// heavier reports whether group a should be evicted from before group b:
// it holds more records, or as many and queued last.
func (q *queue) heavier(a, b int32) bool {
	ga, gb := &q.groups[a-1], &q.groups[b-1]
	if ga.n != gb.n {
		return ga.n > gb.n
	}
	return ga.newestSeq > gb.newestSeq
}

func (q *queue) swap(c uint8, i, j int) {
	h := q.heaps[c]
	h[i], h[j] = h[j], h[i]
	q.groups[h[i]-1].heap = int32(i)
	q.groups[h[j]-1].heap = int32(j)
}

func (q *queue) up(c uint8, i int) {
	h := q.heaps[c]
	for i > 0 {
		parent := (i - 1) / 2
		if !q.heavier(h[i], h[parent]) {
			return
		}
		q.swap(c, i, parent)
		i = parent
	}
}

func (q *queue) down(c uint8, i int) {
	h := q.heaps[c]
	for {
		top, l := i, 2*i+1
		if l < len(h) && q.heavier(h[l], h[top]) {
			top = l
		}
		if r := l + 1; r < len(h) && q.heavier(h[r], h[top]) {
			top = r
		}
		if top == i {
			return
		}
		q.swap(c, i, top)
		i = top
	}
}
