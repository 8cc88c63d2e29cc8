package exporter

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
)

// FsyncPolicy says when the file written by [WithFile] is synced to stable
// storage (fsync). The zero value is [FsyncNever].
type FsyncPolicy struct {
	always   bool
	timed    bool
	interval time.Duration
}

var (
	// FsyncNever leaves syncing to the operating system (the default): a
	// process crash loses nothing that Export wrote, a machine crash may lose
	// the last seconds.
	FsyncNever = FsyncPolicy{}
	// FsyncAlways syncs after every write: when Export returns nil, each
	// record of its batch is on stable storage. The slowest policy.
	FsyncAlways = FsyncPolicy{always: true}
)

// FsyncInterval syncs at most once per d, d after the first write that is
// not yet synced, and on ForceFlush, rotation and Shutdown. A machine crash
// loses at most about d of records. d must be positive.
func FsyncInterval(d time.Duration) FsyncPolicy { return FsyncPolicy{timed: true, interval: d} }

// String returns "never", "always" or the interval ("1s").
func (p FsyncPolicy) String() string {
	switch {
	case p.always:
		return "always"
	case p.timed:
		return p.interval.String()
	}
	return "never"
}

// ParseFsyncPolicy parses "never", "always" or a Go duration such as "1s"
// (an interval), as [FsyncPolicy.String] writes them. It lets a setup
// package read the policy from an environment variable.
func ParseFsyncPolicy(s string) (FsyncPolicy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "never", "":
		return FsyncNever, nil
	case "always":
		return FsyncAlways, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d <= 0 {
		return FsyncPolicy{}, fmt.Errorf("fsync policy %q: want never, always or a positive duration such as 1s", s)
	}
	return FsyncInterval(d), nil
}

// MaxRotationKeep is the largest retention count [WithRotation] accepts.
const MaxRotationKeep = 1000

// fileSink is the file opened by WithFile: its size (for rotation and for
// cutting a torn line after a failed write), rotation and sync state. All
// of it is guarded by the exporter's mutex.
type fileSink struct {
	f        *os.File
	path     string
	size     int64 // bytes in f, as far as this exporter wrote them
	maxBytes int64 // rotate before exceeding; 0 = never rotate
	backups  []string
	fsync    FsyncPolicy
	dirty    bool        // written since the last sync
	writes   uint64      // successful writes, so a sync outside the lock knows what it covered
	syncing  bool        // the timer's sync is running (outside the lock)
	timer    *time.Timer // FsyncInterval: fires interval after the first unsynced write
	armed    bool        // timer is pending
	tick     func()      // the timer's function, bound once
}

func openFileSink(c resolved) (*fileSink, error) {
	f, err := os.OpenFile(c.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	s := &fileSink{f: f, path: c.path, size: info.Size(), maxBytes: c.rotateBytes, fsync: c.fsync}
	for i := 1; i <= c.rotateKeep; i++ {
		s.backups = append(s.backups, c.path+"."+strconv.Itoa(i))
	}
	return s, nil
}

// needsRotation reports whether a segment of withLine bytes (ending with
// the line just encoded) would overflow the file, while the segment
// without that line, or the file itself, already holds something. A line
// larger than the limit is written alone into a fresh file, never split.
func (s *fileSink) needsRotation(withLine, withoutLine int) bool {
	return s.maxBytes > 0 && s.size+int64(withLine) > s.maxBytes && s.size+int64(withoutLine) > 0
}

// wrote accounts for a write of p of which n bytes were written. After a
// failed write it cuts the file back to its previous size, so that no torn
// line stays in it.
func (s *fileSink) wrote(n int, err error) {
	if err == nil {
		s.size += int64(n)
		s.dirty = true
		s.writes++
		return
	}
	if n > 0 {
		if terr := s.f.Truncate(s.size); terr != nil {
			// The torn tail stays; count what we wrote so rotation stays honest.
			s.size += int64(n)
		}
	}
}

// sync fsyncs the file if it holds unsynced writes.
func (s *fileSink) sync() error {
	if !s.dirty {
		return nil
	}
	s.disarm()
	// A failed fsync is not retried: the kernel may already have dropped
	// the dirty pages and cleared the error, so a second fsync that
	// succeeds would prove nothing. The failure is reported once.
	s.dirty = false
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("exporter: JSONL: syncing %s: %w", s.path, err)
	}
	return nil
}

// rotate renames path to path.1 (shifting older backups, dropping the
// oldest) and opens a new, empty path. When a step fails, the exporter
// keeps writing to the file it has, so no line is lost; the error is
// returned for counting.
func (s *fileSink) rotate() (syncErr, err error) {
	syncErr = s.sync()
	// Shift only the backups that exist: path.1 … path.n, stopping at the
	// first gap, so that a large retention count costs nothing until used.
	n := 0
	for n < len(s.backups) {
		if _, err := os.Lstat(s.backups[n]); err != nil {
			break
		}
		n++
	}
	if n == len(s.backups) {
		if err := os.Remove(s.backups[n-1]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return syncErr, fmt.Errorf("exporter: JSONL: rotating %s: %w", s.path, err)
		}
		n--
	}
	for i := n; i >= 1; i-- {
		if err := os.Rename(s.backups[i-1], s.backups[i]); err != nil {
			return syncErr, fmt.Errorf("exporter: JSONL: rotating %s: %w", s.path, err)
		}
	}
	if err := os.Rename(s.path, s.backups[0]); err != nil {
		return syncErr, fmt.Errorf("exporter: JSONL: rotating %s: %w", s.path, err)
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		// Put the file back, so that the next rotation starts from the
		// same state; the current descriptor stays valid either way.
		_ = os.Rename(s.backups[0], s.path)
		return syncErr, fmt.Errorf("exporter: JSONL: rotating %s: %w", s.path, err)
	}
	old := s.f
	s.f, s.size, s.dirty = f, 0, false
	if cerr := old.Close(); cerr != nil {
		return syncErr, fmt.Errorf("exporter: JSONL: rotating %s: closing the old file: %w", s.path, cerr)
	}
	return syncErr, nil
}

// afterWrite applies the sync policy after a successful write: sync now
// (FsyncAlways) or make sure a sync is scheduled (FsyncInterval).
func (s *fileSink) afterWrite() error {
	switch {
	case s.fsync.always:
		return s.sync()
	case s.fsync.timed && !s.armed:
		if s.timer == nil {
			s.timer = time.AfterFunc(s.fsync.interval, s.tick)
		} else {
			s.timer.Reset(s.fsync.interval)
		}
		s.armed = true
	}
	return nil
}

func (s *fileSink) disarm() {
	if s.armed {
		s.timer.Stop()
		s.armed = false
	}
}

// close syncs (unless the policy is never) and closes the file.
func (s *fileSink) close() error {
	s.disarm()
	var err error
	if s.fsync != FsyncNever {
		err = s.sync()
	}
	if cerr := s.f.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("exporter: JSONL: closing %s: %w", s.path, cerr))
	}
	return err
}
