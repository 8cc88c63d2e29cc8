// Package claim carries the user name a login attempt claimed, from the
// Auditor's LoginFailed and LoginSucceeded to the detection rules, in the
// context the record is emitted with — never in the record. The rules need
// it (password_spray counts distinct names failing per address) even when
// usernames are not written to the log; the detect package keeps only a
// keyed hash of it.
package claim
