// Package exporter holds secaudit's JSONL exporter: an
// [go.opentelemetry.io/otel/sdk/log.Exporter] that writes every log record
// as one line of JSON, to stdout, any [io.Writer] or an append-only file.
// OTLP export needs no code here: use otlploghttp next to it.
//
// # Wiring
//
// [NewJSONL] takes [WithWriter] (default [os.Stdout]) or [WithFile], and
// [WithMaxRecordBytes]. Hand the exporter to a simple processor for
// synchronous, one-write-per-event logging, or to a batch processor; each
// Export call writes its whole batch with one Write:
//
//	exp, err := exporter.NewJSONL(exporter.WithFile("/var/log/app/audit.jsonl"))
//	...
//	provider := sdklog.NewLoggerProvider(
//		sdklog.WithResource(res),
//		sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)),
//	)
//
// The setup package does this from SECAUDIT_JSONL_PATH and
// OTEL_LOGS_EXPORTER; this package reads no environment variables.
//
// # A durable file
//
// A file given to [WithFile] is opened for appending (mode 0600) and can be
// rotated by size and synced to disk:
//
//	exp, err := exporter.NewJSONL(
//		exporter.WithFile("/var/log/app/audit.jsonl"),
//		exporter.WithRotation(100<<20, 10),                      // 100 MiB, keep audit.jsonl.1 … .10
//		exporter.WithFsync(exporter.FsyncInterval(time.Second)), // or FsyncAlways, FsyncNever
//	)
//
// Rotation renames the file to path.1 (older backups shift up, the oldest
// beyond the retention count is deleted) and starts a new one, always
// between two lines: no line is split across files or lost, whatever the
// number of concurrent Exports. A line larger than the size limit gets a
// file of its own. Failures never crash and never lose a line silently: a
// failed rotation is counted and writing goes on in the current file; a
// failed write (disk full, permissions) is returned by Export, counted, and
// cut back out of the file so that it holds no torn line; a failed fsync
// is counted (and fails the Export under [FsyncAlways]). See [Stats]. The
// exporter must be the file's only writer. [ParseFsyncPolicy] reads a
// policy from text such as an environment variable.
//
// # The envelope
//
// Each line is one compact JSON object with its keys in this order:
//
//	{"timestamp":1767225600000000000,"observed_timestamp":1767225600000001000,
//	 "severity_text":"WARNING","severity_number":13,"body":"http.response",
//	 "resource":{"service.name":"shop"},
//	 "instrumentation_scope":{"name":"github.com/secaudit/secaudit","version":"0.1.0"},
//	 "attributes":{"event_type":"http.response.client_error","schema_version":"1.0",...},
//	 "event_name":"http.response.client_error",
//	 "trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","trace_flags":1}
//
// Field by field:
//
//   - timestamp and observed_timestamp are Unix nanoseconds; each takes the
//     other's value when the record leaves it unset.
//   - severity_text is the record's, or secaudit's text for its severity
//     number (INFO, WARNING, ERROR, CRITICAL; see semconv.SeverityText).
//   - body is a JSON string for a string body, the JSON value of any other
//     body, and "" when the record has none.
//   - resource is the flat map of resource attributes (dotted keys, typed
//     values); instrumentation_scope has the scope name and, when set, its
//     version.
//   - attributes starts with event_type (the record's EventName) and
//     schema_version (the record's audit.schema_version, else
//     semconv.SchemaVersion), followed by every record attribute in record
//     order. Attributes named event_type or schema_version are dropped: the
//     envelope owns them.
//   - event_name equals attributes.event_type.
//   - trace_id, span_id (lowercase hex) and trace_flags (1 if sampled, else
//     0) appear only when the record has a valid trace and span id.
//
// Attribute values keep their types: bool, integer and float as JSON
// numbers and literals, strings, slices as arrays, maps as objects (nested
// to any depth), byte slices as base64 strings, empty values as null. When
// a map (or the record's attributes, which the SDK keeps unde-duplicated
// under WithAllowKeyDuplication) holds a key more than once, only the last
// value is written, so no object has duplicate keys.
//
// # Hash chain and checkpoints
//
// With [WithChain] every line ends with two more members, after the trace
// fields: seq, the line's number in the chain (from 1), and prev_hash, the
// SHA-256 of the previous line's bytes (its newline included) in 64
// lowercase hex digits, 64 zeros on the first line (the genesis value):
//
//	…,"event_name":"auth.login.failed","seq":42,"prev_hash":"9f86d081…"}
//
// Nothing else in the line changes (the record limit does not count these
// members). The chain goes on across rotation — the first line of a new
// file follows the last line of the previous one — and across restarts:
// [NewJSONL] reads the end of the file it appends to (or, when that is
// empty, of path.1) and continues from its last line. When that line is
// torn (a crash during a write) or has no chain fields, the exporter
// reports it through otel.Handle, ends a torn line with a newline, and
// writes an audit.chain.restart line whose prev_hash is that line's hash
// (format in package integrity); the chain is never restarted silently.
// Lines of a failed write are not in the chain: the next line links to
// the last line written.
//
// With [WithSigningKey] (an Ed25519 key in note format, from `secaudit
// keygen`) the exporter appends signed checkpoints — the file's name, the
// head line's number in it, the head's seq and hash — as C2SP signed notes
// to path.checkpoints: at the first Export at least
// [WithCheckpointInterval] after the previous one (default one minute), at
// rotation (the full file's last line), after a restart marker, and at
// Shutdown. `secaudit verify -pubkey FILE` checks a set of files against
// them (package integrity). [WithClock] sets the clock of checkpoints and
// markers.
//
// # Guarantees
//
// Every line is valid UTF-8 JSON followed by a single '\n', whatever the
// record holds: invalid UTF-8 is replaced by U+FFFD; quotes, backslashes,
// control characters and U+2028/U+2029 are escaped, so a value cannot
// break a line or forge another record. Other non-ASCII text is written as
// UTF-8; '<', '>' and '&' are not escaped.
//
// A record that JSON cannot represent (a NaN or infinite float) or whose
// line would exceed the record limit (default [DefaultMaxRecordBytes]) is
// replaced by an audit.logging.malformed_record line at ERROR severity with
// the record's timestamps, resource and scope, and none of its attributes,
// body or trace ids. If even that is too long, the resource is cut to
// service.name (at most 256 runes) and the scope dropped; failing that, a
// last-resort line with no resource at all is written, which always fits.
// Replacements are counted in [JSONL.Stats]. Records are never dropped
// silently: a failed write is returned by Export and counted.
//
// # Performance
//
// Encoding is hand-written append-style code over one reused buffer: a
// record of up to 32 scalar attributes costs no allocation. Strings are
// checked a word at a time; one with nothing to escape (the common case) is
// copied as it is, and a member whose key and value are such strings (or
// whose value is an integer) is written in one go. [AppendRecord] exposes
// the encoder for other writers.
//
// # Concurrency and zero value
//
// All [JSONL] methods are safe for concurrent use; concurrent Exports are
// serialised and each writes its batch in one Write call (one per file when
// the batch crosses a rotation). After Shutdown,
// Export returns [ErrShutdown] and ForceFlush and Shutdown return nil. The
// zero JSONL (and a nil *JSONL) writes nothing: Export returns nil.
package exporter
