// Command secaudit reads, checks and serves secaudit's audit logs.
//
// Usage:
//
//	secaudit <command> [flags] [arguments]
//
// The commands (each has -h):
//
//	tail     readable lines of JSONL events, filtered, optionally following the files
//	view     a local web page over JSONL files (loopback only, nothing from the internet)
//	verify   checks a chained, signed JSONL file set (SECAUDIT_JSONL_CHAIN)
//	keygen   writes an Ed25519 signing key for the JSONL checkpoints
//	replay   re-sends a delivery spill file over OTLP
//	doctor   checks the environment's SECAUDIT_*/OTEL_* configuration and names risky settings
//
// Exit status: 0 on success, 1 on a finding (a broken chain, a risky
// setting, a failed replay), 2 on bad usage.
//
// Install with go install github.com/secaudit/secaudit/cmd/secaudit@latest,
// or run from a checkout with go run ./cmd/secaudit.
package main
