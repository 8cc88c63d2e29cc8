package detect

import (
	"sync"
	"sync/atomic"
	"time"
)

// Key names one rule's counter for one subject: a keyed hash of the rule
// and the subject (never the subject itself).
type Key uint64

// State holds the rules' counters. Each key has one window at a time: it
// begins with the key's first event and lasts the window given with that
// event; an event at or after its end begins a new window, with a count of
// zero and no fired marker (expiry is exact: an expired counter never keeps
// counting). The memory store ([NewMemoryState]) is the default; a shared
// store (Redis: INCR and PEXPIRE NX, SADD or PFADD, SET NX PX) implements
// the same three atomic operations so that every instance counts together.
// A store that fails returns an error: detection fails open (the record is
// delivered, the error counted).
type State interface {
	// Count adds one event to key and returns the key's count in its
	// current window.
	Count(key Key, window time.Duration, now time.Time) (int, error)
	// AddDistinct adds member to key's set and returns the number of
	// distinct members in the key's current window; a store may stop
	// keeping members past limit (the count then stays at least limit).
	AddDistinct(key Key, member uint64, limit int, window time.Duration, now time.Time) (int, error)
	// MarkFired marks key as fired in its current window and reports
	// whether it was not marked yet: true once per key and window.
	MarkFired(key Key, window time.Duration, now time.Time) (bool, error)
	// Forget drops key (a successful login resets brute_force).
	Forget(key Key) error
}

// StateStats are a memory store's counters.
type StateStats struct {
	Keys      int64 // keys held
	Bytes     int64 // bytes accounted for them (at most MaxBytes)
	MaxBytes  int64 // the cap
	Evictions int64 // keys forgotten to stay within the cap (expired keys not counted)
}

const (
	shards = 16
	// entryBytes is what one key costs in the store, charged
	// conservatively: the map slot (key, entry), the swiss table's control
	// byte, its load factor (7/8) and doubling growth. Members of a
	// distinct count are charged on top, 8 bytes each.
	entryBytes = 160
	// evictSample is how many keys an eviction looks at.
	evictSample = 8
)

// entry is one key's window.
type entry struct {
	end     int64 // Unix ns: the window's end (exclusive)
	start   int64 // Unix ns: the window's start
	count   int32
	fired   bool
	members []uint64
}

// MemoryState is the in-memory [State]: bounded by a byte cap whatever the
// number of subjects, with no goroutine. See the package documentation for
// its eviction.
type MemoryState struct {
	max       int64
	shard     [shards]memShard
	evictions atomic.Int64
}

type memShard struct {
	mu      sync.Mutex
	m       map[Key]entry
	bytes   int64
	max     int64
	deletes int // since the map was last rebuilt
}

// forget deletes k from the shard. A Go map keeps a tombstone for each
// deleted slot, which lengthens every later miss under churn: after as
// many deletions as keys, the map is rebuilt (amortised O(1)).
func (sh *memShard) forget(k Key, e entry) {
	delete(sh.m, k)
	sh.bytes -= entryBytes + int64(cap(e.members))*8
	if sh.deletes++; sh.deletes > len(sh.m)+1024 {
		m := make(map[Key]entry, len(sh.m))
		for k, e := range sh.m {
			m[k] = e
		}
		sh.m, sh.deletes = m, 0
	}
}

// NewMemoryState returns a memory store that holds at most maxBytes
// (accounted as described in the package documentation).
func NewMemoryState(maxBytes int64) *MemoryState {
	s := &MemoryState{max: maxBytes}
	for i := range s.shard {
		s.shard[i].m = make(map[Key]entry)
		s.shard[i].max = maxBytes / shards
	}
	return s
}

func (s *MemoryState) shardOf(k Key) *memShard {
	return &s.shard[uint64(k)>>60&(shards-1)]
}

// window returns key's live entry at now, starting a new window when there
// is none or the old one ended; the caller holds the lock and stores the
// entry back with put.
func (sh *memShard) window(k Key, window time.Duration, now int64) (entry, bool) {
	e, ok := sh.m[k]
	if ok && now < e.end {
		return e, true
	}
	if ok {
		e.count, e.fired, e.members = 0, false, e.members[:0]
		e.start, e.end = now, now+int64(window)
		return e, true
	}
	return entry{start: now, end: now + int64(window)}, false
}

// put stores e under k, evicting other keys first when it would exceed
// the cap. It reports false when e alone does not fit.
func (s *MemoryState) put(sh *memShard, k Key, e entry, existed bool, now int64) bool {
	cost := entryBytes + int64(cap(e.members))*8
	if existed {
		old := sh.m[k]
		cost -= entryBytes + int64(cap(old.members))*8
	}
	if cost > sh.max {
		return false
	}
	for sh.bytes+cost > sh.max && len(sh.m) > 0 {
		if !s.evict(sh, k, now) {
			break
		}
	}
	if sh.bytes+cost > sh.max {
		return false
	}
	sh.m[k] = e
	sh.bytes += cost
	return true
}

// evict forgets one key other than keep: an expired one if the sample
// holds one, else the least active (lowest count, then the oldest window).
func (s *MemoryState) evict(sh *memShard, keep Key, now int64) bool {
	var victim Key
	var ve entry
	found, n := false, 0
	for k, e := range sh.m {
		if k == keep {
			continue
		}
		if e.end <= now {
			victim, ve, found = k, e, true
			break
		}
		if !found || e.count < ve.count || (e.count == ve.count && e.start < ve.start) {
			victim, ve, found = k, e, true
		}
		if n++; n >= evictSample {
			break
		}
	}
	if !found {
		return false
	}
	if ve.end > now {
		s.evictions.Add(1)
	}
	sh.forget(victim, ve)
	return true
}

// Count implements [State].
func (s *MemoryState) Count(k Key, window time.Duration, now time.Time) (int, error) {
	sh := s.shardOf(k)
	t := now.UnixNano()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, existed := sh.window(k, window, t)
	e.count++
	if !s.put(sh, k, e, existed, t) {
		return 1, nil
	}
	return int(e.count), nil
}

// AddDistinct implements [State]. It keeps at most limit members per key.
func (s *MemoryState) AddDistinct(k Key, member uint64, limit int, window time.Duration, now time.Time) (int, error) {
	sh := s.shardOf(k)
	t := now.UnixNano()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, existed := sh.window(k, window, t)
	for _, m := range e.members {
		if m == member {
			return len(e.members), nil
		}
	}
	if len(e.members) < limit {
		if e.members == nil {
			e.members = make([]uint64, 0, min(limit, 4))
		}
		e.members = append(e.members, member)
	}
	e.count = int32(len(e.members))
	if !s.put(sh, k, e, existed, t) {
		return 1, nil
	}
	return len(e.members), nil
}

// MarkFired implements [State].
func (s *MemoryState) MarkFired(k Key, window time.Duration, now time.Time) (bool, error) {
	sh := s.shardOf(k)
	t := now.UnixNano()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, existed := sh.window(k, window, t)
	if e.fired {
		return false, nil
	}
	e.fired = true
	s.put(sh, k, e, existed, t)
	return true, nil
}

// Forget implements [State].
func (s *MemoryState) Forget(k Key) error {
	sh := s.shardOf(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.m[k]; ok {
		sh.forget(k, e)
	}
	return nil
}

// Stats returns the store's counters.
func (s *MemoryState) Stats() StateStats {
	st := StateStats{MaxBytes: s.max, Evictions: s.evictions.Load()}
	for i := range s.shard {
		sh := &s.shard[i]
		sh.mu.Lock()
		st.Keys += int64(len(sh.m))
		st.Bytes += sh.bytes
		sh.mu.Unlock()
	}
	return st
}
