package delivery

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/internal/envconf"
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

// setting is a value with where it came from (an option's or a
// variable's name), for precedence and for errors that name the source.
type setting[T any] struct {
	v    T
	set  bool
	from string
}

func (s *setting[T]) put(v T, from string) { s.v, s.set, s.from = v, true, from }

type config struct {
	name            setting[string]
	mode            setting[Mode]
	timeout         setting[time.Duration]
	queueSize       setting[int]
	batchSize       setting[int]
	exportTimeout   setting[time.Duration]
	retryInitial    time.Duration
	retryMax        time.Duration
	retryMaxElapsed setting[time.Duration]
	retrySet        bool
	strict          setting[[]string]
	blocking        setting[[]string]
	summary         setting[time.Duration]
	linger          setting[time.Duration]
	priority        func(*sdklog.Record) Priority
	meterProvider   metric.MeterProvider
	spill           setting[spillTarget]
	spillMax        setting[int]
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
	return optionFunc(func(c config) config { c.name.put(name, "WithName"); return c })
}

// WithMode sets the mode of every record not named by [WithStrictEvents]
// or [WithBlockingEvents] ($SECAUDIT_DELIVERY_MODE, default [ModeAsync]).
// ModeStrict makes every record strict.
func WithMode(m Mode) Option {
	return optionFunc(func(c config) config { c.mode.put(m, "WithMode"); return c })
}

// WithTimeout sets how long a blocking or strict record, and the gate,
// wait ($SECAUDIT_DELIVERY_TIMEOUT, default [DefaultTimeout]). It is also
// how long an export may run before the pipeline counts as stalled.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c config) config { c.timeout.put(d, "WithTimeout"); return c })
}

// WithQueueSize bounds the records waiting for export
// ($SECAUDIT_DELIVERY_QUEUE_SIZE, default [DefaultQueueSize]). One more
// batch may be in the exporter's hands. Size it as records per second ×
// the longest outage to ride out (Kubernetes' rule for its audit buffer).
func WithQueueSize(n int) Option {
	return optionFunc(func(c config) config { c.queueSize.put(n, "WithQueueSize"); return c })
}

// WithBatchSize bounds the records per Export call
// ($SECAUDIT_DELIVERY_BATCH_SIZE, default [DefaultBatchSize], at most the
// queue size). The processor exports as soon as records wait, so batches
// only fill up under load.
func WithBatchSize(n int) Option {
	return optionFunc(func(c config) config { c.batchSize.put(n, "WithBatchSize"); return c })
}

// WithExportTimeout bounds one Export call
// ($SECAUDIT_DELIVERY_EXPORT_TIMEOUT, default [DefaultExportTimeout]).
func WithExportTimeout(d time.Duration) Option {
	return optionFunc(func(c config) config { c.exportTimeout.put(d, "WithExportTimeout"); return c })
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
		c.retryInitial, c.retryMax, c.retrySet = initial, max, true
		c.retryMaxElapsed.put(maxElapsed, "WithRetry")
		return c
	})
}

// WithStrictEvents makes the named events strict ([ModeStrict])
// ($SECAUDIT_DELIVERY_STRICT_EVENTS). A pattern is an event name, a prefix
// followed by "*" ("model.*"), or "*" for every record.
func WithStrictEvents(patterns ...string) Option {
	return optionFunc(func(c config) config { c.strict.put(patterns, "WithStrictEvents"); return c })
}

// WithBlockingEvents makes the named events blocking ([ModeBlocking])
// whatever the mode ($SECAUDIT_DELIVERY_BLOCKING_EVENTS); patterns as for
// [WithStrictEvents], which wins when both match.
func WithBlockingEvents(patterns ...string) Option {
	return optionFunc(func(c config) config { c.blocking.put(patterns, "WithBlockingEvents"); return c })
}

// WithSummaryInterval sets how often an [EventPipelineDropped] event is
// exported when records were lost since the last one
// ($SECAUDIT_DELIVERY_SUMMARY_INTERVAL, default [DefaultSummaryInterval]).
// A final summary is exported at Shutdown whatever the interval; 0 means
// only then.
func WithSummaryInterval(d time.Duration) Option {
	return optionFunc(func(c config) config { c.summary.put(d, "WithSummaryInterval"); return c })
}

// WithLinger sets how long the worker waits for a batch to fill once a
// record is queued ($SECAUDIT_DELIVERY_LINGER, default [DefaultLinger]).
// Fuller batches mean fewer writes (one write system call per batch for a
// JSONL file) at the price of that much delay before an async record is
// written; the worker never lingers while a blocking or strict emitter,
// ForceFlush or Shutdown waits. 0 exports as soon as a record arrives.
func WithLinger(d time.Duration) Option {
	return optionFunc(func(c config) config { c.linger.put(d, "WithLinger"); return c })
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
	return optionFunc(func(c config) config { c.spill.put(spillTarget{exp: exp}, "WithSpill"); return c })
}

// WithSpillDir spills to the JSONL file <dir>/<name>.spill.jsonl, where
// name is the processor's [WithName] ($SECAUDIT_DELIVERY_SPILL_DIR): New
// creates or appends to it, fsynced at most once a second, never rotated
// (an operator re-ingests and removes it). The directory must exist.
func WithSpillDir(dir string) Option {
	return optionFunc(func(c config) config {
		c.spill.put(spillTarget{dir: dir}, "WithSpillDir")
		if dir == "" {
			c.spill.from = "WithSpillDir(\"\")"
		}
		return c
	})
}

// WithSpillMaxBytes caps the spill file of [WithSpillDir]
// ($SECAUDIT_DELIVERY_SPILL_MAX_BYTES, default [DefaultSpillMaxBytes],
// 256 MiB): once the file has reached n bytes (whatever earlier runs left
// in it included), records are no longer spilled but dropped, and counted,
// so that a long outage under an attacker's traffic cannot fill the disk.
// The file may pass n by at most one batch.
func WithSpillMaxBytes(n int) Option {
	return optionFunc(func(c config) config { c.spillMax.put(n, "WithSpillMaxBytes"); return c })
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
}

func newConfig(opts []Option) (resolved, error) {
	var c config
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	var errs []error
	if !c.noEnv {
		errs = append(errs, c.fromEnv()...)
	}
	r := resolved{
		name:          or(c.name, "default"),
		mode:          or(c.mode, ModeAsync),
		timeout:       or(c.timeout, DefaultTimeout),
		exportTimeout: or(c.exportTimeout, DefaultExportTimeout),
		queueSize:     or(c.queueSize, DefaultQueueSize),
		batchSize:     or(c.batchSize, DefaultBatchSize),
		retryInitial:  DefaultRetryInitial,
		retryMax:      DefaultRetryMax,
		retryElapsed:  or(c.retryMaxElapsed, DefaultRetryMaxElapsed),
		summary:       or(c.summary, DefaultSummaryInterval),
		linger:        or(c.linger, DefaultLinger),
		priority:      c.priority,
		meterProvider: c.meterProvider,
		spill:         c.spill.v,
		spillFrom:     c.spill.from,
		spillMax:      int64(or(c.spillMax, DefaultSpillMaxBytes)),
	}
	if c.retrySet {
		r.retryInitial, r.retryMax = c.retryInitial, c.retryMax
	}
	if r.name == "" {
		errs = append(errs, errors.New("delivery: WithName: name is empty"))
	}
	if r.mode > ModeStrict {
		errs = append(errs, fmt.Errorf("delivery: WithMode: unknown mode %d", r.mode))
	}
	if r.timeout <= 0 {
		errs = append(errs, fmt.Errorf("delivery: %s: timeout %v is not positive", c.timeout.from, r.timeout))
	}
	if r.exportTimeout <= 0 {
		errs = append(errs, fmt.Errorf("delivery: %s: export timeout %v is not positive", c.exportTimeout.from, r.exportTimeout))
	}
	if r.queueSize < 1 {
		errs = append(errs, fmt.Errorf("delivery: %s: queue size %d is below 1", c.queueSize.from, r.queueSize))
	}
	if r.batchSize < 1 {
		errs = append(errs, fmt.Errorf("delivery: %s: batch size %d is below 1", c.batchSize.from, r.batchSize))
	}
	if r.retryInitial <= 0 || r.retryMax < r.retryInitial {
		errs = append(errs, fmt.Errorf("delivery: WithRetry: want 0 < initial (%v) <= max (%v)", r.retryInitial, r.retryMax))
	}
	if r.retryElapsed < 0 {
		errs = append(errs, fmt.Errorf("delivery: %s: %v is negative", c.retryMaxElapsed.from, r.retryElapsed))
	}
	if r.summary < 0 {
		errs = append(errs, fmt.Errorf("delivery: %s: %v is negative", c.summary.from, r.summary))
	}
	if r.linger < 0 {
		errs = append(errs, fmt.Errorf("delivery: %s: %v is negative", c.linger.from, r.linger))
	}
	if c.spill.set && c.spill.v.exp == nil && c.spill.from != "WithSpill" {
		if c.spill.v.dir == "" {
			errs = append(errs, fmt.Errorf("delivery: %s: directory is empty", c.spill.from))
		} else if err := spillFileName(r.name); err != nil {
			errs = append(errs, fmt.Errorf("delivery: %s: %w", c.spill.from, err))
		}
	}
	if r.spillMax < 1 {
		errs = append(errs, fmt.Errorf("delivery: %s: %d is below 1", c.spillMax.from, r.spillMax))
	}
	var err error
	if r.strict, err = compilePatterns(c.strict.v); err != nil {
		errs = append(errs, fmt.Errorf("delivery: %s: %w", c.strict.from, err))
	}
	if r.blocking, err = compilePatterns(c.blocking.v); err != nil {
		errs = append(errs, fmt.Errorf("delivery: %s: %w", c.blocking.from, err))
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

// fromEnv fills the settings no option gave.
func (c *config) fromEnv() []error {
	var errs []error
	if !c.mode.set {
		if v, ok := envconf.String(EnvMode); ok {
			m, err := ParseMode(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("delivery: invalid %s=%q: want async, blocking or strict", EnvMode, v))
			}
			c.mode.put(m, EnvMode)
		}
	}
	envDuration(&c.timeout, EnvTimeout, "a positive Go duration such as 250ms", &errs)
	envDuration(&c.exportTimeout, EnvExportTimeout, "a positive Go duration such as 30s", &errs)
	envDuration(&c.retryMaxElapsed, EnvRetryMaxElapsed, "a Go duration >= 0 such as 5m", &errs)
	envDuration(&c.summary, EnvSummaryInterval, "a Go duration >= 0 such as 1m", &errs)
	envDuration(&c.linger, EnvLinger, "a Go duration >= 0 such as 5ms", &errs)
	for _, v := range []struct {
		s    *setting[int]
		name string
	}{{&c.queueSize, EnvQueueSize}, {&c.batchSize, EnvBatchSize}, {&c.spillMax, EnvSpillMaxBytes}} {
		if v.s.set {
			continue
		}
		n, ok, err := envconf.Int(v.name, 1)
		if err != nil {
			errs = append(errs, fmt.Errorf("delivery: %w", err))
		} else if ok {
			v.s.put(n, v.name)
		}
	}
	if !c.spill.set {
		if dir, ok := envconf.String(EnvSpillDir); ok {
			c.spill.put(spillTarget{dir: dir}, EnvSpillDir)
		}
	}
	for _, v := range []struct {
		s    *setting[[]string]
		name string
	}{{&c.strict, EnvStrictEvents}, {&c.blocking, EnvBlockingEvents}} {
		if !v.s.set {
			if items, ok := envconf.List(v.name); ok {
				v.s.put(items, v.name)
			}
		}
	}
	return errs
}

// envDuration reads a duration variable into s unless an option set it.
// Range checks stay in newConfig, which names the source either way.
func envDuration(s *setting[time.Duration], name, want string, errs *[]error) {
	if s.set {
		return
	}
	d, ok, err := envconf.Duration(name, math.MinInt64, want)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("delivery: %w", err))
	} else if ok {
		s.put(d, name)
	}
}

func or[T any](s setting[T], def T) T {
	if s.set {
		return s.v
	}
	return def
}
