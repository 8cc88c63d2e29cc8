package setup

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/processor"
)

// Option configures [New].
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

type config struct {
	serviceName   string
	resourceAttrs []attribute.KeyValue

	exporters      []string
	exportersSet   bool
	exportersError error

	jsonlWriter io.Writer
	jsonlPath   string
	jsonlSource string

	otlpOpts               []otlploghttp.Option
	otlpCompressionFromEnv bool

	rotateBytes int64
	rotateKeep  int
	fsync       exporter.FsyncPolicy
	fsyncSet    bool

	deliveryOpts  []delivery.Option
	meterProvider metric.MeterProvider

	auditorOptions   []secaudit.Option
	tracing          bool
	extra            []sdklog.Processor
	processorOptions []processor.Option
}

// WithServiceName sets service.name, overriding OTEL_SERVICE_NAME.
func WithServiceName(name string) Option {
	return optionFunc(func(c config) config {
		c.serviceName = name
		return c
	})
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
		c.exporters, c.exportersError = parseExporters(names, "WithExporters")
		c.exportersSet = true
		return c
	})
}

// WithJSONLWriter makes the JSONL exporter write to w, overriding
// SECAUDIT_JSONL_PATH and the default os.Stdout.
func WithJSONLWriter(w io.Writer) Option {
	return optionFunc(func(c config) config {
		c.jsonlWriter, c.jsonlPath, c.jsonlSource = w, "", "WithJSONLWriter"
		return c
	})
}

// WithJSONLPath makes the JSONL exporter append to the file at path,
// overriding SECAUDIT_JSONL_PATH.
func WithJSONLPath(path string) Option {
	return optionFunc(func(c config) config {
		c.jsonlWriter, c.jsonlPath, c.jsonlSource = nil, path, "WithJSONLPath"
		return c
	})
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
// SECAUDIT_JSONL_MAX_FILES; the default is no rotation.
func WithJSONLRotation(maxBytes int64, keep int) Option {
	return optionFunc(func(c config) config {
		c.rotateBytes, c.rotateKeep = maxBytes, keep
		return c
	})
}

// WithJSONLFsync sets when the JSONL file is fsynced (exporter.FsyncNever,
// FsyncAlways, or FsyncInterval), overriding SECAUDIT_JSONL_FSYNC; the
// default is never (the OS decides).
func WithJSONLFsync(p exporter.FsyncPolicy) Option {
	return optionFunc(func(c config) config {
		c.fsync, c.fsyncSet = p, true
		return c
	})
}

// WithDeliveryOptions passes options to every exporter's delivery
// processor (mode, queue size, strict events, retries); they override the
// SECAUDIT_DELIVERY_* variables. The processors are named after their
// exporters ("jsonl", "otlp"), which keeps their metrics, health reports
// and spill files apart: with more than one exporter, pass neither
// delivery.WithName nor delivery.WithSpill (whose exporter each processor
// would own and shut down); delivery.WithSpillDir names a file per
// processor.
func WithDeliveryOptions(opts ...delivery.Option) Option {
	return optionFunc(func(c config) config {
		c.deliveryOpts = append(c.deliveryOpts, opts...)
		return c
	})
}

// WithMeterProvider makes the delivery processors report their metrics
// (records emitted, exported, dropped by reason, queue depth, export
// latency) through mp. The default is a no-op provider.
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

func parseExporters(names []string, source string) ([]string, error) {
	var out []string
	for _, n := range names {
		for _, part := range envconf.Split(n) {
			part = strings.ToLower(part)
			switch part {
			case ExporterJSONL, ExporterOTLP:
				if !slices.Contains(out, part) {
					out = append(out, part)
				}
			case ExporterNone:
				if len(names) > 1 || len(envconf.Split(n)) > 1 {
					return nil, fmt.Errorf("setup: invalid %s: %q cannot be combined with other exporters", source, ExporterNone)
				}
				return nil, nil
			default:
				return nil, fmt.Errorf("setup: invalid %s: unknown exporter %q (want jsonl, otlp or none)", source, part)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("setup: invalid %s: no exporter named", source)
	}
	return out, nil
}

func newConfig(opts []Option) (config, error) {
	var c config
	for _, o := range opts {
		c = o.apply(c)
	}
	if c.exportersError != nil {
		return c, c.exportersError
	}
	if !c.exportersSet {
		if v, ok := envconf.String(envconf.LogsExporter); ok {
			ex, err := parseExporters([]string{v}, envconf.LogsExporter)
			if err != nil {
				return c, err
			}
			c.exporters = ex
		} else {
			c.exporters = []string{ExporterJSONL}
		}
	}
	if c.jsonlSource == "" {
		if p, ok := envconf.String(envconf.JSONLPath); ok {
			c.jsonlPath, c.jsonlSource = p, envconf.JSONLPath
		} else {
			c.jsonlSource = "stdout"
		}
	}
	if err := c.fileEnv(); err != nil {
		return c, err
	}
	if slices.Contains(c.exporters, ExporterOTLP) {
		set, err := validateOTLPEnv()
		if err != nil {
			return c, err
		}
		c.otlpCompressionFromEnv = set
	}
	return c, nil
}

// fileEnv reads the JSONL file settings from the environment where no
// option set them; they apply only to a file.
func (c *config) fileEnv() error {
	if c.rotateBytes == 0 {
		n, set, err := envconf.Int(envconf.JSONLMaxBytes, 1)
		if err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		if set {
			c.rotateBytes = int64(n)
			c.rotateKeep = 5
			keep, kset, err := envconf.Int(envconf.JSONLMaxFiles, 1)
			if err != nil {
				return fmt.Errorf("setup: %w", err)
			}
			if kset {
				c.rotateKeep = keep
			}
		}
	}
	if !c.fsyncSet {
		if v, ok := envconf.String(envconf.JSONLFsync); ok {
			p, err := exporter.ParseFsyncPolicy(v)
			if err != nil {
				return fmt.Errorf("setup: invalid %s=%q: %w", envconf.JSONLFsync, v, err)
			}
			c.fsync, c.fsyncSet = p, true
		}
	}
	if (c.rotateBytes != 0 || c.fsyncSet) && c.jsonlPath == "" {
		return fmt.Errorf("setup: %s, %s and %s apply only to a JSONL file: set %s too",
			envconf.JSONLMaxBytes, envconf.JSONLMaxFiles, envconf.JSONLFsync, envconf.JSONLPath)
	}
	if c.rotateBytes < 0 || (c.rotateBytes > 0 && c.rotateKeep < 1) {
		return fmt.Errorf("setup: invalid WithJSONLRotation(%d, %d): want maxBytes > 0 and keep >= 1", c.rotateBytes, c.rotateKeep)
	}
	return nil
}
