package exporter

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// DefaultMaxRecordBytes is the default limit on one encoded record, in bytes
// of UTF-8 JSON without the trailing newline. It matches the reference's
// max_record_bytes.
const DefaultMaxRecordBytes = 262144

// MinMaxRecordBytes is the smallest accepted record limit. The last-resort
// malformed_record line always fits in it.
const MinMaxRecordBytes = 1024

// Option configures [NewJSONL]. Options are applied in order; validation
// happens once, after all of them.
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

type config struct {
	writer         io.Writer
	writerSet      bool
	path           string
	pathSet        bool
	maxRecordBytes int

	rotateBytes int64
	rotateKeep  int
	rotateSet   bool
	fsync       FsyncPolicy
	fsyncSet    bool
}

// WithWriter makes the exporter write to w. The default is [os.Stdout].
// It cannot be combined with [WithFile]. The exporter never closes w; if w
// has a Flush() error method (a [bufio.Writer], for instance), ForceFlush and
// Shutdown call it.
func WithWriter(w io.Writer) Option {
	return optionFunc(func(c config) config {
		c.writer = w
		c.writerSet = true
		return c
	})
}

// WithFile makes the exporter append to the file at path, created with mode
// 0600 if it does not exist. The file is opened by [NewJSONL] and closed by
// Shutdown. It cannot be combined with [WithWriter].
func WithFile(path string) Option {
	return optionFunc(func(c config) config {
		c.path = path
		c.pathSet = true
		return c
	})
}

// WithMaxRecordBytes sets the limit on one encoded record, in bytes without
// the trailing newline (default [DefaultMaxRecordBytes]; at least
// [MinMaxRecordBytes]). A larger record is replaced by an
// audit.logging.malformed_record line.
func WithMaxRecordBytes(n int) Option {
	return optionFunc(func(c config) config {
		c.maxRecordBytes = n
		return c
	})
}

// WithRotation rotates the file of [WithFile] by size: before a write would
// make it larger than maxBytes, the file is renamed path.1 (path.1 becomes
// path.2, and so on; the oldest beyond keep backups is deleted) and a new
// file is started. Rotation happens between lines, never inside one: a
// single line larger than maxBytes is written alone into a fresh file. A
// rotation that fails (permissions, disk full) is counted in
// [Stats].RotateErrors and writing goes on in the current file, so no line
// is lost. maxBytes must be positive and keep from 1 to [MaxRotationKeep].
// The exporter must be the file's only writer.
func WithRotation(maxBytes int64, keep int) Option {
	return optionFunc(func(c config) config {
		c.rotateBytes, c.rotateKeep, c.rotateSet = maxBytes, keep, true
		return c
	})
}

// WithFsync sets when the file of [WithFile] is synced to stable storage:
// [FsyncNever] (the default), [FsyncAlways] or [FsyncInterval]. A failed
// sync is counted in [Stats].SyncErrors; under FsyncAlways it also fails
// the Export.
func WithFsync(p FsyncPolicy) Option {
	return optionFunc(func(c config) config {
		c.fsync, c.fsyncSet = p, true
		return c
	})
}

func newConfig(opts []Option) (config, error) {
	c := config{maxRecordBytes: DefaultMaxRecordBytes}
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	var errs []error
	if c.writerSet && c.pathSet {
		errs = append(errs, errors.New("exporter: WithWriter and WithFile are mutually exclusive"))
	}
	if c.writerSet && c.writer == nil {
		errs = append(errs, errors.New("exporter: WithWriter: writer is nil"))
	}
	if c.pathSet && c.path == "" {
		errs = append(errs, errors.New("exporter: WithFile: path is empty"))
	}
	if c.maxRecordBytes < MinMaxRecordBytes {
		errs = append(errs, fmt.Errorf("exporter: WithMaxRecordBytes: %d is below the minimum %d", c.maxRecordBytes, MinMaxRecordBytes))
	}
	if c.rotateSet {
		if !c.pathSet {
			errs = append(errs, errors.New("exporter: WithRotation needs WithFile"))
		}
		if c.rotateBytes <= 0 {
			errs = append(errs, fmt.Errorf("exporter: WithRotation: maxBytes %d is not positive", c.rotateBytes))
		}
		if c.rotateKeep < 1 || c.rotateKeep > MaxRotationKeep {
			errs = append(errs, fmt.Errorf("exporter: WithRotation: keep %d is not from 1 to %d", c.rotateKeep, MaxRotationKeep))
		}
	}
	if c.fsyncSet {
		if !c.pathSet && c.fsync != FsyncNever {
			errs = append(errs, errors.New("exporter: WithFsync needs WithFile"))
		}
		if c.fsync.timed && c.fsync.interval <= 0 {
			errs = append(errs, fmt.Errorf("exporter: WithFsync: interval %v is not positive", c.fsync.interval))
		}
	}
	if len(errs) > 0 {
		return config{}, errors.Join(errs...)
	}
	if !c.writerSet && !c.pathSet {
		c.writer = os.Stdout
	}
	return c, nil
}
