// Package integrity is the format of secaudit's tamper-evident JSONL
// files and their verifier: the hash chain that the exporter writes into
// each line (SECAUDIT_JSONL_CHAIN), the restart marker, the signed
// checkpoints in the sidecar file (SECAUDIT_JSONL_SIGNING_KEY) and
// [Verify], which `secaudit verify` runs. It reads files only: no
// OpenTelemetry SDK.
//
// # The chain
//
// Every line ends with two members after the envelope's trace fields:
//
//	…,"event_name":"auth.login.failed","seq":42,"prev_hash":"9f86d0…"}
//
// seq numbers the lines of the chain from 1, across rotation (the first
// line of a new file follows the last of the previous one) and restarts
// (the exporter reads the end of the file it appends to). prev_hash is the
// SHA-256 of the previous line's bytes, its newline included, as 64
// lowercase hex digits; the first line of a chain has the genesis value,
// 64 zeros ([Genesis]). A changed, inserted, deleted or reordered line
// breaks the chain at the line named by [Problem].
//
// # Restart marker
//
// When the file the exporter appends to ends with a torn line (a crash
// during a write) or with a line without chain fields, the exporter ends
// that line with a newline, reports it through otel.Handle, and writes an
// audit.chain.restart line ([AppendMarker]) whose prev_hash is that
// line's hash, whose audit.chain.resume_hash is the hash of the line
// before it (the chain's head before the break, so that no change to it
// hides behind the break; genesis if none), and whose seq follows the last
// chained line it found (1 after an unchained line):
//
//	{"timestamp":…,"observed_timestamp":…,"severity_text":"WARNING","severity_number":13,
//	 "body":"audit.chain.restart","resource":{},"instrumentation_scope":{"name":"github.com/secaudit/secaudit/exporter"},
//	 "attributes":{"event_type":"audit.chain.restart","schema_version":"1.0",
//	  "audit.chain.reason":"torn_tail","audit.chain.torn_bytes":37},
//	 "event_name":"audit.chain.restart","seq":8,"prev_hash":"…"}
//
// The verifier accepts a line without chain fields only just before a
// marker, and, with a verifier key, only a marker attested by a signed
// checkpoint of reason "restart" (written right after it).
//
// # Checkpoints
//
// With a signing key the exporter appends signed notes ([Checkpoint]; the
// C2SP signed-note format of golang.org/x/mod/sumdb/note, Ed25519) to
// PATH.checkpoints: every interval (at the first write after it), at
// rotation, at a restart marker and at shutdown. Each attests the chain's
// head (seq and hash of the last line, and its line number in its file).
// [Verify] checks every checkpoint against the line it names, so that a
// chain recomputed without the key, a cut tail, a forged checkpoint, one
// replayed out of order, or a sidecar cut back to older checkpoints
// (lines written more than two intervals after the last one) are found.
// What no local check can find is a set and its sidecar both cut back to
// an earlier checkpoint: ship the checkpoints elsewhere to anchor them.
package integrity
