// Package bodycapture records allowlisted top-level fields of JSON request
// bodies for audit events, without changing what the handler reads.
//
// [Capturer.Capture] applies the gates of the reference's body capture, in
// its order: an allowed method (case-insensitive), a path pattern (RE2,
// unanchored search) when any is configured, no form or multipart content
// type on any Content-Type line, a non-empty field allowlist, and a
// Content-Length not above the cap — a larger declared length is recorded as
// too_large without reading a byte. Then the content type must be
// application/json or application/*+json (exactly one Content-Type line), and
// at most max+1 bytes are read: more than max is too_large; invalid UTF-8, a
// byte-order mark or invalid JSON is invalid_json; a top-level value that is
// not an object is unsupported_shape. From an object only the allowlisted
// keys are kept (exact, case-sensitive, top level; a nested value is kept
// whole; for a duplicated key the last wins).
//
// The handler always reads the complete original body: the bytes read for
// capture are replayed, then reading continues from the original body (past
// the cap too), and a read error met during capture is returned to the
// handler in its place. Close closes the original body.
//
// Values are not scrubbed here: the result is an attribute of the audit
// record, and the scrubbing processor redacts sensitive keys and values of
// every record (maps included) before export. Numbers become int64 when they
// are integers that fit, float64 when they have a fraction or exponent, and
// the exact decimal text when they are integers too large for int64; JSON
// null becomes an empty value. Unlike the reference's parser, Go's rejects
// NaN and Infinity literals, which are not JSON (invalid_json).
package bodycapture
