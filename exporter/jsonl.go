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

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/integrity"
)

// ErrShutdown is returned by [JSONL.Export] after [JSONL.Shutdown]. It wraps
// [sdklog.ErrExporterShutdown], so errors.Is matches either.
var ErrShutdown = fmt.Errorf("exporter: JSONL: %w", sdklog.ErrExporterShutdown)

// maxRetainedBuffer is the largest encode buffer kept between exports; a
// batch that needed more gives its buffer back to the garbage collector.
const maxRetainedBuffer = 4 << 20

// maxRetainedAttributes is the largest attribute slice kept between
// exports.
const maxRetainedAttributes = 256

// JSONL is an [sdklog.Exporter] that writes each record as one line of JSON
// (the envelope described in the package documentation). Create it with
// [NewJSONL].
//
// All methods are safe for concurrent use. The zero value (and a nil
// *JSONL) is a harmless no-op: Export writes nothing and returns nil.
type JSONL struct {
	w              io.Writer
	file           *fileSink // owned: closed by Shutdown; w is its *os.File
	maxRecordBytes int
	buffered       bool // w has a Flush method: fixed at construction (a file sink has none)

	stopped atomic.Bool

	chain *chain // WithChain; nil without

	mu     sync.Mutex // guards w, file, chain, buf, attrs, origin, closed and writes to w
	buf    []byte
	attrs  []attribute.KeyValue // one record's attributes (see gather); cleared after each batch
	origin originCache
	closed bool

	records      atomic.Uint64
	malformed    atomic.Uint64
	writeErrors  atomic.Uint64
	rotations    atomic.Uint64
	rotateErrors atomic.Uint64
	syncErrors   atomic.Uint64
	cpErrors     atomic.Uint64
	checkpoints  atomic.Uint64
}

var _ sdklog.Exporter = (*JSONL)(nil)

// Stats are the exporter's counters since it was created.
type Stats struct {
	// Records is the number of lines written (malformed_record lines
	// included).
	Records uint64 `json:"records"`
	// Malformed is the number of records replaced by an
	// audit.logging.malformed_record line because they held a value JSON
	// cannot represent or exceeded the record limit.
	Malformed uint64 `json:"malformed"`
	// WriteErrors is the number of failed writes (disk full, permissions,
	// a closed pipe); each fails its Export call, which returns the error,
	// and loses the lines of that write. A file written with [WithFile] is
	// cut back after a failed write, so it holds no torn line.
	WriteErrors uint64 `json:"write_errors"`
	// Rotations is the number of times the file was rotated ([WithRotation]).
	Rotations uint64 `json:"rotations"`
	// RotateErrors is the number of rotations that failed; writing went on
	// in the current file.
	RotateErrors uint64 `json:"rotate_errors"`
	// SyncErrors is the number of failed fsyncs ([WithFsync]).
	SyncErrors uint64 `json:"sync_errors"`
	// Checkpoints is the number of signed checkpoints written
	// ([WithSigningKey]).
	Checkpoints uint64 `json:"checkpoints,omitempty"`
	// CheckpointErrors is the number of checkpoints that could not be
	// written; each is also reported through otel.Handle.
	CheckpointErrors uint64 `json:"checkpoint_errors,omitempty"`
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
	if cfg.path != "" {
		sink, err := openFileSink(cfg)
		if err != nil {
			return nil, fmt.Errorf("exporter: WithFile: %w", err) // err names the path
		}
		sink.tick = e.syncTick
		e.w, e.file = sink.f, sink
	}
	_, e.buffered = e.w.(flusher)
	if cfg.chain {
		if err := e.startChain(cfg); err != nil {
			if e.file != nil {
				_ = e.file.close()
			}
			return nil, err
		}
	}
	return e, nil
}

// startChain sets up the chain: from the end of the file (a restart), and
// the checkpoints file when signing.
func (e *JSONL) startChain(cfg resolved) error {
	c := &chain{now: cfg.now, signer: cfg.signer, interval: cfg.cpInterval, path: cfg.path}
	e.chain = c
	if e.file == nil {
		return nil
	}
	backup := ""
	if len(e.file.backups) > 0 {
		backup = e.file.backups[0]
	}
	restart, err := c.restart(cfg.path, backup)
	if err != nil {
		return fmt.Errorf("exporter: WithChain: reading the end of %s: %w", cfg.path, err)
	}
	if c.signer != nil {
		side := cfg.path + integrity.CheckpointSuffix
		f, err := os.OpenFile(side, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("exporter: WithSigningKey: %w", err)
		}
		c.sidecar = f
		c.lastCP = c.now()
	}
	if len(restart) > 0 {
		e.mu.Lock()
		defer e.mu.Unlock()
		if err := e.write(restart, 1); err != nil {
			return err
		}
		c.written = c.cur
		e.checkpoint(integrity.CheckpointRestart)
	}
	return nil
}

// checkpoint writes a checkpoint, counting and reporting a failure; e.mu
// must be held.
func (e *JSONL) checkpoint(reason string) {
	if e.chain == nil || e.chain.signer == nil {
		return
	}
	wrote, err := e.chain.checkpoint(reason)
	if err != nil {
		e.cpErrors.Add(1)
		otel.Handle(err)
		return
	}
	if !wrote {
		return
	}
	e.checkpoints.Add(1)
	if e.file != nil && e.file.fsync != FsyncNever && e.chain.sidecar != nil {
		if err := e.chain.sidecar.Sync(); err != nil {
			e.syncErrors.Add(1)
		}
	}
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
	var ctxErr, writeErr error
	var pending, malformed uint64 // pending: lines in buf[start:]
	start := 0
	for i := range records {
		if ctxErr = ctx.Err(); ctxErr != nil {
			break
		}
		mark := len(buf)
		var bad bool
		e.attrs = gather(&records[i], e.attrs[:0])
		buf, bad = appendRecord(buf, &records[i], e.attrs, e.maxRecordBytes, &e.origin)
		if bad {
			malformed++
		}
		var before link
		if e.chain != nil {
			before = e.chain.cur
			buf = e.chain.appendLink(buf, mark)
		}
		if e.file != nil && e.file.needsRotation(len(buf)-start, mark-start) {
			// The new line would overflow the file: write the lines before
			// it, rotate, and start the next file with it.
			if writeErr = e.write(buf[start:mark], pending); writeErr != nil {
				break
			}
			if e.chain != nil {
				e.chain.written = before
				e.checkpoint(integrity.CheckpointRotation)
			}
			e.rotate()
			start, pending = mark, 0
		}
		pending++
	}
	if malformed > 0 {
		e.malformed.Add(malformed)
	}
	if writeErr == nil {
		writeErr = e.write(buf[start:], pending)
	}
	if e.chain != nil {
		if writeErr == nil {
			e.chain.written = e.chain.cur
		}
		// Lines not written are not in the chain: the next line links to
		// the last line written.
		e.chain.cur = e.chain.written
		if writeErr == nil && e.chain.due() {
			e.checkpoint(integrity.CheckpointInterval)
		}
	}

	if cap(buf) <= maxRetainedBuffer {
		e.buf = buf[:0]
	} else {
		e.buf = nil
	}
	// Hold no record's values past the batch.
	if cap(e.attrs) <= maxRetainedAttributes {
		clear(e.attrs[:cap(e.attrs)])
		e.attrs = e.attrs[:0]
	} else {
		e.attrs = nil
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
// *bufio.Writer passed to [WithWriter]) and syncs the file of [WithFile]
// when its [FsyncPolicy] is not FsyncNever and it holds unsynced lines;
// otherwise there is nothing to flush, since Export writes synchronously,
// and it returns nil. It waits for an in-flight Export unless ctx is done
// first, and is a no-op after Shutdown. Safe for concurrent use.
func (e *JSONL) ForceFlush(ctx context.Context) error {
	if e == nil || e.stopped.Load() {
		return nil
	}
	syncs := e.file != nil && e.file.fsync != FsyncNever
	if !e.buffered && !syncs {
		return nil
	}
	if err := e.lock(ctx); err != nil {
		return err
	}
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	if syncs {
		if err := e.file.sync(); err != nil {
			e.syncErrors.Add(1)
			return err
		}
		return nil
	}
	return e.flush()
}

// Shutdown stops the exporter: later Exports return [ErrShutdown]. It waits
// for an in-flight Export (or until ctx is done, returning ctx's error; a
// later Shutdown call then completes the job), flushes a buffered writer,
// syncs the file opened by [WithFile] (unless its policy is FsyncNever) and
// closes it; a writer given to [WithWriter]
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
	e.buf, e.attrs, e.origin = nil, nil, originCache{}
	err := e.flush()
	if e.chain != nil && e.chain.sidecar != nil {
		e.checkpoint(integrity.CheckpointShutdown)
		if cerr := e.chain.sidecar.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}
	if e.file != nil {
		if cerr := e.file.close(); cerr != nil {
			e.syncErrors.Add(1)
			err = errors.Join(err, cerr)
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
		Records:          e.records.Load(),
		Malformed:        e.malformed.Load(),
		WriteErrors:      e.writeErrors.Load(),
		Rotations:        e.rotations.Load(),
		RotateErrors:     e.rotateErrors.Load(),
		SyncErrors:       e.syncErrors.Load(),
		Checkpoints:      e.checkpoints.Load(),
		CheckpointErrors: e.cpErrors.Load(),
	}
}

// write writes p, which holds lines whole lines, with one Write call and
// applies the file's sync policy; e.mu must be held.
func (e *JSONL) write(p []byte, lines uint64) error {
	if len(p) == 0 {
		return nil
	}
	n, err := e.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if e.file != nil {
		e.file.wrote(n, err)
	}
	if err != nil {
		e.writeErrors.Add(1)
		return fmt.Errorf("exporter: JSONL: writing %d records: %w", lines, err)
	}
	e.records.Add(lines)
	if e.chain != nil {
		e.chain.fileLines += lines
	}
	if e.file != nil {
		if err := e.file.afterWrite(); err != nil {
			e.syncErrors.Add(1)
			return err
		}
	}
	return nil
}

// rotate rotates the file, counting the outcome; e.mu must be held.
func (e *JSONL) rotate() {
	syncErr, err := e.file.rotate()
	if syncErr != nil {
		e.syncErrors.Add(1)
	}
	if err != nil {
		e.rotateErrors.Add(1)
		return
	}
	e.w = e.file.f
	e.rotations.Add(1)
	if e.chain != nil {
		e.chain.fileLines = 0
	}
}

// fileSync is (*os.File).Sync; tests replace it to hold a sync in flight.
var fileSync = (*os.File).Sync

// syncTick is the FsyncInterval timer's function. It syncs outside the
// lock, so that Export goes on writing while the disk syncs (an fsync can
// take long on a busy disk, and the delivery worker or the spill path
// would wait behind it). The file stays dirty until the sync has
// returned, so a rotation or Shutdown that closes the file meanwhile
// syncs it itself; this sync then fails with os.ErrClosed, which is not
// counted. Writes during the sync leave the file dirty, and the timer is
// armed again once the sync has returned: one sync at a time, however long
// the disk takes.
func (e *JSONL) syncTick() {
	e.mu.Lock()
	s := e.file
	s.armed = false
	if e.closed || !s.dirty || s.syncing {
		e.mu.Unlock()
		return
	}
	s.syncing = true
	f, writes := s.f, s.writes
	e.mu.Unlock()

	err := fileSync(f)

	e.mu.Lock()
	defer e.mu.Unlock()
	s.syncing = false
	if err != nil && !errors.Is(err, os.ErrClosed) {
		e.syncErrors.Add(1) // not retried: see fileSink.sync
	}
	if s.f == f && s.writes == writes {
		s.dirty = false
	}
	if s.dirty && !e.closed {
		_ = s.afterWrite() // arm the timer for what was written meanwhile
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
