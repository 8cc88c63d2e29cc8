package delivery_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/semconv"
)

// checkSpillIdentity asserts emitted = exported + spilled + dropped, that
// the breakdowns add up, and that each exporter saw exactly its records.
func checkSpillIdentity(t *testing.T, st delivery.Stats, exp, spill *memExporter) {
	t.Helper()
	var dropped, spilled uint64
	for _, d := range st.Drops {
		dropped += d.Count
	}
	for _, d := range st.Spills {
		spilled += d.Count
	}
	if dropped != st.Dropped || spilled != st.Spilled {
		t.Errorf("breakdowns sum to %d dropped, %d spilled; Stats say %d, %d", dropped, spilled, st.Dropped, st.Spilled)
	}
	if st.Exported+st.Spilled+st.Dropped != st.Emitted {
		t.Errorf("exported %d + spilled %d + dropped %d != emitted %d", st.Exported, st.Spilled, st.Dropped, st.Emitted)
	}
	if st.SpillPending != 0 {
		t.Errorf("%d records still pending for the spill exporter", st.SpillPending)
	}
	if got := exp.userRecords(); uint64(got) != st.Exported {
		t.Errorf("exporter received %d records, Stats.Exported = %d", got, st.Exported)
	}
	if got := spill.userRecords(); uint64(got) != st.Spilled {
		t.Errorf("spill exporter received %d records, Stats.Spilled = %d", got, st.Spilled)
	}
}

// TestSpillOverload: a stalled exporter and a small queue. Without a spill
// exporter the overflow is dropped; with one, every record the queue
// cannot hold reaches the spill exporter instead, counted as spilled by
// the reason it would have been dropped for, in Stats and in the metrics,
// and nothing is dropped.
func TestSpillOverload(t *testing.T) {
	checkGoroutines(t)
	exp := &memExporter{}
	spill := &memExporter{}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	p := newProcessor(t, exp,
		delivery.WithQueueSize(10),
		delivery.WithBatchSize(5),
		delivery.WithSpill(spill),
		delivery.WithMeterProvider(mp),
	)
	provider := newProvider(p)
	logger := provider.Logger("test")
	ctx := context.Background()

	exp.setStall(true)
	logger.Emit(ctx, event(semconv.EventHTTPResponseSuccess))
	<-exp.entered // the worker holds one record in the stalled export
	emitted := map[string]int{semconv.EventHTTPResponseSuccess: 1}
	for i := range 99 {
		name := semconv.EventHTTPResponseSuccess
		if i%3 == 0 {
			name = semconv.EventLoginFailed
		}
		emitted[name]++
		logger.Emit(ctx, event(name))
		if i%5 == 4 {
			// The spill buffer is as large as the queue (10): let the
			// spill exporter keep up.
			waitFor(t, "the spill buffer to empty", func() bool { return p.Stats().SpillPending == 0 })
		}
	}
	waitFor(t, "the overflow to be spilled", func() bool {
		st := p.Stats()
		return st.Spilled == 89 && st.SpillPending == 0
	})
	st := p.Stats()
	if st.Dropped != 0 {
		t.Errorf("dropped %d records with a spill exporter: %v", st.Dropped, st.Drops)
	}
	reasons := map[string]uint64{}
	for _, d := range st.Spills {
		reasons[d.Reason] += d.Count
	}
	// The first 10 records fill the queue: 4 failed logins, 6 OK
	// responses. The next 6 of the 29 other failed logins evict those 6
	// (evicted); everything else finds the queue full of records at least
	// as valuable (queue_full).
	if reasons[delivery.ReasonEvicted] != 6 || reasons[delivery.ReasonQueueFull] != 83 {
		t.Errorf("spilled by reason %v, want 6 evicted and 83 queue_full", reasons)
	}
	if h := p.Health(); h.Status != delivery.StatusDegraded || h.Spilled != 89 || h.Dropped != 0 {
		t.Errorf("health while spilling: %+v", h)
	}
	sums, _ := metricSums(t, reader)
	if sums[delivery.MetricSpilled] != 89 || sums[delivery.MetricDropped] != 0 {
		t.Errorf("metrics: spilled %d, dropped %d; want 89, 0", sums[delivery.MetricSpilled], sums[delivery.MetricDropped])
	}

	exp.setStall(false)
	if err := provider.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	st = p.Stats()
	checkSpillIdentity(t, st, exp, spill)
	got, _ := exp.counts()
	spilledNames, _ := spill.counts()
	for name, n := range emitted {
		if got[name]+spilledNames[name] != n {
			t.Errorf("%s: %d exported + %d spilled, want %d emitted", name, got[name], spilledNames[name], n)
		}
	}
	if got[delivery.EventPipelineDropped] != 0 {
		t.Error("an audit.pipeline.dropped event although nothing was dropped")
	}
	if spill.shutdown != 1 || exp.shutdown != 1 {
		t.Errorf("Shutdown calls: exporter %d, spill exporter %d; want 1 each", exp.shutdown, spill.shutdown)
	}
}

// TestSpillFailures: what the spill exporter cannot take is dropped, and
// counted, under the reason the record was lost for.
func TestSpillFailures(t *testing.T) {
	tests := []struct {
		name string
		// spill sets up the spill exporter; shutdown bounds Shutdown.
		spill    func(*memExporter)
		shutdown time.Duration
		// want: records spilled and dropped of 20; spill errors at least.
		spilled, dropped uint64
		errors           uint64
		wantErr          bool
		// Before Shutdown: records pending for the spill exporter, and
		// dropped.
		pending       int
		droppedBefore uint64
		// summaries: audit.pipeline.dropped records the spill exporter
		// took (the main exporter refuses them like every record).
		summaries int
	}{
		{
			name:    "spill exporter fails",
			spill:   func(e *memExporter) { e.fail = func(int) error { return errUnavailable } },
			dropped: 20, errors: 1, droppedBefore: 20,
		},
		{
			name: "first spill export fails",
			spill: func(e *memExporter) {
				e.fail = func(n int) error { return map[bool]error{true: errUnavailable}[n == 1] }
			},
			spilled: 15, dropped: 5, errors: 1, droppedBefore: 5, summaries: 1,
		},
		{
			// The spill buffer holds as many records as the queue (5),
			// those being exported included: of the 20 that fail for good,
			// 5 are stalled in the spill export, the other 15 are dropped
			// at once. At Shutdown, the stalled spill export is given up
			// when Shutdown's context ends.
			name:     "spill exporter stalls",
			spill:    func(e *memExporter) { e.setStall(true) },
			shutdown: 50 * time.Millisecond,
			dropped:  20,
			wantErr:  true,
			pending:  5, droppedBefore: 15,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			exp := &memExporter{fail: func(int) error { return sdklog.ErrExporterShutdown }}
			spill := &memExporter{}
			tt.spill(spill)
			defer spill.setStall(false)
			// Each batch is exactly the 5 records emitted together: the
			// worker lingers until the batch is full.
			p := newProcessor(t, exp, delivery.WithQueueSize(5), delivery.WithBatchSize(5),
				delivery.WithLinger(time.Hour), delivery.WithSpill(spill))
			provider := newProvider(p)
			logger := provider.Logger("test")
			ctx := context.Background()
			for i := range 4 {
				for range 5 {
					logger.Emit(ctx, event(semconv.EventLoginFailed))
				}
				// ... and, unless it stalls, the spill exporter to take it:
				// the spill buffer is no larger than the queue.
				waitFor(t, "the batch to fail", func() bool {
					st := p.Stats()
					return st.ExportErrors == uint64(i+1) && (st.SpillPending == 0 || tt.pending > 0)
				})
			}
			waitFor(t, "the spill exporter to settle", func() bool {
				st := p.Stats()
				return st.SpillPending == tt.pending && st.Dropped == tt.droppedBefore
			})
			sctx, cancel := ctx, context.CancelFunc(func() {})
			if tt.shutdown > 0 {
				sctx, cancel = context.WithTimeout(ctx, tt.shutdown)
			}
			defer cancel()
			if err := provider.Shutdown(sctx); (err != nil) != tt.wantErr {
				t.Errorf("Shutdown = %v, want error: %v", err, tt.wantErr)
			}
			st := p.Stats()
			if st.Emitted != 20 || st.Spilled != tt.spilled || st.Dropped != tt.dropped || st.SpillErrors < tt.errors {
				t.Errorf("emitted %d, spilled %d, dropped %d, spill errors %d; want 20, %d, %d, >= %d",
					st.Emitted, st.Spilled, st.Dropped, st.SpillErrors, tt.spilled, tt.dropped, tt.errors)
			}
			if st.DroppedFor(delivery.ReasonExportFailed) != tt.dropped {
				t.Errorf("drops %v, want all under export_failed", st.Drops)
			}
			if names, _ := spill.counts(); names[delivery.EventPipelineDropped] != tt.summaries {
				t.Errorf("%d summaries spilled, want %d", names[delivery.EventPipelineDropped], tt.summaries)
			}
			checkSpillIdentity(t, st, exp, spill)
		})
	}
}

// TestSpillDir: the dead-letter JSONL file, chosen by option or by the
// environment, holds every record the exporter refused, one valid JSON
// line each, and the health report shows its sink.
func TestSpillDir(t *testing.T) {
	for _, byEnv := range []bool{false, true} {
		name := map[bool]string{false: "WithSpillDir", true: delivery.EnvSpillDir}[byEnv]
		t.Run(name, func(t *testing.T) {
			checkGoroutines(t)
			dir := t.TempDir()
			exp := &memExporter{fail: func(int) error { return sdklog.ErrExporterShutdown }}
			opts := []delivery.Option{delivery.WithName("otlp")}
			if byEnv {
				t.Setenv(delivery.EnvSpillDir, dir)
			} else {
				opts = append(opts, delivery.WithoutEnv(), delivery.WithSpillDir(dir))
			}
			p, err := delivery.New(exp, opts...)
			if err != nil {
				t.Fatal(err)
			}
			provider := newProvider(p)
			logger := provider.Logger("test")
			ctx := context.Background()
			names := []string{semconv.EventLoginFailed, semconv.EventModelUpdate, semconv.EventHTTPResponseSuccess}
			for i := range 30 {
				logger.Emit(ctx, event(names[i%3]))
			}
			waitFor(t, "the records to be spilled", func() bool { return p.Stats().Spilled == 30 })
			h := p.Health()
			if h.SpillSink == nil || h.SpillSink.Records != 30 || h.Spilled != 30 || h.Status == delivery.StatusOK {
				t.Errorf("health: status %s, spill sink %+v", h.Status, h.SpillSink)
			}
			if err := provider.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			if st := p.Stats(); st.Spilled != 30 || st.Dropped != 0 || st.Emitted != 30 {
				t.Errorf("Stats = %+v", st)
			}

			f, err := os.Open(filepath.Join(dir, "otlp.spill.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got := map[string]int{}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				var line struct {
					EventName string `json:"event_name"`
				}
				if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
					t.Fatalf("line %q: %v", sc.Text(), err)
				}
				got[line.EventName]++
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			for _, n := range names {
				if got[n] != 10 {
					t.Errorf("spill file: %v, want 10 of each of %v", got, names)
					break
				}
			}
		})
	}
}

// TestSpillConfig: bad spill settings make New fail, naming the option or
// variable.
func TestSpillConfig(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	tests := []struct {
		name string
		env  string
		opts []delivery.Option
		want string // in the error
	}{
		{name: "empty dir", opts: []delivery.Option{delivery.WithSpillDir("")}, want: `WithSpillDir("")`},
		{name: "missing dir", opts: []delivery.Option{delivery.WithSpillDir(missing)},
			want: `secaudit: WithSpillDir("` + missing + `"): want a directory where it can append to default.spill.jsonl (open: no such file or directory)`},
		{name: "missing dir from env", env: missing,
			want: `secaudit: SECAUDIT_DELIVERY_SPILL_DIR="` + missing + `": want a directory where it can append to default.spill.jsonl (open: no such file or directory)`},
		{name: "name with a slash", opts: []delivery.Option{delivery.WithName("a/b"), delivery.WithSpillDir(t.TempDir())}, want: "want a plain name, which names the spill file of WithSpillDir"},
		{name: "cap zero", opts: []delivery.Option{delivery.WithSpillMaxBytes(0)}, want: "secaudit: WithSpillMaxBytes(0): want an integer >= 1"},
		{name: "cap from env", env: "x", opts: []delivery.Option{delivery.WithSpill(nil)}, want: delivery.EnvSpillMaxBytes},
		{name: "dot dot", opts: []delivery.Option{delivery.WithName(".."), delivery.WithSpillDir(t.TempDir())}, want: "want a plain name, which names the spill file of WithSpillDir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			switch {
			case tt.want == delivery.EnvSpillMaxBytes:
				t.Setenv(delivery.EnvSpillMaxBytes, tt.env)
			case tt.env != "":
				t.Setenv(delivery.EnvSpillDir, tt.env)
			default:
				opts = append([]delivery.Option{delivery.WithoutEnv()}, opts...)
			}
			p, err := delivery.New(&memExporter{}, opts...)
			if err == nil {
				_ = p.Shutdown(context.Background())
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %q", err, tt.want)
			}
		})
	}
	// WithSpill(nil) turns the environment's spill directory off.
	t.Run("WithSpill(nil) overrides the env", func(t *testing.T) {
		t.Setenv(delivery.EnvSpillDir, missing)
		p, err := delivery.New(&memExporter{}, delivery.WithSpill(nil))
		if err != nil {
			t.Fatal(err)
		}
		_ = p.Shutdown(context.Background())
	})
}

// TestSpillFileCap: once the spill file has reached its cap, further
// records are dropped and counted, not written.
func TestSpillFileCap(t *testing.T) {
	checkGoroutines(t)
	dir := t.TempDir()
	exp := &memExporter{fail: func(int) error { return sdklog.ErrExporterShutdown }}
	p := newProcessor(t, exp, delivery.WithName("otlp"), delivery.WithSpillDir(dir), delivery.WithSpillMaxBytes(1))
	provider := newProvider(p)
	logger := provider.Logger("test")
	ctx := context.Background()
	for range 3 {
		for range 10 {
			logger.Emit(ctx, event(semconv.EventLoginFailed))
		}
		waitFor(t, "the group to settle", func() bool { st := p.Stats(); return st.Spilled+st.Dropped == st.Emitted })
	}
	if err := provider.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	// The first spill batch finds the file empty and is written; every
	// later one finds it past 1 byte.
	if st.Spilled < 1 || st.Spilled > 10 || st.Spilled+st.Dropped != 30 || st.SpillFull < 2 {
		t.Errorf("spilled %d, dropped %d, spill batches refused %d; want 1-10 spilled, the rest dropped, >= 2 refused",
			st.Spilled, st.Dropped, st.SpillFull)
	}
	if n := countLines(t, filepath.Join(dir, "otlp.spill.jsonl")); uint64(n) != st.Spilled {
		t.Errorf("spill file holds %d lines, Stats.Spilled = %d", n, st.Spilled)
	}
	if h := p.Health(); h.SpillFull != st.SpillFull {
		t.Errorf("health spill_full %d, Stats %d", h.SpillFull, st.SpillFull)
	}
}

// TestSpillFileMoved: an operator takes the spill file away (to re-ingest
// it) while records are still being spilled; the processor starts a new
// file instead of writing on into the one taken away, and every spilled
// record is in one file or the other.
func TestSpillFileMoved(t *testing.T) {
	checkGoroutines(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "otlp.spill.jsonl")
	exp := &memExporter{fail: func(int) error { return sdklog.ErrExporterShutdown }}
	p := newProcessor(t, exp, delivery.WithName("otlp"), delivery.WithSpillDir(dir))
	provider := newProvider(p)
	logger := provider.Logger("test")
	ctx := context.Background()
	emit := func(n uint64) {
		t.Helper()
		for range n {
			logger.Emit(ctx, event(semconv.EventLoginFailed))
		}
		waitFor(t, "the records to be spilled", func() bool { st := p.Stats(); return st.Spilled+st.Dropped == st.Emitted })
	}
	emit(10)
	taken := filepath.Join(dir, "taken.jsonl")
	if err := os.Rename(path, taken); err != nil {
		t.Fatal(err)
	}
	emit(15)
	if err := provider.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	if st.Spilled != 25 || st.Dropped != 0 {
		t.Fatalf("spilled %d, dropped %d (%v); want 25, 0", st.Spilled, st.Dropped, st.Drops)
	}
	if a, b := countLines(t, taken), countLines(t, path); a != 10 || b != 15 {
		t.Errorf("lines: %d in the file taken away, %d in the new one; want 10 and 15", a, b)
	}
}

// TestSpillDirFailureRegistersNothing: when New fails on the spill file,
// no metrics of the processor that was never built are reported.
func TestSpillDirFailureRegistersNothing(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	_, err := delivery.New(&memExporter{}, delivery.WithoutEnv(), delivery.WithMeterProvider(mp),
		delivery.WithSpillDir(filepath.Join(t.TempDir(), "missing")))
	if err == nil {
		t.Fatal("New succeeded with a missing spill directory")
	}
	if sums, _ := metricSums(t, reader); len(sums) != 0 {
		t.Errorf("metrics of a processor New refused: %v", sums)
	}
}

// errorHandler records what reaches the OTel error handler.
type errorHandler struct {
	mu   sync.Mutex
	errs []error
}

func (h *errorHandler) Handle(err error) { h.mu.Lock(); h.errs = append(h.errs, err); h.mu.Unlock() }

// TestSpillLeftoverWarned: a spill file that already holds records when a
// processor starts (an earlier outage not replayed) is reported through
// the OTel error handler, once, naming the file; an empty or missing one
// is not.
func TestSpillLeftoverWarned(t *testing.T) {
	h := &errorHandler{}
	otel.SetErrorHandler(h)
	t.Cleanup(func() { otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {})) })
	dir := t.TempDir()
	path := filepath.Join(dir, "otlp.spill.jsonl")
	start := func() {
		t.Helper()
		p := newProcessor(t, &memExporter{}, delivery.WithName("otlp"), delivery.WithSpillDir(dir))
		if err := p.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	start() // no file yet: created empty
	start() // empty file
	if len(h.errs) != 0 {
		t.Fatalf("warned about a missing or empty spill file: %v", h.errs)
	}
	if err := os.WriteFile(path, []byte("{\"event_name\":\"x\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	start()
	if len(h.errs) != 1 || !strings.Contains(h.errs[0].Error(), path) || !strings.Contains(h.errs[0].Error(), "spillreplay") {
		t.Fatalf("warnings %v, want one naming %s and the replay tool", h.errs, path)
	}
}
