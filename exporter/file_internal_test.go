package exporter

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/log/logtest"
)

// TestFileSinkCutsTornLine: after a write that failed part-way, the file is
// cut back to its last complete line.
func TestFileSinkCutsTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s, err := openFileSink(resolved{path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.close() }()
	write := func(p string) int {
		n, err := s.f.Write([]byte(p))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	s.wrote(write("{\"a\":1}\n"), nil)
	s.wrote(write("{\"b\":"), errors.New("no space left on device")) // torn
	s.wrote(write("{\"c\":3}\n"), nil)

	out, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\"a\":1}\n{\"c\":3}\n"; string(out) != want {
		t.Errorf("file = %q, want %q", out, want)
	}
	if s.size != int64(len(out)) {
		t.Errorf("tracked size %d, file size %d", s.size, len(out))
	}
}

// TestIntervalSyncOutsideTheLock: while the FsyncInterval timer's fsync is
// in flight, Export still writes and no second sync starts; a line written
// during the sync leaves the file dirty, and it is synced once the first
// sync has returned.
func TestIntervalSyncOutsideTheLock(t *testing.T) {
	// entered never blocks a sync: a blocked one would outlive the test.
	entered, release := make(chan struct{}, 1), make(chan struct{})
	var synced atomic.Int32
	fileSync = func(f *os.File) error {
		synced.Add(1)
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		return f.Sync()
	}
	t.Cleanup(func() { fileSync = (*os.File).Sync })

	path := filepath.Join(t.TempDir(), "audit.jsonl")
	e, err := NewJSONL(WithFile(path), WithFsync(FsyncInterval(time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	rec := logtest.RecordFactory{EventName: "http.response.client_error", Body: attribute.StringValue("x")}.NewRecord()
	ctx := context.Background()
	if err := e.Export(ctx, []sdklog.Record{rec}); err != nil {
		t.Fatal(err)
	}
	<-entered // the timer's sync is in flight
	done := make(chan error, 1)
	go func() { done <- e.Export(ctx, []sdklog.Record{rec}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Export waited for the fsync")
	}
	// The timer fires many times while the disk is stuck: one sync at a
	// time, not one more per tick.
	time.Sleep(20 * time.Millisecond)
	if n := synced.Load(); n != 1 {
		t.Fatalf("%d syncs started while the first was still running", n)
	}
	close(release)
	// The second line was written during the sync: the file stays dirty
	// and the timer syncs again.
	deadline := time.Now().Add(5 * time.Second)
	for synced.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the line written during the sync was never synced")
		}
		select {
		case <-entered:
		case <-time.After(time.Millisecond):
		}
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if st := e.Stats(); st.SyncErrors != 0 || st.Records != 2 {
		t.Fatalf("stats %+v", st)
	}
}
