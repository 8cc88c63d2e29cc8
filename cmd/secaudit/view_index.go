package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/secaudit/secaudit/internal/auditlog"
)

// entry is what the viewer keeps of one event: where its line is, and the
// few facts the filters and the charts need. The rest is read from the
// file when a row is shown.
type entry struct {
	time    int64  // Unix nanoseconds
	req     uint64 // FNV-1a of audit.request_id; 0 when absent
	off     int64  // the line's offset in its segment
	size    uint32 // the line's length with its newline
	seg     uint32 // index of the segment (an open file)
	user    uint32 // interned user (id and name); 0: none
	addr    uint32 // interned client.address; 0: none
	event   uint16 // interned event name
	status  uint16 // http.response.status_code
	outcome uint8  // 0 none, 1 success, 2 failure
	failed  bool   // auth.login.failed (cached for the charts)
}

// userKey is an interned user: its id and its name.
type userKey struct{ id, name string }

func (u userKey) label() string {
	switch {
	case u.name != "" && u.id != "":
		return u.name + " (" + u.id + ")"
	case u.name != "":
		return u.name
	case u.id != "":
		return u.id
	}
	return "(unknown)"
}

// interner gives small numbers to repeated strings; 0 is "".
type interner struct {
	ids  map[string]uint32
	vals []string
}

func newInterner() *interner {
	return &interner{ids: map[string]uint32{"": 0}, vals: []string{""}}
}

func (in *interner) id(k string) uint32 {
	if id, ok := in.ids[k]; ok {
		return id
	}
	id := uint32(len(in.vals))
	in.ids[k] = id
	in.vals = append(in.vals, k)
	return id
}

// idBytes is id for a byte slice, allocating only for a new string.
func (in *interner) idBytes(b []byte) uint32 {
	if id, ok := in.ids[string(b)]; ok {
		return id
	}
	return in.id(string(b))
}

// segment is one file read under a path: the first, then one more per
// rotation. It stays open so that a row's line can be read by offset
// after the file was renamed.
type segment struct {
	f    *os.File
	path string
}

// index is the viewer's index of the files.
type index struct {
	mu       sync.RWMutex
	entries  []entry
	segs     []segment
	segOf    map[*os.File]uint32
	userIDs  *interner       // user id, NUL, user name
	users    []userKey       // by the ids of userIDs
	fields   auditlog.Fields // add's scratch
	userBuf  []byte
	addrs    *interner
	events   *interner
	classOf  []uint8 // class of each interned event
	classes  *interner
	minTime  int64
	maxTime  int64
	bad      int // lines that are not events
	lines    int
	readDone bool // the first pass over the files is done
}

func newIndex() *index {
	return &index{
		segOf:   map[*os.File]uint32{},
		userIDs: newInterner(),
		users:   []userKey{{}},
		addrs:   newInterner(),
		events:  newInterner(),
		classes: newInterner(),
		classOf: []uint8{0},
	}
}

// hashRequest is FNV-1a of a request id (never 0; 0 when id is empty).
func hashRequest[T string | []byte](id T) uint64 {
	if len(id) == 0 {
		return 0
	}
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	return h | 1
}

// add indexes one line (called by the reader, one goroutine).
func (ix *index) add(l *auditlog.Line) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.lines++
	if l.Err != nil {
		ix.bad++
		return
	}
	if len(bytes.TrimSpace(l.Data)) == 0 {
		return
	}
	f := &ix.fields
	// Scan, not ScanValid: a full JSON check would double the time to
	// index; /api/event checks the line it serves.
	if err := auditlog.Scan(l.Data, f); err != nil {
		ix.bad++
		return
	}
	seg, ok := ix.segOf[l.Handle]
	if !ok {
		seg = uint32(len(ix.segs))
		ix.segs = append(ix.segs, segment{f: l.Handle, path: l.File})
		ix.segOf[l.Handle] = seg
	}
	ev := ix.events.idBytes(f.Name)
	if int(ev) >= len(ix.classOf) {
		ix.classOf = append(ix.classOf, uint8(ix.classes.id(auditlog.Class(string(f.Name)))))
	}
	var outcome uint8
	switch string(f.Outcome) {
	case "success":
		outcome = 1
	case "failure":
		outcome = 2
	}
	ix.userBuf = append(append(append(ix.userBuf[:0], f.UserID...), 0), f.UserName...)
	user := uint32(0)
	if len(ix.userBuf) > 1 {
		user = ix.userIDs.idBytes(ix.userBuf)
		if int(user) >= len(ix.users) {
			ix.users = append(ix.users, userKey{string(f.UserID), string(f.UserName)})
		}
	}
	ix.entries = append(ix.entries, entry{
		time:    f.Time,
		req:     hashRequest(f.RequestID),
		off:     l.Offset,
		size:    uint32(l.Size),
		seg:     seg,
		user:    user,
		addr:    ix.addrs.idBytes(f.Addr),
		event:   uint16(ev),
		status:  uint16(f.Status),
		outcome: outcome,
		failed:  string(f.Name) == "auth.login.failed",
	})
	if len(ix.entries) == 1 || f.Time < ix.minTime {
		ix.minTime = f.Time
	}
	if f.Time > ix.maxTime {
		ix.maxTime = f.Time
	}
}

// follow indexes the files and keeps following them until ctx ends;
// ready is closed once the files were read to their end the first time.
func (ix *index) follow(ctx context.Context, paths []string, wait func(context.Context) error, interval time.Duration, ready chan<- error) error {
	once := sync.OnceFunc(func() {
		ix.mu.Lock()
		ix.readDone = true
		ix.mu.Unlock()
		close(ready)
	})
	if wait == nil {
		wait = func(ctx context.Context) error {
			t := time.NewTimer(interval)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	opt := auditlog.Options{Follow: true, KeepOpen: true, Wait: func(ctx context.Context) error {
		once()
		return wait(ctx)
	}}
	err := auditlog.Read(ctx, paths, nil, opt, func(l *auditlog.Line) error {
		ix.add(l)
		return nil
	})
	return err
}

// close closes the segments' files.
func (ix *index) close() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, s := range ix.segs {
		s.f.Close()
	}
	ix.segs = nil
}

// line reads entry i's line from its file.
func (ix *index) line(i int) ([]byte, error) {
	ix.mu.RLock()
	if i < 0 || i >= len(ix.entries) {
		ix.mu.RUnlock()
		return nil, errors.New("no such event")
	}
	e := ix.entries[i]
	f := ix.segs[e.seg].f
	ix.mu.RUnlock()
	buf := make([]byte, e.size)
	n, err := f.ReadAt(buf, e.off)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(buf)) && n < len(buf) {
		return nil, err
	}
	return bytes.TrimRight(buf[:n], "\r\n"), nil
}

// query is a filter compiled against the index's interned values.
type query struct {
	f       auditlog.Filter
	events  []bool // by event id
	users   []bool // by user id; nil: any
	addrs   []bool // by addr id; nil: any
	reqHash uint64
}

// compile prepares f; the index's read lock must be held.
func (ix *index) compile(f auditlog.Filter) query {
	q := query{f: f, reqHash: hashRequest(f.Request)}
	q.events = make([]bool, len(ix.events.vals))
	for id, name := range ix.events.vals {
		q.events[id] = f.MatchEvent(name)
	}
	if f.User != "" {
		q.users = make([]bool, len(ix.users))
		for id, u := range ix.users {
			q.users[id] = u.id == f.User || u.name == f.User
		}
	}
	if f.Addr != "" {
		q.addrs = make([]bool, len(ix.addrs.vals))
		for id, a := range ix.addrs.vals {
			q.addrs[id] = f.MatchAddr(a)
		}
	}
	return q
}

func (q *query) match(e *entry) bool {
	return q.events[e.event] &&
		(q.users == nil || q.users[e.user]) &&
		(q.addrs == nil || q.addrs[e.addr]) &&
		(q.f.Since == 0 || e.time >= q.f.Since) &&
		(q.reqHash == 0 || e.req == q.reqHash)
}

// timelineBuckets is the number of bars of the timeline.
const timelineBuckets = 60

// counted is a key and its count, for the charts.
type counted struct {
	Key   string `json:"key"`
	Count int    `json:"count"`
}

// result is the answer to one query: the charts and one page of rows
// (newest first).
type result struct {
	Total      int       `json:"total"`   // events indexed
	Matched    int       `json:"matched"` // events that pass the filter
	BadLines   int       `json:"bad_lines"`
	Start      int64     `json:"start"`  // timeline start, Unix ms
	Bucket     int64     `json:"bucket"` // timeline bucket width, ms
	Classes    []string  `json:"classes"`
	Timeline   [][]int   `json:"timeline"` // [bucket][class] counts
	FailedUser []counted `json:"failed_logins_by_user"`
	FailedAddr []counted `json:"failed_logins_by_addr"`
	ClientErr  []counted `json:"client_errors_by_addr"`
	Alerts     int       `json:"alerts"`
	Blocks     int       `json:"blocks"`
	Recent     []int     `json:"-"` // the latest alerts and blocks, entry indexes
	Rows       []int     `json:"-"` // the page's entry indexes
}

// topN is how many keys the bar charts show.
const topN = 10

// run answers a query with page rows from offset (newest first).
func (ix *index) run(f auditlog.Filter, offset, limit int) result {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	q := ix.compile(f)
	var r result
	r.Total = len(ix.entries)
	r.BadLines = ix.bad
	r.Classes = append([]string(nil), ix.classes.vals[1:]...)
	span := ix.maxTime - ix.minTime
	bucket := span/timelineBuckets + 1
	r.Start, r.Bucket = ix.minTime/1e6, max(bucket/1e6, 1)
	timeline := make([]int, timelineBuckets*len(r.Classes))
	failedUser := make([]int, len(ix.users))
	failedAddr := make([]int, len(ix.addrs.vals))
	clientErr := make([]int, len(ix.addrs.vals))
	alertID, okA := ix.events.ids["security.alert"]
	clientErrID, okC := ix.events.ids["http.response.client_error"]
	blockApplied, okB := ix.events.ids["security.block.applied"]
	blockLifted, okL := ix.events.ids["security.block.lifted"]
	for i := len(ix.entries) - 1; i >= 0; i-- {
		e := &ix.entries[i]
		if !q.match(e) {
			continue
		}
		if q.reqHash != 0 && !ix.sameRequest(i, f.Request) {
			continue
		}
		if r.Matched >= offset && r.Matched < offset+limit {
			r.Rows = append(r.Rows, i)
		}
		r.Matched++
		b := int((e.time - ix.minTime) / bucket)
		b = min(max(b, 0), timelineBuckets-1)
		timeline[b*len(r.Classes)+int(ix.classOf[e.event])-1]++
		switch {
		case e.failed:
			failedUser[e.user]++
			failedAddr[e.addr]++
		case okC && uint32(e.event) == clientErrID:
			clientErr[e.addr]++
		case okA && uint32(e.event) == alertID:
			r.Alerts++
			if len(r.Recent) < 20 {
				r.Recent = append(r.Recent, i)
			}
		case (okB && uint32(e.event) == blockApplied) || (okL && uint32(e.event) == blockLifted):
			r.Blocks++
			if len(r.Recent) < 20 {
				r.Recent = append(r.Recent, i)
			}
		}
	}
	r.Timeline = make([][]int, timelineBuckets)
	for b := range r.Timeline {
		r.Timeline[b] = timeline[b*len(r.Classes) : (b+1)*len(r.Classes)]
	}
	r.FailedUser = top(failedUser, func(id int) string { return ix.users[id].label() })
	r.FailedAddr = top(failedAddr, func(id int) string { return orUnknown(ix.addrs.vals[id]) })
	r.ClientErr = top(clientErr, func(id int) string { return orUnknown(ix.addrs.vals[id]) })
	return r
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// sameRequest confirms a request-id match (the index keeps a hash).
func (ix *index) sameRequest(i int, id string) bool {
	e := ix.entries[i]
	buf := make([]byte, e.size)
	n, _ := ix.segs[e.seg].f.ReadAt(buf, e.off)
	ev, err := auditlog.Parse(bytes.TrimRight(buf[:n], "\r\n"))
	return err == nil && ev.RequestID == id
}

// top returns the topN largest counts with their keys.
func top(counts []int, key func(int) string) []counted {
	var ids []int
	for id, n := range counts {
		if n > 0 {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(a, b int) bool {
		if counts[ids[a]] != counts[ids[b]] {
			return counts[ids[a]] > counts[ids[b]]
		}
		return key(ids[a]) < key(ids[b])
	})
	out := []counted{}
	for _, id := range ids[:min(len(ids), topN)] {
		out = append(out, counted{key(id), counts[id]})
	}
	return out
}
