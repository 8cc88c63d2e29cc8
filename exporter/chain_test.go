package exporter_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"golang.org/x/mod/sumdb/note"

	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/integrity"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testKey returns a signing key and its verifier.
func testKey(t testing.TB) (string, note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "secaudit-test")
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return skey, v
}

// export writes records through a new exporter with opts and shuts it down.
func exportAll(t testing.TB, records []sdklog.Record, opts ...exporter.Option) exporter.Stats {
	t.Helper()
	exp, err := exporter.NewJSONL(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.Export(context.Background(), records); err != nil {
		t.Fatal(err)
	}
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	return exp.Stats()
}

// captureHandler records what otel.Handle receives for the test's length.
func captureHandler(t *testing.T) func() []error {
	t.Helper()
	var mu sync.Mutex
	var errs []error
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }))
	t.Cleanup(func() { otel.SetErrorHandler(prev) })
	return func() []error { mu.Lock(); defer mu.Unlock(); return append([]error(nil), errs...) }
}

// TestChainGolden pins the chained envelope: the golden records, each line
// ending with seq and prev_hash after the trace fields, the first from the
// genesis hash. The default envelope (TestEnvelopeGolden) is unchanged.
func TestChainGolden(t *testing.T) {
	var records []sdklog.Record
	for _, c := range goldenCases()[:4] {
		records = append(records, c.record(t))
	}
	var out bytes.Buffer
	exportAll(t, records, exporter.WithWriter(&out), exporter.WithChain(true))
	got := out.Bytes()

	prev := integrity.Genesis
	for i, line := range bytes.SplitAfter(got, []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		checkLine(t, line)
		f, ok := integrity.ParseFields(line)
		if !ok || f.Seq != uint64(i+1) || f.Prev != prev {
			t.Errorf("line %d: fields %+v ok=%v, want seq %d prev %s", i+1, f, ok, i+1, prev)
		}
		// Without the chain fields, the line is the default envelope.
		plain := exporter.AppendRecord(nil, &records[i], 0)
		if want := append(bytes.TrimSuffix(plain, []byte("}\n")), integrity.AppendFields(nil, f.Seq, f.Prev)...); !bytes.Equal(line, append(want, "}\n"...)) {
			t.Errorf("line %d = %s, want the envelope plus the chain fields", i+1, line)
		}
		prev = integrity.HashLine(line)
	}
	path := filepath.Join("testdata", "chain.golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("chain differs from %s\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestChainContinues: across rotation and a clean restart, the chain goes
// on, and the set verifies.
func TestChainContinues(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	skey, v := testKey(t)
	clock := &fakeClock{t: fixedTime}
	opts := []exporter.Option{exporter.WithFile(path), exporter.WithRotation(4000, 10), exporter.WithSigningKey(skey), exporter.WithClock(clock.Now)}
	for run := range 3 {
		s := exportAll(t, numberedBatch("run"+string(rune('a'+run)), 10), opts...)
		if s.Checkpoints == 0 || s.CheckpointErrors != 0 {
			t.Fatalf("run %d: stats %+v", run, s)
		}
		clock.Add(time.Second)
	}
	files := rotatedFiles(t, path)
	if len(files) < 3 {
		t.Fatalf("%d files, want rotation", len(files))
	}
	res, err := integrity.Verify(files, integrity.Options{Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	if res.Lines != 30 || res.Restarts != 0 {
		t.Errorf("verified %+v, want 30 lines and no restart", res)
	}
}

// TestChainTornTail: a file cut inside a line is reported, the line is
// ended and a signed restart marker continues the chain; the set verifies
// and names the restart. The same for a file whose last line has no chain
// fields (one record written before the chain was turned on).
func TestChainTornTail(t *testing.T) {
	tests := []struct {
		name     string
		chained  bool // the first run writes the chain
		records  int
		damage   func(data []byte) []byte
		reason   string
		wantSeq1 uint64 // the marker's seq
	}{
		{"torn", true, 3, func(d []byte) []byte { return d[:len(d)-30] }, integrity.ReasonTornTail, 3},
		{"unchained", false, 1, func(d []byte) []byte { return d }, integrity.ReasonUnchainedTail, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "audit.jsonl")
			skey, v := testKey(t)
			clock := &fakeClock{t: fixedTime}
			opts := []exporter.Option{exporter.WithFile(path), exporter.WithSigningKey(skey), exporter.WithClock(clock.Now)}
			first := opts
			if !tt.chained {
				first = []exporter.Option{exporter.WithFile(path)}
			}
			exportAll(t, numberedBatch("a", tt.records), first...)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tt.damage(data), 0o600); err != nil {
				t.Fatal(err)
			}
			// The cut file no longer matches its shutdown checkpoint;
			// keep the test about the restart itself.
			if err := os.Remove(path + integrity.CheckpointSuffix); err != nil && tt.chained {
				t.Fatal(err)
			}
			errs := captureHandler(t)
			exportAll(t, numberedBatch("b", 2), opts...)
			if got := errs(); len(got) != 1 || !strings.Contains(got[0].Error(), "audit.chain.restart") {
				t.Fatalf("reported %v, want one report of the restart", got)
			}
			out, _ := os.ReadFile(path)
			if !bytes.Contains(out, []byte(`"audit.chain.reason":"`+tt.reason+`"`)) {
				t.Fatalf("no %s marker in\n%s", tt.reason, out)
			}
			res, err := integrity.Verify([]string{path}, integrity.Options{Verifier: v})
			if err != nil {
				t.Fatal(err)
			}
			if res.Restarts != 1 || len(res.Notes) == 0 || res.Checkpoints != 2 {
				t.Errorf("result %+v, want one restart noted and two checkpoints (restart, shutdown)", res)
			}
			for _, line := range bytes.SplitAfter(out, []byte{'\n'}) {
				if f, ok := integrity.ParseFields(line); ok && f.Marker && f.Seq != tt.wantSeq1 {
					t.Errorf("marker seq %d, want %d", f.Seq, tt.wantSeq1)
				}
			}
		})
	}
}

// TestChainWriteFailure: lines a failed write lost are not in the chain:
// the next line links to the last line written.
func TestChainWriteFailure(t *testing.T) {
	w := &flakyWriter{failAt: 2}
	exp, err := exporter.NewJSONL(exporter.WithWriter(w), exporter.WithChain(true))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i, rec := range numberedBatch("x", 3) {
		err := exp.Export(ctx, []sdklog.Record{rec})
		if (err != nil) != (i == 1) {
			t.Fatalf("export %d: %v", i, err)
		}
	}
	_ = exp.Shutdown(ctx)
	lines := bytes.SplitAfter(w.buf.Bytes(), []byte{'\n'})
	f1, _ := integrity.ParseFields(lines[0])
	f2, ok := integrity.ParseFields(lines[1])
	if !ok || f1.Seq != 1 || f2.Seq != 2 || f2.Prev != integrity.HashLine(lines[0]) {
		t.Errorf("after a failed write: %+v then %+v, want seq 1, 2 linked", f1, f2)
	}
}

// cpuTime is the process's user and system CPU time, in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

type flakyWriter struct {
	buf    bytes.Buffer
	n      int
	failAt int
}

func (w *flakyWriter) Write(p []byte) (int, error) {
	w.n++
	if w.n == w.failAt {
		return 0, errors.New("disk full")
	}
	return w.buf.Write(p)
}

// TestCheckpointInterval: with a fake clock, a checkpoint is written at
// the first Export an interval after the previous one, and at shutdown.
func TestCheckpointInterval(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	skey, v := testKey(t)
	clock := &fakeClock{t: fixedTime}
	exp, err := exporter.NewJSONL(exporter.WithFile(path), exporter.WithSigningKey(skey), exporter.WithClock(clock.Now), exporter.WithCheckpointInterval(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	steps := []struct {
		advance time.Duration
		want    uint64
	}{{0, 0}, {9 * time.Second, 0}, {time.Second, 1}, {time.Second, 1}, {10 * time.Second, 2}}
	for i, s := range steps {
		clock.Add(s.advance)
		if err := exp.Export(ctx, numberedBatch("c", 1)); err != nil {
			t.Fatal(err)
		}
		if got := exp.Stats().Checkpoints; got != s.want {
			t.Errorf("step %d: %d checkpoints, want %d", i, got, s.want)
		}
	}
	if err := exp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := exp.Stats().Checkpoints; got != 3 {
		t.Errorf("%d checkpoints after shutdown, want 3", got)
	}
	res, err := integrity.Verify([]string{path}, integrity.Options{Verifier: v})
	if err != nil || res.Checkpoints != 3 || res.Lines != 5 {
		t.Errorf("verify: %+v, %v", res, err)
	}
}

// TestSigningKeyErrors: a bad key is a clear error that never shows the
// key; a key needs a file.
func TestSigningKeyErrors(t *testing.T) {
	skey, _ := testKey(t)
	bad := skey[:len(skey)-4] + "AAAA"
	tests := []struct {
		name string
		opts []exporter.Option
		want string
	}{
		{"not a key", []exporter.Option{exporter.WithFile(filepath.Join(t.TempDir(), "a")), exporter.WithSigningKey(bad)}, "WithSigningKey"},
		{"no file", []exporter.Option{exporter.WithSigningKey(skey)}, "WithFile too"},
		{"chain off", []exporter.Option{exporter.WithFile(filepath.Join(t.TempDir(), "a")), exporter.WithSigningKey(skey), exporter.WithChain(false)}, "chain on"},
		{"interval", []exporter.Option{exporter.WithChain(true), exporter.WithCheckpointInterval(0)}, "WithCheckpointInterval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := exporter.NewJSONL(tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one naming %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "PRIVATE") || strings.Contains(err.Error(), skey[20:40]) {
				t.Errorf("error shows the key: %v", err)
			}
		})
	}
}

// BenchmarkExportChain is the JSONL exporter with and without the hash
// chain, a batch of realistic records to io.Discard: the difference in
// ns/record is the chain's cost per record (two members and a SHA-256).
func BenchmarkExportChain(b *testing.B) {
	records := batchOf(benchBatchSize)
	for _, chained := range []bool{false, true} {
		name := "plain"
		if chained {
			name = "chain"
		}
		b.Run(name, func(b *testing.B) {
			exp, err := exporter.NewJSONL(exporter.WithWriter(io.Discard), exporter.WithChain(chained))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				if err := exp.Export(ctx, records); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(records)), "ns/record")
			// CPU time: on a shared machine, wall time also counts the
			// time other processes held the core.
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N*len(records)), "cpu-ns/record")
		})
	}
}

// TestMalformedKeepsStreamPlace: a record replaced by a malformed_record
// line keeps its audit.stream.id and audit.sequence, so that the
// replacement is not mistaken for a gap; nothing else of it is kept.
func TestMalformedKeepsStreamPlace(t *testing.T) {
	f := clientErrorFactory()
	f.Attributes = append(clientErrorAttributes()[:0:0], clientErrorAttributes()...)
	f.Attributes = append(f.Attributes,
		attribute.Float64("audit.test.nan", math.NaN()),
		semconv.AuditStreamIDKey.String("0123456789abcdef0123456789abcdef"),
		semconv.AuditSequenceKey.Int64(41),
	)
	rec := f.NewRecord()
	line := exporter.AppendRecord(nil, &rec, 0)
	env := checkLine(t, line)
	if env.EventName != semconv.EventMalformedRecord || env.Attributes["audit.stream.id"] != "0123456789abcdef0123456789abcdef" ||
		env.Attributes["audit.sequence"] != 41.0 || len(env.Attributes) != 4 {
		t.Errorf("malformed line %s", line)
	}
}

// TestChainExportAllocs: the chain costs no allocation per batch, to a
// rotating file as to a writer.
func TestChainExportAllocs(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts are not meaningful under -race")
	}
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	for _, opts := range [][]exporter.Option{
		{exporter.WithWriter(io.Discard), exporter.WithChain(true)},
		{exporter.WithFile(path), exporter.WithRotation(1<<40, 1), exporter.WithChain(true)},
	} {
		e, err := exporter.NewJSONL(opts...)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		records := batchOf(16)
		if allocs := testing.AllocsPerRun(50, func() {
			if err := e.Export(ctx, records); err != nil {
				t.Fatal(err)
			}
		}); allocs != 0 {
			t.Errorf("chained Export allocates %v times per batch, want 0", allocs)
		}
		_ = e.Shutdown(ctx)
	}
}

// TestChainRestartAfterRotation: when the current file is empty (a crash
// right after a rotation), the chain continues from the last line of
// path.1.
func TestChainRestartAfterRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	opts := []exporter.Option{exporter.WithFile(path), exporter.WithRotation(1<<20, 3), exporter.WithChain(true)}
	exportAll(t, numberedBatch("a", 3), opts...)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	exportAll(t, numberedBatch("b", 2), opts...)
	res, err := integrity.Verify([]string{path, path + ".1"}, integrity.Options{})
	if err != nil || res.Lines != 5 || res.Restarts != 0 {
		t.Fatalf("verify: %+v %v, want 5 lines in one chain", res, err)
	}
}
