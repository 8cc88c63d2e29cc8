package delivery

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/internal/setting"
)

// Environment variables read by [New] when the matching option is not
// given (option > environment > default). An invalid value makes New fail
// with an error naming the variable.
const (
	EnvMode            = envconf.DeliveryMode            // async | blocking | strict
	EnvTimeout         = envconf.DeliveryTimeout         // Go duration
	EnvQueueSize       = envconf.DeliveryQueueSize       // int >= 1
	EnvBatchSize       = envconf.DeliveryBatchSize       // int >= 1
	EnvExportTimeout   = envconf.DeliveryExportTimeout   // Go duration
	EnvRetryMaxElapsed = envconf.DeliveryRetryMaxElapsed // Go duration, 0 = until Shutdown
	EnvStrictEvents    = envconf.DeliveryStrictEvents    // comma list of names or prefix*
	EnvBlockingEvents  = envconf.DeliveryBlockingEvents  // comma list of names or prefix*
	EnvSummaryInterval = envconf.DeliverySummaryInterval // Go duration, 0 = at Shutdown only
	EnvLinger          = envconf.DeliveryLinger          // Go duration, 0 = export at once
	EnvSpillDir        = envconf.DeliverySpillDir        // directory for <name>.spill.jsonl
	EnvSpillMaxBytes   = envconf.DeliverySpillMaxBytes   // int >= 1
)

// Defaults.
const (
	DefaultQueueSize       = 8192
	DefaultBatchSize       = 512
	DefaultTimeout         = 250 * time.Millisecond
	DefaultExportTimeout   = 30 * time.Second
	DefaultRetryInitial    = 200 * time.Millisecond
	DefaultRetryMax        = 5 * time.Second
	DefaultRetryMaxElapsed = 5 * time.Minute
	DefaultSummaryInterval = time.Minute
	DefaultLinger          = 5 * time.Millisecond
	DefaultSpillMaxBytes   = 256 << 20
)

// Mode is how an emitting goroutine and the queue meet.
type Mode uint8

const (
	// ModeAsync (the default) never blocks: OnEmit queues the record and
	// returns. When the queue is full, the least valuable record goes (see
	// [Priority]) and the loss is counted.
	ModeAsync Mode = iota
	// ModeBlocking makes OnEmit wait, up to the timeout, for room in the
	// queue and then for the exporter to accept the record. A record whose
	// wait times out stays queued (it is not lost); the timeout is counted.
	ModeBlocking
	// ModeStrict is blocking for records that must not be served
	// unaudited: they rank above every other record, and a strict record
	// not exported within the timeout closes the gate ([Processor.Admit])
	// until the exporter succeeds again.
	ModeStrict
)

// String returns "async", "blocking" or "strict".
func (m Mode) String() string {
	switch m {
	case ModeAsync:
		return "async"
	case ModeBlocking:
		return "blocking"
	case ModeStrict:
		return "strict"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// ParseMode parses "async", "blocking" or "strict" (any case).
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "async":
		return ModeAsync, nil
	case "blocking":
		return ModeBlocking, nil
	case "strict":
		return ModeStrict, nil
	}
	return 0, fmt.Errorf("unknown delivery mode %q: want async, blocking or strict", s)
}

// Option configures [New]. Options are applied in order; validation
// happens once, after all of them and the environment.
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

type config struct {
	name            setting.Value[string]
	mode            setting.Value[Mode]
	timeout         setting.Value[time.Duration]
	queueSize       setting.Value[int]
	batchSize       setting.Value[int]
	exportTimeout   setting.Value[time.Duration]
	retry           setting.Value[[2]time.Duration] // initial, max
	retryMaxElapsed setting.Value[time.Duration]
	strict          setting.Value[[]string]
	blocking        setting.Value[[]string]
	summary         setting.Value[time.Duration]
	linger          setting.Value[time.Duration]
	priority        func(*sdklog.Record) Priority
	meterProvider   metric.MeterProvider
	spill           setting.Value[spillTarget]
	spillMax        setting.Value[int]
	stream          string
	noCopy          bool
	noEnv           bool
}

// spillTarget is where records the processor would lose go instead: an
// exporter, or a directory for a JSONL file.
type spillTarget struct {
	exp sdklog.Exporter
	dir string
}

// WithName names the processor in its metrics, summaries and health report
// (default "default"). Give each processor of a pipeline its own name,
// for example the exporter's ("jsonl", "otlp").
func WithName(name string) Option {
	return optionFunc(func(c config) config { c.name.Put(name, "WithName"); return c })
}

// WithMode sets the mode of every record not named by [WithStrictEvents]
// or [WithBlockingEvents] ($SECAUDIT_DELIVERY_MODE, default [ModeAsync]).
// ModeStrict makes every record strict.
func WithMode(m Mode) Option {
	return optionFunc(func(c config) config { c.mode.Put(m, "WithMode"); return c })
}

// WithTimeout sets how long a blocking or strict record, and the gate,
// wait ($SECAUDIT_DELIVERY_TIMEOUT, default [DefaultTimeout]). It is also
// how long an export may run before the pipeline counts as stalled.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c config) config { c.timeout.Put(d, "WithTimeout"); return c })
}

// WithQueueSize bounds the records waiting for export
// ($SECAUDIT_DELIVERY_QUEUE_SIZE, default [DefaultQueueSize]). One more
// batch may be in the exporter's hands. Size it as records per second ×
// the longest outage to ride out (Kubernetes' rule for its audit buffer).
func WithQueueSize(n int) Option {
	return optionFunc(func(c config) config { c.queueSize.Put(n, "WithQueueSize"); return c })
}

// WithBatchSize bounds the records per Export call
// ($SECAUDIT_DELIVERY_BATCH_SIZE, default [DefaultBatchSize], at most the
// queue size). The processor exports as soon as records wait, so batches
// only fill up under load.
func WithBatchSize(n int) Option {
	return optionFunc(func(c config) config { c.batchSize.Put(n, "WithBatchSize"); return c })
}

// WithExportTimeout bounds one Export call
// ($SECAUDIT_DELIVERY_EXPORT_TIMEOUT, default [DefaultExportTimeout]).
func WithExportTimeout(d time.Duration) Option {
	return optionFunc(func(c config) config { c.exportTimeout.Put(d, "WithExportTimeout"); return c })
}

// WithRetry sets the back-off after a failed Export: the first wait is
// initial, doubling up to max. While failures go on for less than
// maxElapsed the records stay queued and are retried; after that, each
// failing batch is dropped and counted ([ReasonExportFailed]). maxElapsed
// 0 retries until Shutdown. Defaults: [DefaultRetryInitial],
// [DefaultRetryMax], [DefaultRetryMaxElapsed]
// ($SECAUDIT_DELIVERY_RETRY_MAX_ELAPSED). An exporter that reports
// sdklog.ErrExporterShutdown is never retried.
func WithRetry(initial, max, maxElapsed time.Duration) Option {
	return optionFunc(func(c config) config {
		c.retry.Put([2]time.Duration{initial, max}, "WithRetry")
		c.retryMaxElapsed.Put(maxElapsed, "WithRetry")
		return c
	})
}

// WithStrictEvents makes the named events strict ([ModeStrict])
// ($SECAUDIT_DELIVERY_STRICT_EVENTS). A pattern is an event name, a prefix
// followed by "*" ("model.*"), or "*" for every record.
func WithStrictEvents(patterns ...string) Option {
	return optionFunc(func(c config) config { c.strict.Put(patterns, "WithStrictEvents"); return c })
}

// WithBlockingEvents makes the named events blocking ([ModeBlocking])
// whatever the mode ($SECAUDIT_DELIVERY_BLOCKING_EVENTS); patterns as for
// [WithStrictEvents], which wins when both match.
func WithBlockingEvents(patterns ...string) Option {
	return optionFunc(func(c config) config { c.blocking.Put(patterns, "WithBlockingEvents"); return c })
}

// WithSummaryInterval sets how often an [EventPipelineDropped] event is
// exported when records were lost since the last one
// ($SECAUDIT_DELIVERY_SUMMARY_INTERVAL, default [DefaultSummaryInterval]).
// A final summary is exported at Shutdown whatever the interval; 0 means
// only then.
func WithSummaryInterval(d time.Duration) Option {
	return optionFunc(func(c config) config { c.summary.Put(d, "WithSummaryInterval"); return c })
}

// WithLinger sets how long the worker waits for a batch to fill once a
// record is queued ($SECAUDIT_DELIVERY_LINGER, default [DefaultLinger]).
// Fuller batches mean fewer writes (one write system call per batch for a
// JSONL file) at the price of that much delay before an async record is
// written; the worker never lingers while a blocking or strict emitter,
// ForceFlush or Shutdown waits. 0 exports as soon as a record arrives.
func WithLinger(d time.Duration) Option {
	return optionFunc(func(c config) config { c.linger.Put(d, "WithLinger"); return c })
}

// WithPriority replaces [DefaultPriority], which ranks records for
// eviction. f must be fast and must not keep or modify the record; a
// panicking f counts as [PriorityAudit].
func WithPriority(f func(*sdklog.Record) Priority) Option {
	return optionFunc(func(c config) config { c.priority = f; return c })
}

// WithMeterProvider reports the processor's metrics (see the Metric*
// names) through mp. The default is a no-op provider: nothing is
// recorded, and the counters stay available from [Processor.Stats].
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c config) config { c.meterProvider = mp; return c })
}

// WithSpill hands the records the processor would otherwise lose to exp
// instead: a dead-letter sink, typically a JSONL file on local disk behind
// an OTLP pipeline, so that a Collector outage longer than the queue can
// hold, or one that lasts past Shutdown's deadline, costs no record. See
// the package documentation, "Spilling instead of dropping". The processor
// owns exp from then on: it shuts exp down at Shutdown, so give each
// processor an exporter of its own (setup applies its delivery options to
// the processor of every exporter: there, prefer [WithSpillDir], which
// names the file after each processor). exp is not capped by
// [WithSpillMaxBytes]. WithSpill(nil) turns spilling off,
// $SECAUDIT_DELIVERY_SPILL_DIR included.
func WithSpill(exp sdklog.Exporter) Option {
	return optionFunc(func(c config) config { c.spill.Put(spillTarget{exp: exp}, "WithSpill"); return c })
}

// WithSpillDir spills to the JSONL file <dir>/<name>.spill.jsonl, where
// name is the processor's [WithName] ($SECAUDIT_DELIVERY_SPILL_DIR): New
// creates or appends to it, fsynced at most once a second, never rotated
// (an operator re-ingests and removes it). The directory must exist.
func WithSpillDir(dir string) Option {
	return optionFunc(func(c config) config { c.spill.Put(spillTarget{dir: dir}, "WithSpillDir"); return c })
}

// WithSpillMaxBytes caps the spill file of [WithSpillDir]
// ($SECAUDIT_DELIVERY_SPILL_MAX_BYTES, default [DefaultSpillMaxBytes],
// 256 MiB): once the file has reached n bytes (whatever earlier runs left
// in it included), records are no longer spilled but dropped, and counted,
// so that a long outage under an attacker's traffic cannot fill the disk.
// The file may pass n by at most one batch.
func WithSpillMaxBytes(n int) Option {
	return optionFunc(func(c config) config { c.spillMax.Put(n, "WithSpillMaxBytes"); return c })
}

// WithStream numbers the records the processor hands to its exporter:
// each gets audit.stream.id = id and audit.sequence = 1, 2, … in the order
// the worker takes them from the queue, once (a retried or spilled record
// keeps its number). Numbers are given after the queue, so a record the
// queue gives up (counted, and summarised in audit.pipeline.dropped) takes
// none; a gap in a stream is a numbered record lost after that: an export
// that failed for good, also counted and summarised. An empty id (the
// default) numbers nothing. setup gives each pipeline a random id.
func WithStream(id string) Option {
	return optionFunc(func(c config) config { c.stream = id; return c })
}

// WithoutCopy makes the processor queue the records it is given as they
// are, keeping each record's attribute array, instead of a copy of it: a
// record with more than five attributes then costs no allocation (and no
// copying) to queue. The Logs SDK builds a new record for each Emit and
// reuses none, but hands that one record to every processor of the
// provider in turn, and a processor may change it. So use WithoutCopy only
// when no processor after this one, in the provider's order and in any
// fan-out, changes records (adds, sets or replaces attributes, or changes
// anything else): the processor keeps the record's attribute array
// instead of a copy, and a later change could show in, or be overwritten
// by, the record it queued (its stream numbering, [WithStream], appends
// to that array). Processors before this one may change records as usual.
// With WithStream, give the provider sdklog.WithAllowKeyDuplication (as
// setup does): under the SDK's de-duplication, numbering a record that
// already carries audit.stream.id or audit.sequence replaces them in
// place, where a processor after this one may be reading them.
// setup turns it on for the last exporting processor of a pipeline when
// only read-only processors follow it. Records handed to the spill
// exporter, and records queued behind a stalled exporter (held packed),
// are copied as before.
func WithoutCopy() Option {
	return optionFunc(func(c config) config { c.noCopy = true; return c })
}

// WithoutEnv makes [New] ignore the SECAUDIT_DELIVERY_* variables.
func WithoutEnv() Option {
	return optionFunc(func(c config) config { c.noEnv = true; return c })
}

// resolved is the validated configuration.
type resolved struct {
	name                                 string
	mode                                 Mode
	timeout, exportTimeout               time.Duration
	queueSize, batchSize                 int
	retryInitial, retryMax, retryElapsed time.Duration
	strict, blocking                     patterns
	summary, linger                      time.Duration
	priority                             func(*sdklog.Record) Priority
	meterProvider                        metric.MeterProvider
	spill                                spillTarget
	spillFrom                            string
	spillMax                             int64
	stream                               string
	noCopy                               bool
}

func newConfig(opts []Option) (resolved, error) {
	var c config
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	errs := c.fromEnv()
	retry := c.retry.Or([2]time.Duration{DefaultRetryInitial, DefaultRetryMax})
	r := resolved{
		name:          c.name.Or("default"),
		mode:          c.mode.Or(ModeAsync),
		timeout:       c.timeout.Or(DefaultTimeout),
		exportTimeout: c.exportTimeout.Or(DefaultExportTimeout),
		queueSize:     c.queueSize.Or(DefaultQueueSize),
		batchSize:     c.batchSize.Or(DefaultBatchSize),
		retryInitial:  retry[0],
		retryMax:      retry[1],
		retryElapsed:  c.retryMaxElapsed.Or(DefaultRetryMaxElapsed),
		summary:       c.summary.Or(DefaultSummaryInterval),
		linger:        c.linger.Or(DefaultLinger),
		priority:      c.priority,
		meterProvider: c.meterProvider,
		spill:         c.spill.Or(spillTarget{}),
		spillFrom:     c.spill.From(),
		spillMax:      int64(c.spillMax.Or(DefaultSpillMaxBytes)),
		stream:        c.stream,
		noCopy:        c.noCopy,
	}
	// A variable's value was checked by its parser; what is left to check
	// here came from an option.
	if r.name == "" {
		errs = append(errs, setting.Invalid("WithName", `""`, "a name that is not empty"))
	}
	if r.mode > ModeStrict {
		errs = append(errs, setting.Invalid("WithMode", uint8(r.mode), "ModeAsync, ModeBlocking or ModeStrict"))
	}
	if r.timeout <= 0 {
		errs = append(errs, setting.Invalid(c.timeout.From(), r.timeout, "a positive duration"))
	}
	if r.exportTimeout <= 0 {
		errs = append(errs, setting.Invalid(c.exportTimeout.From(), r.exportTimeout, "a positive duration"))
	}
	if r.queueSize < 1 {
		errs = append(errs, setting.Invalid(c.queueSize.From(), r.queueSize, "an integer >= 1"))
	}
	if r.batchSize < 1 {
		errs = append(errs, setting.Invalid(c.batchSize.From(), r.batchSize, "an integer >= 1"))
	}
	if r.retryInitial <= 0 || r.retryMax < r.retryInitial || r.retryElapsed < 0 {
		errs = append(errs, setting.Invalid("WithRetry", fmt.Sprintf("%v, %v, %v", r.retryInitial, r.retryMax, r.retryElapsed),
			"0 < initial <= max, and maxElapsed >= 0"))
	}
	if r.summary < 0 {
		errs = append(errs, setting.Invalid(c.summary.From(), r.summary, "a duration >= 0"))
	}
	if r.linger < 0 {
		errs = append(errs, setting.Invalid(c.linger.From(), r.linger, "a duration >= 0"))
	}
	if c.spill.IsSet() && r.spill.exp == nil && c.spill.From() != "WithSpill" {
		if r.spill.dir == "" {
			errs = append(errs, setting.Invalid(c.spill.From(), `""`, "a directory"))
		} else if err := spillFileName(r.name); err != nil {
			errs = append(errs, setting.Invalid("WithName", fmt.Sprintf("%q", r.name),
				"a plain name, which names the spill file of "+c.spill.From()))
		}
	}
	if r.spillMax < 1 {
		errs = append(errs, setting.Invalid(c.spillMax.From(), r.spillMax, "an integer >= 1"))
	}
	var err error
	if r.strict, err = compilePatterns(c.strict.Or(nil)); err != nil {
		errs = append(errs, invalidPatterns(c.strict, err))
	}
	if r.blocking, err = compilePatterns(c.blocking.Or(nil)); err != nil {
		errs = append(errs, invalidPatterns(c.blocking, err))
	}
	if err := errors.Join(errs...); err != nil {
		return resolved{}, err
	}
	r.batchSize = min(r.batchSize, r.queueSize)
	if r.meterProvider == nil {
		r.meterProvider = noop.NewMeterProvider()
	}
	return r, nil
}

// invalidPatterns is the error for event patterns that do not compile.
func invalidPatterns(s setting.Value[[]string], err error) error {
	items, _ := s.Get()
	value := strings.Join(items, ",") // as the variable held it
	if !isEnv(s.From()) {
		quoted := make([]string, len(items))
		for i, it := range items {
			quoted[i] = fmt.Sprintf("%q", it)
		}
		value = strings.Join(quoted, ", ") // as the option was given
	}
	return setting.Invalid(s.From(), value, "event names or prefix*; "+err.Error())
}

func isEnv(from string) bool { return strings.HasPrefix(from, "SECAUDIT_") }

// fromEnv fills the settings no option gave, unless WithoutEnv. Each
// variable's parser checks its value, and its error names the variable.
func (c *config) fromEnv() []error {
	duration := func(min time.Duration, want string) func(string) (time.Duration, bool, error) {
		return func(name string) (time.Duration, bool, error) { return envconf.Duration(name, min, want) }
	}
	positive := func(name string) (int, bool, error) { return envconf.Int(name, 1) }
	list := func(name string) ([]string, bool, error) { v, ok := envconf.List(name); return v, ok, nil }
	return []error{
		setting.Env(&c.mode, EnvMode, c.noEnv, parseModeEnv),
		setting.Env(&c.timeout, EnvTimeout, c.noEnv, duration(1, "a positive Go duration such as 250ms")),
		setting.Env(&c.exportTimeout, EnvExportTimeout, c.noEnv, duration(1, "a positive Go duration such as 30s")),
		setting.Env(&c.retryMaxElapsed, EnvRetryMaxElapsed, c.noEnv, duration(0, "a Go duration >= 0 such as 5m")),
		setting.Env(&c.summary, EnvSummaryInterval, c.noEnv, duration(0, "a Go duration >= 0 such as 1m")),
		setting.Env(&c.linger, EnvLinger, c.noEnv, duration(0, "a Go duration >= 0 such as 5ms")),
		setting.Env(&c.queueSize, EnvQueueSize, c.noEnv, positive),
		setting.Env(&c.batchSize, EnvBatchSize, c.noEnv, positive),
		setting.Env(&c.spillMax, EnvSpillMaxBytes, c.noEnv, positive),
		setting.Env(&c.spill, EnvSpillDir, c.noEnv, func(name string) (spillTarget, bool, error) {
			dir, ok := envconf.String(name)
			return spillTarget{dir: dir}, ok, nil
		}),
		setting.Env(&c.strict, EnvStrictEvents, c.noEnv, list),
		setting.Env(&c.blocking, EnvBlockingEvents, c.noEnv, list),
	}
}

func parseModeEnv(name string) (Mode, bool, error) {
	v, ok := envconf.String(name)
	if !ok {
		return 0, false, nil
	}
	m, err := ParseMode(v)
	if err != nil {
		return 0, false, setting.Invalid(name, v, "async, blocking or strict")
	}
	return m, true, nil
}

// spillDirError is the error for a spill directory New cannot create or
// append to its file in: the file system's own error, under the setting
// that named the directory.
func spillDirError(r resolved, err error) error {
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		return fmt.Errorf("delivery: %s: %w", r.spillFrom, err)
	}
	dir := r.spill.dir
	if !isEnv(r.spillFrom) {
		dir = strconv.Quote(dir) // WithSpillDir("/the/dir")
	}
	return setting.Invalid(r.spillFrom, dir, fmt.Sprintf("a directory where it can append to %s (%s: %v)",
		filepath.Base(pe.Path), pe.Op, pe.Err))
}
