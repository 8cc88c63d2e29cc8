package exporter_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// numberedBatch returns n client_error records whose audit.request_id is
// "<prefix>-<i>", so that every line can be traced back to its record.
func numberedBatch(prefix string, n int) []sdklog.Record {
	records := make([]sdklog.Record, n)
	for i := range records {
		f := clientErrorFactory()
		f.Attributes = append(clientErrorAttributes()[:0:0], clientErrorAttributes()...)
		f.Attributes[1] = semconv.AuditRequestIDKey.String(fmt.Sprintf("%s-%d", prefix, i))
		records[i] = f.NewRecord()
	}
	return records
}

// rotatedFiles returns path's backups, oldest first, then path itself.
func rotatedFiles(t *testing.T, path string) []string {
	t.Helper()
	var files []string
	for i := 1; ; i++ {
		name := fmt.Sprintf("%s.%d", path, i)
		if _, err := os.Stat(name); err != nil {
			break
		}
		files = append(files, name)
	}
	slices.Reverse(files)
	return append(files, path)
}

// readLines checks every line of every file and returns the request ids in
// file order, and the largest file size.
func readLines(t *testing.T, files []string) (ids []string, largest int64) {
	t.Helper()
	for _, name := range files {
		out, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, int64(len(out)))
		for _, env := range lines(t, out) {
			id, _ := env.Attributes[string(semconv.AuditRequestIDKey)].(string)
			ids = append(ids, id)
		}
	}
	return ids, largest
}

// TestJSONLRotationConcurrentWriters: concurrent Exports into a file that
// rotates every few kilobytes. Every line is whole and parseable, every
// record is written exactly once, no file exceeds the limit, and the count
// of backups matches Stats.Rotations.
func TestJSONLRotationConcurrentWriters(t *testing.T) {
	const (
		writers, exportsEach, batch = 8, 30, 3
		maxBytes                    = 8 << 10
	)
	goroutines := testsupport.Snapshot()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	e, err := exporter.NewJSONL(exporter.WithFile(path), exporter.WithRotation(maxBytes, exporter.MaxRotationKeep))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for x := range exportsEach {
				if err := e.Export(ctx, numberedBatch(fmt.Sprintf("w%d.x%d", w, x), batch)); err != nil {
					t.Errorf("Export: %v", err)
					return
				}
			}
		})
	}
	// ForceFlush beside rotating Exports (a provider's flush can come at
	// any time).
	wg.Go(func() {
		for range writers * exportsEach {
			if err := e.ForceFlush(ctx); err != nil {
				t.Errorf("ForceFlush: %v", err)
				return
			}
		}
	})
	wg.Wait()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	files := rotatedFiles(t, path)
	ids, largest := readLines(t, files)
	const total = writers * exportsEach * batch
	if len(ids) != total {
		t.Fatalf("%d lines in %d files, want %d", len(ids), len(files), total)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("request id %q written twice", id)
		}
		seen[id] = true
	}
	if largest > maxBytes {
		t.Errorf("a file holds %d bytes, over the %d limit", largest, maxBytes)
	}
	st := e.Stats()
	if st.Rotations == 0 || st.Rotations != uint64(len(files)-1) {
		t.Errorf("Stats.Rotations = %d with %d backups on disk; want equal and non-zero", st.Rotations, len(files)-1)
	}
	if st.Records != total || st.RotateErrors != 0 || st.WriteErrors != 0 {
		t.Errorf("Stats = %+v, want %d records and no errors", st, total)
	}
	goroutines.Check(t)
}

// TestJSONLRotationRetention: only keep backups survive, newest in path.1,
// and the lines stay in order across files.
func TestJSONLRotationRetention(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	line := len(exporter.AppendRecord(nil, &numberedBatch("x-00", 1)[0], 0))
	e, err := exporter.NewJSONL(exporter.WithFile(path), exporter.WithRotation(int64(2*line), 2))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 10 { // one record per Export, two per file
		if err := e.Export(ctx, numberedBatch(fmt.Sprintf("x-%02d", i), 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".3"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s.3 exists (err %v); keep is 2", path, err)
	}
	ids, _ := readLines(t, rotatedFiles(t, path))
	want := []string{"x-04-0", "x-05-0", "x-06-0", "x-07-0", "x-08-0", "x-09-0"}
	if !slices.Equal(ids, want) {
		t.Errorf("surviving lines = %q, want %q", ids, want)
	}
	if got := e.Stats().Rotations; got != 4 {
		t.Errorf("Stats.Rotations = %d, want 4", got)
	}
}

// TestJSONLRotationWithinBatch: one batch larger than the limit is spread
// over several files at line boundaries, and a line larger than the limit
// is written alone, whole.
func TestJSONLRotationWithinBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	records := numberedBatch("b", 7)
	line := len(exporter.AppendRecord(nil, &records[0], 0))
	huge := numberedBatch("huge", 1)[0]
	huge.AddAttributes(semconv.UserAgentOriginalKey.String(strings.Repeat("A", 3*line)))
	records = slices.Insert(records, 3, huge)

	e, err := exporter.NewJSONL(exporter.WithFile(path), exporter.WithRotation(int64(2*line+line/2), 100))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Export(context.Background(), records); err != nil {
		t.Fatal(err)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	files := rotatedFiles(t, path)
	var perFile []int
	var ids []string
	for _, name := range files {
		got, _ := readLines(t, []string{name})
		perFile = append(perFile, len(got))
		ids = append(ids, got...)
	}
	wantIDs := []string{"b-0", "b-1", "b-2", "huge-0", "b-3", "b-4", "b-5", "b-6"}
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("lines in order = %q, want %q", ids, wantIDs)
	}
	// 2 | 1 (b-2 does not fit after b-0, b-1) | huge alone | 2 | 2
	if want := []int{2, 1, 1, 2, 2}; !slices.Equal(perFile, want) {
		t.Errorf("lines per file = %v, want %v", perFile, want)
	}
}

// TestJSONLRotationFailureKeepsWriting: when rotation fails (here the
// backup name is taken by a non-empty directory, which even root cannot
// remove with os.Remove), the error is counted and every line still lands
// in the current file.
func TestJSONLRotationFailureKeepsWriting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.MkdirAll(filepath.Join(path+".1", "occupied"), 0o700); err != nil {
		t.Fatal(err)
	}
	line := len(exporter.AppendRecord(nil, &numberedBatch("r", 1)[0], 0))
	e, err := exporter.NewJSONL(exporter.WithFile(path), exporter.WithRotation(int64(line), 1))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := e.Export(context.Background(), numberedBatch(fmt.Sprintf("r%d", i), 1)); err != nil {
			t.Fatalf("Export %d = %v; a failed rotation must not fail the export", i, err)
		}
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := e.Stats()
	if st.RotateErrors != 2 || st.Rotations != 0 || st.Records != 3 {
		t.Errorf("Stats = %+v, want 2 rotate errors, 0 rotations, 3 records", st)
	}
	if ids, _ := readLines(t, []string{path}); len(ids) != 3 {
		t.Errorf("%s holds %d lines, want 3", path, len(ids))
	}
}

// TestJSONLDiskFull: writes to a full device fail with ENOSPC, are
// returned and counted; nothing crashes.
func TestJSONLDiskFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		if runtime.GOOS == "linux" { // every Linux system has it: a missing one is a broken test machine
			t.Fatalf("/dev/full: %v", err)
		}
		t.Skip("no /dev/full on this system")
	}
	e, err := exporter.NewJSONL(exporter.WithFile("/dev/full"), exporter.WithRotation(1<<20, 1))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := e.Export(context.Background(), batchOf(3)); !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Export = %v, want ENOSPC", err)
		}
	}
	if got := e.Stats(); got.WriteErrors != 2 || got.Records != 0 {
		t.Errorf("Stats = %+v, want 2 write errors and no records", got)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
}

// TestJSONLFsyncPolicies uses /dev/null, which accepts writes but refuses
// fsync (EINVAL): each sync attempt is visible as a sync error.
func TestJSONLFsyncPolicies(t *testing.T) {
	if _, err := os.Stat("/dev/null"); err != nil || runtime.GOOS == "windows" {
		if runtime.GOOS == "linux" {
			t.Fatalf("/dev/null: %v", err)
		}
		t.Skip("no /dev/null")
	}
	ctx := context.Background()
	t.Run("always", func(t *testing.T) {
		e, err := exporter.NewJSONL(exporter.WithFile("/dev/null"), exporter.WithFsync(exporter.FsyncAlways))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Export(ctx, batchOf(2)); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("Export = %v, want the sync error", err)
		}
		if got := e.Stats(); got.SyncErrors != 1 || got.Records != 2 {
			t.Errorf("Stats = %+v, want 2 records written and 1 sync error", got)
		}
		_ = e.Shutdown(ctx)
	})
	t.Run("never", func(t *testing.T) {
		e, err := exporter.NewJSONL(exporter.WithFile("/dev/null"))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Export(ctx, batchOf(2)); err != nil {
			t.Errorf("Export = %v", err)
		}
		if err := e.ForceFlush(ctx); err != nil {
			t.Errorf("ForceFlush = %v", err)
		}
		if err := e.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown = %v", err)
		}
		if got := e.Stats().SyncErrors; got != 0 {
			t.Errorf("Stats.SyncErrors = %d, want 0", got)
		}
	})
	t.Run("interval timer", func(t *testing.T) {
		goroutines := testsupport.Snapshot()
		e, err := exporter.NewJSONL(exporter.WithFile("/dev/null"), exporter.WithFsync(exporter.FsyncInterval(5*time.Millisecond)))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Export(ctx, batchOf(2)); err != nil {
			t.Fatalf("Export = %v; interval syncs happen later", err)
		}
		if err := e.Export(ctx, batchOf(1)); err != nil {
			t.Fatalf("Export = %v", err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for e.Stats().SyncErrors == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond) // room for a (wrong) second sync
		if got := e.Stats().SyncErrors; got != 1 {
			t.Fatalf("after the interval: %d sync attempts failed, want 1 for both writes", got)
		}
		if err := e.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown with nothing unsynced = %v", err)
		}
		goroutines.Check(t)
	})
	t.Run("interval flush and shutdown", func(t *testing.T) {
		e, err := exporter.NewJSONL(exporter.WithFile("/dev/null"), exporter.WithFsync(exporter.FsyncInterval(time.Hour)))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.ForceFlush(ctx); err != nil {
			t.Errorf("ForceFlush with nothing written = %v", err)
		}
		if err := e.Export(ctx, batchOf(1)); err != nil {
			t.Fatal(err)
		}
		if err := e.ForceFlush(ctx); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("ForceFlush with an unsynced write = %v, want the sync error", err)
		}
		if err := e.ForceFlush(ctx); err != nil {
			t.Errorf("second ForceFlush = %v; a failed sync is not retried", err)
		}
		if err := e.Export(ctx, batchOf(1)); err != nil {
			t.Fatal(err)
		}
		if err := e.Shutdown(ctx); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("Shutdown with an unsynced write = %v, want the sync error", err)
		}
		if got := e.Stats().SyncErrors; got != 2 {
			t.Errorf("Stats.SyncErrors = %d, want 2", got)
		}
	})
}

func TestParseFsyncPolicy(t *testing.T) {
	tests := []struct {
		in      string
		want    exporter.FsyncPolicy
		wantErr bool
	}{
		{in: "never", want: exporter.FsyncNever},
		{in: "", want: exporter.FsyncNever},
		{in: " ALWAYS ", want: exporter.FsyncAlways},
		{in: "250ms", want: exporter.FsyncInterval(250 * time.Millisecond)},
		{in: "0s", wantErr: true},
		{in: "-1s", wantErr: true},
		{in: "sometimes", wantErr: true},
	}
	for _, tt := range tests {
		got, err := exporter.ParseFsyncPolicy(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseFsyncPolicy(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err == nil {
			if back, _ := exporter.ParseFsyncPolicy(got.String()); back != got {
				t.Errorf("round trip of %q via %q = %v", tt.in, got.String(), back)
			}
		}
	}
}

func TestFileOptionsValidation(t *testing.T) {
	dir := t.TempDir()
	file := exporter.WithFile(filepath.Join(dir, "audit.jsonl"))
	tests := []struct {
		name    string
		opts    []exporter.Option
		wantErr []string
	}{
		{name: "rotation", opts: []exporter.Option{file, exporter.WithRotation(1<<20, 5)}},
		{name: "fsync interval", opts: []exporter.Option{file, exporter.WithFsync(exporter.FsyncInterval(time.Second))}},
		{name: "fsync never on a writer", opts: []exporter.Option{exporter.WithWriter(&bytes.Buffer{}), exporter.WithFsync(exporter.FsyncNever)}},
		{name: "rotation without file", opts: []exporter.Option{exporter.WithRotation(1<<20, 5)}, wantErr: []string{"secaudit: WithRotation(1048576, 5): want WithFile too"}},
		{name: "rotation zero bytes", opts: []exporter.Option{file, exporter.WithRotation(0, 5)}, wantErr: []string{"secaudit: WithRotation(0, 5): want maxBytes >= 1 and keep from 1 to 1000"}},
		{name: "rotation keep 0", opts: []exporter.Option{file, exporter.WithRotation(1<<20, 0)}, wantErr: []string{"secaudit: WithRotation(1048576, 0): want maxBytes >= 1 and keep from 1 to 1000"}},
		{name: "rotation keep too many", opts: []exporter.Option{file, exporter.WithRotation(1<<20, exporter.MaxRotationKeep+1)}, wantErr: []string{"secaudit: WithRotation(1048576, 1001): want maxBytes >= 1 and keep from 1 to 1000"}},
		{name: "fsync without file", opts: []exporter.Option{exporter.WithFsync(exporter.FsyncAlways)}, wantErr: []string{"secaudit: WithFsync(always): want WithFile too"}},
		{name: "fsync zero interval", opts: []exporter.Option{file, exporter.WithFsync(exporter.FsyncInterval(0))}, wantErr: []string{"secaudit: WithFsync(0s): want never, always or a positive interval"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := exporter.NewJSONL(tt.opts...)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("NewJSONL: %v", err)
				}
				_ = e.Shutdown(context.Background())
				return
			}
			if err == nil {
				_ = e.Shutdown(context.Background())
				t.Fatal("NewJSONL succeeded, want an error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
		})
	}
}

// TestJSONLFileExportAllocs: the file sink with rotation on adds no
// allocation to an Export that does not rotate.
func TestJSONLFileExportAllocs(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts are not meaningful under -race")
	}
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	e, err := exporter.NewJSONL(exporter.WithFile(path), exporter.WithRotation(1<<40, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Shutdown(context.Background()) }()
	ctx := context.Background()
	records := batchOf(16)
	if allocs := testing.AllocsPerRun(50, func() {
		if err := e.Export(ctx, records); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("Export to a rotating file allocates %v times per batch, want 0", allocs)
	}
}
