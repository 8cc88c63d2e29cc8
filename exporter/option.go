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
	if len(errs) > 0 {
		return config{}, errors.Join(errs...)
	}
	if !c.writerSet && !c.pathSet {
		c.writer = os.Stdout
	}
	return c, nil
}
