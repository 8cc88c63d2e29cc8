package delivery

import (
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"
)

// The queue keeps a record in one of two forms (see held).
//
// While the exporter keeps up, records are held as SDK records, in a slab:
// they leave within milliseconds, and rebuilding an SDK record costs more
// than copying one (Record.SetAttributes re-applies the provider's limits
// to every attribute: some 2,900 instructions for 14 attributes under
// secaudit's provider settings, 9,000 under the SDK's defaults, against
// 800 for a Clone).
//
// Behind a stalled or failing export (see Processor.stalledLocked), a
// record may wait through many garbage collections, and every collection
// would mark an SDK record's struct, attribute array and strings (1.3 KB
// of pointer-bearing memory for a 14-attribute record). There, past the
// first packBeyond records, the record is packed: its strings and values
// are copied into an append-only chunk of bytes, which holds no pointers,
// and the queue entry keeps the chunk's number and the record's offset.
// The resource and instrumentation scope, which the SDK's Record cannot be
// given, come from a template record per (resource, scope): the worker
// rebuilds the record as a clone of its template with the packed fields
// set. The record's monotonic clock readings are not kept (only the
// process that took them can use them).
//
// A chunk is never written again where a record was stored in it, nor
// reused: the strings of a rebuilt record point into it (unsafe.String)
// and stay immutable even if an exporter keeps them, and the garbage
// collector frees the chunk when neither the store nor any such string
// refers to it.

// chunkSize is the size of a packing chunk. A record that does not fit in
// the current chunk starts a new one, larger if it needs.
const chunkSize = 32 << 10

// chunkRoom is the room below which a chunk takes no more records.
const chunkRoom = 1 << 10

// maxTemplates bounds the (resource, scope) pairs the store packs records
// of; records of further pairs are held as SDK records. Loggers are few and
// cached by the provider: a process rarely has more than a handful.
const maxTemplates = 64

// held is where the queue keeps an entry's record: a slab slot of an SDK
// record (full, 1-based), or a packed record (chunk, 1-based, at off, n
// bytes, rebuilt from template tmpl). Both zero: an empty record. It holds
// no pointers, so neither does the queue's pool of entries.
type held struct {
	full  int32
	chunk int32
	off   uint32
	n     uint32
	tmpl  uint16
}

// chunk is a packing chunk and the number of queued records packed in it.
type chunk struct {
	buf  []byte
	live int32
}

// template is a record with the resource and scope of the records packed
// with its number, and no content: rebuilt records start as its clone.
type template struct {
	res   *resource.Resource
	scope instrumentation.Scope
	rec   sdklog.Record
}

// store holds the queue's records; see held. It is guarded by the
// processor's mutex, with the queue.
type store struct {
	full  []sdklog.Record // slab; free slots chained through ffree/fnext
	fnext []int32
	ffree int32

	chunks []chunk
	cfree  []int32 // numbers of chunks given back
	cur    int32   // the chunk records are packed into (1-based), 0 for none

	tmpls    []template
	lastTmpl int

	scratch []attribute.KeyValue // the attributes of the record being rebuilt

	// names interns the event names of packed records: a rebuilt record's
	// name, which the drop account may keep as a map key, never points
	// into a chunk.
	names map[string]string
}

// maxNames bounds store.names; further names are copied each time.
const maxNames = 1024

// intern returns s, which may point into a chunk, as a string that does
// not.
func (st *store) intern(s string) string {
	if v, ok := st.names[s]; ok {
		return v
	}
	v := strings.Clone(s)
	if len(st.names) < maxNames {
		if st.names == nil {
			st.names = make(map[string]string)
		}
		st.names[v] = v
	}
	return v
}

// newFull returns a free slab slot, for an SDK record.
func (st *store) newFull() held {
	s := st.ffree
	if s != 0 {
		st.ffree = st.fnext[s-1]
		st.fnext[s-1] = 0
		return held{full: s}
	}
	st.full = append(st.full, sdklog.Record{})
	st.fnext = append(st.fnext, 0)
	return held{full: int32(len(st.full))}
}

// fullSlot returns the slab slot of a record held as an SDK record.
func (st *store) fullSlot(h held) *sdklog.Record { return &st.full[h.full-1] }

// hold keeps r: packed when pack is set and r can be, else as it is (the
// slab takes r's value, sharing its attribute array).
func (st *store) hold(r *sdklog.Record, pack bool) held {
	if pack {
		if h, ok := st.pack(r); ok {
			return h
		}
	}
	h := st.newFull()
	*st.fullSlot(h) = *r
	return h
}

// release gives back what h holds: its slab slot, or its share of a chunk.
func (st *store) release(h held) {
	switch {
	case h.full != 0:
		st.full[h.full-1] = sdklog.Record{}
		st.fnext[h.full-1] = st.ffree
		st.ffree = h.full
	case h.chunk != 0:
		c := &st.chunks[h.chunk-1]
		if c.live--; c.live == 0 && h.chunk != st.cur {
			st.dropChunk(h.chunk)
		}
	}
}

// dropChunk forgets chunk number c: the garbage collector frees it once
// no rebuilt record's string points into it.
func (st *store) dropChunk(c int32) {
	st.chunks[c-1] = chunk{}
	st.cfree = append(st.cfree, c)
}

// load sets *dst to the record h holds; h stays held.
func (st *store) load(dst *sdklog.Record, h held) {
	switch {
	case h.full != 0:
		*dst = st.full[h.full-1]
	case h.chunk != 0:
		st.unpack(dst, h)
	default:
		*dst = sdklog.Record{}
	}
}

// eventName returns the event name of the record h holds, without
// rebuilding it.
func (st *store) eventName(h held) string {
	switch {
	case h.full != 0:
		return st.full[h.full-1].EventName()
	case h.chunk != 0:
		d := decoder{b: st.chunks[h.chunk-1].buf[h.off : h.off+h.n]}
		d.header()
		return st.intern(d.str())
	}
	return ""
}

// trim gives back the slab and the current chunk when nothing is held.
func (st *store) trim() {
	if st.cur != 0 && st.chunks[st.cur-1].live == 0 {
		st.dropChunk(st.cur)
		st.cur = 0
	}
	if cap(st.full) > shrinkAbove {
		st.full, st.fnext, st.ffree = nil, nil, 0
	}
	clear(st.scratch[:cap(st.scratch)])
	st.scratch = st.scratch[:0]
}

// reset forgets everything held (the queue was drained).
func (st *store) reset() {
	clear(st.full)
	st.full, st.fnext, st.ffree = st.full[:0], st.fnext[:0], 0
	for i := range st.chunks {
		if st.chunks[i].buf != nil && int32(i+1) != st.cur {
			st.dropChunk(int32(i + 1))
		}
	}
	if st.cur != 0 {
		st.chunks[st.cur-1].live = 0
	}
}

// template returns the number of the template for r's resource and scope,
// adding one if needed; false when there are too many.
func (st *store) template(r *sdklog.Record) (uint16, bool) {
	res, scope := r.Resource(), r.InstrumentationScope()
	if i := st.lastTmpl; i < len(st.tmpls) && st.tmpls[i].matches(res, &scope) {
		return uint16(i), true
	}
	for i := range st.tmpls {
		if st.tmpls[i].matches(res, &scope) {
			st.lastTmpl = i
			return uint16(i), true
		}
	}
	if len(st.tmpls) >= maxTemplates {
		return 0, false
	}
	t := r.Clone()
	t.SetAttributes()
	t.SetBody(emptyValue)
	t.SetEventName("")
	t.SetSeverityText("")
	t.SetSeverity(0)
	t.SetTimestamp(time.Time{})
	t.SetObservedTimestamp(time.Time{})
	t.SetTraceID(trace.TraceID{})
	t.SetSpanID(trace.SpanID{})
	t.SetTraceFlags(0)
	st.tmpls = append(st.tmpls, template{res: res, scope: scope, rec: t})
	st.lastTmpl = len(st.tmpls) - 1
	return uint16(st.lastTmpl), true
}

func (t *template) matches(res *resource.Resource, scope *instrumentation.Scope) bool {
	return t.res == res && t.scope.Name == scope.Name && t.scope.Version == scope.Version &&
		t.scope.SchemaURL == scope.SchemaURL && t.scope.Attributes.Equals(&scope.Attributes)
}

// Header flags of a packed record.
const (
	packTimestamp   = 1 << iota // a timestamp follows
	packTimeUTC                 // … in UTC (else local time)
	packObserved                // an observed timestamp follows
	packObservedUTC             // … in UTC
	packTrace                   // trace id, span id and flags follow
)

// pack stores r packed in the current chunk and reports whether it could:
// records with dropped attributes, or a timestamp in a location other than
// UTC and local time, or of too many resources and scopes, are not packed.
func (st *store) pack(r *sdklog.Record) (held, bool) {
	if r.DroppedAttributes() != 0 {
		return held{}, false
	}
	var flags byte
	ts, obs := r.Timestamp(), r.ObservedTimestamp()
	var ok bool
	if flags, ok = timeFlags(ts, packTimestamp, packTimeUTC, flags); !ok {
		return held{}, false
	}
	if flags, ok = timeFlags(obs, packObserved, packObservedUTC, flags); !ok {
		return held{}, false
	}
	tid, sid, tf := r.TraceID(), r.SpanID(), r.TraceFlags()
	if tid.IsValid() || sid.IsValid() || tf != 0 {
		flags |= packTrace
	}
	tmpl, ok := st.template(r)
	if !ok {
		return held{}, false
	}

	if st.cur == 0 {
		st.newChunk(chunkSize)
	} else if c := &st.chunks[st.cur-1]; cap(c.buf)-len(c.buf) < chunkRoom {
		// Most records fit in chunkRoom: a new chunk now spares append
		// the copies of a record outgrowing the old one.
		if c.live == 0 {
			st.dropChunk(st.cur)
		}
		st.newChunk(chunkSize)
	}
	c := &st.chunks[st.cur-1]
	start := len(c.buf)
	b := c.buf[start:start:cap(c.buf)]
	b = append(b, flags)
	if flags&packTimestamp != 0 {
		b = appendTime(b, ts)
	}
	if flags&packObserved != 0 {
		b = appendTime(b, obs)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(int32(r.Severity())))
	b = appendStr(b, r.EventName())
	b = appendStr(b, r.SeverityText())
	if flags&packTrace != 0 {
		b = append(b, tid[:]...)
		b = append(b, sid[:]...)
		b = append(b, byte(tf))
	}
	b = appendValue(b, r.Body())
	b = appendLen(b, r.AttributesLen())
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		b = appendStr(b, string(kv.Key))
		b = appendValue(b, kv.Value)
		return true
	})

	if len(b) <= cap(c.buf)-start {
		// Packed in place: append never moved b.
		c.buf = c.buf[:start+len(b)]
		c.live++
		return held{chunk: st.cur, off: uint32(start), n: uint32(len(b)), tmpl: tmpl}, true
	}
	// The record outgrew the chunk's room; append moved it to an array of
	// its own. That array, or a fresh chunk with the record copied in,
	// becomes the current chunk. The old one is given back once its
	// records have left.
	if c.live == 0 {
		st.dropChunk(st.cur)
	}
	st.cur = 0
	if cap(b) >= chunkSize {
		st.cur = st.addChunk(b)
	} else {
		st.newChunk(chunkSize)
		nc := &st.chunks[st.cur-1]
		nc.buf = append(nc.buf, b...)
	}
	c = &st.chunks[st.cur-1]
	c.live++
	return held{chunk: st.cur, off: 0, n: uint32(len(b)), tmpl: tmpl}, true
}

// newChunk makes a new empty chunk of capacity n the current one.
func (st *store) newChunk(n int) {
	st.cur = st.addChunk(make([]byte, 0, n))
}

func (st *store) addChunk(buf []byte) int32 {
	if n := len(st.cfree); n > 0 {
		c := st.cfree[n-1]
		st.cfree = st.cfree[:n-1]
		st.chunks[c-1] = chunk{buf: buf}
		return c
	}
	st.chunks = append(st.chunks, chunk{buf: buf})
	return int32(len(st.chunks))
}

// timeFlags adds t's flags to flags; false for a location that packing
// does not keep.
func timeFlags(t time.Time, set, utc, flags byte) (byte, bool) {
	if t == (time.Time{}) {
		return flags, true
	}
	switch t.Location() {
	case time.UTC:
		return flags | set | utc, true
	case time.Local:
		return flags | set, true
	}
	return flags, false
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(t.Unix()))
	return binary.LittleEndian.AppendUint32(b, uint32(t.Nanosecond()))
}

// appendLen appends a length: one byte below 255, else 255 and four.
func appendLen(b []byte, n int) []byte {
	if n < 0xff {
		return append(b, byte(n))
	}
	return binary.LittleEndian.AppendUint32(append(b, 0xff), uint32(n))
}

func appendStr(b []byte, s string) []byte {
	return append(appendLen(b, len(s)), s...)
}

// appendValue appends v: its type, then its data.
func appendValue(b []byte, v attribute.Value) []byte {
	t := v.Type()
	b = append(b, byte(t))
	if t == attribute.STRING { // most values
		return appendStr(b, v.AsString())
	}
	switch t {
	case attribute.BOOL:
		if v.AsBool() {
			return append(b, 1)
		}
		return append(b, 0)
	case attribute.INT64:
		return binary.LittleEndian.AppendUint64(b, uint64(v.AsInt64()))
	case attribute.FLOAT64:
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(v.AsFloat64()))
	case attribute.STRING:
		return appendStr(b, v.AsString())
	case attribute.BYTESLICE:
		return appendStr(b, string(v.AsByteSlice()))
	case attribute.BOOLSLICE:
		s := v.AsBoolSlice()
		b = appendLen(b, len(s))
		for _, x := range s {
			if x {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		}
	case attribute.INT64SLICE:
		s := v.AsInt64Slice()
		b = appendLen(b, len(s))
		for _, x := range s {
			b = binary.LittleEndian.AppendUint64(b, uint64(x))
		}
	case attribute.FLOAT64SLICE:
		s := v.AsFloat64Slice()
		b = appendLen(b, len(s))
		for _, x := range s {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
		}
	case attribute.STRINGSLICE:
		s := v.AsStringSlice()
		b = appendLen(b, len(s))
		for _, x := range s {
			b = appendStr(b, x)
		}
	case attribute.SLICE:
		s := v.AsSlice()
		b = appendLen(b, len(s))
		for _, x := range s {
			b = appendValue(b, x)
		}
	case attribute.MAP:
		s := v.AsMap()
		b = appendLen(b, len(s))
		for _, kv := range s {
			b = appendStr(b, string(kv.Key))
			b = appendValue(b, kv.Value)
		}
	}
	return b
}

// unpack rebuilds the packed record h into dst.
func (st *store) unpack(dst *sdklog.Record, h held) {
	d := decoder{b: st.chunks[h.chunk-1].buf[h.off : h.off+h.n]}
	*dst = st.tmpls[h.tmpl].rec.Clone()
	flags := d.header()
	dst.SetEventName(st.intern(d.str()))
	dst.SetSeverityText(d.str())
	if flags&packTimestamp != 0 {
		dst.SetTimestamp(d.time(0, flags&packTimeUTC != 0))
	}
	if flags&packObserved != 0 {
		dst.SetObservedTimestamp(d.time(1, flags&packObservedUTC != 0))
	}
	dst.SetSeverity(d.severity)
	if flags&packTrace != 0 {
		var tid trace.TraceID
		var sid trace.SpanID
		copy(tid[:], d.next(len(tid)))
		copy(sid[:], d.next(len(sid)))
		dst.SetTraceID(tid)
		dst.SetSpanID(sid)
		dst.SetTraceFlags(trace.TraceFlags(d.byte()))
	}
	dst.SetBody(d.value())
	n := d.length()
	kvs := slices.Grow(st.scratch[:0], n)[:n]
	for i := range kvs {
		kvs[i].Key = attribute.Key(d.str())
		kvs[i].Value = d.value()
	}
	dst.SetAttributes(kvs...)
	clear(kvs) // the scratch must not keep the chunk
	st.scratch = kvs[:0]
}

// decoder reads a packed record from b, at i. Strings point into b.
type decoder struct {
	b        []byte
	i        int
	severity log.Severity
	times    [2]struct {
		sec  int64
		nsec uint32
	}
}

// header reads the fixed part before the event name, keeping the
// timestamps and severity for later, and returns the flags.
func (d *decoder) header() byte {
	flags := d.byte()
	for i, f := range [2]byte{packTimestamp, packObserved} {
		if flags&f != 0 {
			p := d.next(12)
			d.times[i].sec = int64(binary.LittleEndian.Uint64(p))
			d.times[i].nsec = binary.LittleEndian.Uint32(p[8:])
		}
	}
	d.severity = log.Severity(int32(binary.LittleEndian.Uint32(d.next(4))))
	return flags
}

// time returns the header's timestamp (0) or observed timestamp (1).
func (d *decoder) time(i int, utc bool) time.Time {
	t := d.times[i]
	v := time.Unix(t.sec, int64(t.nsec))
	if utc {
		return v.UTC()
	}
	return v
}

func (d *decoder) byte() byte {
	c := d.b[d.i]
	d.i++
	return c
}

func (d *decoder) next(n int) []byte {
	p := d.b[d.i : d.i+n : d.i+n]
	d.i += n
	return p
}

// length reads a length written by appendLen.
func (d *decoder) length() int {
	n := int(d.byte())
	if n == 0xff {
		n = int(binary.LittleEndian.Uint32(d.next(4)))
	}
	return n
}

func (d *decoder) u64() uint64 { return binary.LittleEndian.Uint64(d.next(8)) }

// str returns the next string, pointing into the chunk.
func (d *decoder) str() string {
	n := d.length()
	if n == 0 {
		return ""
	}
	p := d.b[d.i : d.i+n]
	d.i += n
	return unsafe.String(&p[0], n)
}

// value reads a value.
func (d *decoder) value() attribute.Value {
	t := attribute.Type(d.byte())
	if t == attribute.STRING { // most values
		return attribute.StringValue(d.str())
	}
	switch t {
	case attribute.BOOL:
		return attribute.BoolValue(d.byte() != 0)
	case attribute.INT64:
		return attribute.Int64Value(int64(d.u64()))
	case attribute.FLOAT64:
		return attribute.Float64Value(math.Float64frombits(d.u64()))
	case attribute.STRING:
		return attribute.StringValue(d.str())
	case attribute.BYTESLICE:
		return attribute.ByteSliceValue([]byte(d.str()))
	case attribute.BOOLSLICE:
		s := make([]bool, d.length())
		for i := range s {
			s[i] = d.byte() != 0
		}
		return attribute.BoolSliceValue(s)
	case attribute.INT64SLICE:
		s := make([]int64, d.length())
		for i := range s {
			s[i] = int64(d.u64())
		}
		return attribute.Int64SliceValue(s)
	case attribute.FLOAT64SLICE:
		s := make([]float64, d.length())
		for i := range s {
			s[i] = math.Float64frombits(d.u64())
		}
		return attribute.Float64SliceValue(s)
	case attribute.STRINGSLICE:
		s := make([]string, d.length())
		for i := range s {
			s[i] = d.str()
		}
		return attribute.StringSliceValue(s)
	case attribute.SLICE:
		s := make([]attribute.Value, d.length())
		for i := range s {
			s[i] = d.value()
		}
		return attribute.SliceValue(s...)
	case attribute.MAP:
		s := make([]attribute.KeyValue, d.length())
		for i := range s {
			s[i].Key = attribute.Key(d.str())
			s[i].Value = d.value()
		}
		return attribute.MapValue(s...)
	}
	return attribute.Value{}
}
