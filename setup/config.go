package setup

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"golang.org/x/mod/sumdb/note"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/detect"
	"github.com/secaudit/secaudit/detect/guard"
	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/internal/setting"
	"github.com/secaudit/secaudit/processor"
)

// Option configures [New].
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

type config struct {
	serviceName   setting.Value[string]
	resourceAttrs []attribute.KeyValue

	exporters setting.Value[[]string]
	exportErr error // a bad WithExporters

	jsonl       setting.Value[jsonlDest]
	rotateBytes setting.Value[int64]
	rotateKeep  setting.Value[int]
	fsync       setting.Value[exporter.FsyncPolicy]
	hashChain   setting.Value[bool]
	signingKey  setting.Value[string] // the key file's path
	keyText     string                // its content, read by newConfig
	cpInterval  setting.Value[time.Duration]

	otlpOpts               []otlploghttp.Option
	otlpCompressionFromEnv bool

	deliveryOpts  []delivery.Option
	meterProvider metric.MeterProvider

	auditorOptions   []secaudit.Option
	tracing          bool
	extra            []sdklog.Processor
	processorOptions []processor.Option
	detectOptions    []detect.Option
	guardOptions     []guard.Option

	noEnv bool
}

// jsonlDest is where the JSONL exporter writes: w, or the file at path.
type jsonlDest struct {
	w    io.Writer
	path string
}

// defaultRotateKeep is the number of old files kept when
// SECAUDIT_JSONL_MAX_BYTES is set without SECAUDIT_JSONL_MAX_FILES.
const defaultRotateKeep = 5

// WithServiceName sets service.name, overriding OTEL_SERVICE_NAME.
func WithServiceName(name string) Option {
	return optionFunc(func(c config) config { c.serviceName.Put(name, "WithServiceName"); return c })
}

// WithResourceAttributes adds resource attributes; they override
// OTEL_RESOURCE_ATTRIBUTES for the same keys.
func WithResourceAttributes(attrs ...attribute.KeyValue) Option {
	return optionFunc(func(c config) config {
		c.resourceAttrs = append(c.resourceAttrs, attrs...)
		return c
	})
}

// WithExporters chooses the exporters: "jsonl", "otlp", "none", or several
// of jsonl and otlp. It overrides OTEL_LOGS_EXPORTER; the default is jsonl.
func WithExporters(names ...string) Option {
	return optionFunc(func(c config) config {
		ex, err := parseExporters(names, "WithExporters")
		c.exporters.Put(ex, "WithExporters")
		c.exportErr = err
		return c
	})
}

// WithJSONLWriter makes the JSONL exporter write to w, overriding
// SECAUDIT_JSONL_PATH and the default os.Stdout.
func WithJSONLWriter(w io.Writer) Option {
	return optionFunc(func(c config) config { c.jsonl.Put(jsonlDest{w: w}, "WithJSONLWriter"); return c })
}

// WithJSONLPath makes the JSONL exporter append to the file at path,
// overriding SECAUDIT_JSONL_PATH.
func WithJSONLPath(path string) Option {
	return optionFunc(func(c config) config { c.jsonl.Put(jsonlDest{path: path}, "WithJSONLPath"); return c })
}

// WithOTLPOptions passes options to the otlploghttp exporter; they override
// the OTEL_EXPORTER_OTLP_* variables. gzip is on unless an option or
// OTEL_EXPORTER_OTLP_[LOGS_]COMPRESSION says otherwise.
func WithOTLPOptions(opts ...otlploghttp.Option) Option {
	return optionFunc(func(c config) config {
		c.otlpOpts = append(c.otlpOpts, opts...)
		return c
	})
}

// WithJSONLRotation rotates the JSONL file (SECAUDIT_JSONL_PATH or
// WithJSONLPath) when it would grow past maxBytes, keeping keep old files
// (events.jsonl.1 … .keep). It overrides SECAUDIT_JSONL_MAX_BYTES and
// SECAUDIT_JSONL_MAX_FILES; the default is no rotation. maxBytes must be
// positive and keep from 1 to exporter.MaxRotationKeep, as for
// exporter.WithRotation.
func WithJSONLRotation(maxBytes int64, keep int) Option {
	return optionFunc(func(c config) config {
		c.rotateBytes.Put(maxBytes, "WithJSONLRotation")
		c.rotateKeep.Put(keep, "WithJSONLRotation")
		return c
	})
}

// WithJSONLChain writes the hash chain into the JSONL lines (seq and
// prev_hash; see package exporter's WithChain), overriding
// SECAUDIT_JSONL_CHAIN; off by default, on by default with a signing key.
func WithJSONLChain(on bool) Option {
	return optionFunc(func(c config) config { c.hashChain.Put(on, "WithJSONLChain"); return c })
}

// WithJSONLSigningKey signs checkpoints of the chain with the Ed25519
// private key in the file at path (written by `secaudit keygen`),
// overriding SECAUDIT_JSONL_SIGNING_KEY; they go to the JSONL file's
// path + ".checkpoints". It needs a JSONL file. The key is never logged.
func WithJSONLSigningKey(path string) Option {
	return optionFunc(func(c config) config { c.signingKey.Put(path, "WithJSONLSigningKey"); return c })
}

// WithJSONLCheckpointInterval sets how often a signed checkpoint is
// written while events are written, overriding
// SECAUDIT_JSONL_CHECKPOINT_INTERVAL; the default is one minute.
func WithJSONLCheckpointInterval(d time.Duration) Option {
	return optionFunc(func(c config) config { c.cpInterval.Put(d, "WithJSONLCheckpointInterval"); return c })
}

// WithJSONLFsync sets when the JSONL file is fsynced (exporter.FsyncNever,
// FsyncAlways, or FsyncInterval), overriding SECAUDIT_JSONL_FSYNC; the
// default is never (the OS decides).
func WithJSONLFsync(p exporter.FsyncPolicy) Option {
	return optionFunc(func(c config) config { c.fsync.Put(p, "WithJSONLFsync"); return c })
}

// WithDeliveryOptions passes options to every exporter's delivery
// processor (mode, queue size, strict events, retries); they override the
// SECAUDIT_DELIVERY_* variables. The processors are named after their
// exporters ("jsonl", "otlp"), which keeps their metrics, health reports
// and spill files apart: with more than one exporter, pass neither
// delivery.WithName nor delivery.WithSpill (whose exporter each processor
// would own and shut down); delivery.WithSpillDir names a file per
// processor. Nor delivery.WithoutCopy: New gives it to the last processor
// when nothing after it changes records, and fails when it would reach a
// processor that must copy.
func WithDeliveryOptions(opts ...delivery.Option) Option {
	return optionFunc(func(c config) config {
		c.deliveryOpts = append(c.deliveryOpts, opts...)
		return c
	})
}

// WithMeterProvider makes the pipeline report its metrics through mp: the
// delivery processors' (records emitted, exported, dropped by reason,
// queue depth, export latency), detection's (secaudit.detect.*) and the
// guard's (secaudit.guard.*). The default is a no-op provider.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c config) config {
		c.meterProvider = mp
		return c
	})
}

// WithAuditorOptions passes options to the pipeline's Auditor.
func WithAuditorOptions(opts ...secaudit.Option) Option {
	return optionFunc(func(c config) config {
		c.auditorOptions = append(c.auditorOptions, opts...)
		return c
	})
}

// WithProcessor adds p beside the exporting processors, after the processor
// chain: it sees every record that is exported, already scrubbed. Use it for
// your own counting or routing; it must not block. A nil p is ignored.
func WithProcessor(p sdklog.Processor) Option {
	return optionFunc(func(c config) config {
		if p != nil {
			c.extra = append(c.extra, p)
		}
		return c
	})
}

// WithoutEnv makes [New] ignore the environment: setup's own variables
// (OTEL_LOGS_EXPORTER, SECAUDIT_JSONL_*, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_EXPORTER, the OTLP compression),
// and those of the packages it builds: it passes WithoutEnv to the delivery
// processors, the processor chain and the Auditor. The OpenTelemetry
// exporters and SDK it builds still read their standard OTEL_ variables
// (OTEL_EXPORTER_OTLP_ENDPOINT and the rest, which [WithOTLPOptions]
// overrides); nothing can tell them not to.
func WithoutEnv() Option {
	return optionFunc(func(c config) config { c.noEnv = true; return c })
}

// parseExporters reads a list of exporter names given by source (an option
// or OTEL_LOGS_EXPORTER).
func parseExporters(names []string, source string) ([]string, error) {
	const want = "jsonl, otlp or none, or a list of jsonl and otlp"
	var out []string
	for _, n := range names {
		for _, part := range envconf.Split(n) {
			switch part = strings.ToLower(part); part {
			case ExporterJSONL, ExporterOTLP:
				if !slices.Contains(out, part) {
					out = append(out, part)
				}
			case ExporterNone:
				if len(names) > 1 || len(envconf.Split(n)) > 1 {
					return nil, invalidExporters(source, names, want+" (none alone)")
				}
				return nil, nil
			default:
				return nil, invalidExporters(source, names, want)
			}
		}
	}
	if len(out) == 0 {
		return nil, invalidExporters(source, names, want)
	}
	return out, nil
}

func invalidExporters(source string, names []string, want string) error {
	if source == envconf.LogsExporter {
		return setting.Invalid(source, strings.Join(names, ","), want)
	}
	return setting.Invalid(source, quote(names), want)
}

// quote writes strings as Go arguments: "a", "b".
func quote(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

// newConfig applies the options, then fills what they did not set from the
// environment (unless WithoutEnv), and checks the result: an option beats
// a variable, which beats the default, and an explicit zero is a value.
func newConfig(opts []Option) (config, error) {
	var c config
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	if c.exportErr != nil {
		return c, c.exportErr
	}
	errs := []error{
		setting.Env(&c.exporters, envconf.LogsExporter, c.noEnv, func(name string) ([]string, bool, error) {
			v, ok := envconf.String(name)
			if !ok {
				return nil, false, nil
			}
			ex, err := parseExporters([]string{v}, name)
			return ex, err == nil, err
		}),
		setting.Env(&c.jsonl, envconf.JSONLPath, c.noEnv, func(name string) (jsonlDest, bool, error) {
			path, ok := envconf.String(name)
			return jsonlDest{path: path}, ok, nil
		}),
		setting.Env(&c.rotateBytes, envconf.JSONLMaxBytes, c.noEnv, func(name string) (int64, bool, error) {
			n, ok, err := envconf.Int(name, 1)
			return int64(n), ok, err
		}),
		setting.Env(&c.rotateKeep, envconf.JSONLMaxFiles, c.noEnv, func(name string) (int, bool, error) {
			n, ok, err := envconf.Int(name, 1)
			if err == nil && n > exporter.MaxRotationKeep {
				v, _ := envconf.String(name)
				err = setting.Invalid(name, v, fmt.Sprintf("an integer from 1 to %d", exporter.MaxRotationKeep))
			}
			return n, ok, err
		}),
		setting.Env(&c.fsync, envconf.JSONLFsync, c.noEnv, func(name string) (exporter.FsyncPolicy, bool, error) {
			v, ok := envconf.String(name)
			if !ok {
				return exporter.FsyncNever, false, nil
			}
			p, err := exporter.ParseFsyncPolicy(v)
			if err != nil {
				return p, false, setting.Invalid(name, v, "never, always or a positive Go duration such as 1s")
			}
			return p, true, nil
		}),
		setting.Env(&c.hashChain, envconf.JSONLChain, c.noEnv, envconf.Bool),
		setting.Env(&c.signingKey, envconf.JSONLSigningKey, c.noEnv, func(name string) (string, bool, error) {
			path, ok := envconf.String(name)
			return path, ok, nil
		}),
		setting.Env(&c.cpInterval, envconf.JSONLCheckpointInterval, c.noEnv, func(name string) (time.Duration, bool, error) {
			return envconf.Duration(name, time.Nanosecond, "a positive Go duration such as 1m")
		}),
	}
	errs = append(errs, c.check()...)
	errs = append(errs, c.readSigningKey())
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	if slices.Contains(c.exporters.Or(defaultExporters), ExporterOTLP) && !c.noEnv {
		set, err := validateOTLPEnv()
		if err != nil {
			return c, err
		}
		c.otlpCompressionFromEnv = set
	}
	return c, nil
}

var defaultExporters = []string{ExporterJSONL}

// check validates what the options gave (a variable's parser checked its
// own value), and that the file settings have a file to apply to.
func (c *config) check() []error {
	var errs []error
	if name, ok := c.serviceName.Get(); ok && name == "" {
		errs = append(errs, setting.Invalid("WithServiceName", `""`, "a service name"))
	}
	dest, _ := c.jsonl.Get()
	switch from := c.jsonl.From(); {
	case from == "WithJSONLWriter" && dest.w == nil:
		errs = append(errs, setting.Invalid(from, "nil", "a writer"))
	case from == "WithJSONLPath" && dest.path == "":
		errs = append(errs, setting.Invalid(from, `""`, "a file path"))
	}
	maxBytes, rotate := c.rotateBytes.Get()
	keep := c.rotateKeep.Or(defaultRotateKeep)
	if from := c.rotateBytes.From(); from == "WithJSONLRotation" && (maxBytes < 1 || keep < 1 || keep > exporter.MaxRotationKeep) {
		// exporter.WithRotation's rule, naming this option.
		errs = append(errs, setting.Invalid(from, fmt.Sprintf("%d, %d", maxBytes, keep),
			fmt.Sprintf("maxBytes >= 1 and keep from 1 to %d", exporter.MaxRotationKeep)))
	}
	if d, ok := c.cpInterval.Get(); ok && c.cpInterval.From() == "WithJSONLCheckpointInterval" && d <= 0 {
		errs = append(errs, setting.Invalid("WithJSONLCheckpointInterval", d, "a positive duration"))
	}
	if p, ok := c.fsync.Get(); ok && c.fsync.From() == "WithJSONLFsync" {
		if _, err := exporter.ParseFsyncPolicy(p.String()); err != nil {
			// exporter.WithFsync's rule, naming this option.
			errs = append(errs, setting.Invalid("WithJSONLFsync", p, "never, always or a positive interval"))
		}
	}
	if dest.path == "" {
		noFile := "a JSONL file too (WithJSONLPath or " + envconf.JSONLPath + ")"
		if rotate {
			errs = append(errs, setting.Invalid(c.rotateBytes.From(), rotationValue(c.rotateBytes, maxBytes, keep), noFile))
		}
		if p, ok := c.fsync.Get(); ok && p != exporter.FsyncNever {
			errs = append(errs, setting.Invalid(c.fsync.From(), p, noFile))
		}
		if path, ok := c.signingKey.Get(); ok {
			errs = append(errs, setting.Invalid(c.signingKey.From(), path, noFile))
		}
	}
	return errs
}

// readSigningKey reads and checks the signing key file. Its errors show
// the path, never the key.
func (c *config) readSigningKey() error {
	path, ok := c.signingKey.Get()
	if !ok {
		return nil
	}
	from, shown := c.signingKey.From(), path
	if from == "WithJSONLSigningKey" {
		shown = strconv.Quote(path)
	}
	if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o077 != 0 {
		// Like ssh with a private key: say so, but go on.
		otel.Handle(fmt.Errorf("secaudit: %s=%s: the signing key file can be read by others (mode %v): chmod 600 it", from, shown, info.Mode().Perm()))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return setting.Invalid(from, shown, fmt.Sprintf("a key file written by secaudit keygen (%v)", err))
	}
	text := strings.TrimSpace(string(data))
	if _, err := note.NewSigner(text); err != nil {
		return setting.Invalid(from, shown, "a file holding an Ed25519 private key written by secaudit keygen (this one holds none)")
	}
	if on, set := c.hashChain.Get(); set && !on {
		return setting.Invalid(from, shown, "the hash chain on ("+c.hashChain.From()+" turns it off)")
	}
	c.keyText = text
	return nil
}

// rotationValue is the value a rotation error shows: the option's two
// arguments, or the variable's value.
func rotationValue(s setting.Value[int64], maxBytes int64, keep int) string {
	if s.From() == "WithJSONLRotation" {
		return fmt.Sprintf("%d, %d", maxBytes, keep)
	}
	return strconv.FormatInt(maxBytes, 10)
}
