package delivery

import (
	"math/rand/v2"
	"slices"
	"testing"

	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// TestQueueOrder: take merges classes by arrival, putBack restores the
// order across reused slots, the victim of a class with one actor is its
// newest record.
func TestQueueOrder(t *testing.T) {
	var q queue
	seq := uint64(0)
	push := func(class int) {
		seq++
		q.push(entry{meta: meta{seq: seq, class: uint8(class)}})
	}
	seqs := func(ms []meta) []uint64 {
		var out []uint64
		for _, m := range ms {
			out = append(out, m.seq)
		}
		return out
	}
	for i := range 40 { // wraps the 16-slot rings after the takes below
		push(i % 3)
		if i%7 == 6 {
			_, _ = q.take(nil, nil, 3)
		}
	}
	if q.size != 40-5*3 {
		t.Fatalf("size %d", q.size)
	}
	recs, batch := q.take(nil, nil, 10)
	want := []uint64{16, 17, 18, 19, 20, 21, 22, 23, 24, 25}
	if !slices.Equal(seqs(batch), want) || len(recs) != len(batch) {
		t.Fatalf("take = %v (%d records), want %v", seqs(batch), len(recs), want)
	}
	q.putBack(recs, batch)
	_, again := q.take(nil, nil, 10)
	if !slices.Equal(seqs(again), want) {
		t.Fatalf("after putBack, take = %v, want %v", seqs(again), want)
	}
	if s, ok := q.minSeq(); !ok || s != 26 {
		t.Errorf("minSeq = %d, %v", s, ok)
	}
	if low := q.lowest(); low != 0 {
		t.Errorf("lowest = %d", low)
	}
	if e := q.at(q.victim(1)); e.seq != 38 {
		t.Errorf("victim of class 1 = %d, want 38", e.seq)
	}
	q.remove(q.victim(1))
	if e := q.at(q.victim(1)); e.seq != 35 {
		t.Errorf("after remove, victim of class 1 = %d, want 35", e.seq)
	}
	slot := q.reserve(meta{seq: 41, class: 2})
	if slot.seq != 41 || q.at(q.victim(2)) != slot || q.size != 40-15-10-1+1 {
		t.Errorf("reserve: slot %+v, size %d", slot.meta, q.size)
	}
	n := 0
	q.drain(func(*entry) { n++ })
	if n != 40-15-10 || q.size != 0 || q.lowest() != -1 {
		t.Errorf("drained %d, size %d", n, q.size)
	}
	q.trim() // small buffers stay
	if cap(q.slots) == 0 || cap(q.groups) == 0 {
		t.Error("trim released a small buffer")
	}
}

// TestQueueVictimModel checks the queue against a plain slice through
// random pushes, takes, put-backs and evictions: take returns the oldest
// records, the victim of a class is the newest record of the actor
// holding the most records of the class (of those holding as many, the
// one that queued last), and the trail victim is the newest record of the
// lowest trail class of the actor holding the most trail records (of those
// holding as many, the one that queued last).
func TestQueueVictimModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var q queue
	var model []meta // in arrival order
	seq := uint64(0)
	check := func(step int) {
		t.Helper()
		if q.size != len(model) {
			t.Fatalf("step %d: size %d, model %d", step, q.size, len(model))
		}
		for c := range numClasses {
			counts := map[uint64]int{}
			newest := map[uint64]uint64{}
			for _, m := range model {
				if int(m.class) == c {
					counts[m.actor]++
					newest[m.actor] = max(newest[m.actor], m.seq)
				}
			}
			held := 0
			for _, n := range counts {
				held += n
			}
			if q.classes[c].n != held {
				t.Fatalf("step %d: class %d holds %d, model %d", step, c, q.classes[c].n, held)
			}
			if len(counts) == 0 || step%7 != 0 {
				continue // unchecked steps leave the heaps unordered, at times
			}
			var want uint64
			best := -1
			for a, n := range counts {
				if n > best || (n == best && newest[a] > want) {
					best, want = n, newest[a]
				}
			}
			if got := q.at(q.victim(c)).seq; got != want {
				t.Fatalf("step %d: victim of class %d = %d, want %d", step, c, got, want)
			}
		}
		if step%7 != 0 {
			return
		}
		counts := map[uint64]int{}
		newest := map[uint64]uint64{}
		for _, m := range model {
			if isTrail(m.class) {
				counts[m.actor]++
				newest[m.actor] = max(newest[m.actor], m.seq)
			}
		}
		var heaviest uint64
		best := -1
		for a, n := range counts {
			if n > best || (n == best && newest[a] > newest[heaviest]) {
				best, heaviest = n, a
			}
		}
		var want uint64
		if best > 0 {
			low := uint8(classStrict)
			for _, m := range model {
				if m.actor == heaviest && isTrail(m.class) {
					if m.class < low {
						low, want = m.class, 0
					}
					if m.class == low {
						want = max(want, m.seq)
					}
				}
			}
		}
		var got uint64
		s, held := q.trailVictim()
		if s != 0 {
			got = q.at(s).seq
		}
		if got != want || held != max(best, 0) {
			t.Fatalf("step %d: trail victim = %d of an actor holding %d, want %d of one holding %d", step, got, held, want, max(best, 0))
		}
	}
	var lastRecs []sdklog.Record
	var lastMetas []meta
	for step := range 8000 {
		switch op := rng.IntN(10); {
		case op < 6:
			seq++
			m := meta{seq: seq, class: uint8(rng.IntN(numClasses)), actor: uint64(rng.IntN(6))}
			q.push(entry{meta: m})
			model = append(model, m) // a batch taken may still be put back before it
		case op < 7:
			n := rng.IntN(5)
			lastRecs, lastMetas = q.take(nil, nil, n)
			want := model[:min(n, len(model))]
			for i := range lastMetas {
				if lastMetas[i].seq != want[i].seq {
					t.Fatalf("step %d: take %d = seq %d, want %d", step, i, lastMetas[i].seq, want[i].seq)
				}
			}
			model = slices.Clone(model[len(want):])
		case op < 8:
			if lastRecs != nil {
				q.putBack(lastRecs, lastMetas)
				model = append(slices.Clone(lastMetas), model...)
				lastRecs = nil
			}
		case op < 9:
			if s, _ := q.trailVictim(); s != 0 {
				victim := q.at(s).seq
				q.remove(s)
				model = slices.DeleteFunc(model, func(m meta) bool { return m.seq == victim })
			}
		default:
			if c := q.lowest(); c >= 0 {
				s := q.victim(c)
				victim := q.at(s).seq
				q.remove(s)
				model = slices.DeleteFunc(model, func(m meta) bool { return m.seq == victim })
			}
		}
		check(step)
		if step%3000 == 2999 {
			q.drain(func(*entry) {})
			q.trim()
			model, lastRecs = nil, nil
			check(step)
		}
	}
}
