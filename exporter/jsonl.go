package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// ErrShutdown is returned by [JSONL.Export] after [JSONL.Shutdown]. It wraps
// [sdklog.ErrExporterShutdown], so errors.Is matches either.
var ErrShutdown = fmt.Errorf("exporter: JSONL: %w", sdklog.ErrExporterShutdown)

// maxRetainedBuffer is the largest encode buffer kept between exports; a
// batch that needed more gives its buffer back to the garbage collector.
const maxRetainedBuffer = 4 << 20

// JSONL is an [sdklog.Exporter] that writes each record as one line of JSON
// (the envelope described in the package documentation). Create it with
// [NewJSONL].
//
// All methods are safe for concurrent use. The zero value (and a nil
// *JSONL) is a harmless no-op: Export writes nothing and returns nil.
type JSONL struct {
	w              io.Writer
	file           *os.File // owned: closed by Shutdown
	maxRecordBytes int

	stopped atomic.Bool

	mu     sync.Mutex // guards buf, origin, closed and writes to w
	buf    []byte
	origin originCache
	closed bool

	records     atomic.Uint64
	malformed   atomic.Uint64
	writeErrors atomic.Uint64
}

var _ sdklog.Exporter = (*JSONL)(nil)

// Stats are the exporter's counters since it was created.
type Stats struct {
	// Records is the number of lines written (malformed_record lines
	// included).
	Records uint64
	// Malformed is the number of records replaced by an
	// audit.logging.malformed_record line because they held a value JSON
	// cannot represent or exceeded the record limit.
	Malformed uint64
	// WriteErrors is the number of failed writes; each loses the whole batch
	// of its Export call.
	WriteErrors uint64
}

// NewJSONL returns a JSONL exporter writing to [os.Stdout], or to the writer
// or file an option names. It returns an error naming the option when an
// option is invalid or the file cannot be opened.
func NewJSONL(opts ...Option) (*JSONL, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	e := &JSONL{w: cfg.writer, maxRecordBytes: cfg.maxRecordBytes}
	if cfg.pathSet {
		f, err := os.OpenFile(cfg.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("exporter: WithFile %q: %w", cfg.path, err)
		}
		e.w, e.file = f, f
	}
	return e, nil
}

// Export encodes records into one buffer and writes it with a single Write
// call, so the lines of one batch are never interleaved with another's. A
// record that cannot be encoded, or is larger than the record limit, is
// written as an audit.logging.malformed_record line instead; it is not an
// error.
//
// Export is safe to call concurrently (calls are serialised) and blocks for
// as long as the writer does. It checks ctx before each record: when ctx is
// done, the lines encoded so far are written and ctx's error is returned.
// A write error is returned wrapped and counted in [Stats].WriteErrors.
// After Shutdown, Export writes nothing and returns [ErrShutdown].
func (e *JSONL) Export(ctx context.Context, records []sdklog.Record) error {
	if e == nil {
		return nil
	}
	if e.stopped.Load() {
		return ErrShutdown
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.stopped.Load() {
		return ErrShutdown
	}
	if e.w == nil || len(records) == 0 {
		return nil
	}

	buf := e.buf[:0]
	var ctxErr error
	var lines, malformed uint64
	for i := range records {
		if ctxErr = ctx.Err(); ctxErr != nil {
			break
		}
		var bad bool
		buf, bad = appendRecord(buf, &records[i], e.maxRecordBytes, &e.origin)
		lines++
		if bad {
			malformed++
		}
	}
	if malformed > 0 {
		e.malformed.Add(malformed)
	}

	var writeErr error
	if len(buf) > 0 {
		n, err := e.w.Write(buf)
		if err == nil && n < len(buf) {
			err = io.ErrShortWrite
		}
		if err != nil {
			e.writeErrors.Add(1)
			writeErr = fmt.Errorf("exporter: JSONL: writing %d records: %w", lines, err)
		} else {
			e.records.Add(lines)
		}
	}

	if cap(buf) <= maxRetainedBuffer {
		e.buf = buf[:0]
	} else {
		e.buf = nil
	}
	if writeErr != nil {
		return writeErr
	}
	return ctxErr
}

// flusher is implemented by buffered writers such as *bufio.Writer.
type flusher interface {
	Flush() error
}

// ForceFlush flushes the writer when it has a Flush() error method (a
// *bufio.Writer passed to [WithWriter]); otherwise there is nothing to flush,
// since Export writes synchronously, and it returns nil. It waits for an
// in-flight Export unless ctx is done first, and is a no-op after Shutdown.
// Safe for concurrent use.
func (e *JSONL) ForceFlush(ctx context.Context) error {
	if e == nil || e.stopped.Load() {
		return nil
	}
	if _, ok := e.w.(flusher); !ok {
		return nil
	}
	if err := e.lock(ctx); err != nil {
		return err
	}
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	return e.flush()
}

// Shutdown stops the exporter: later Exports return [ErrShutdown]. It waits
// for an in-flight Export (or until ctx is done, returning ctx's error; a
// later Shutdown call then completes the job), flushes a buffered writer
// and closes the file opened by [WithFile]; a writer given to [WithWriter]
// is never closed. Calling it again returns nil. Safe for concurrent use.
func (e *JSONL) Shutdown(ctx context.Context) error {
	if e == nil {
		return nil
	}
	e.stopped.Store(true)
	if err := e.lock(ctx); err != nil {
		return err
	}
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	e.buf, e.origin = nil, originCache{}
	err := e.flush()
	if e.file != nil {
		if cerr := e.file.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("exporter: JSONL: closing %s: %w", e.file.Name(), cerr))
		}
	}
	return err
}

// Stats returns the exporter's counters. Safe for concurrent use; the zero
// value reports zeros.
func (e *JSONL) Stats() Stats {
	if e == nil {
		return Stats{}
	}
	return Stats{
		Records:     e.records.Load(),
		Malformed:   e.malformed.Load(),
		WriteErrors: e.writeErrors.Load(),
	}
}

// flush flushes a buffered writer; e.mu must be held.
func (e *JSONL) flush() error {
	f, ok := e.w.(flusher)
	if !ok {
		return nil
	}
	if err := f.Flush(); err != nil {
		return fmt.Errorf("exporter: JSONL: flushing: %w", err)
	}
	return nil
}

// lock acquires e.mu, giving up with ctx's error when ctx is done first.
// Exports hold the lock only while encoding and writing one batch, so the
// uncontended path is a single TryLock.
func (e *JSONL) lock(ctx context.Context) error {
	if e.mu.TryLock() {
		return nil
	}
	ticker := time.NewTicker(time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
			if e.mu.TryLock() {
				return nil
			}
		}
	}
}
