package exporter

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/secaudit/secaudit/internal/setting"
)

// DefaultCheckpointInterval is how often, at most, a signed checkpoint is
// written ([WithSigningKey]) while lines are written.
const DefaultCheckpointInterval = time.Minute

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
	writer         setting.Value[io.Writer]
	path           setting.Value[string]
	maxRecordBytes setting.Value[int]
	rotation       setting.Value[rotation]
	fsync          setting.Value[FsyncPolicy]
	chain          setting.Value[bool]
	signingKey     setting.Value[string]
	cpInterval     setting.Value[time.Duration]
	clock          setting.Value[func() time.Time]
}

type rotation struct {
	maxBytes int64
	keep     int
}

// resolved is the validated configuration.
type resolved struct {
	writer         io.Writer // nil with a file
	path           string    // "" without a file
	maxRecordBytes int
	rotateBytes    int64 // 0: no rotation
	rotateKeep     int
	fsync          FsyncPolicy
	chain          bool
	signer         note.Signer // nil: no checkpoints
	cpInterval     time.Duration
	now            func() time.Time
}

// WithWriter makes the exporter write to w. The default is [os.Stdout].
// It cannot be combined with [WithFile]. The exporter never closes w; if w
// has a Flush() error method (a [bufio.Writer], for instance), ForceFlush and
// Shutdown call it.
func WithWriter(w io.Writer) Option {
	return optionFunc(func(c config) config { c.writer.Put(w, "WithWriter"); return c })
}

// WithFile makes the exporter append to the file at path, created with mode
// 0600 if it does not exist. The file is opened by [NewJSONL] and closed by
// Shutdown. It cannot be combined with [WithWriter].
func WithFile(path string) Option {
	return optionFunc(func(c config) config { c.path.Put(path, "WithFile"); return c })
}

// WithMaxRecordBytes sets the limit on one encoded record, in bytes without
// the trailing newline (default [DefaultMaxRecordBytes]; at least
// [MinMaxRecordBytes]). A larger record is replaced by an
// audit.logging.malformed_record line.
func WithMaxRecordBytes(n int) Option {
	return optionFunc(func(c config) config { c.maxRecordBytes.Put(n, "WithMaxRecordBytes"); return c })
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
	return optionFunc(func(c config) config { c.rotation.Put(rotation{maxBytes, keep}, "WithRotation"); return c })
}

// WithFsync sets when the file of [WithFile] is synced to stable storage:
// [FsyncNever] (the default), [FsyncAlways] or [FsyncInterval]. A failed
// sync is counted in [Stats].SyncErrors; under FsyncAlways it also fails
// the Export.
func WithFsync(p FsyncPolicy) Option {
	return optionFunc(func(c config) config { c.fsync.Put(p, "WithFsync"); return c })
}

// WithChain writes the hash chain: every line ends with its number in the
// chain and the SHA-256 of the previous line (the envelope fields seq and
// prev_hash; see the package documentation and package integrity). With
// [WithFile], the chain continues across rotation and restarts. Off by
// default.
func WithChain(on bool) Option {
	return optionFunc(func(c config) config { c.chain.Put(on, "WithChain"); return c })
}

// WithSigningKey writes signed checkpoints of the chain to PATH.checkpoints
// beside the file of [WithFile]: every checkpoint interval, at rotation, at
// a restart marker and at shutdown. key is an Ed25519 private key in the
// text format of golang.org/x/mod/sumdb/note (what `secaudit keygen`
// writes); it is never logged, nor shown in an error. It needs WithFile
// and the chain ([WithChain], on by default with a key).
func WithSigningKey(key string) Option {
	return optionFunc(func(c config) config { c.signingKey.Put(key, "WithSigningKey"); return c })
}

// WithCheckpointInterval sets how often a checkpoint is written while
// lines are written (default [DefaultCheckpointInterval]): at the first
// Export at least d after the previous checkpoint. d must be positive.
func WithCheckpointInterval(d time.Duration) Option {
	return optionFunc(func(c config) config { c.cpInterval.Put(d, "WithCheckpointInterval"); return c })
}

// WithClock sets the clock of checkpoints and restart markers (default
// time.Now); tests pass a fake one. now must not be nil.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(c config) config { c.clock.Put(now, "WithClock"); return c })
}

func newConfig(opts []Option) (resolved, error) {
	var c config
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	w, toWriter := c.writer.Get()
	path, toFile := c.path.Get()
	rot := c.rotation.Or(rotation{})
	r := resolved{
		writer:         w,
		path:           path,
		maxRecordBytes: c.maxRecordBytes.Or(DefaultMaxRecordBytes),
		rotateBytes:    rot.maxBytes,
		rotateKeep:     rot.keep,
		fsync:          c.fsync.Or(FsyncNever),
		cpInterval:     c.cpInterval.Or(DefaultCheckpointInterval),
		now:            c.clock.Or(time.Now),
	}
	_, signing := c.signingKey.Get()
	r.chain = c.chain.Or(signing)
	var errs []error
	if key, ok := c.signingKey.Get(); ok {
		s, err := note.NewSigner(key)
		switch {
		case err != nil:
			// Never the key itself.
			errs = append(errs, setting.Invalid("WithSigningKey", "(key not shown)", "an Ed25519 private key in note format, from secaudit keygen"))
		case !toFile:
			errs = append(errs, setting.Invalid("WithSigningKey", "(key not shown)", "WithFile too"))
		case !r.chain:
			errs = append(errs, setting.Invalid("WithSigningKey", "(key not shown)", "the chain on (WithChain(false) was given)"))
		default:
			r.signer = s
		}
	}
	if r.cpInterval <= 0 {
		errs = append(errs, setting.Invalid("WithCheckpointInterval", r.cpInterval, "a positive duration"))
	}
	if r.now == nil {
		errs = append(errs, setting.Invalid("WithClock", "nil", "a clock"))
	}
	if toWriter && toFile {
		errs = append(errs, setting.Invalid("WithFile", fmt.Sprintf("%q", path), "no WithWriter beside it (one destination)"))
	}
	if toWriter && w == nil {
		errs = append(errs, setting.Invalid("WithWriter", "nil", "a writer"))
	}
	if toFile && path == "" {
		errs = append(errs, setting.Invalid("WithFile", `""`, "a path"))
	}
	if r.maxRecordBytes < MinMaxRecordBytes {
		errs = append(errs, setting.Invalid("WithMaxRecordBytes", r.maxRecordBytes, fmt.Sprintf("an integer >= %d", MinMaxRecordBytes)))
	}
	if c.rotation.IsSet() {
		if !toFile {
			errs = append(errs, setting.Invalid("WithRotation", fmt.Sprintf("%d, %d", rot.maxBytes, rot.keep), "WithFile too"))
		}
		if err := checkRotation("WithRotation", rot.maxBytes, rot.keep); err != nil {
			errs = append(errs, err)
		}
	}
	if c.fsync.IsSet() {
		if !toFile && r.fsync != FsyncNever {
			errs = append(errs, setting.Invalid("WithFsync", r.fsync, "WithFile too"))
		}
		if err := checkFsync("WithFsync", r.fsync); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return resolved{}, errors.Join(errs...)
	}
	if !toWriter && !toFile {
		r.writer = os.Stdout
	}
	return r, nil
}

// checkRotation is the rule for a rotation given by from (setup applies the
// same rule to its own option and variables).
func checkRotation(from string, maxBytes int64, keep int) error {
	if maxBytes < 1 || keep < 1 || keep > MaxRotationKeep {
		return setting.Invalid(from, fmt.Sprintf("%d, %d", maxBytes, keep), fmt.Sprintf("maxBytes >= 1 and keep from 1 to %d", MaxRotationKeep))
	}
	return nil
}

// checkFsync is the rule for an fsync policy given by from.
func checkFsync(from string, p FsyncPolicy) error {
	if p.timed && p.interval <= 0 {
		return setting.Invalid(from, p, "never, always or a positive interval")
	}
	return nil
}
