// Package envconf reads secaudit's SECAUDIT_* environment variables. Every
// function returns (value, set, error): set is false when the variable is
// unset or empty, and an invalid value is an error that names the variable
// in the one format of internal/setting (secaudit: SECAUDIT_X="v": want …),
// so a misconfigured service stops at start-up instead of auditing wrongly.
// Callers return that error as it is, without a prefix of their own.
// Lists of regular expressions have one format, that of [SplitRegexps].
// [Unknown] finds the names that look like misspelt settings, SECAUDIT_ or
// OTEL_ alike.
package envconf
