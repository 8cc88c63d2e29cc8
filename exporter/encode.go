package exporter

import (
	"encoding/hex"
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/secaudit/secaudit/internal/jsonenc"
	"github.com/secaudit/secaudit/semconv"
)

var (
	// errUnencodable: the record holds a value JSON cannot represent (NaN,
	// ±Inf, an attribute type this encoder does not know).
	errUnencodable = errors.New("record holds a value JSON cannot represent")
	// errTooLarge: the line would exceed the record limit.
	errTooLarge = errors.New("record exceeds the record limit")
)

const (
	// inlineAttributes is how many record attributes AppendRecord gathers
	// on the stack; records with more cost one allocation.
	inlineAttributes = 32
	// fewAttributes is the smaller stack array AppendRecord uses for a
	// record with no more attributes (most records), which is cheaper to
	// clear.
	fewAttributes = 16
	// quadraticDedupMax is the longest key list de-duplicated without a map
	// (see dupIndex); it is bounded by the 64 bits of dupIndex.maybe.
	quadraticDedupMax = 64
	// maxFallbackSchemaVersionBytes bounds the record's schema version that
	// a malformed_record line may carry.
	maxFallbackSchemaVersionBytes = 64
	// maxFallbackServiceNameRunes bounds service.name in the minimal
	// malformed_record line.
	maxFallbackServiceNameRunes = 256
)

// fallback stages, tried in order when a record cannot be encoded as is.
const (
	fallbackFull       = iota // resource and scope kept
	fallbackMinimal           // resource cut to service.name, no scope
	fallbackLastResort        // no resource, no scope; always fits
)

// AppendRecord appends the JSONL line of r, including its trailing '\n', to
// dst and returns the extended buffer. The line is either the envelope of r
// or, when r holds a value JSON cannot represent (NaN, ±Inf) or its envelope
// would be longer than maxRecordBytes (bytes, without the newline), an
// audit.logging.malformed_record line that carries none of r's content.
//
// maxRecordBytes ≤ 0 means [DefaultMaxRecordBytes]; a positive value below
// [MinMaxRecordBytes] is raised to it. A nil r appends nothing.
//
// AppendRecord does not allocate when dst has room for the line and r has
// at most 32 attributes of scalar types (string, bool, int, float); reading
// slice, map and byte-slice values costs the copies the attribute package
// makes. It is safe for concurrent use with distinct dst buffers.
func AppendRecord(dst []byte, r *sdklog.Record, maxRecordBytes int) []byte {
	if r == nil {
		return dst
	}
	if r.AttributesLen() <= fewAttributes {
		var inline [fewAttributes]attribute.KeyValue
		dst, _ = appendRecord(dst, r, gather(r, inline[:0]), maxRecordBytes, nil)
		return dst
	}
	var inline [inlineAttributes]attribute.KeyValue
	dst, _ = appendRecord(dst, r, gather(r, inline[:0]), maxRecordBytes, nil)
	return dst
}

// gather appends the attributes of r to attrs.
func gather(r *sdklog.Record, attrs []attribute.KeyValue) []attribute.KeyValue {
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		attrs = append(attrs, kv)
		return true
	})
	return attrs
}

// appendRecord is AppendRecord of r, whose attributes attrs holds (see
// gather), that also reports whether r was replaced by a malformed_record
// line, and may reuse the resource and scope encoded for an earlier record
// (cache may be nil).
func appendRecord(dst []byte, r *sdklog.Record, attrs []attribute.KeyValue, maxRecordBytes int, cache *originCache) (out []byte, malformed bool) {
	limit := normalizeMaxRecordBytes(maxRecordBytes)
	ts, observed := timestamps(r)
	version := schemaVersion(attrs)

	start := len(dst)
	e := encoder{buf: dst, limit: start + limit}
	e.envelope(r, attrs, ts, observed, version, cache)
	if e.err == nil {
		return append(e.buf, '\n'), false
	}

	if len(version) > maxFallbackSchemaVersionBytes {
		version = semconv.SchemaVersion
	}
	for stage := fallbackFull; stage <= fallbackLastResort; stage++ {
		e.buf, e.err = e.buf[:start], nil
		if stage == fallbackLastResort {
			// Fits in MinMaxRecordBytes by construction (see
			// TestLastResortFitsMinimum); never let it fail.
			e.limit = math.MaxInt
		}
		e.fallback(r, stage, ts, observed, version, attrs)
		if e.err == nil {
			break
		}
	}
	return append(e.buf, '\n'), true
}

func normalizeMaxRecordBytes(n int) int {
	switch {
	case n <= 0:
		return DefaultMaxRecordBytes
	case n < MinMaxRecordBytes:
		return MinMaxRecordBytes
	}
	return n
}

// timestamps returns the envelope's timestamp and observed_timestamp in Unix
// nanoseconds: each falls back to the other when zero, and both are 0 when
// the record has neither.
func timestamps(r *sdklog.Record) (ts, observed int64) {
	t, o := r.Timestamp(), r.ObservedTimestamp()
	if t.IsZero() {
		t = o
	}
	if o.IsZero() {
		o = t
	}
	if !t.IsZero() {
		ts = t.UnixNano()
	}
	if !o.IsZero() {
		observed = o.UnixNano()
	}
	return ts, observed
}

// schemaVersion returns the effective (last) audit.schema_version attribute
// if it is a non-empty string, else [semconv.SchemaVersion].
func schemaVersion(attrs []attribute.KeyValue) string {
	for i := len(attrs) - 1; i >= 0; i-- {
		if attrs[i].Key != semconv.AuditSchemaVersionKey {
			continue
		}
		if v := attrs[i].Value; v.Type() == attribute.STRING && v.AsString() != "" {
			return v.AsString()
		}
		break
	}
	return semconv.SchemaVersion
}

// encoder appends JSON to buf and stops at the first error: a value JSON
// cannot hold, or buf growing past limit (an absolute length).
type encoder struct {
	buf   []byte
	limit int
	err   error
}

func (e *encoder) raw(s string) { e.buf = append(e.buf, s...) }

func (e *encoder) int(n int64) { e.buf = jsonenc.AppendInt(e.buf, n) }

func (e *encoder) checkSize() {
	if e.err == nil && len(e.buf) > e.limit {
		e.err = errTooLarge
	}
}

// string appends s as a JSON string. Escaping never shrinks a string, so a
// string longer than the remaining room fails before it is copied.
func (e *encoder) string(s string) { e.key(s) }

// key appends s as a JSON string like string does, and reports whether it
// replaced invalid UTF-8. A plain string (the common case: nothing to
// escape or replace) is copied between quotes in place.
func (e *encoder) key(s string) (replaced bool) {
	if e.err != nil {
		return false
	}
	if len(s) > e.limit-len(e.buf) {
		e.err = errTooLarge
		return false
	}
	if !jsonenc.Plain(s) {
		e.buf, replaced = jsonenc.AppendStringReporting(e.buf, s)
		e.checkSize()
		return replaced
	}
	b := append(e.buf, '"')
	b = append(b, s...)
	b = append(b, '"')
	e.buf = b
	if len(b) > e.limit {
		e.err = errTooLarge
	}
	return false
}

func (e *encoder) float(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		e.err = errUnencodable
		return
	}
	e.buf = jsonenc.AppendFloat(e.buf, f)
}

func (e *encoder) envelope(r *sdklog.Record, attrs []attribute.KeyValue, ts, observed int64, version string, cache *originCache) {
	e.raw(`{"timestamp":`)
	digits := len(e.buf)
	e.int(ts)
	e.raw(`,"observed_timestamp":`)
	if observed == ts { // the usual case: copy the digits just written
		e.buf = append(e.buf, e.buf[digits:len(e.buf)-len(`,"observed_timestamp":`)]...)
	} else {
		e.int(observed)
	}
	e.raw(`,"severity_text":`)
	text := r.SeverityText()
	if text == "" {
		text = semconv.SeverityText(r.Severity())
	}
	e.string(text)
	e.raw(`,"severity_number":`)
	e.int(int64(r.Severity()))
	e.raw(`,"body":`)
	switch body := r.Body(); body.Type() {
	case attribute.EMPTY:
		e.raw(`""`)
	case attribute.STRING:
		e.string(body.AsString())
	default:
		e.value(body)
	}
	e.origin(r.Resource(), r.InstrumentationScope(), cache)
	e.raw(`,"attributes":{"` + semconv.EnvelopeEventTypeKey + `":`)
	name := len(e.buf)
	e.string(r.EventName())
	nameEnd := len(e.buf)
	e.raw(`,"` + semconv.EnvelopeSchemaVersionKey + `":`)
	e.string(version)
	e.members(attrs, true, true)
	e.raw(`},"event_name":`)
	if e.err == nil { // the event name once more, as just written
		e.buf = append(e.buf, e.buf[name:nameEnd]...)
	}
	if tid, sid := r.TraceID(), r.SpanID(); tid.IsValid() && sid.IsValid() {
		e.raw(`,"trace_id":"`)
		e.buf = hex.AppendEncode(e.buf, tid[:])
		e.raw(`","span_id":"`)
		e.buf = hex.AppendEncode(e.buf, sid[:])
		e.raw(`","trace_flags":`)
		if r.TraceFlags().IsSampled() {
			e.raw("1")
		} else {
			e.raw("0")
		}
	}
	e.raw("}")
	e.checkSize()
}

// fallback appends the malformed_record line of the given stage. It uses
// only the record's timestamps, resource, scope, the (bounded) schema
// version, and its audit.stream.id and audit.sequence when it has them (so
// that the replacement keeps the record's place in its stream).
func (e *encoder) fallback(r *sdklog.Record, stage int, ts, observed int64, version string, attrs []attribute.KeyValue) {
	e.raw(`{"timestamp":`)
	e.int(ts)
	e.raw(`,"observed_timestamp":`)
	e.int(observed)
	e.raw(`,"severity_text":`)
	e.string(semconv.SeverityTextError)
	e.raw(`,"severity_number":`)
	e.int(int64(semconv.SeverityError))
	e.raw(`,"body":`)
	e.string(semconv.BodyMalformedRecord)
	switch stage {
	case fallbackFull:
		e.raw(`,"resource":`)
		e.resource(r.Resource())
		e.raw(`,"instrumentation_scope":`)
		e.scope(r.InstrumentationScope())
	case fallbackMinimal:
		e.raw(`,"resource":{`)
		if name, ok := serviceName(r.Resource()); ok {
			e.string(string(semconv.ServiceNameKey))
			e.raw(":")
			e.string(truncateRunes(name, maxFallbackServiceNameRunes))
		}
		e.raw("}")
	}
	e.raw(`,"attributes":{"` + semconv.EnvelopeEventTypeKey + `":`)
	e.string(semconv.EventMalformedRecord)
	e.raw(`,"` + semconv.EnvelopeSchemaVersionKey + `":`)
	e.string(version)
	if id, seq, ok := streamPlace(attrs); ok {
		e.raw(`,"` + string(semconv.AuditStreamIDKey) + `":`)
		e.string(id)
		e.raw(`,"` + string(semconv.AuditSequenceKey) + `":`)
		e.int(seq)
	}
	e.raw(`},"event_name":`)
	e.string(semconv.EventMalformedRecord)
	e.raw("}")
	e.checkSize()
}

// maxStreamIDBytes bounds the audit.stream.id a malformed_record line
// keeps (setup's ids have 32 hex digits).
const maxStreamIDBytes = 64

// streamPlace returns the record's (last) audit.stream.id and
// audit.sequence, when it has both with their types and the id is short.
func streamPlace(attrs []attribute.KeyValue) (id string, seq int64, ok bool) {
	var hasID, hasSeq bool
	for _, kv := range attrs {
		switch {
		case kv.Key == semconv.AuditStreamIDKey && kv.Value.Type() == attribute.STRING:
			id, hasID = kv.Value.AsString(), true
		case kv.Key == semconv.AuditSequenceKey && kv.Value.Type() == attribute.INT64:
			seq, hasSeq = kv.Value.AsInt64(), true
		}
	}
	return id, seq, hasID && hasSeq && len(id) <= maxStreamIDBytes && plainID(id)
}

// plainID reports whether id needs no JSON escaping (letters, digits, '-'
// and '_'), so that its length bounds the line's.
func plainID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// originCache keeps the encoded resource and instrumentation scope of the
// last record. Records of one LoggerProvider share both, so an exporter
// encodes them once instead of per record. Resources are immutable, which
// makes the pointer a sound key. Not safe for concurrent use.
type originCache struct {
	res           *resource.Resource
	name, version string
	encoded       []byte // `,"resource":{…},"instrumentation_scope":{…}`
	valid         bool
}

// origin appends the resource and instrumentation_scope members, from cache
// when it holds them.
func (e *encoder) origin(res *resource.Resource, scope instrumentation.Scope, cache *originCache) {
	if e.err != nil {
		return
	}
	if cache != nil && cache.valid && cache.res == res && cache.name == scope.Name && cache.version == scope.Version {
		e.buf = append(e.buf, cache.encoded...)
		e.checkSize()
		return
	}
	mark := len(e.buf)
	e.raw(`,"resource":`)
	e.resource(res)
	e.raw(`,"instrumentation_scope":`)
	e.scope(scope)
	e.checkSize()
	if cache != nil && e.err == nil {
		*cache = originCache{
			res:     res,
			name:    scope.Name,
			version: scope.Version,
			encoded: append(cache.encoded[:0], e.buf[mark:]...),
			valid:   true,
		}
	}
}

func serviceName(res *resource.Resource) (string, bool) {
	if res == nil {
		return "", false
	}
	v, ok := res.Set().Value(semconv.ServiceNameKey)
	if !ok || v.Type() != attribute.STRING {
		return "", false
	}
	return v.AsString(), true
}

// truncateRunes returns s cut to at most n runes (an invalid byte counts as
// one rune).
func truncateRunes(s string, n int) string {
	count := 0
	for i := range s {
		if count == n {
			return s[:i]
		}
		count++
	}
	return s
}

// resource appends the resource attributes as a flat object. The SDK's
// resource is a set: keys are unique and sorted, so they are written as
// they come, unless a key is not valid UTF-8: distinct keys may then become
// the same text once invalid bytes are replaced, and the (rare) slow path
// de-duplicates them like any map.
func (e *encoder) resource(res *resource.Resource) {
	mark := len(e.buf)
	e.raw("{")
	if res != nil {
		iter := res.Iter()
		for iter.Next() {
			if e.err != nil {
				return
			}
			i, kv := iter.IndexedAttribute()
			if i > 0 {
				e.raw(",")
			}
			if e.key(string(kv.Key)) {
				e.buf = e.buf[:mark+1]
				e.membersPass(res.Attributes(), false, false, true)
				break
			}
			e.raw(":")
			e.value(kv.Value)
		}
	}
	e.raw("}")
}

func (e *encoder) scope(s instrumentation.Scope) {
	e.raw(`{"name":`)
	e.string(s.Name)
	if s.Version != "" {
		e.raw(`,"version":`)
		e.string(s.Version)
	}
	e.raw("}")
}

// members appends the key-value pairs of kvs as object members, dropping
// every pair whose key occurs again later in kvs (the last value wins).
// comma says whether a member precedes them. At the top level of
// "attributes", the envelope-owned keys event_type and schema_version are
// dropped too.
//
// Keys are compared as bytes, which is exact while they are valid UTF-8.
// If writing a key had to replace invalid bytes, the members are written
// again, comparing keys as written (see dupIndex).
func (e *encoder) members(kvs []attribute.KeyValue, comma, topLevel bool) {
	mark := len(e.buf)
	if e.membersPass(kvs, comma, topLevel, false) {
		e.buf = e.buf[:mark]
		e.membersPass(kvs, comma, topLevel, true)
	}
}

// membersPass writes the members once and reports whether a key held
// invalid UTF-8 while lossy was false (the pass is then incomplete).
func (e *encoder) membersPass(kvs []attribute.KeyValue, comma, topLevel, lossy bool) (redo bool) {
	dups := newDupIndex(kvs, lossy)
	for i := range kvs {
		if e.err != nil {
			return false
		}
		kv := &kvs[i]
		key := string(kv.Key)
		if topLevel && (key == semconv.EnvelopeEventTypeKey || key == semconv.EnvelopeSchemaVersionKey) {
			continue
		}
		if dups.maybeShadowed(i) && dups.shadowed(kvs, i) {
			continue
		}
		// The common case in one go: the key and a string value are plain
		// (written as they are), or the value is an INT64, and the member
		// fits the remaining room (its punctuation and an int's digits take
		// at most 26 bytes), so that it needs no size check.
		if typ := kv.Value.Type(); typ == attribute.STRING || typ == attribute.INT64 {
			var s string
			if typ == attribute.STRING {
				s = kv.Value.AsString()
			}
			if len(key)+len(s) <= e.limit-len(e.buf)-26 && jsonenc.Plain(key) && jsonenc.Plain(s) {
				b := e.buf
				if comma {
					b = append(b, ',', '"')
				} else {
					b = append(b, '"')
				}
				b = append(b, key...)
				if typ == attribute.INT64 {
					b = jsonenc.AppendInt(append(b, '"', ':'), kv.Value.AsInt64())
				} else {
					b = append(b, '"', ':', '"')
					b = append(b, s...)
					b = append(b, '"')
				}
				e.buf = b
				comma = true
				continue
			}
		}
		if comma {
			e.raw(",")
		}
		comma = true
		if e.key(key) && !lossy {
			return true
		}
		e.raw(":")
		e.value(kv.Value)
	}
	return false
}

// dupIndex answers whether a later pair has the same key as written, that
// is after invalid UTF-8 is replaced: "\xff" and "\xfe" both become "\ufffd".
//
// Short lists (up to 64 pairs) of valid UTF-8 keys cost no allocation: one
// backward pass over a 64-bit set of key fingerprints marks the pairs whose
// fingerprint recurs later, and only those are compared. Short lossy lists
// (some key is not valid UTF-8) compare the written text pairwise. Longer
// lists use a map of each key's last position (an allocation).
type dupIndex struct {
	last  map[string]int // long lists
	maybe uint64         // short valid lists: bit i: a later pair may share kvs[i]'s key
	lossy bool           // compare keys as written (some key is not valid UTF-8)
	every bool           // last != nil or lossy: shadowed must be asked for every pair
}

func newDupIndex(kvs []attribute.KeyValue, lossy bool) dupIndex {
	if len(kvs) > quadraticDedupMax {
		last := make(map[string]int, len(kvs))
		for i := range kvs {
			last[writtenKey(kvs[i].Key, lossy)] = i
		}
		return dupIndex{last: last, lossy: lossy, every: true}
	}
	if lossy {
		return dupIndex{lossy: true, every: true}
	}
	var seen, maybe uint64
	for i := len(kvs) - 1; i >= 0; i-- {
		bit := uint64(1) << fingerprint(kvs[i].Key)
		if seen&bit != 0 {
			maybe |= 1 << i
		}
		seen |= bit
	}
	return dupIndex{maybe: maybe}
}

// fingerprint hashes a key to 0..63 from its length and last byte (cheap,
// and telling apart the keys of a typical record).
func fingerprint(k attribute.Key) uint {
	n := uint(len(k))
	if n == 0 {
		return 0
	}
	return (n + uint(k[n-1])*7) & 63
}

// maybeShadowed is the cheap first test: false means kvs[i] is not
// shadowed, true that shadowed must be asked.
func (d *dupIndex) maybeShadowed(i int) bool { return d.every || d.maybe&(1<<uint(i)) != 0 }

func (d dupIndex) shadowed(kvs []attribute.KeyValue, i int) bool {
	switch {
	case d.last != nil:
		return d.last[writtenKey(kvs[i].Key, d.lossy)] != i
	case d.lossy:
		for j := i + 1; j < len(kvs); j++ {
			if sameText(string(kvs[i].Key), string(kvs[j].Key)) {
				return true
			}
		}
		return false
	case d.maybe&(1<<i) == 0:
		return false
	}
	key := kvs[i].Key
	for j := i + 1; j < len(kvs); j++ {
		if kvs[j].Key == key {
			return true
		}
	}
	return false
}

// writtenKey is k with each invalid UTF-8 byte replaced by U+FFFD, as
// jsonenc.AppendString writes it; lossy false promises k is valid.
func writtenKey(k attribute.Key, lossy bool) string {
	if !lossy || utf8.ValidString(string(k)) {
		return string(k)
	}
	var b strings.Builder
	for _, r := range string(k) {
		b.WriteRune(r)
	}
	return b.String()
}

// sameText reports whether a and b are written as the same JSON text: the
// same runes, counting each invalid byte as U+FFFD.
func sameText(a, b string) bool {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			return false
		}
		a, b = a[na:], b[nb:]
	}
	return a == "" && b == ""
}

// value appends v as JSON: scalars as JSON scalars, every slice kind as an
// array, MAP as an object, BYTESLICE as a base64 string, EMPTY as null.
func (e *encoder) value(v attribute.Value) {
	if e.err != nil {
		return
	}
	switch v.Type() {
	case attribute.EMPTY:
		e.raw("null")
	case attribute.BOOL:
		e.buf = strconv.AppendBool(e.buf, v.AsBool())
	case attribute.INT64:
		e.int(v.AsInt64())
	case attribute.FLOAT64:
		e.float(v.AsFloat64())
	case attribute.STRING:
		e.string(v.AsString())
	case attribute.BOOLSLICE:
		e.raw("[")
		for i, b := range v.AsBoolSlice() {
			if i > 0 {
				e.raw(",")
			}
			e.buf = strconv.AppendBool(e.buf, b)
		}
		e.raw("]")
	case attribute.INT64SLICE:
		e.raw("[")
		for i, n := range v.AsInt64Slice() {
			if i > 0 {
				e.raw(",")
			}
			e.int(n)
		}
		e.raw("]")
	case attribute.FLOAT64SLICE:
		e.raw("[")
		for i, f := range v.AsFloat64Slice() {
			if i > 0 {
				e.raw(",")
			}
			e.float(f)
			if e.err != nil {
				return
			}
		}
		e.raw("]")
	case attribute.STRINGSLICE:
		e.raw("[")
		for i, s := range v.AsStringSlice() {
			if i > 0 {
				e.raw(",")
			}
			e.string(s)
			if e.err != nil {
				return
			}
		}
		e.raw("]")
	case attribute.BYTESLICE:
		b := v.AsByteSlice()
		if jsonenc.BytesSize(len(b)) > e.limit-len(e.buf) {
			e.err = errTooLarge
			return
		}
		e.buf = jsonenc.AppendBytes(e.buf, b)
	case attribute.SLICE:
		e.raw("[")
		for i, el := range v.AsSlice() {
			if i > 0 {
				e.raw(",")
			}
			e.value(el)
			if e.err != nil {
				return
			}
		}
		e.raw("]")
	case attribute.MAP:
		e.raw("{")
		e.members(v.AsMap(), false, false)
		e.raw("}")
	default:
		e.err = errUnencodable
	}
	e.checkSize()
}
