// Command spillreplay is secaudit replay under its old name, kept so that
// existing scripts and runbooks go on working; both run the same code
// (internal/spillreplay). Prefer:
//
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 \
//	  go run ./cmd/secaudit replay -file /var/lib/app/audit-spill/otlp.spill.jsonl
//
// Its flags (-file, -from, -batch, -timeout), output and behaviour are
// those of secaudit replay; see go doc ./internal/spillreplay. The exit
// status is 0 when every line was a record and every record was sent,
// 2 for bad usage, 1 otherwise.
package main
