package delivery

import (
	"slices"
	"testing"
)

// TestQueueOrder: take merges classes by arrival, putBack restores the
// order across a wrapped ring, eviction takes the newest of a class.
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
	if e := q.newest(1); e.seq != 38 {
		t.Errorf("newest of class 1 = %d, want 38", e.seq)
	}
	q.removeNewest(1)
	if e := q.newest(1); e.seq != 35 {
		t.Errorf("after removeNewest, newest of class 1 = %d, want 35", e.seq)
	}
	slot := q.reserve(meta{seq: 41, class: 2})
	if slot.seq != 41 || q.newest(2) != slot || q.size != 40-15-10-1+1 {
		t.Errorf("reserve: slot %+v, size %d", slot.meta, q.size)
	}
	n := 0
	q.drain(func(*entry) { n++ })
	if n != 40-15-10 || q.size != 0 || q.lowest() != -1 {
		t.Errorf("drained %d, size %d", n, q.size)
	}
	q.trim() // small buffers stay
	if q.classes[0].buf == nil {
		t.Error("trim released a small buffer")
	}
}
