package processor

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/secaudit/secaudit/internal/jsonenc"
	"github.com/secaudit/secaudit/semconv"
)

// Limits bounds a record (the reference's ProjectionLimits; its max_bytes
// has no counterpart because the Scrubber redacts every []byte first).
type Limits struct {
	// MaxDepth: a value at depth ≥ MaxDepth (top-level values are at depth
	// 1) becomes "[TRUNCATED]". Default 8.
	MaxDepth int
	// MaxMapEntries: entries kept per nested map, then "_truncated". Default 100.
	MaxMapEntries int
	// MaxSliceLength: elements kept per slice, then "[TRUNCATED]". Default 100.
	MaxSliceLength int
	// MaxStringLength: runes kept per string, then "[TRUNCATED]"; also the
	// longest key kept (a longer key drops its attribute, except the
	// contract's own [ProtectedKeys]). Default 4096.
	MaxStringLength int
	// MaxAttributes: top-level attributes kept (protected contract keys
	// beyond it are kept too), then "_truncated". Default 128.
	MaxAttributes int
	// MaxRecordBytes: cap on the record's estimated JSON size. Default 262144.
	MaxRecordBytes int
}

// DefaultLimits returns the reference's defaults.
func DefaultLimits() Limits {
	return Limits{
		MaxDepth:        8,
		MaxMapEntries:   100,
		MaxSliceLength:  100,
		MaxStringLength: 4096,
		MaxAttributes:   128,
		MaxRecordBytes:  256 * 1024,
	}
}

// truncatedKey is the marker entry added to a map or the attribute list
// that lost entries.
const truncatedKey = "_truncated"

var truncatedValue = attribute.StringValue(semconv.Truncated)

// Limiter is an sdk/log processor that bounds every record in place: depth,
// entries per map, slice length, string length in runes (with "[TRUNCATED]"
// markers), attribute count and the whole record's size. It never renames a
// key: an over-long key drops its attribute, counted. Non-finite floats,
// which JSON cannot carry, become "nan", "inf" or "-inf". A record within
// all limits is left untouched. It is safe for concurrent use; a nil or zero
// Limiter changes nothing.
type Limiter struct {
	limits Limits
	stats  counters
	origin atomic.Pointer[originSize] // the last resource and scope sized
}

// originSize is the JSON size of a resource and scope as the envelope
// writes them. Records of one LoggerProvider share one *resource.Resource,
// so the last one sized is almost always the next one asked for.
type originSize struct {
	res           *resource.Resource
	name, version string
	size          int
}

var _ sdklog.Processor = (*Limiter)(nil)

// NewLimiter returns a Limiter configured by opts (WithMaxDepth,
// WithMaxStringLength, …, WithLimits). There are no environment variables
// for limits.
func NewLimiter(opts ...LimitOption) (*Limiter, error) {
	return newLimiter(newConfig(opts))
}

func newLimiter(c config) (*Limiter, error) {
	l, err := c.limitSettings()
	if err != nil {
		return nil, err
	}
	return &Limiter{limits: l}, nil
}

// Limits returns the limits in force.
func (l *Limiter) Limits() Limits {
	if l == nil {
		return Limits{}
	}
	return l.limits
}

// Enabled reports false: the Limiter only rewrites records.
func (*Limiter) Enabled(context.Context, sdklog.EnabledParameters) bool { return false }

// OnEmit bounds r in place. It never fails and never blocks.
func (l *Limiter) OnEmit(_ context.Context, r *sdklog.Record) error {
	if l == nil || l.limits.MaxDepth == 0 || r == nil {
		return nil
	}
	l.limitRecord(r)
	return nil
}

// Shutdown does nothing.
func (*Limiter) Shutdown(context.Context) error { return nil }

// ForceFlush does nothing.
func (*Limiter) ForceFlush(context.Context) error { return nil }

// Stats returns the Limiter's counters.
func (l *Limiter) Stats() Stats {
	if l == nil {
		return Stats{}
	}
	return l.stats.snapshot()
}

type ltally struct{ truncated, dropped int }

// envelopeReserve is what the JSONL envelope around the attributes takes at
// most, besides the event name (twice), scope and resource.
const envelopeReserve = 512

// limitProbe is what a first, read-only pass learns about a record.
type limitProbe struct {
	size  int  // raw size estimate of the attributes
	dirty bool // some attribute needs limiting
}

// addString adds a string attribute's size to the probe and reports
// whether the key or the value may be over maxStr bytes: then
// [Limiter.probeLong] must check them.
func (p *limitProbe) addString(k, str string, maxStr int) bool {
	p.size += len(k) + len(str) + 6
	return len(k)|len(str) > maxStr // at least the longer one
}

// addScalar adds the size of an INT64, BOOL or EMPTY attribute to the
// probe and reports whether the key may be over maxStr bytes.
func (p *limitProbe) addScalar(k string, maxStr int) bool {
	p.size += len(k) + 4 + jsonenc.MaxScalarSize
	return len(k) > maxStr
}

// probeLong checks a key and a string value either of which is longer in
// bytes than the string limit.
func (l *Limiter) probeLong(p *limitProbe, k, str string) {
	if !p.dirty && (l.keyTooLong(k) || l.stringTooLong(str)) {
		p.dirty = true
	}
}

// probeAttr adds one attribute to the probe. Scalars are handled inline;
// composite values take the general path.
func (l *Limiter) probeAttr(p *limitProbe, kv *attribute.KeyValue) {
	maxStr := l.limits.MaxStringLength
	p.size += len(kv.Key) + 4
	if len(kv.Key) > maxStr && !p.dirty && l.keyTooLong(string(kv.Key)) {
		p.dirty = true
	}
	switch kv.Value.Type() {
	case attribute.STRING:
		n := len(kv.Value.AsString())
		p.size += n + 2
		if n > maxStr && !p.dirty && l.stringTooLong(kv.Value.AsString()) {
			p.dirty = true
		}
	case attribute.INT64, attribute.BOOL, attribute.EMPTY:
		p.size += jsonenc.MaxScalarSize
	case attribute.FLOAT64:
		p.size += jsonenc.MaxScalarSize
		if f := kv.Value.AsFloat64(); !p.dirty && (math.IsNaN(f) || math.IsInf(f, 0)) {
			p.dirty = true
		}
	default:
		p.size += jsonenc.Size(kv.Value, l.limits.MaxRecordBytes, jsonenc.Raw)
		if !p.dirty && l.needs(kv.Value, 1) {
			p.dirty = true
		}
	}
}

// probeDone completes the probe with the record-level checks and reports
// whether the record needs work.
func (l *Limiter) probeDone(r *sdklog.Record, p *limitProbe) bool {
	lim := &l.limits
	body := r.Body()
	n := r.AttributesLen()
	if n > lim.MaxAttributes || (lim.MaxDepth <= 1 && n > 0) {
		p.dirty = true
	}
	var bodySize int
	if body.Type() == attribute.STRING { // the common body, as needs and jsonenc.Size see it
		str := body.AsString()
		bodySize = len(str) + 2
		if lim.MaxDepth <= 1 || len(str) > lim.MaxStringLength && l.stringTooLong(str) {
			p.dirty = true
		}
	} else {
		bodySize = jsonenc.Size(body, lim.MaxRecordBytes, jsonenc.Raw)
		if l.needs(body, 1) {
			p.dirty = true
		}
	}
	if p.dirty {
		return true
	}
	// Values are counted raw (jsonenc.Raw): 6 times that bounds what is
	// written. So are the event name and severity text of the envelope;
	// its resource and scope are counted as written; never less than a
	// fixed reserve.
	env := envelopeReserve + 2*(6*len(r.EventName())+2) + 6*len(r.SeverityText()) + 2 + l.originSize(r)
	return (p.size+bodySize)*6+max(env, envelopeReserve*4) > lim.MaxRecordBytes
}

func (l *Limiter) limitRecord(r *sdklog.Record) {
	var p limitProbe
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		l.probeAttr(&p, &kv)
		return true
	})
	if l.probeDone(r, &p) {
		l.apply(r, p.dirty)
	}
}

// apply limits r; dirty tells whether values need limiting, or only the
// record's size needs checking.
func (l *Limiter) apply(r *sdklog.Record, dirty bool) {
	lim := &l.limits
	body := r.Body()
	var t ltally
	if dirty {
		if nb, changed := l.value(body, 1, &t); changed {
			r.SetBody(nb)
			body = nb
		}
	}
	var stack [rewriteStack]attribute.KeyValue
	buf := stack[:0]
	kept, overCount := 0, false
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		if !dirty {
			buf = append(buf, kv)
			return true
		}
		if l.keyTooLong(string(kv.Key)) {
			t.dropped++
			return true
		}
		if kept >= lim.MaxAttributes && !isProtectedKey(string(kv.Key)) {
			t.dropped++
			overCount = true
			return true
		}
		kept++
		nv, _ := l.value(kv.Value, 1, &t)
		buf = append(buf, attribute.KeyValue{Key: kv.Key, Value: nv})
		return true
	})
	if overCount {
		buf = append(buf, attribute.KeyValue{Key: truncatedKey, Value: truncatedValue})
	}
	var bodyFits bool
	buf, bodyFits = l.fitRecord(r, &body, buf, &t)
	if !bodyFits {
		r.SetBody(body)
	}
	if t.truncated == 0 && t.dropped == 0 {
		return
	}
	l.stats.limitTruncated.Add(uint64(t.truncated))
	l.stats.limitDropped.Add(uint64(t.dropped))
	r.SetAttributes(buf...)
}

// fitRecord shrinks attrs (and *body) until the record's estimated JSON
// size fits MaxRecordBytes: first the largest unprotected values become
// "[TRUNCATED]", then the last unprotected attributes go. It reports
// the attributes and whether the body was left unchanged.
func (l *Limiter) fitRecord(r *sdklog.Record, body *attribute.Value, attrs []attribute.KeyValue, t *ltally) ([]attribute.KeyValue, bool) {
	budget := l.limits.MaxRecordBytes - l.envelopeSize(r)
	// A value larger than the whole budget is truncated whatever the
	// others hold, so sizes are exact only up to the budget (never less
	// than the truncation marker, which sizes are compared with): a huge
	// value is not walked to its end.
	upTo := max(budget, len(semconv.Truncated)+2)
	bodySize := jsonenc.Size(*body, upTo, jsonenc.Exact)
	size := bodySize
	sizes := make([]int, len(attrs))
	for i, kv := range attrs {
		sizes[i] = jsonenc.StringSize(string(kv.Key)) + 1 + jsonenc.Size(kv.Value, upTo, jsonenc.Exact) + 1
		size += sizes[i]
	}
	if size <= budget {
		return attrs, true
	}
	bodyKept := true
	// Largest values first.
	order := make([]int, 0, len(attrs)+1)
	for i, kv := range attrs {
		if !isProtectedKey(string(kv.Key)) {
			order = append(order, i)
		}
	}
	order = append(order, -1) // the body
	sizeAt := func(i int) int {
		if i < 0 {
			return bodySize
		}
		return sizes[i]
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(sizeAt(b), sizeAt(a)) })
	for _, i := range order {
		if size <= budget {
			break
		}
		if i < 0 {
			if bodySize > len(semconv.Truncated)+2 {
				size -= bodySize - (len(semconv.Truncated) + 2)
				*body, bodyKept = truncatedValue, false
				t.truncated++
			}
			continue
		}
		kv := &attrs[i]
		small := jsonenc.StringSize(string(kv.Key)) + 1 + len(semconv.Truncated) + 2 + 1
		if sizes[i] <= small {
			continue
		}
		size -= sizes[i] - small
		sizes[i] = small
		kv.Value = truncatedValue
		t.truncated++
	}
	// Still too big (keys alone): drop unprotected attributes from the end.
	for i := len(attrs) - 1; i >= 0 && size > budget; i-- {
		if isProtectedKey(string(attrs[i].Key)) {
			continue
		}
		size -= sizes[i]
		attrs = slices.Delete(attrs, i, i+1)
		sizes = slices.Delete(sizes, i, i+1)
		t.dropped++
	}
	return attrs, bodyKept
}

// envelopeSize bounds what the JSONL envelope around r's attributes and
// body takes: the fixed keys and ids, the event name (twice), the severity
// text, the resource and the scope.
func (l *Limiter) envelopeSize(r *sdklog.Record) int {
	return envelopeReserve + 2*jsonenc.StringSize(r.EventName()) + jsonenc.StringSize(r.SeverityText()) + l.originSize(r)
}

// originSize is the size of r's resource and scope as the envelope writes
// them, cached for the last resource and scope asked for.
func (l *Limiter) originSize(r *sdklog.Record) int {
	res, sc := r.Resource(), r.InstrumentationScope()
	if o := l.origin.Load(); o != nil && o.res == res && sameString(o.name, sc.Name) && sameString(o.version, sc.Version) {
		return o.size
	}
	o := &originSize{res: res, name: sc.Name, version: sc.Version}
	o.size = jsonenc.StringSize(sc.Name) + jsonenc.StringSize(sc.Version)
	if res != nil {
		for it := res.Iter(); it.Next(); {
			kv := it.Attribute()
			o.size += jsonenc.StringSize(string(kv.Key)) + jsonenc.Size(kv.Value, math.MaxInt, jsonenc.Exact) + 2
		}
	}
	l.origin.Store(o)
	return o.size
}

// sameString reports whether a == b, without comparing the bytes of a
// string with itself (the scope name of every record of a logger).
func sameString(a, b string) bool {
	return len(a) == len(b) && (unsafe.StringData(a) == unsafe.StringData(b) || a == b)
}

// keyTooLong reports whether k is longer than the string limit. The
// contract's own keys are never too long: they are fixed and bounded.
func (l *Limiter) keyTooLong(k string) bool {
	max := l.limits.MaxStringLength
	return len(k) > max && utf8.RuneCountInString(k) > max && !isProtectedKey(k)
}

func (l *Limiter) stringTooLong(s string) bool {
	max := l.limits.MaxStringLength
	return len(s) > max && utf8.RuneCountInString(s) > max
}

// needs reports whether value v at depth needs limiting.
func (l *Limiter) needs(v attribute.Value, depth int) bool {
	lim := &l.limits
	if v.Type() == attribute.EMPTY {
		return false
	}
	if depth >= lim.MaxDepth {
		return true
	}
	switch v.Type() {
	case attribute.STRING:
		return l.stringTooLong(v.AsString())
	case attribute.FLOAT64:
		f := v.AsFloat64()
		return math.IsNaN(f) || math.IsInf(f, 0)
	case attribute.BYTESLICE:
		return len(v.AsString()) > lim.MaxStringLength
	case attribute.STRINGSLICE:
		ss := v.AsStringSlice()
		if len(ss) > lim.MaxSliceLength || (len(ss) > 0 && depth+1 >= lim.MaxDepth) {
			return true
		}
		for _, s := range ss {
			if l.stringTooLong(s) {
				return true
			}
		}
	case attribute.FLOAT64SLICE:
		fs := v.AsFloat64Slice()
		if len(fs) > lim.MaxSliceLength || (len(fs) > 0 && depth+1 >= lim.MaxDepth) {
			return true
		}
		for _, f := range fs {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return true
			}
		}
	case attribute.INT64SLICE, attribute.BOOLSLICE:
		n := sliceLen(v)
		return n > lim.MaxSliceLength || (n > 0 && depth+1 >= lim.MaxDepth)
	case attribute.SLICE:
		elems := v.AsSlice()
		if len(elems) > lim.MaxSliceLength {
			return true
		}
		for _, e := range elems {
			if l.needs(e, depth+1) {
				return true
			}
		}
	case attribute.MAP:
		kvs := v.AsMap()
		if len(kvs) > lim.MaxMapEntries {
			return true
		}
		for _, kv := range kvs {
			if l.keyTooLong(string(kv.Key)) || l.needs(kv.Value, depth+1) {
				return true
			}
		}
	}
	return false
}

func sliceLen(v attribute.Value) int {
	switch v.Type() {
	case attribute.INT64SLICE:
		return len(v.AsInt64Slice())
	case attribute.BOOLSLICE:
		return len(v.AsBoolSlice())
	case attribute.FLOAT64SLICE:
		return len(v.AsFloat64Slice())
	case attribute.STRINGSLICE:
		return len(v.AsStringSlice())
	case attribute.SLICE:
		return len(v.AsSlice())
	}
	return 0
}

// truncateString keeps the first max runes of s and appends the marker.
// The result is a string of its own (the concatenation copies), so a
// record queued for export does not keep s, which may be a whole request,
// alive; a string within the limit is returned as it is, not copied.
func truncateString(s string, max int) string {
	n := 0
	for i := range s {
		if n == max {
			return s[:i] + semconv.Truncated
		}
		n++
	}
	return s
}

func nonFinite(f float64) (string, bool) {
	switch {
	case math.IsNaN(f):
		return "nan", true
	case math.IsInf(f, 1):
		return "inf", true
	case math.IsInf(f, -1):
		return "-inf", true
	}
	return "", false
}

// value returns v limited at depth, and whether it changed.
func (l *Limiter) value(v attribute.Value, depth int, t *ltally) (attribute.Value, bool) {
	lim := &l.limits
	if v.Type() == attribute.EMPTY {
		return v, false
	}
	if depth >= lim.MaxDepth {
		t.truncated++
		return truncatedValue, true
	}
	switch v.Type() {
	case attribute.STRING:
		if s := v.AsString(); l.stringTooLong(s) {
			t.truncated++
			return attribute.StringValue(truncateString(s, lim.MaxStringLength)), true
		}
	case attribute.FLOAT64:
		if s, bad := nonFinite(v.AsFloat64()); bad {
			t.truncated++
			return attribute.StringValue(s), true
		}
	case attribute.BYTESLICE:
		if b := v.AsString(); len(b) > lim.MaxStringLength {
			t.truncated++
			return attribute.ByteSliceValue([]byte(b[:lim.MaxStringLength] + semconv.Truncated)), true
		}
	case attribute.STRINGSLICE, attribute.INT64SLICE, attribute.FLOAT64SLICE, attribute.BOOLSLICE:
		if !l.needs(v, depth) {
			return v, false
		}
		if v.Type() == attribute.STRINGSLICE && depth+1 < lim.MaxDepth {
			ss := v.AsStringSlice()
			if len(ss) > lim.MaxSliceLength {
				ss = append(ss[:lim.MaxSliceLength], semconv.Truncated)
				t.truncated++
			}
			for i, s := range ss {
				if l.stringTooLong(s) {
					ss[i] = truncateString(s, lim.MaxStringLength)
					t.truncated++
				}
			}
			return attribute.StringSliceValue(ss), true
		}
		return l.slice(typedElems(v), depth, t), true
	case attribute.SLICE:
		if !l.needs(v, depth) {
			return v, false
		}
		return l.slice(v.AsSlice(), depth, t), true
	case attribute.MAP:
		if !l.needs(v, depth) {
			return v, false
		}
		kvs := v.AsMap()
		out := make([]attribute.KeyValue, 0, min(len(kvs), lim.MaxMapEntries)+1)
		over := false
		for _, kv := range kvs {
			if l.keyTooLong(string(kv.Key)) {
				t.dropped++
				continue
			}
			if len(out) >= lim.MaxMapEntries {
				over = true
				t.dropped++
				continue
			}
			nv, _ := l.value(kv.Value, depth+1, t)
			out = append(out, attribute.KeyValue{Key: kv.Key, Value: nv})
		}
		if over {
			out = slices.DeleteFunc(out, func(kv attribute.KeyValue) bool { return kv.Key == truncatedKey })
			out = append(out, attribute.KeyValue{Key: truncatedKey, Value: truncatedValue})
		}
		return attribute.MapValue(out...), true
	}
	return v, false
}

func (l *Limiter) slice(elems []attribute.Value, depth int, t *ltally) attribute.Value {
	lim := &l.limits
	over := len(elems) > lim.MaxSliceLength
	if over {
		elems = elems[:lim.MaxSliceLength]
	}
	out := make([]attribute.Value, 0, len(elems)+1)
	for _, e := range elems {
		ne, _ := l.value(e, depth+1, t)
		out = append(out, ne)
	}
	if over {
		out = append(out, truncatedValue)
		t.truncated++
	}
	return attribute.SliceValue(out...)
}

// typedElems converts a typed slice value into generic elements.
func typedElems(v attribute.Value) []attribute.Value {
	var out []attribute.Value
	switch v.Type() {
	case attribute.STRINGSLICE:
		for _, s := range v.AsStringSlice() {
			out = append(out, attribute.StringValue(s))
		}
	case attribute.INT64SLICE:
		for _, n := range v.AsInt64Slice() {
			out = append(out, attribute.Int64Value(n))
		}
	case attribute.FLOAT64SLICE:
		for _, f := range v.AsFloat64Slice() {
			out = append(out, attribute.Float64Value(f))
		}
	case attribute.BOOLSLICE:
		for _, b := range v.AsBoolSlice() {
			out = append(out, attribute.BoolValue(b))
		}
	}
	return out
}
