package exporter_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

func batchOf(n int) []sdklog.Record {
	records := make([]sdklog.Record, n)
	for i := range records {
		records[i] = clientErrorFactory().NewRecord()
	}
	return records
}

// lines splits JSONL output and checks every line.
func lines(t *testing.T, out []byte) []envelope {
	t.Helper()
	var envs []envelope
	for len(out) > 0 {
		i := bytes.IndexByte(out, '\n')
		if i < 0 {
			t.Fatalf("output ends without a newline: %q", out)
		}
		envs = append(envs, checkLine(t, out[:i+1]))
		out = out[i+1:]
	}
	return envs
}

// countingWriter records each Write call.
type countingWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.buf.Write(p)
}

func (w *countingWriter) snapshot() ([]byte, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Clone(w.buf.Bytes()), w.writes
}

func TestJSONLZeroValue(t *testing.T) {
	ctx := context.Background()
	for name, e := range map[string]*exporter.JSONL{"zero": {}, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			if err := e.Export(ctx, batchOf(2)); err != nil {
				t.Errorf("Export = %v, want nil", err)
			}
			if err := e.ForceFlush(ctx); err != nil {
				t.Errorf("ForceFlush = %v, want nil", err)
			}
			if got := e.Stats(); got != (exporter.Stats{}) {
				t.Errorf("Stats = %+v, want zeros", got)
			}
			if err := e.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown = %v, want nil", err)
			}
		})
	}
}

func TestNewJSONLOptions(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		opts    []exporter.Option
		wantErr []string // substrings of the error; nil = no error
	}{
		{name: "defaults"},
		{name: "writer", opts: []exporter.Option{exporter.WithWriter(io.Discard)}},
		{name: "file", opts: []exporter.Option{exporter.WithFile(filepath.Join(dir, "ok.jsonl"))}},
		{name: "minimum limit", opts: []exporter.Option{exporter.WithMaxRecordBytes(exporter.MinMaxRecordBytes)}},
		{name: "nil option ignored", opts: []exporter.Option{nil}},
		{
			name:    "limit too small",
			opts:    []exporter.Option{exporter.WithMaxRecordBytes(1023)},
			wantErr: []string{"WithMaxRecordBytes", "1023"},
		},
		{
			name:    "negative limit",
			opts:    []exporter.Option{exporter.WithMaxRecordBytes(-1)},
			wantErr: []string{"WithMaxRecordBytes"},
		},
		{
			name:    "nil writer",
			opts:    []exporter.Option{exporter.WithWriter(nil)},
			wantErr: []string{"WithWriter"},
		},
		{
			name:    "empty path",
			opts:    []exporter.Option{exporter.WithFile("")},
			wantErr: []string{"WithFile"},
		},
		{
			name:    "writer and file",
			opts:    []exporter.Option{exporter.WithWriter(io.Discard), exporter.WithFile(filepath.Join(dir, "x.jsonl"))},
			wantErr: []string{"WithWriter", "WithFile"},
		},
		{
			name:    "unopenable file",
			opts:    []exporter.Option{exporter.WithFile(filepath.Join(dir, "missing", "audit.jsonl"))},
			wantErr: []string{"WithFile", filepath.Join(dir, "missing", "audit.jsonl")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := exporter.NewJSONL(tt.opts...)
			if tt.wantErr == nil {
				if err != nil || e == nil {
					t.Fatalf("NewJSONL = %v, %v; want an exporter", e, err)
				}
				if err := e.Shutdown(context.Background()); err != nil {
					t.Fatalf("Shutdown: %v", err)
				}
				return
			}
			if err == nil || e != nil {
				t.Fatalf("NewJSONL = %v, %v; want an error", e, err)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
		})
	}
}

func TestJSONLWithFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.jsonl")

	e, err := exporter.NewJSONL(exporter.WithFile(path))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Export(ctx, batchOf(2)); err != nil {
		t.Fatal(err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm() != 0o600 {
		t.Errorf("file mode = %v, want 0600", info.Mode().Perm())
	}

	// A second exporter appends.
	e, err = exporter.NewJSONL(exporter.WithFile(path))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Export(ctx, batchOf(1)); err != nil {
		t.Fatal(err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown = %v, want nil", err)
	}
	out, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(lines(t, out)); got != 3 {
		t.Fatalf("file holds %d lines, want 3", got)
	}
}

func TestJSONLExportAfterShutdown(t *testing.T) {
	ctx := context.Background()
	w := &countingWriter{}
	e, err := exporter.NewJSONL(exporter.WithWriter(w))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	err = e.Export(ctx, batchOf(1))
	if !errors.Is(err, exporter.ErrShutdown) || !errors.Is(err, sdklog.ErrExporterShutdown) {
		t.Errorf("Export after Shutdown = %v, want ErrShutdown (and sdklog.ErrExporterShutdown)", err)
	}
	if _, writes := w.snapshot(); writes != 0 {
		t.Errorf("%d writes after Shutdown, want 0", writes)
	}
	if err := e.ForceFlush(ctx); err != nil {
		t.Errorf("ForceFlush after Shutdown = %v, want nil", err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown = %v, want nil", err)
	}
}

// TestJSONLOneWritePerExport: a batch is encoded into one buffer and
// written once; every record becomes one line, in order.
func TestJSONLOneWritePerExport(t *testing.T) {
	ctx := context.Background()
	w := &countingWriter{}
	e, err := exporter.NewJSONL(exporter.WithWriter(w))
	if err != nil {
		t.Fatal(err)
	}
	batch := batchOf(5)
	batch[2].SetEventName(semconv.EventLoginFailed)
	if err := e.Export(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := e.Export(ctx, nil); err != nil {
		t.Fatal(err)
	}
	out, writes := w.snapshot()
	if writes != 1 {
		t.Errorf("%d Write calls, want 1", writes)
	}
	envs := lines(t, out)
	if len(envs) != 5 || envs[2].EventName != semconv.EventLoginFailed {
		t.Errorf("got %d lines (third %q), want 5 in order", len(envs), envs[min(2, len(envs)-1)].EventName)
	}
	if got := e.Stats(); got != (exporter.Stats{Records: 5}) {
		t.Errorf("Stats = %+v, want 5 records", got)
	}
}

func TestJSONLMalformedCounted(t *testing.T) {
	var out bytes.Buffer
	e, err := exporter.NewJSONL(exporter.WithWriter(&out))
	if err != nil {
		t.Fatal(err)
	}
	batch := batchOf(3)
	batch[1].AddAttributes(attribute.Float64("audit.test.nan", math.NaN()))
	if err := e.Export(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	envs := lines(t, out.Bytes())
	if len(envs) != 3 || envs[1].EventName != semconv.EventMalformedRecord || envs[2].EventName != semconv.EventHTTPResponseClientError {
		t.Fatalf("lines = %+v, want the second one malformed", envs)
	}
	if got := e.Stats(); got != (exporter.Stats{Records: 3, Malformed: 1}) {
		t.Errorf("Stats = %+v, want 3 records, 1 malformed", got)
	}
}

var errBoom = errors.New("disk on fire")

type failingWriter struct{ short bool }

func (w failingWriter) Write(p []byte) (int, error) {
	if w.short {
		return len(p) / 2, nil
	}
	return 0, errBoom
}

func TestJSONLWriteErrors(t *testing.T) {
	tests := []struct {
		name string
		w    io.Writer
		want error
	}{
		{name: "error", w: failingWriter{}, want: errBoom},
		{name: "short write", w: failingWriter{short: true}, want: io.ErrShortWrite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := exporter.NewJSONL(exporter.WithWriter(tt.w))
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := e.Export(context.Background(), batchOf(3)); !errors.Is(err, tt.want) {
					t.Fatalf("Export = %v, want %v", err, tt.want)
				}
			}
			if got := e.Stats(); got != (exporter.Stats{WriteErrors: 2}) {
				t.Errorf("Stats = %+v, want 2 write errors and no records", got)
			}
		})
	}
}

// cancelAfter is a context whose Err reports Canceled from the n+1-th call.
type cancelAfter struct {
	context.Context
	mu    sync.Mutex
	calls int
	n     int
}

func (c *cancelAfter) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.calls > c.n {
		return context.Canceled
	}
	return nil
}

func TestJSONLContextCancelled(t *testing.T) {
	tests := []struct {
		name      string
		ctx       func() context.Context
		wantLines int
	}{
		{
			name: "before export",
			ctx: func() context.Context {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx
			},
			wantLines: 0,
		},
		{
			name:      "between records",
			ctx:       func() context.Context { return &cancelAfter{Context: context.Background(), n: 2} },
			wantLines: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &countingWriter{}
			e, err := exporter.NewJSONL(exporter.WithWriter(w))
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Export(tt.ctx(), batchOf(5)); !errors.Is(err, context.Canceled) {
				t.Fatalf("Export = %v, want context.Canceled", err)
			}
			out, _ := w.snapshot()
			if got := len(lines(t, out)); got != tt.wantLines {
				t.Errorf("%d lines written, want %d", got, tt.wantLines)
			}
			if got := e.Stats().Records; got != uint64(tt.wantLines) {
				t.Errorf("Stats.Records = %d, want %d", got, tt.wantLines)
			}
		})
	}
}

// flushRecorder is a buffered writer that counts flushes.
type flushRecorder struct {
	*bufio.Writer
	flushes int
}

func (f *flushRecorder) Flush() error {
	f.flushes++
	return f.Writer.Flush()
}

func TestJSONLFlushesBufferedWriter(t *testing.T) {
	ctx := context.Background()
	var out bytes.Buffer
	bw := &flushRecorder{Writer: bufio.NewWriterSize(&out, 1<<16)}
	e, err := exporter.NewJSONL(exporter.WithWriter(bw))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Export(ctx, batchOf(2)); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Fatalf("%d bytes reached the underlying writer before a flush", out.Len())
	}
	if err := e.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(lines(t, out.Bytes())); got != 2 || bw.flushes != 1 {
		t.Fatalf("after ForceFlush: %d lines, %d flushes; want 2, 1", got, bw.flushes)
	}
	if err := e.Export(ctx, batchOf(1)); err != nil {
		t.Fatal(err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(lines(t, out.Bytes())); got != 3 || bw.flushes != 2 {
		t.Fatalf("after Shutdown: %d lines, %d flushes; want 3, 2", got, bw.flushes)
	}
}

// blockingWriter blocks every Write until release is closed.
type blockingWriter struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	<-w.release
	return len(p), nil
}

func (w *blockingWriter) Flush() error { return nil }

// TestJSONLShutdownHonoursContext: Shutdown waits for an in-flight Export
// only until its context ends; a later Shutdown completes.
func TestJSONLShutdownHonoursContext(t *testing.T) {
	w := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	e, err := exporter.NewJSONL(exporter.WithWriter(w))
	if err != nil {
		t.Fatal(err)
	}
	exported := make(chan error, 1)
	go func() { exported <- e.Export(context.Background(), batchOf(1)) }()
	<-w.entered

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := e.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown during a blocked write = %v, want DeadlineExceeded", err)
	}
	if err := e.ForceFlush(ctx); err != nil {
		t.Errorf("ForceFlush after Shutdown began = %v, want nil", err)
	}
	if err := e.Export(context.Background(), batchOf(1)); !errors.Is(err, exporter.ErrShutdown) {
		t.Errorf("Export after Shutdown began = %v, want ErrShutdown", err)
	}

	close(w.release)
	if err := <-exported; err != nil {
		t.Errorf("in-flight Export = %v, want nil", err)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown = %v, want nil", err)
	}
}

// TestJSONLExportConcurrentSafe: concurrent Export, ForceFlush, Stats and a
// final Shutdown; every batch arrives whole (one Write, complete lines).
func TestJSONLExportConcurrentSafe(t *testing.T) {
	const goroutines, exportsEach, batch = 8, 25, 4
	running := testsupport.Snapshot()
	w := &countingWriter{}
	e, err := exporter.NewJSONL(exporter.WithWriter(w))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			records := batchOf(batch)
			for range exportsEach {
				if err := e.Export(ctx, records); err != nil {
					t.Errorf("Export: %v", err)
					return
				}
				_ = e.Stats()
				if err := e.ForceFlush(ctx); err != nil {
					t.Errorf("ForceFlush: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	out, writes := w.snapshot()
	const total = goroutines * exportsEach * batch
	if writes != goroutines*exportsEach {
		t.Errorf("%d writes, want %d", writes, goroutines*exportsEach)
	}
	if got := len(lines(t, out)); got != total {
		t.Errorf("%d lines, want %d", got, total)
	}
	if got := e.Stats(); got != (exporter.Stats{Records: total}) {
		t.Errorf("Stats = %+v, want %d records", got, total)
	}
	running.Check(t)
}

// TestJSONLExportAllocs locks in zero allocations per Export of realistic
// records once the buffer has grown.
func TestJSONLExportAllocs(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts are not meaningful under -race")
	}
	e, err := exporter.NewJSONL(exporter.WithWriter(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	records := batchOf(16)
	if allocs := testing.AllocsPerRun(100, func() {
		if err := e.Export(ctx, records); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("Export allocates %v times per batch, want 0", allocs)
	}

	rec := clientErrorFactory().NewRecord()
	buf := make([]byte, 0, 4096)
	if allocs := testing.AllocsPerRun(100, func() {
		buf = exporter.AppendRecord(buf[:0], &rec, 0)
	}); allocs != 0 {
		t.Errorf("AppendRecord allocates %v times per record, want 0", allocs)
	}
}

// TestJSONLMatchesAppendRecord: Export reuses the encoded resource and scope
// between records; its lines must equal AppendRecord's for a batch whose
// records change resource and scope (and one whose resource cannot be
// encoded), including the records right after each change.
func TestJSONLMatchesAppendRecord(t *testing.T) {
	otherResource := resource.NewSchemaless(semconv.ServiceNameKey.String("billing"))
	badResource := resource.NewSchemaless(semconv.ServiceNameKey.String("shop"), attribute.Float64("host.load", math.NaN()))
	otherScope := &instrumentation.Scope{Name: "github.com/secaudit/secaudit/instrumentation", Version: "0.1.0"}
	newerScope := &instrumentation.Scope{Name: auditScope.Name, Version: "0.2.0"}

	var batch []sdklog.Record
	for _, v := range []struct {
		res   *resource.Resource
		scope *instrumentation.Scope
	}{
		{shopResource, auditScope}, {shopResource, auditScope},
		{otherResource, auditScope}, {shopResource, auditScope},
		{shopResource, newerScope}, {shopResource, auditScope}, {shopResource, otherScope}, {shopResource, nil},
		{nil, nil}, {badResource, auditScope}, {badResource, auditScope}, {shopResource, auditScope},
	} {
		f := clientErrorFactory()
		f.Resource, f.InstrumentationScope = v.res, v.scope
		batch = append(batch, f.NewRecord())
	}

	var want []byte
	for i := range batch {
		want = exporter.AppendRecord(want, &batch[i], 0)
	}
	var out bytes.Buffer
	e, err := exporter.NewJSONL(exporter.WithWriter(&out))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second Export starts with a warm cache
		out.Reset()
		if err := e.Export(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("Export output differs from AppendRecord:\ngot:\n%s\nwant:\n%s", out.Bytes(), want)
		}
	}
	if got := e.Stats().Malformed; got != 4 {
		t.Errorf("Stats.Malformed = %d, want 4 (two bad-resource records, twice)", got)
	}
}
