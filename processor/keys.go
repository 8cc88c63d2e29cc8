package processor

import (
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/secaudit/secaudit/semconv"
)

// DefaultSensitiveKeys returns the reference's key denylist. Entries are
// normalised like keys, and a key is sensitive when its normal form
// contains an entry, so "api_key", "X-Api-Key" and "apiKey" all match
// "apikey", and "session.id" would match "sessionid" (see [ProtectedKeys]).
func DefaultSensitiveKeys() []string { return append([]string(nil), defaultSensitiveKeys...) }

var defaultSensitiveKeys = []string{
	"password", "passwd", "pwd", "passcode", "secret", "token", "apikey", "authorization",
	"bearer", "jwt", "cookie", "sessionid", "csrf", "creditcard", "ssn",
	// The secret words of [DetectSecretAssignment] that are safe to match
	// anywhere in a key. The short ones ("auth", "sig", "session") would
	// also match "author", "signal" or "sessions_count": with this default
	// list, a key whose last word is a secret word is sensitive too ("auth",
	// "x-auth", "proxyAuth"), as "auth=…" is in text.
	"passphrase", "privatekey", "accesskey", "credential", "signature",
}

// ProtectedKeys returns the contract's own attribute keys. The scrubber never
// redacts them by key (so session.id, which normalises to the default
// denylist entry "sessionid", is emitted as the real audit session id), the
// enricher never lets a function set them, and the limiter never drops them
// for the attribute count.
//
// Value detectors and patterns still run on them, except on the keys in
// [TrustedValueKeys], whose values the contract guarantees.
//
// The list ends with the names the envelope derives from the record itself
// (see [EnvelopeKeys]): no attribute may carry them, so the scrubber
// replaces the value of an attribute of that name wherever it comes from.
func ProtectedKeys() []string { return append([]string(nil), protectedKeys...) }

// EnvelopeKeys returns the names the JSONL envelope (and a backend such as
// Loki, from the OTLP record) derives from the record's own fields: the
// attributes event_type and schema_version, and event_name, trace_id,
// span_id, trace_flags, severity_text, severity_number and
// observed_timestamp. An application attribute or an enricher could
// otherwise forge them in a backend that flattens attributes beside them
// (a failed login shown as auth.login.success), so the scrubber replaces
// the value of a top-level attribute whose name is one of them, also after
// a backend's renaming of other characters to '_' ("event.name"), and
// counts it in audit.redacted_count; the enricher never sets them.
func EnvelopeKeys() []string { return append([]string(nil), envelopeKeys...) }

var envelopeKeys = []string{
	semconv.EnvelopeEventTypeKey,
	semconv.EnvelopeSchemaVersionKey,
	"event_name",
	"trace_id",
	"span_id",
	"trace_flags",
	"severity_text",
	"severity_number",
	"observed_timestamp",
}

// isEnvelopeKey reports whether k, with every byte other than A–Z, a–z,
// 0–9 and '_' read as '_' (as Loki and Prometheus sanitise names), is an
// envelope name.
func isEnvelopeKey(k string) bool {
	if len(k) < len("span_id") || len(k) > len("observed_timestamp") {
		return false
	}
	var buf [len("observed_timestamp")]byte
	for i := 0; i < len(k); i++ {
		c := k[i]
		if byteClass[c]&(clsDigit|clsUpper|clsLower) == 0 {
			c = '_'
		}
		buf[i] = c
	}
	switch string(buf[:len(k)]) {
	case semconv.EnvelopeEventTypeKey, semconv.EnvelopeSchemaVersionKey, "event_name", "trace_id",
		"span_id", "trace_flags", "severity_text", "severity_number", "observed_timestamp":
		return true
	}
	return false
}

// protectedKeys are the keys secaudit sets, then the envelope's names.
var protectedKeys = append([]string{
	string(semconv.AuditRequestIDKey),
	string(semconv.SessionIDKey),
	string(semconv.ClientAddressKey),
	string(semconv.NetworkPeerAddressKey),
	string(semconv.UserIDKey),
	string(semconv.AuditSchemaVersionKey),
	string(semconv.HTTPRouteKey),
	string(semconv.HTTPRequestMethodKey),
	string(semconv.HTTPResponseStatusCodeKey),
	string(semconv.AuditActionKey),
	string(semconv.AuditOutcomeKey),
	string(semconv.AuditDurationKey),
	string(semconv.AuditRedactedCountKey),
	string(semconv.AuditSampleRateKey),
}, envelopeKeys...)

// TrustedValueKeys returns the protected keys whose values secaudit itself
// generates or parses (32-hex ids, IP addresses, the route pattern, the
// method, numbers): value detectors and patterns skip them, so a request id
// that happens to look like a secret is never lost. user.id is not here: the
// application supplies it, so detectors still apply (a Luhn-valid 13–19
// digit numeric id starting 2–6 would be redacted; pseudonymise it instead
// if that matters).
func TrustedValueKeys() []string { return append([]string(nil), trustedValueKeys...) }

var trustedValueKeys = []string{
	string(semconv.AuditRequestIDKey),
	string(semconv.SessionIDKey),
	string(semconv.ClientAddressKey),
	string(semconv.NetworkPeerAddressKey),
	string(semconv.AuditSchemaVersionKey),
	string(semconv.HTTPRouteKey),
	string(semconv.HTTPRequestMethodKey),
	string(semconv.HTTPResponseStatusCodeKey),
	string(semconv.AuditDurationKey),
	string(semconv.AuditRedactedCountKey),
	string(semconv.AuditSampleRateKey),
}

func isProtectedKey(k string) bool {
	switch k {
	case string(semconv.AuditRequestIDKey), string(semconv.SessionIDKey),
		string(semconv.ClientAddressKey), string(semconv.NetworkPeerAddressKey),
		string(semconv.UserIDKey), string(semconv.AuditSchemaVersionKey),
		string(semconv.HTTPRouteKey), string(semconv.HTTPRequestMethodKey),
		string(semconv.HTTPResponseStatusCodeKey), string(semconv.AuditActionKey),
		string(semconv.AuditOutcomeKey), string(semconv.AuditDurationKey),
		string(semconv.AuditRedactedCountKey), string(semconv.AuditSampleRateKey):
		return true
	}
	return isEnvelopeKey(k)
}

func isTrustedValueKey(k string) bool {
	switch k {
	case string(semconv.AuditRequestIDKey), string(semconv.SessionIDKey),
		string(semconv.ClientAddressKey), string(semconv.NetworkPeerAddressKey),
		string(semconv.AuditSchemaVersionKey), string(semconv.HTTPRouteKey),
		string(semconv.HTTPRequestMethodKey), string(semconv.HTTPResponseStatusCodeKey),
		string(semconv.AuditDurationKey), string(semconv.AuditRedactedCountKey),
		string(semconv.AuditSampleRateKey):
		return true
	}
	return false
}

// appendNormalizedKey appends the normal form of k to dst: lowercase
// (Unicode-aware), then only ASCII a–z and 0–9 kept. "Über_Token" becomes
// "bertoken"; "pässword" becomes "pssword".
func appendNormalizedKey(dst []byte, k string) []byte {
	for i := 0; i < len(k); {
		c := k[i]
		if c < utf8.RuneSelf {
			i++
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') {
				dst = append(dst, c)
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(k[i:])
		i += size
		if l := unicode.ToLower(r); l < utf8.RuneSelf {
			c := byte(l)
			if ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') {
				dst = append(dst, c)
			}
		}
	}
	return dst
}

// NormalizeKey returns the normal form the key rules compare: lowercase,
// then only ASCII a–z and 0–9 kept.
func NormalizeKey(k string) string {
	var buf [64]byte
	return string(appendNormalizedKey(buf[:0], k))
}

// keyClass is what the scrubber knows about a key.
type keyClass uint8

const (
	keySensitive    keyClass = 1 << iota // key rules replace the value
	keyTrustedValue                      // skip value detectors and patterns
	keyPseudonymize                      // replace the value with its HMAC
	keyQuery                             // url.query: key rules per parameter
	keyCount                             // audit.redacted_count itself
	keyURL                               // url.*: detectors also see the percent-decoded text
	keySecretKey                         // the key itself holds a secret: rename it
	keyEnvelope                          // an envelope name: replace a top-level value
)

// keyRules is the compiled key configuration.
type keyRules struct {
	deny   []string        // normalised, non-empty
	allow  map[string]bool // normalised, non-empty
	pseudo map[string]bool // exact keys

	// With the default denylist, a key ending in a secret word of
	// DetectSecretAssignment is sensitive too, as "key=value" is in text.
	suffix bool
	// Keys are scanned like values: a key a detector or pattern finds a
	// secret in is renamed.
	detectors Detector
	patterns  []*regexp.Regexp
}

func newKeyRules(deny, allow, pseudo []string, det Detector, patterns []*regexp.Regexp) keyRules {
	kr := keyRules{detectors: det, patterns: patterns, suffix: slices.Equal(deny, defaultSensitiveKeys)}
	for _, d := range deny {
		if n := NormalizeKey(d); n != "" {
			kr.deny = append(kr.deny, n)
		}
	}
	for _, a := range allow {
		if n := NormalizeKey(a); n != "" {
			if kr.allow == nil {
				kr.allow = make(map[string]bool)
			}
			kr.allow[n] = true
		}
	}
	for _, p := range pseudo {
		if kr.pseudo == nil {
			kr.pseudo = make(map[string]bool)
		}
		kr.pseudo[p] = true
	}
	return kr
}

// sensitive applies the reference's rule to a key: its normal form is
// non-empty, not exactly an allowlisted normal form, and contains a
// denylist entry; with the default denylist, or ends with a secret word
// that starts a word of the key (secretWordSuffix).
func (kr *keyRules) sensitive(k string) bool {
	if len(kr.deny) == 0 && !kr.suffix {
		return false
	}
	var buf [128]byte
	n := appendNormalizedKey(buf[:0], k)
	if len(n) == 0 {
		return false
	}
	if kr.allow != nil && kr.allow[string(n)] {
		return false
	}
	for _, d := range kr.deny {
		if strings.Contains(string(n), d) {
			return true
		}
	}
	return kr.suffix && secretWordSuffix(k, string(n))
}

// secretWordSuffix reports whether the normal form n of key k ends with a
// secret word of [DetectSecretAssignment] that starts a word of k: "auth",
// "x-auth", "proxyAuth", "private_key" and "credentials" do, "author",
// "oauth" and "tokenizer" do not.
func secretWordSuffix(k, n string) bool {
	for _, w := range secretWords {
		if !strings.HasSuffix(n, w) {
			continue
		}
		if len(n) == len(w) {
			return true
		}
		// Find where w starts in k: walk back over len(w) key letters.
		left := len(w)
		i := len(k)
		for i > 0 && left > 0 {
			i--
			if c := k[i]; byteClass[c]&(clsDigit|clsUpper|clsLower) != 0 {
				left--
			} else if c >= utf8.RuneSelf {
				break // a non-ASCII letter inside: keep the containment rule only
			}
		}
		if left == 0 && i > 0 {
			prev, first := k[i-1], k[i]
			if byteClass[prev]&(clsDigit|clsUpper|clsLower) == 0 ||
				(byteClass[prev]&clsLower != 0 && byteClass[first]&clsUpper != 0) {
				return true
			}
		}
	}
	return false
}

func (kr *keyRules) classify(k string) keyClass {
	var c keyClass
	if kr.pseudo[k] {
		return keyPseudonymize
	}
	if isTrustedValueKey(k) {
		c |= keyTrustedValue
	}
	switch k {
	case string(semconv.URLQueryKey):
		c |= keyQuery | keyURL
	case string(semconv.URLFullKey), string(semconv.URLPathKey):
		c |= keyURL
	case string(semconv.AuditRedactedCountKey):
		c |= keyCount
	}
	if isEnvelopeKey(k) {
		return c | keyEnvelope
	}
	if !isProtectedKey(k) {
		if kr.sensitive(k) {
			c |= keySensitive
		}
		if kr.secretInKey(k) {
			c |= keySecretKey
		}
	}
	return c
}

// secretInKey reports whether a detector or pattern finds a secret in k.
func (kr *keyRules) secretInKey(k string) bool {
	var buf [2]span
	if len(kr.detectors.find(k, buf[:0])) > 0 {
		return true
	}
	return len(kr.patterns) > 0 && len(patternSpans(kr.patterns, k, buf[:0])) > 0
}

// keyCache remembers classifications. Record keys are nearly always the
// same few constants, so after warm-up a lookup is a hash of a few bytes and
// one string comparison. Entries are immutable and published atomically;
// a collision just overwrites (the cache is bounded, whatever keys an
// attacker sends through a log bridge).
type keyCache struct {
	// byPos remembers the key last seen at each attribute position: records
	// from one emitter have the same keys in the same order, so this hits
	// without hashing.
	byPos [keyCachePositions]atomic.Pointer[keyEntry]
	slots [keyCacheSlots]atomic.Pointer[keyEntry]
}

const (
	keyCachePositions = 64
	keyCacheSlots     = 1024
	maxCachedKeyLn    = 128
)

// contractKeys maps the keys secaudit's own events carry to the constants
// themselves. A cached entry for one of them keeps the constant, whose
// bytes are the very ones the records' keys point to (the linker keeps one
// copy of a string constant), so that the cache's comparison ends at the
// pointer instead of comparing the bytes; any other key is cached as a
// copy of its own.
var contractKeys = func() map[string]string {
	m := make(map[string]string)
	for _, k := range append(append([]string(nil), protectedKeys...),
		string(semconv.URLPathKey), string(semconv.URLFullKey), string(semconv.URLQueryKey),
		string(semconv.UserAgentOriginalKey), string(semconv.UserNameKey),
		string(semconv.AuditReasonKey), string(semconv.SecurityRuleNameKey),
		string(semconv.AuditModelNameKey), string(semconv.AuditModelIDKey),
		string(semconv.AuditModelChangedFieldsKey), string(semconv.AuditEvidenceKey),
		string(semconv.AuditBlockScopeKey), string(semconv.AuditStreamIDKey), string(semconv.AuditSequenceKey),
		string(semconv.ExceptionMessageKey), string(semconv.ExceptionTypeKey), string(semconv.ExceptionStacktraceKey),
	) {
		m[k] = k
	}
	return m
}()

type keyEntry struct {
	key   string
	class keyClass
}

// same reports whether e caches k itself: the same bytes, not a copy.
func (e *keyEntry) same(k string) bool {
	return e != nil && unsafe.StringData(e.key) == unsafe.StringData(k) && len(e.key) == len(k)
}

func keyHash(k string) uint32 {
	n := len(k)
	h := uint32(n) * 0x9E3779B1
	if n > 0 {
		h ^= uint32(k[0]) | uint32(k[n-1])<<8 | uint32(k[n/2])<<16 | uint32(k[n*3/4])<<24
		h *= 0x85EBCA6B
		h ^= h >> 15
	}
	return h
}

// hitAt returns the class of the key of the attribute at position pos
// when it is the very string cached there (the same bytes: a record of
// the same shape as the last one, whose keys are constants), without a
// call; otherwise ask lookupAt.
func (kc *keyCache) hitAt(pos int, k string) (keyClass, bool) {
	e := kc.byPos[pos&(keyCachePositions-1)].Load()
	if pos < keyCachePositions && e.same(k) {
		return e.class, true
	}
	return 0, false
}

// lookupAt classifies the key of the attribute at position pos.
func (kc *keyCache) lookupAt(kr *keyRules, pos int, k string) keyClass {
	if pos >= keyCachePositions {
		return kc.lookup(kr, k)
	}
	slot := &kc.byPos[pos]
	if e := slot.Load(); e != nil && e.key == k {
		return e.class
	}
	e := kc.entry(kr, k)
	if e == nil {
		return kr.classify(k)
	}
	slot.Store(e)
	return e.class
}

func (kc *keyCache) lookup(kr *keyRules, k string) keyClass {
	if e := kc.entry(kr, k); e != nil {
		return e.class
	}
	return kr.classify(k)
}

// entry returns the cached entry for k, computing and caching it on a
// miss; nil for keys too long to cache.
func (kc *keyCache) entry(kr *keyRules, k string) *keyEntry {
	if len(k) > maxCachedKeyLn {
		return nil
	}
	slot := &kc.slots[keyHash(k)&(keyCacheSlots-1)]
	if e := slot.Load(); e != nil && e.key == k {
		return e
	}
	key, ok := contractKeys[k]
	if !ok {
		key = strings.Clone(k)
	}
	e := &keyEntry{key: key, class: kr.classify(k)}
	slot.Store(e)
	return e
}
