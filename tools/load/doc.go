// Command load measures what secaudit costs a real net/http server on
// loopback: throughput and server CPU per request, for several server
// modes side by side in one run.
//
//	go run ./tools/load                        # all modes, 3 rounds, 5 s each
//	go run ./tools/load -modes bare,secaudit -rounds 1 -duration 3s
//	go run ./tools/load -pin                   # server on CPU 0, load on CPU 1 (taskset)
//	go run ./tools/load -pin -perf             # and count each server's instructions per request
//	go run ./tools/load -modes secaudit-block,secaudit-block-default,secaudit-ratelimit -perf
//	                                           # blocking and a rate limit on: the 429 path against serving
//
// The command runs as a driver that starts, for each mode and round, a
// server process (itself, with -serve MODE) listening on 127.0.0.1 and a
// load process (itself, with -load URL) that keeps -conns keep-alive
// connections busy for -warmup and then -duration. Modes are interleaved
// round by round, their order rotated by one place per round so that each
// mode takes every position. Besides each mode's median, the table is
// followed by throughput ratios paired by round (a mode's req/s over bare's
// and otelhttp's in the same round, then their median): the host's slow
// drifts move every mode of a round together and cancel in these.
//
// With -perf, each server runs under perf stat, which counts its
// instructions and CPU cycles (user and kernel, warm-up included); they are
// reported per request served. On a host whose perf counts no instructions
// (a virtual machine without hardware counters: "<not supported>"), -perf
// falls back (-counter auto) to valgrind's cachegrind: each mode and round
// runs a second time with the server under cachegrind, which counts its
// user-space instructions; an idle run of each mode (start-up, the same
// wait, shutdown, no request) is subtracted, and the rest divided by the
// requests served. Throughput, CPU time and the paired ratios stay those
// of the uninstrumented run. Without valgrind either, only the CPU time per
// request is reported. The output says which counter it used; -counter
// perf or -counter cachegrind forces one. On a shared machine, instructions per
// request are the steadiest figure of the work a mode adds (within a few
// per cent from run to run, where req/s and cycles move by tens of per
// cent with the neighbours' load); cycles add what the work costs in
// cache misses and stalls. The server's CPU time (user + system, from the operating
// system once it exits) is divided by every request it served, warm-up
// included; req/s and latency come from the measured window only. When the
// server stops (SIGTERM) it shuts its pipeline down and reports the events
// it emitted, exported and dropped.
//
// Every -miss-every'th request of each connection (default 20, so 5 %) asks
// for an item that does not exist and gets a 404, as real traffic has
// failures; the other requests get a 200 with a 58-byte JSON body. Every
// mode serves the same mix.
//
// Server modes:
//
//	bare               the handler alone
//	slog               a status-recording middleware and one slog JSON line per request to a file
//	otelhttp           otelhttp.NewHandler with an always-sampling sdk/trace provider (batch, no-op exporter)
//	otelhttp+secaudit  otelhttp around the secaudit middleware: one audit event per request, scrubbed,
//	                   through the delivery processor (async) to a rotating JSONL file
//	secaudit           the same secaudit pipeline without otelhttp
//	secaudit-simple    secaudit with the JSONL exporter behind sdklog's SimpleProcessor (for comparison)
//	secaudit-default   the secaudit pipeline with the middleware's defaults: OK responses are not
//	                   audited, so a 200 costs the middleware only (4xx, 5xx and the application's
//	                   security events would still be audited)
//	otelhttp+secaudit-default  otelhttp around secaudit-default
//	sdklog-floor       no secaudit code: a status-recording middleware building one OTel API record
//	                   with the same 14 attributes as secaudit's response event, emitted into an
//	                   sdk/log LoggerProvider (key de-duplication off) whose only processor discards
//	                   it: what any OTel-native audit event costs before scrubbing and export
//	otelhttp+passthrough  otelhttp around a middleware that only allocates what secaudit's does
//	                   for a request it does not audit (state, context value, request copy) and
//	                   wraps the response writer: a control for what any middleware layer costs
//	                   behind otelhttp, and for how far two near-identical servers scatter
//	secaudit-block     setup's whole pipeline (detection on, delivery, rotating JSONL file) with
//	                   blocking on (SECAUDIT_BLOCK=true) and the guard in the middleware, every
//	                   request audited (SECAUDIT_LOG_OK_RESPONSES=true)
//	secaudit-block-default  the same with the middleware's defaults (OK responses not audited)
//	secaudit-ratelimit secaudit-block-default with a rate limit per address (-rate-limit, default
//	                   100/1m, as SECAUDIT_RATE_LIMIT): all the load comes from 127.0.0.1, so all
//	                   but the first requests of each window are refused 429, quietly (counted
//	                   into the window's security.rate_limited summary)
//	setup-default      setup.New's pipeline and the middleware with every default: detection on,
//	                   blocking off, OK responses not audited (the 404s are, and detection counts them)
//	otelhttp+setup-default  otelhttp around setup-default
//
// The guarded modes serve no 404 (a stream of 404s from one address is a
// scan, which blocking on answers by blocking the address), and their load
// counts a 429 as a refused request, not an error; after the table, the
// tool sets the 429 path (secaudit-ratelimit) against serving
// (secaudit-block and secaudit-block-default) in instructions per request
// and in throughput paired by round.
//
// OK responses are audited in the secaudit, otelhttp+secaudit and
// secaudit-simple modes (WithLogOKResponses), so every request yields one
// event: the worst case for the audit path.
// Everything stays on 127.0.0.1 and every run is bounded in time.
package main
