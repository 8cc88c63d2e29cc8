// Package peers measures, in process, what one audited event costs in
// secaudit beside the loggers a Go service would otherwise use; tests
// and benchmarks only. It is a module of its own so that zap and zerolog
// never reach the core's go.mod.
//
// BenchmarkPeers logs the middleware's http.response.success event — its
// 14 attributes, the request ID and duration varying per event — as one
// JSON line, through:
//
//	slog                  log/slog's JSON handler
//	zap                   zap's production JSON encoder, no sampling
//	zerolog               zerolog with a timestamp
//	otel-batch            stock OpenTelemetry: the SDK's batch processor
//	                      with its defaults and the stdoutlog exporter
//	otel-batch-flush      the same, ForceFlush after every 512 records
//	otel-batch-queue      the same, its queue as long as the run (b.N)
//	otel-simple           the SDK's simple processor and stdoutlog
//	otelslog-batch        slog through the otelslog bridge into otel-batch
//	otelslog-batch-flush  slog through the otelslog bridge into otel-batch-flush
//	secaudit              setup.New's default pipeline (Auditor, scrubbing,
//	                      detection, delivery, the JSONL exporter)
//
// Every writer counts the lines it receives: written/op is the records
// that reached the writer, lost/op the rest (the SDK's batch processor
// overwrites its oldest record without a word when its queue is full;
// secaudit's delivery counts every loss, reported as counted-lost/op).
// The time of a run includes delivering what is still queued at its end
// (ForceFlush), so that a pipeline that only queues is not timed as if it
// had written. Of the stock pipelines that lose nothing, otel-batch-flush
// is the fair one to set against secaudit: it holds as many records at
// most as the batch processor's default queue, while otel-batch-queue's
// memory and garbage collector work grow with the run, and otel-simple
// writes one record per Export.
//
// Instructions per event, under valgrind's cachegrind with the garbage
// collector on and one P, are the difference of two runs of different
// lengths divided by the difference of their lengths; cachegrind.sh
// prints the whole table that way, or one peer's row:
//
//	tools/peers/cachegrind.sh
//	tools/peers/cachegrind.sh secaudit otel-batch-flush
//
// One run by hand:
//
//	cd tools/peers && go test -c -o /tmp/peers.test .
//	GOMAXPROCS=1 valgrind --tool=cachegrind --cache-sim=no --fair-sched=yes \
//		--cachegrind-out-file=/dev/null /tmp/peers.test -test.run '^$' \
//		-test.bench 'BenchmarkPeers/^secaudit$' -test.benchtime 20000x
//
// --fair-sched=yes matters for the queued pipelines: valgrind runs one
// thread at a time and by default lets the running thread take its lock
// back at once, so the runtime's sysmon, which preempts a goroutine that
// runs too long, hardly runs, and a worker goroutine waiting for the one P
// starves. secaudit's delivery then drops (and counts) records it does
// not drop natively: 18102 of 40000 in one such run.
//
// TestSecauditLosesNothing checks that secaudit's pipeline, as the
// benchmark configures it, writes every record it is given.
package peers
