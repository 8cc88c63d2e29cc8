package integrity

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/secaudit/secaudit/semconv"
)

// Hash is the SHA-256 of one line's bytes, newline included.
type Hash [sha256.Size]byte

// Genesis is the prev_hash of the first line of a chain: 32 zero bytes
// (64 "0" digits in the line).
var Genesis Hash

// String returns the hash as 64 lowercase hex digits.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash parses 64 lowercase hex digits.
func ParseHash(s string) (Hash, bool) {
	var h Hash
	if len(s) != 2*len(h) || !lowerHex([]byte(s)) {
		return h, false
	}
	_, err := hex.Decode(h[:], []byte(s))
	return h, err == nil
}

// HashLine returns the SHA-256 of line, which includes its newline.
func HashLine(line []byte) Hash { return sha256.Sum256(line) }

const (
	seqMember  = `,"` + semconv.EnvelopeSeqKey + `":`
	hashMember = `,"` + semconv.EnvelopePrevHashKey + `":"`
	// markerTail is how a restart marker's line ends before its chain
	// fields: the marker has no trace fields, so its event_name comes last.
	markerTail = `"event_name":"` + semconv.EventChainRestart + `"`
	// resumeMember is the marker's last attribute.
	resumeMember = `,"` + string(semconv.AuditChainResumeHashKey) + `":"`
	// MaxFieldsBytes is the most bytes AppendFields adds to a line.
	MaxFieldsBytes = len(seqMember) + 20 + len(hashMember) + 2*sha256.Size + 1
	// tailBytes is enough of a line's end to read its chain fields and
	// a marker's resume hash: what a verifier keeps of a line.
	tailBytes = MaxFieldsBytes + len(markerTail) + len(resumeMember) + 2*sha256.Size + 4
)

// AppendFields appends the chain members `,"seq":N,"prev_hash":"…"` to dst.
// The exporter inserts them before the closing brace of the envelope.
func AppendFields(dst []byte, seq uint64, prev Hash) []byte {
	dst = append(dst, seqMember...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, hashMember...)
	dst = hex.AppendEncode(dst, prev[:])
	return append(dst, '"')
}

// Fields are the chain fields read from the end of a line.
type Fields struct {
	Seq    uint64
	Prev   Hash
	Marker bool // the line is an audit.chain.restart marker
	// Resume is a marker's audit.chain.resume_hash: the hash of the line
	// before the torn or unchained line it follows.
	Resume Hash
}

// ParseFields reads the chain fields from the end of a line (with or
// without its newline; only the last bytes matter, so a caller may pass
// a line's tail). It reports false when the line does not end with them.
func ParseFields(line []byte) (Fields, bool) {
	var f Fields
	line = bytes.TrimSuffix(line, []byte{'\n'})
	// …,"seq":N,"prev_hash":"<64 hex>"}
	n := len(line)
	const hexLen = 2 * sha256.Size
	if n < len(seqMember)+1+len(hashMember)+hexLen+2 || line[n-1] != '}' || line[n-2] != '"' {
		return f, false
	}
	hx := line[n-2-hexLen : n-2]
	if !lowerHex(hx) {
		return f, false
	}
	if _, err := hex.Decode(f.Prev[:], hx); err != nil {
		return f, false
	}
	rest := line[:n-2-hexLen]
	if !bytes.HasSuffix(rest, []byte(hashMember)) {
		return f, false
	}
	rest = rest[:len(rest)-len(hashMember)]
	i := len(rest)
	for i > 0 && rest[i-1] >= '0' && rest[i-1] <= '9' {
		i--
	}
	digits := rest[i:]
	if len(digits) == 0 || len(digits) > 19 || (digits[0] == '0') {
		return f, false
	}
	seq, _ := parseDigits(digits)
	rest = rest[:i]
	if !bytes.HasSuffix(rest, []byte(seqMember)) {
		return f, false
	}
	f.Seq = seq
	f.Resume, f.Marker = markerResume(rest[:len(rest)-len(seqMember)])
	return f, true
}

// markerResume reads `,"audit.chain.resume_hash":"<hex>"},"event_name":
// "audit.chain.restart"` at the end of rest: a restart marker's end.
func markerResume(rest []byte) (Hash, bool) {
	var h Hash
	rest, ok := bytes.CutSuffix(rest, []byte(`"},`+markerTail))
	const hexLen = 2 * sha256.Size
	if !ok || len(rest) < hexLen+len(resumeMember) || !bytes.HasSuffix(rest[:len(rest)-hexLen], []byte(resumeMember)) {
		return h, false
	}
	hx := rest[len(rest)-hexLen:]
	if !lowerHex(hx) {
		return h, false
	}
	_, err := hex.Decode(h[:], hx)
	return h, err == nil
}

func lowerHex(b []byte) bool {
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Marker reasons (the marker's audit.chain.reason).
const (
	// ReasonTornTail: the file ended inside a line (a crash during a
	// write); the exporter ended that line with a newline and wrote the
	// marker after it.
	ReasonTornTail = "torn_tail"
	// ReasonUnchainedTail: the file's last line has no chain fields (it
	// was written without SECAUDIT_JSONL_CHAIN, or is not an envelope).
	ReasonUnchainedTail = "unchained_tail"
)

// scopeName is the instrumentation scope of a marker line.
const scopeName = "github.com/secaudit/secaudit/exporter"

// AppendMarker appends a complete audit.chain.restart line (newline
// included) to dst: timestamp t (Unix ns), the reason, the length of the
// line it follows, the hash of the line before that one (resume; Genesis
// if none), and the chain fields seq and prev (the hash of the line it
// follows).
func AppendMarker(dst []byte, t int64, reason string, tornBytes int64, resume Hash, seq uint64, prev Hash) []byte {
	dst = append(dst, `{"timestamp":`...)
	dst = strconv.AppendInt(dst, t, 10)
	dst = append(dst, `,"observed_timestamp":`...)
	dst = strconv.AppendInt(dst, t, 10)
	dst = append(dst, `,"severity_text":"`+semconv.SeverityTextWarning+`","severity_number":`...)
	dst = strconv.AppendInt(dst, int64(semconv.SeverityWarning), 10)
	dst = append(dst, `,"body":"`+semconv.BodyChainRestart+`","resource":{},"instrumentation_scope":{"name":"`+scopeName+`"}`...)
	dst = append(dst, `,"attributes":{"`+semconv.EnvelopeEventTypeKey+`":"`+semconv.EventChainRestart+`","`+semconv.EnvelopeSchemaVersionKey+`":"`+semconv.SchemaVersion+`"`...)
	dst = append(dst, `,"`+string(semconv.AuditChainReasonKey)+`":"`...)
	dst = append(dst, reason...) // one of the Reason constants: nothing to escape
	dst = append(dst, `","`+string(semconv.AuditChainTornBytesKey)+`":`...)
	dst = strconv.AppendInt(dst, tornBytes, 10)
	dst = append(dst, resumeMember...)
	dst = hex.AppendEncode(dst, resume[:])
	dst = append(dst, `"},`+markerTail...)
	dst = AppendFields(dst, seq, prev)
	return append(dst, "}\n"...)
}
