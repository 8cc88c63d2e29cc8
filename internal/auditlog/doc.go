// Package auditlog reads secaudit's JSONL audit log for the command line:
// the few facts of an event a person looks at first ([Event], [Parse]),
// the filters of secaudit tail and view ([Filter]), and a reader that
// follows files across the JSONL exporter's rotation ([Read]).
//
// It reads the envelope of DESIGN.md ("JSONL envelope"); keys it does not
// know are skipped, so it reads lines of any schema version that keeps them.
package auditlog
