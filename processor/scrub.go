package processor

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/semconv"
)

// Scrubber is an sdk/log processor that redacts secrets from every record
// in place: attributes at any depth, the body, exception.* texts and
// url.query. Register it before the exporting processor (or use [NewChain]).
// It is safe for concurrent use. A nil or zero Scrubber changes nothing.
//
// What it replaces with "[REDACTED]":
//   - the whole value of an attribute or map entry whose key is sensitive
//     (see [WithSensitiveKeys], [WithSensitiveKeyAllowlist]); protected
//     contract keys ([ProtectedKeys]) are exempt from key rules;
//   - the value of a top-level attribute named like a field the envelope
//     derives from the record ([EnvelopeKeys]: event_name, event_type, …),
//     so that no attribute can forge them;
//   - in url.query, the value of each parameter whose name is sensitive;
//   - the span of each secret a built-in detector finds in a string
//     ([Detector]); in url.full, url.path and url.query the detectors and
//     patterns also read the percent-decoded text, and when url.path
//     changes, url.full's path is rewritten from it, so url.full is never
//     less redacted than url.path;
//   - the span of each match of your patterns ([WithSensitiveValuePatterns]),
//     like the detectors' (write the pattern to cover the whole secret:
//     `sk_live_\w+`, not `sk_live_`);
//   - every []byte value (bytes are never decoded, as in the reference).
//
// A key in which a detector or pattern finds a secret (a JWT used as a map
// key) is renamed to its scrubbed text, made unique with a "#2", "#3", …
// suffix so that no value is shadowed; each renaming counts as a
// replacement.
//
// It then sets audit.redacted_count to the number of values it changed
// (added to any count already on the record): a value replaced whole, a
// string in which one or more spans were redacted (however many), a
// number, a slice element, a renamed key — each counts once. See the
// package documentation. A record with nothing to replace is
// left untouched: no SetAttributes, no allocation for flat attributes.
type Scrubber struct {
	keys      keyRules
	cache     *keyCache
	detectors Detector
	patterns  []*regexp.Regexp
	pseudo    *pseudonymizer
	// clean holds, by length, the constant texts of secaudit's own events
	// that the detectors and patterns leave unchanged (see
	// cleanConstant).
	clean [maxCleanLen][]string

	stats counters
}

var _ sdklog.Processor = (*Scrubber)(nil)

// NewScrubber returns a Scrubber configured by opts (option > SECAUDIT_*
// environment > default); an invalid value is an error naming the option or
// variable.
func NewScrubber(opts ...ScrubOption) (*Scrubber, error) {
	return newScrubber(newConfig(opts))
}

func newScrubber(c config) (*Scrubber, error) {
	keys, allow, patterns, det, err := c.scrubSettings()
	if err != nil {
		return nil, err
	}
	s := &Scrubber{cache: new(keyCache), detectors: det, patterns: patterns}
	p, ok := c.pseudo.Get()
	s.keys = newKeyRules(keys, allow, p.attrs, s.detectors, patterns)
	if ok {
		s.pseudo = newPseudonymizer(p.key)
	}
	for _, c := range ownConstants {
		if _, hit := s.scrubKeyed(c, 0); !hit && len(c) < maxCleanLen {
			s.clean[len(c)] = append(s.clean[len(c)], c)
		}
	}
	return s, nil
}

// ownConstants are the texts secaudit's own events carry as values: the
// bodies, actions and outcomes of the event catalogue.
var ownConstants = []string{
	semconv.ActionAccess, semconv.ActionAuthorize, semconv.ActionCreate, semconv.ActionDelete,
	semconv.ActionInspect, semconv.ActionLogin, semconv.ActionLogout, semconv.ActionMalformed,
	semconv.ActionRateLimit, semconv.ActionResponse, semconv.ActionUpdate, semconv.ActionVerify,
	semconv.BodyChainRestart, semconv.BodyHTTPResponse, semconv.BodyLogout, semconv.BodyMalformedRecord,
	semconv.BodyModelEvent, semconv.BodyParseInvalidJSON, semconv.BodyParseTooLarge,
	semconv.BodyParseUnsupportedShape, semconv.OutcomeFailure, semconv.OutcomeSuccess,
}

// cleanConstant reports whether str is one of the constants in s.clean
// itself (the same bytes, not a copy): a text the scrubber was shown to
// leave unchanged when it was built, so its scan is skipped. Strings are
// immutable, so the bytes of a constant are its text.
func (s *Scrubber) cleanConstant(str string) bool {
	if len(str) >= maxCleanLen {
		return false
	}
	p := unsafe.StringData(str)
	for _, c := range s.clean[len(str)] {
		if unsafe.StringData(c) == p {
			return true
		}
	}
	return false
}

// bodyClean reports whether the body b needs no scan: empty, or one of
// secaudit's constants (cleanConstant). It reads b's type once.
func bodyClean(s *Scrubber, b *attribute.Value) bool {
	switch b.Type() {
	case attribute.EMPTY:
		return true
	case attribute.STRING:
		return s.cleanConstant(b.AsString())
	}
	return false
}

// maxCleanLen bounds the constants cleanConstant knows.
const maxCleanLen = 64

// Enabled reports false: the Scrubber only rewrites records, so whether a
// record is wanted is for the processors after it to say.
func (*Scrubber) Enabled(context.Context, sdklog.EnabledParameters) bool { return false }

// OnEmit scrubs r in place. It never fails and never blocks.
func (s *Scrubber) OnEmit(_ context.Context, r *sdklog.Record) error {
	if s == nil || s.cache == nil || r == nil {
		return nil
	}
	s.scrubRecord(r)
	return nil
}

// Shutdown does nothing; the Scrubber holds no resources.
func (*Scrubber) Shutdown(context.Context) error { return nil }

// ForceFlush does nothing; the Scrubber buffers nothing.
func (*Scrubber) ForceFlush(context.Context) error { return nil }

// Stats returns the Scrubber's counters.
func (s *Scrubber) Stats() Stats {
	if s == nil {
		return Stats{}
	}
	return s.stats.snapshot()
}

// ScrubAttributes returns attrs with the rules applied to a record's
// attributes, and how many values it replaced or pseudonymised. attrs itself
// is not modified; without a replacement it is returned as is. It is for
// attributes that never pass through a record, such as a resource's (setup
// scrubs its pipeline's resource with it once); the Scrubber's counters,
// which count records, are left alone.
func (s *Scrubber) ScrubAttributes(attrs []attribute.KeyValue) ([]attribute.KeyValue, int) {
	if s == nil || s.cache == nil {
		return attrs, 0
	}
	var t tally
	var out []attribute.KeyValue
	for i, kv := range attrs {
		if nv, changed := s.value(s.cache.lookup(&s.keys, string(kv.Key)), kv.Value, 1, &t); changed {
			if out == nil {
				out = slices.Clone(attrs)
			}
			out[i].Value = nv
		}
	}
	if out == nil {
		return attrs, 0
	}
	return out, t.redacted + t.pseudonymized
}

// tally counts the replacements made in one record.
type tally struct{ redacted, pseudonymized int }

var redactedValue = attribute.StringValue(semconv.Redacted)

func (s *Scrubber) scrubRecord(r *sdklog.Record) { s.scrub(r, nil, nil) }

// scrub scrubs r and reports whether it changed anything. When l is not
// nil, the walks also feed l's probe with the final attributes, so a chain
// need not walk the record again to check its limits.
func (s *Scrubber) scrub(r *sdklog.Record, l *Limiter, p *limitProbe) bool {
	var t tally
	if b := r.Body(); !bodyClean(s, &b) {
		if nb, changed := s.value(0, b, 1, &t); changed {
			r.SetBody(nb)
		}
	}

	// First walk: read only, until the first attribute that must change.
	// The common cases stay inline: a key known at its position, a
	// trusted value, a string that scans clean, an integer that is no
	// card number, each sized for the limiter on the way.
	w := firstWalk{s: s, l: l, p: p, first: -1, countAt: -1}
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		s, i := w.s, w.i
		kc, ok := s.cache.hitAt(i, string(kv.Key))
		if !ok {
			kc = s.cache.lookupAt(&s.keys, i, string(kv.Key))
		}
		if kc&keyCount != 0 && w.countAt < 0 {
			w.countAt = i
		}
		switch t := kv.Value.Type(); {
		case t == attribute.STRING && kc&^(keyCount|keyTrustedValue|keyURL|keyQuery) == 0:
			str := kv.Value.AsString()
			if kc&keyTrustedValue == 0 && !(kc&^keyCount == 0 && s.cleanConstant(str)) && s.stringHit(str, kc) {
				w.first = i
				return false
			}
			if w.l != nil && w.p.addString(string(kv.Key), str, w.l.limits.MaxStringLength) {
				w.l.probeLong(w.p, string(kv.Key), str)
			}
		case t == attribute.INT64 && kc&^(keyCount|keyTrustedValue|keyURL|keyQuery) == 0:
			if kc&keyTrustedValue == 0 && s.detectors&DetectCardNumber != 0 && cardInt(kv.Value.AsInt64()) {
				w.first = i
				return false
			}
			if w.l != nil && w.p.addScalar(string(kv.Key), w.l.limits.MaxStringLength) {
				w.l.probeLong(w.p, string(kv.Key), "")
			}
		default:
			if s.otherHit(kc, kv, w.l, w.p) {
				w.first = i
				return false
			}
		}
		w.i = i + 1
		return true
	})
	first, countAt := w.first, w.countAt
	if first < 0 && t.redacted == 0 {
		return false
	}
	if first < 0 && countAt < 0 {
		// Only the body changed: appending the count is enough.
		count := semconv.AuditRedactedCountKey.Int(t.redacted)
		r.AddAttributes(count)
		if l != nil {
			l.probeAttr(p, &count)
		}
	} else {
		if first < 0 {
			first = r.AttributesLen()
		}
		s.rewrite(r, first, countAt, &t, l, p)
	}
	if t.redacted > 0 {
		s.stats.redacted.Add(uint64(t.redacted))
		s.stats.scrubbedRecords.Add(1)
	}
	if t.pseudonymized > 0 {
		s.stats.pseudonymized.Add(uint64(t.pseudonymized))
	}
	return true
}

// firstWalk is the state of scrub's first walk.
type firstWalk struct {
	s              *Scrubber
	l              *Limiter
	p              *limitProbe
	first, countAt int // as in scrub
	i              int // the attribute's position
}

// otherHit is scalarHit for the first walk's uncommon cases; when the
// value stays, it probes the attribute for l.
func (s *Scrubber) otherHit(kc keyClass, kv attribute.KeyValue, l *Limiter, p *limitProbe) bool {
	if s.scalarHit(kc, &kv.Value) {
		return true
	}
	if l != nil {
		l.probeAttr(p, &kv)
	}
	return false
}

// scalarHit reports whether the value under key class kc would change,
// deciding the common cases (a string, an integer or a bool under a key
// with no key rule) without copying the value into [Scrubber.value]'s
// frame.
func (s *Scrubber) scalarHit(kc keyClass, v *attribute.Value) bool {
	if kc&keySecretKey != 0 {
		return true
	}
	if kc&(keySensitive|keyPseudonymize|keyEnvelope) == 0 {
		switch v.Type() {
		case attribute.STRING:
			return kc&keyTrustedValue == 0 && s.stringHit(v.AsString(), kc)
		case attribute.INT64:
			return kc&keyTrustedValue == 0 && s.detectors&DetectCardNumber != 0 && cardInt(v.AsInt64())
		case attribute.FLOAT64:
			return kc&keyTrustedValue == 0 && s.detectors&DetectCardNumber != 0 && cardFloat(v.AsFloat64())
		case attribute.BOOL, attribute.EMPTY:
			return false
		}
	}
	// Key rules, composite values, bytes: the general path, on a scratch
	// tally (the rewrite counts for real).
	var scratch tally
	_, changed := s.value(kc, *v, 1, &scratch)
	return changed
}

// rewriteStack is how many attributes the rewrite buffer holds on the
// stack; SetAttributes copies them, so larger records only cost one
// allocation more.
const rewriteStack = 20

// rewrite replaces r's attributes with their scrubbed values from index
// first on (those before it are known clean and already probed) and sets
// the count.
func (s *Scrubber) rewrite(r *sdklog.Record, first, countAt int, t *tally, l *Limiter, p *limitProbe) {
	var stack [rewriteStack]attribute.KeyValue
	buf := stack[:]
	if n := r.AttributesLen() + 1; n > rewriteStack {
		buf = make([]attribute.KeyValue, n)
	}
	// Copy first, with a closure small enough to inline, then scrub in a
	// plain loop: one pass over the record, no per-attribute call.
	n := 0
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		if n < len(buf) {
			buf[n] = kv
			n++
		}
		return true
	})
	buf = buf[:n]
	secretKeys := false
	var origPath, newPath string
	pathChanged := false
	for i := first; i < len(buf); i++ {
		kv := &buf[i]
		kc := s.cache.lookupAt(&s.keys, i, string(kv.Key))
		if kc&keyCount != 0 && countAt < 0 {
			countAt = i
		}
		if kc&keySecretKey != 0 {
			secretKeys = true
		}
		if nv, changed := s.value(kc, kv.Value, 1, t); changed {
			if kv.Key == semconv.URLPathKey && kv.Value.Type() == attribute.STRING && nv.Type() == attribute.STRING {
				origPath, newPath, pathChanged = kv.Value.AsString(), nv.AsString(), true
			}
			kv.Value = nv
		}
	}
	if pathChanged {
		s.alignFullURL(buf, origPath, newPath, t)
	}
	if secretKeys {
		s.renameSecretKeys(buf, t)
	}
	if l != nil {
		for i := first; i < len(buf); i++ {
			if buf[i].Key != semconv.AuditRedactedCountKey {
				l.probeAttr(p, &buf[i])
			}
		}
	}
	if t.redacted > 0 {
		if countAt >= 0 {
			prev := buf[countAt].Value
			n := int64(t.redacted)
			if prev.Type() == attribute.INT64 && prev.AsInt64() > 0 {
				n += prev.AsInt64()
			}
			buf[countAt].Value = attribute.Int64Value(n)
		} else {
			buf = append(buf, semconv.AuditRedactedCountKey.Int(t.redacted))
			countAt = len(buf) - 1
		}
	}
	if l != nil && countAt >= first {
		l.probeAttr(p, &buf[countAt])
	}
	r.SetAttributes(buf...)
}

// maxScrubDepth bounds recursion; anything deeper is replaced whole.
const maxScrubDepth = 256

// value returns v scrubbed under the key class kc, and whether it changed.
func (s *Scrubber) value(kc keyClass, v attribute.Value, depth int, t *tally) (attribute.Value, bool) {
	if kc&keyPseudonymize != 0 && s.pseudo != nil && v.Type() != attribute.EMPTY {
		t.pseudonymized++
		return s.pseudo.value(v), true
	}
	if kc&keySensitive != 0 || (kc&keyEnvelope != 0 && depth == 1) || depth > maxScrubDepth {
		if v.Type() == attribute.STRING && v.AsString() == semconv.Redacted {
			return v, false
		}
		t.redacted++
		return redactedValue, true
	}
	switch v.Type() {
	case attribute.STRING:
		if kc&keyTrustedValue != 0 {
			return v, false
		}
		if out, hit := s.scrubKeyed(v.AsString(), kc); hit {
			t.redacted++
			return attribute.StringValue(out), true
		}
	case attribute.INT64:
		if kc&keyTrustedValue == 0 && s.detectors&DetectCardNumber != 0 && cardInt(v.AsInt64()) {
			t.redacted++
			return redactedValue, true
		}
	case attribute.FLOAT64:
		if kc&keyTrustedValue == 0 && s.detectors&DetectCardNumber != 0 && cardFloat(v.AsFloat64()) {
			t.redacted++
			return redactedValue, true
		}
	case attribute.FLOAT64SLICE:
		if kc&keyTrustedValue != 0 || s.detectors&DetectCardNumber == 0 {
			return v, false
		}
		fs := v.AsFloat64Slice()
		var out []attribute.Value
		for k, f := range fs {
			if !cardFloat(f) {
				continue
			}
			if out == nil {
				out = make([]attribute.Value, len(fs))
				for m, x := range fs {
					out[m] = attribute.Float64Value(x)
				}
			}
			out[k] = redactedValue
			t.redacted++
		}
		if out != nil {
			return attribute.SliceValue(out...), true
		}
	case attribute.BYTESLICE:
		t.redacted++
		return redactedValue, true
	case attribute.STRINGSLICE:
		if kc&keyTrustedValue != 0 {
			return v, false
		}
		return s.stringSlice(v, t)
	case attribute.INT64SLICE:
		if kc&keyTrustedValue != 0 || s.detectors&DetectCardNumber == 0 {
			return v, false
		}
		ints := v.AsInt64Slice()
		var out []attribute.Value
		for k, n := range ints {
			if !cardInt(n) {
				continue
			}
			if out == nil {
				out = make([]attribute.Value, len(ints))
				for m, x := range ints {
					out[m] = attribute.Int64Value(x)
				}
			}
			out[k] = redactedValue
			t.redacted++
		}
		if out != nil {
			return attribute.SliceValue(out...), true
		}
	case attribute.SLICE:
		elems := v.AsSlice()
		changed := false
		for k, e := range elems {
			if ne, ch := s.value(kc&keyTrustedValue, e, depth+1, t); ch {
				elems[k], changed = ne, true
			}
		}
		if changed {
			return attribute.SliceValue(elems...), true
		}
	case attribute.MAP:
		kvs := v.AsMap()
		changed, secretKeys := false, false
		for k, kv := range kvs {
			kc := s.cache.lookup(&s.keys, string(kv.Key))
			if kc&keySecretKey != 0 {
				secretKeys = true
			}
			if nv, ch := s.value(kc&^keyEnvelope, kv.Value, depth+1, t); ch {
				kvs[k].Value, changed = nv, true
			}
		}
		if secretKeys && s.renameSecretKeys(kvs, t) {
			changed = true
		}
		if changed {
			return attribute.MapValue(kvs...), true
		}
	}
	return v, false
}

func (s *Scrubber) stringSlice(v attribute.Value, t *tally) (attribute.Value, bool) {
	strs := v.AsStringSlice()
	changed := false
	for k, str := range strs {
		if out, hit := s.scrubString(str, false); hit {
			strs[k], changed = out, true
			t.redacted++
		}
	}
	if changed {
		return attribute.StringSliceValue(strs), true
	}
	return v, false
}

// stringHit reports whether scrubKeyed would change str under key class kc.
func (s *Scrubber) stringHit(str string, kc keyClass) bool {
	if kc&keyQuery != 0 || len(s.patterns) > 0 || str == semconv.Redacted {
		return s.stringHitAll(str, kc)
	}
	// The common case, detectors only: one pass over str finds their
	// anchors and whether it needs decoding.
	m := anchors(str)
	if run := s.detectors.toRun(str, m); run != 0 {
		var spanBuf [4]span
		if len(s.detectors.findRun(str, m, run, spanBuf[:0])) > 0 {
			return true
		}
	}
	return kc&keyURL != 0 && m&ancPercent != 0 && s.stringHitAll(str, kc)
}

// stringHitAll is stringHit for any key class and configuration.
func (s *Scrubber) stringHitAll(str string, kc keyClass) bool {
	if str == semconv.Redacted {
		return false
	}
	var spanBuf [4]span
	query := kc&keyQuery != 0
	if query && len(s.querySpans(str, spanBuf[:0])) > 0 {
		return true
	}
	m := anchors(str)
	if len(s.detectors.findAnchored(str, m, spanBuf[:0])) > 0 {
		return true
	}
	if len(s.patterns) > 0 && len(patternSpans(s.patterns, str, spanBuf[:0])) > 0 {
		return true
	}
	if kc&keyURL != 0 && (m&ancPercent != 0 || query && m&ancPlus != 0) { // needsDecode
		dec := percentDecode(str, query, nil)
		if len(s.detectors.find(dec, spanBuf[:0])) > 0 {
			return true
		}
		if len(s.patterns) > 0 && len(patternSpans(s.patterns, dec, spanBuf[:0])) > 0 {
			return true
		}
	}
	return false
}

// patternSpans appends the spans of every match of the patterns in str,
// sorted and merged. An empty match redacts nothing, and a match inside a
// "[REDACTED]" marker is left alone, so scrubbing twice changes nothing.
func patternSpans(patterns []*regexp.Regexp, str string, spans []span) []span {
	first := len(spans)
	for _, re := range patterns {
		if !re.MatchString(str) {
			continue
		}
		for _, m := range re.FindAllStringIndex(str, -1) {
			if m[1] > m[0] && !insideMarker(str, m[0], m[1]) {
				spans = addSpan(str, m[0], m[1], spans)
			}
		}
	}
	return mergeSpans(spans, first)
}

// insideMarker reports whether str[start:end] lies within one occurrence
// of the redaction marker: an occurrence that starts in [end-len, start].
func insideMarker(str string, start, end int) bool {
	const n = len(semconv.Redacted)
	if end-start > n {
		return false
	}
	return strings.Contains(str[max(0, end-n):min(len(str), start+n)], semconv.Redacted)
}

// scrubString returns str with secrets replaced, and whether anything was;
// query says str is a url.query.
func (s *Scrubber) scrubString(str string, query bool) (string, bool) {
	if query {
		return s.scrubKeyed(str, keyQuery|keyURL)
	}
	return s.scrubKeyed(str, 0)
}

// scrubKeyed returns str, the value of a key of class kc, with secrets
// replaced, and whether anything was. Detector hits, matches of the user's
// patterns and sensitive url.query parameters replace only their spans.
// In url.* values the detectors and patterns also see the percent-decoded
// text ('+' is a space in url.query), so "/cards/4111%201111%201111%201111"
// and "password%3Dhunter2" are found; a hit there replaces the escaped
// text it came from.
func (s *Scrubber) scrubKeyed(str string, kc keyClass) (string, bool) {
	if str == semconv.Redacted {
		return str, false
	}
	var spanBuf [8]span
	spans := spanBuf[:0]
	query := kc&keyQuery != 0
	if query {
		spans = s.querySpans(str, spans)
	}
	spans = s.detectors.find(str, spans)
	merge := query
	if len(s.patterns) > 0 {
		n := len(spans)
		spans = patternSpans(s.patterns, str, spans)
		merge = merge || len(spans) > n
	}
	if kc&keyURL != 0 && needsDecode(str, query) {
		var offs []int
		dec := percentDecode(str, query, &offs)
		var decBuf [8]span
		found := s.detectors.find(dec, decBuf[:0])
		if len(s.patterns) > 0 {
			found = patternSpans(s.patterns, dec, found)
		}
		for _, sp := range found {
			spans = append(spans, span{offs[sp.start], offs[sp.end]})
			merge = true
		}
	}
	if merge {
		spans = mergeSpans(spans, 0)
	}
	if len(spans) == 0 {
		return str, false
	}
	return applySpans(str, spans), true
}

// needsDecode reports whether percentDecode would change str.
func needsDecode(str string, plus bool) bool {
	return strings.IndexByte(str, '%') >= 0 || (plus && strings.IndexByte(str, '+') >= 0)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// percentDecode returns str with each valid %XX escape decoded (and, with
// plus, each '+' read as a space); an invalid escape stays as it is. When
// offs is not nil it receives, for each byte of the result, its offset in
// str, and len(str) last, so a span of the result maps back to str.
func percentDecode(str string, plus bool, offs *[]int) string {
	b := make([]byte, 0, len(str))
	var o []int
	if offs != nil {
		o = make([]int, 0, len(str)+1)
	}
	for i := 0; i < len(str); {
		c, n := str[i], 1
		if c == '%' && i+2 < len(str) {
			if h, ok := unhex(str[i+1]); ok {
				if l, ok := unhex(str[i+2]); ok {
					c, n = h<<4|l, 3
				}
			}
		} else if c == '+' && plus {
			c = ' '
		}
		b = append(b, c)
		if offs != nil {
			o = append(o, i)
		}
		i += n
	}
	if offs != nil {
		*offs = append(o, len(str))
	}
	return string(b)
}

// alignFullURL makes url.full in attrs at least as redacted as url.path,
// whose value the scrubber changed from orig to scrubbed: when url.full's
// path, decoded, is still orig (or anything but scrubbed), it becomes the
// scrubbed path, escaped, or "/[REDACTED]" when it does not match orig.
func (s *Scrubber) alignFullURL(attrs []attribute.KeyValue, orig, scrubbed string, t *tally) {
	for i := range attrs {
		if attrs[i].Key != semconv.URLFullKey || attrs[i].Value.Type() != attribute.STRING {
			continue
		}
		full := attrs[i].Value.AsString()
		ps := 0
		if k := strings.Index(full, "://"); k >= 0 {
			ps = k + 3
			if j := strings.IndexByte(full[ps:], '/'); j >= 0 {
				ps += j
			} else {
				ps = len(full)
			}
		}
		pe := len(full)
		if j := strings.IndexAny(full[ps:], "?#"); j >= 0 {
			pe = ps + j
		}
		path := full[ps:pe]
		dec := path
		if needsDecode(path, false) {
			dec = percentDecode(path, false, nil)
		}
		if dec == scrubbed {
			continue
		}
		repl := "/" + semconv.Redacted
		if dec == orig {
			repl = escapeRedactedPath(scrubbed)
			if !strings.HasPrefix(repl, "/") && ps < len(full) {
				repl = "/" + repl
			}
		}
		attrs[i].Value = attribute.StringValue(full[:ps] + repl + full[pe:])
		if full == attrs[i].Value.AsString() {
			continue
		}
		t.redacted++
	}
}

// escapeRedactedPath escapes a scrubbed path for url.full, leaving its
// "[REDACTED]" markers as they are.
func escapeRedactedPath(p string) string {
	var b strings.Builder
	for {
		k := strings.Index(p, semconv.Redacted)
		if k < 0 {
			break
		}
		b.WriteString((&url.URL{Path: p[:k]}).EscapedPath())
		b.WriteString(semconv.Redacted)
		p = p[k+len(semconv.Redacted):]
	}
	b.WriteString((&url.URL{Path: p}).EscapedPath())
	return b.String()
}

// renameSecretKeys renames every key of kvs a detector or pattern finds a
// secret in: to the key with its secrets replaced ("password=[REDACTED]",
// "[REDACTED]" for a key that is all secret), made unique among the keys with a
// "#2", "#3", … suffix so no value is shadowed. It reports whether it
// renamed any key, counting each one.
func (s *Scrubber) renameSecretKeys(kvs []attribute.KeyValue, t *tally) bool {
	used := make(map[attribute.Key]bool, len(kvs))
	secret := make([]bool, len(kvs))
	for i := range kvs {
		if s.cache.lookup(&s.keys, string(kvs[i].Key))&keySecretKey != 0 {
			secret[i] = true
		} else {
			used[kvs[i].Key] = true
		}
	}
	renamed := false
	for i := range kvs {
		if !secret[i] {
			continue
		}
		base, _ := s.scrubKeyed(string(kvs[i].Key), 0)
		if base == string(kvs[i].Key) { // a secret the key rules see only in its context
			base = semconv.Redacted
		}
		k := attribute.Key(base)
		for n := 2; used[k]; n++ {
			k = attribute.Key(base + "#" + strconv.Itoa(n))
		}
		used[k] = true
		kvs[i].Key = k
		t.redacted++
		renamed = true
	}
	return renamed
}

func applySpans(str string, spans []span) string {
	var b strings.Builder
	b.Grow(len(str) + len(spans)*len(semconv.Redacted))
	prev := 0
	for _, sp := range spans {
		b.WriteString(str[prev:sp.start])
		b.WriteString(semconv.Redacted)
		prev = sp.end
	}
	b.WriteString(str[prev:])
	return b.String()
}

// querySpans appends the value spans of url.query parameters whose names
// the key rules find sensitive.
func (s *Scrubber) querySpans(q string, spans []span) []span {
	start := 0
	for start <= len(q) {
		end := strings.IndexAny(q[start:], "&;")
		if end < 0 {
			end = len(q)
		} else {
			end += start
		}
		param := q[start:end]
		if eq := strings.IndexByte(param, '='); eq > 0 {
			name := param[:eq]
			if strings.IndexByte(name, '%') >= 0 || strings.IndexByte(name, '+') >= 0 {
				if dec, err := url.QueryUnescape(name); err == nil {
					name = dec
				}
			}
			if s.cache.lookup(&s.keys, name)&keySensitive != 0 {
				spans = addSpan(q, start+eq+1, end, spans)
			}
		}
		start = end + 1
	}
	return spans
}

// pseudonymizer computes keyed pseudonyms. The key lives only inside the
// pooled HMAC states' constructor, never in a printable field.
type pseudonymizer struct {
	pool sync.Pool
}

func newPseudonymizer(key []byte) *pseudonymizer {
	key = append([]byte{}, key...)
	p := &pseudonymizer{}
	p.pool.New = func() any { return hmac.New(sha256.New, key) }
	return p
}

func (p *pseudonymizer) sum(s string) string {
	h := p.pool.Get().(hash.Hash)
	h.Reset()
	_, _ = io.WriteString(h, s)
	var out [sha256.Size]byte
	sum := h.Sum(out[:0])
	p.pool.Put(h)
	return hex.EncodeToString(sum[:16])
}

func (p *pseudonymizer) value(v attribute.Value) attribute.Value {
	switch v.Type() {
	case attribute.EMPTY:
		return v
	case attribute.STRING:
		return attribute.StringValue(p.sum(v.AsString()))
	case attribute.INT64:
		return attribute.StringValue(p.sum(strconv.FormatInt(v.AsInt64(), 10)))
	case attribute.MAP, attribute.SLICE:
		return redactedValue
	}
	return attribute.StringValue(p.sum(pseudonymText(v)))
}

// pseudonymText is the text a non-string scalar or slice is pseudonymised
// from. It is the text attribute.Value.Emit gave (deprecated since), kept
// byte for byte so that pseudonyms stay the same across versions.
func pseudonymText(v attribute.Value) string {
	var j []byte
	var err error
	switch v.Type() {
	case attribute.BOOL:
		return strconv.FormatBool(v.AsBool())
	case attribute.FLOAT64:
		return fmt.Sprint(v.AsFloat64())
	case attribute.BOOLSLICE:
		return fmt.Sprint(v.AsBoolSlice())
	case attribute.BYTESLICE:
		return base64.StdEncoding.EncodeToString(v.AsByteSlice())
	case attribute.INT64SLICE:
		j, err = json.Marshal(v.AsInt64Slice())
	case attribute.FLOAT64SLICE:
		j, err = json.Marshal(v.AsFloat64Slice())
	case attribute.STRINGSLICE:
		j, err = json.Marshal(v.AsStringSlice())
	default:
		return v.String()
	}
	if err != nil { // NaN or ±Inf in a float slice
		return "invalid: " + fmt.Sprint(v.AsFloat64Slice())
	}
	return string(j)
}
