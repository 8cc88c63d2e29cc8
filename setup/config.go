package setup

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit"
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

	auditorOptions   []secaudit.Option
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
	if slices.Contains(c.exporters, ExporterOTLP) {
		set, err := validateOTLPEnv()
		if err != nil {
			return c, err
		}
		c.otlpCompressionFromEnv = set
	}
	return c, nil
}
