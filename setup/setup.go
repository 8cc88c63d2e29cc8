package setup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/detect"
	"github.com/secaudit/secaudit/detect/guard"
	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/internal/setting"
	"github.com/secaudit/secaudit/processor"
	auditconv "github.com/secaudit/secaudit/semconv"
)

// Exporter names accepted by [WithExporters] and OTEL_LOGS_EXPORTER.
const (
	ExporterJSONL = "jsonl"
	ExporterOTLP  = "otlp"
	ExporterNone  = "none"
)

// Pipeline is a running secaudit pipeline. Its methods are safe for
// concurrent use.
type Pipeline struct {
	logs      *LoggerProvider // the SDK provider, scope attributes scrubbed
	auditor   *secaudit.Auditor
	exporters []string
	chain     *processor.Chain
	detector  *detect.Processor // nil when detection is off
	guard     *guard.Guard
	state     detect.SharedState // SECAUDIT_STATE's shared store, nil for memory
	// stateClose closes the shared store the pipeline opened.
	stateClose func() error
	delivery   []*delivery.Processor
	resource   *resource.Resource
	tracer     *sdktrace.TracerProvider // WithTracing's, or nil
}

// Resource returns the resource every audit record carries (service.name
// and the rest, from the options and OTEL_RESOURCE_ATTRIBUTES /
// OTEL_SERVICE_NAME, scrubbed like the records). Give it to the
// application's TracerProvider (sdktrace.WithResource) so that its spans
// and its audit events name the same service: a trace-to-logs link in
// Grafana or any backend depends on it.
func (p *Pipeline) Resource() *resource.Resource { return p.resource }

// Delivery returns the delivery processor of each exporter, whose Stats and
// Health account for every record: emitted = exported + spilled + dropped.
func (p *Pipeline) Delivery() []*delivery.Processor {
	if p == nil {
		return nil
	}
	return append([]*delivery.Processor(nil), p.delivery...)
}

// Gate admits a request only while every delivery pipeline can record its
// strict events (see instrumentation.WithStrictRoutes).
func (p *Pipeline) Gate() delivery.Gate {
	gates := make([]delivery.Gate, 0, len(p.delivery))
	for _, d := range p.delivery {
		gates = append(gates, d)
	}
	return delivery.All(gates...)
}

// Processors returns the pipeline's processor chain (nil when no exporter
// is configured), whose Stats count every redaction and every dropped record.
func (p *Pipeline) Processors() *processor.Chain { return p.chain }

// LoggerProvider returns the pipeline's provider, for other emitters (for
// example the otelslog bridge): their records are scrubbed and exported
// too, and so are their loggers' scope attributes (see [LoggerProvider]).
// A nil Pipeline returns a nil provider, whose loggers do nothing.
func (p *Pipeline) LoggerProvider() *LoggerProvider {
	if p == nil {
		return nil
	}
	return p.logs
}

// Auditor returns the pipeline's Auditor.
func (p *Pipeline) Auditor() *secaudit.Auditor { return p.auditor }

// Exporters returns the names of the active exporters.
func (p *Pipeline) Exporters() []string { return append([]string(nil), p.exporters...) }

// Shutdown flushes every pending record to the exporters and stops the
// pipeline, then the TracerProvider of [WithTracing]. It first emits the
// guard's pending security.rate_limited summaries (guard.Guard.Flush), so
// that refusals counted in a window that has not ended are not lost. A record emitted
// once Shutdown has begun is not written: each delivery processor counts
// it as dropped (reason closed), so that its Stats still account for every
// record (see [LoggerProvider]). Shutdown honours ctx's deadline; if ctx
// ends while a record is still being emitted, the delivery processors are
// shut down at once (what they hold is counted as dropped) and a later
// call finishes stopping the pipeline; otherwise later calls are no-ops.
func (p *Pipeline) Shutdown(ctx context.Context) error {
	if p == nil || p.logs == nil {
		return nil
	}
	p.guard.Flush() // the refusals' pending security.rate_limited counts, while the logs are open
	err := p.logs.shutdown(ctx)
	if p.tracer != nil {
		err = errors.Join(err, p.tracer.Shutdown(ctx))
	}
	if p.stateClose != nil {
		err = errors.Join(err, p.stateClose())
	}
	return err
}

// ForceFlush exports every pending record.
func (p *Pipeline) ForceFlush(ctx context.Context) error {
	if p == nil || p.logs == nil {
		return nil
	}
	err := p.logs.sdk.ForceFlush(ctx)
	if p.tracer != nil {
		err = errors.Join(err, p.tracer.ForceFlush(ctx))
	}
	return err
}

// New builds the pipeline. It returns an error naming the option or
// environment variable when a setting is invalid, and builds nothing then.
//
// New installs the pipeline's [LoggerProvider] as OpenTelemetry's global
// provider (otel.SetLoggerProvider), the default of secaudit.New,
// instrumentation.New and the otelslog bridge: what they emit goes through
// this pipeline, scrubbed, even when no provider is passed to them. The
// last pipeline built is the global one.
func New(ctx context.Context, opts ...Option) (*Pipeline, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if !c.noEnv {
		warnUnknownEnv(os.Environ(), otel.Handle)
	}
	res, err := c.resource(ctx)
	if err != nil {
		return nil, err
	}

	shared, opened, err := c.sharedState()
	if err != nil {
		return nil, err
	}
	g, err := c.guard(shared)
	if err != nil {
		if opened {
			_ = shared.Close()
		}
		return nil, err
	}
	p := &Pipeline{guard: g, state: shared}
	if opened {
		p.stateClose = shared.Close
	}
	var exporting []sdklog.Processor
	var closers []func(context.Context) error
	fail := func(err error) (*Pipeline, error) {
		// Delivery processors run a goroutine each; stop them (their
		// queues are empty) before their exporters.
		for _, dp := range p.delivery {
			_ = dp.Shutdown(context.Background())
		}
		for _, cl := range closers {
			_ = cl(context.Background())
		}
		if p.detector != nil {
			_ = p.detector.Shutdown(context.Background())
		}
		if p.stateClose != nil {
			_ = p.stateClose()
		}
		return nil, err
	}
	exporters := c.exporters.Or(defaultExporters)
	if len(exporters)+len(c.extra) > 0 {
		// Detection reads each record after the chain (scrubbed,
		// limited). Built first: whether it only reads records decides
		// how the last delivery processor queues them.
		dopts := []detect.Option{detect.WithResponder(p.guard.Responder())}
		if shared != nil {
			dopts = append(dopts, detect.WithState(shared))
		}
		det, err := c.detector(dopts...)
		if err != nil {
			return fail(err)
		}
		if det.Active() {
			p.detector = det
		}
	}
	for i, name := range exporters {
		var exp sdklog.Exporter
		switch name {
		case ExporterJSONL:
			jsonl, err := exporter.NewJSONL(c.jsonlOptions()...)
			if err != nil {
				// The file's own error (no such file or directory) under
				// the setting that named the file.
				if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
					path := pe.Path
					if c.jsonl.From() == "WithJSONLPath" {
						path = strconv.Quote(path) // WithJSONLPath("/the/path")
					}
					err = setting.Invalid(c.jsonl.From(), path, fmt.Sprintf("a file it can append to (%s: %v)", pe.Op, pe.Err))
				}
				return fail(err)
			}
			exp = jsonl
		case ExporterOTLP:
			otlp, err := otlploghttp.New(ctx, c.otlpOptions()...)
			if err != nil {
				return fail(fmt.Errorf("setup: otlp exporter: %w", err))
			}
			exp = otlp
		}
		closers = append(closers, exp.Shutdown)
		// The last exporting processor may keep the SDK's record as it
		// is, when nothing after it changes records: no user processor
		// follows in the fan-out, and the detection processor after the
		// chain only reads. Every earlier one copies, so that the next
		// sees the record unchanged (each numbers its own copy).
		owns := i == len(exporters)-1 && len(c.extra) == 0 && readsOnly(p.detector)
		dp, err := c.delivery(name, exp, owns)
		if err != nil {
			return fail(err)
		}
		p.delivery = append(p.delivery, dp)
		exporting = append(exporting, dp)
	}

	exporting = append(exporting, c.extra...)
	var next sdklog.Processor
	switch len(exporting) {
	case 0:
		next = nil
	case 1:
		next = exporting[0]
	default:
		next = fanout(exporting)
	}

	popts := []sdklog.LoggerProviderOption{
		// Keys are de-duplicated by the JSONL encoder and are unique in
		// Auditor records; the SDK's own de-duplication doubles the cost
		// of every record.
		sdklog.WithAllowKeyDuplication(),
		// The processor chain's limiter bounds attribute counts (128 by
		// default) and counts what it drops; the SDK's own limit would cut
		// silently before it, and could cut audit.redacted_count.
		sdklog.WithAttributeCountLimit(-1),
	}
	if next != nil {
		chain, err := c.chain(next)
		if err != nil {
			return fail(err)
		}
		popts = append(popts, sdklog.WithProcessor(chain))
		p.chain = chain
		if p.detector != nil {
			popts = append(popts, sdklog.WithProcessor(p.detector))
		}
		// Every record carries the resource to every exporter; processors
		// cannot change it, so its attributes are scrubbed here, once.
		res = scrubResource(res, chain.Scrubber())
	}
	popts = append(popts, sdklog.WithResource(res))
	provider := sdklog.NewLoggerProvider(popts...)
	logs := newLoggerProvider(provider, p.chain.Scrubber(), p.delivery)
	if p.detector != nil {
		// Alerts go through the same provider: scrubbed and delivered.
		p.detector.SetLogger(logs.Logger("github.com/secaudit/secaudit/detect"))
	}
	if next != nil {
		// Block records go through the same provider too.
		p.guard.SetLogger(logs.Logger("github.com/secaudit/secaudit/detect/guard"))
	}

	aopts := append([]secaudit.Option{secaudit.WithLoggerProvider(logs)}, c.auditorOptions...)
	if c.noEnv {
		aopts = append(aopts, secaudit.WithoutEnv())
	}
	auditor, err := secaudit.New(aopts...)
	if err != nil {
		_ = provider.Shutdown(context.Background())
		if p.stateClose != nil {
			_ = p.stateClose()
		}
		return nil, err
	}
	if c.tracing {
		exp, err := c.tracesExporter(exporters)
		if err == nil {
			p.tracer, err = newTracing(ctx, res, exp, c.noEnv)
		}
		if err != nil {
			_ = provider.Shutdown(context.Background())
			if p.stateClose != nil {
				_ = p.stateClose()
			}
			return nil, err
		}
	}
	p.logs, p.auditor, p.exporters, p.resource = logs, auditor, exporters, res
	// The global provider is the default of secaudit.New and
	// instrumentation.New (and of the otelslog bridge): after New, an
	// Auditor or a middleware built without an explicit provider records
	// through this pipeline instead of a silent no-op.
	otel.SetLoggerProvider(logs)
	return p, nil
}

func (c *config) resource(ctx context.Context) (*resource.Resource, error) {
	attrs := append([]attribute.KeyValue(nil), c.resourceAttrs...)
	if name, ok := c.serviceName.Get(); ok {
		attrs = append(attrs, auditconv.ServiceNameKey.String(name))
	}
	ropts := []resource.Option{resource.WithAttributes(defaultServiceName())}
	if !c.noEnv {
		ropts = append(ropts, resource.WithFromEnv())
	}
	res, err := resource.New(ctx, append(ropts, resource.WithAttributes(attrs...))...)
	if err != nil {
		// Only OTEL_RESOURCE_ATTRIBUTES can fail to parse.
		v, _ := envconf.String(envconf.ResourceAttributes)
		return nil, setting.Invalid(envconf.ResourceAttributes, v, "key=value pairs separated by commas, values percent-encoded ("+err.Error()+")")
	}
	return res, nil
}

func defaultServiceName() attribute.KeyValue {
	name := "unknown_service"
	if exe, err := os.Executable(); err == nil {
		base := exe[strings.LastIndexByte(exe, os.PathSeparator)+1:]
		name += ":" + base
	}
	return auditconv.ServiceNameKey.String(name)
}

// delivery builds the delivery processor of the exporter name; owns gives
// it delivery.WithoutCopy (see New for when that is safe).
func (c *config) delivery(name string, exp sdklog.Exporter, owns bool) (*delivery.Processor, error) {
	// Every record carries audit.stream.id and audit.sequence, numbered by
	// its pipeline after the queue: one stream per pipeline and process
	// start, so that each backend sees a gap-free sequence per stream
	// unless a numbered record was lost.
	opts := []delivery.Option{delivery.WithName(name), delivery.WithStream(newStreamID())}
	if c.meterProvider != nil {
		opts = append(opts, delivery.WithMeterProvider(c.meterProvider))
	}
	if c.noEnv {
		opts = append(opts, delivery.WithoutEnv())
	}
	if owns {
		opts = append(opts, delivery.WithoutCopy())
	}
	// A bad setting's error names it, and every processor has the same
	// settings; a spill file's error names the file, which names the
	// processor.
	dp, err := delivery.New(exp, append(opts, c.deliveryOpts...)...)
	if err == nil && !owns && !dp.CopiesRecords() {
		// WithoutCopy among the delivery options, for a processor that
		// another one, or a user processor, follows.
		_ = dp.Shutdown(context.Background())
		return nil, setting.Invalid("WithDeliveryOptions", "delivery.WithoutCopy()",
			"no delivery.WithoutCopy: New turns it on for the last exporting processor when nothing after it changes records")
	}
	return dp, err
}

// readsOnly reports whether the detection processor det (nil when
// detection is off) only reads the records it is given. Its built-in
// rules read a record's attributes into a view of their own; a custom
// rule (detect.WithCustomRule) is given the record itself, which it could
// change. Custom rules cannot take a built-in rule's name, so a rule name
// not among the built-in ones is a custom rule (and a built-in rule this
// list does not know yet only costs the copy).
func readsOnly(det *detect.Processor) bool {
	if !det.Active() {
		return true
	}
	for name := range det.Stats().Alerts {
		switch name {
		case detect.RuleBruteForce, detect.RulePasswordSpray, detect.RuleDistributedBruteForce,
			detect.RuleEnumeration, detect.RuleScanner, detect.RuleSensitiveChange:
		default:
			return false
		}
	}
	return true
}

// newStreamID returns a random audit.stream.id: 32 hex digits.
func newStreamID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// jsonlOptions are the JSONL exporter's options: its destination, and the
// file's rotation and fsync policy.
func (c *config) jsonlOptions() []exporter.Option {
	dest, _ := c.jsonl.Get()
	var chain []exporter.Option
	if on, ok := c.hashChain.Get(); ok {
		chain = append(chain, exporter.WithChain(on))
	}
	if d, ok := c.cpInterval.Get(); ok {
		chain = append(chain, exporter.WithCheckpointInterval(d))
	}
	switch {
	case dest.w != nil:
		return append([]exporter.Option{exporter.WithWriter(dest.w)}, chain...)
	case dest.path == "":
		return chain // stdout
	}
	opts := append([]exporter.Option{exporter.WithFile(dest.path)}, chain...)
	if c.keyText != "" {
		opts = append(opts, exporter.WithSigningKey(c.keyText))
	}
	if maxBytes, ok := c.rotateBytes.Get(); ok {
		opts = append(opts, exporter.WithRotation(maxBytes, c.rotateKeep.Or(defaultRotateKeep)))
	}
	if p, ok := c.fsync.Get(); ok {
		opts = append(opts, exporter.WithFsync(p))
	}
	return opts
}

func (c *config) otlpOptions() []otlploghttp.Option {
	// The delivery processor retries failed exports itself, without
	// blocking anything but its worker; the exporter's own retry would hold
	// the worker for up to a minute per batch.
	opts := append([]otlploghttp.Option{otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false})}, c.otlpOpts...)
	if !c.otlpCompressionFromEnv {
		// gzip by default: audit volume compresses ~10×.
		opts = append([]otlploghttp.Option{otlploghttp.WithCompression(otlploghttp.GzipCompression)}, opts...)
	}
	return opts
}

// validateOTLPEnv checks the OTLP variables otlploghttp would otherwise
// report only through otel.Handle at export time.
func validateOTLPEnv() (compressionSet bool, err error) {
	for _, name := range []string{envconf.OTLPLogsCompression, envconf.OTLPCompression} {
		if v, ok := envconf.String(name); ok {
			switch strings.ToLower(v) {
			case "gzip", "none":
				compressionSet = true
			default:
				return false, setting.Invalid(name, v, "gzip or none")
			}
		}
	}
	for _, name := range []string{envconf.OTLPLogsEndpoint, envconf.OTLPEndpoint} {
		if v, ok := envconf.String(name); ok {
			u, perr := url.Parse(v)
			if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return false, setting.Invalid(name, v, "a URL such as http://127.0.0.1:4318")
			}
		}
	}
	return compressionSet, nil
}

// fanout hands each record to several exporting processors in turn.
type fanout []sdklog.Processor

var _ sdklog.Processor = fanout(nil)

func (f fanout) Enabled(ctx context.Context, p sdklog.EnabledParameters) bool {
	for _, p2 := range f {
		if p2.Enabled(ctx, p) {
			return true
		}
	}
	return false
}

func (f fanout) OnEmit(ctx context.Context, r *sdklog.Record) error {
	var errs []error
	for _, p := range f {
		if err := p.OnEmit(ctx, r); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (f fanout) Shutdown(ctx context.Context) error {
	var errs []error
	for _, p := range f {
		errs = append(errs, p.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

func (f fanout) ForceFlush(ctx context.Context) error {
	var errs []error
	for _, p := range f {
		errs = append(errs, p.ForceFlush(ctx))
	}
	return errors.Join(errs...)
}

// warnUnknownEnv reports every SECAUDIT_ variable secaudit does not read
// (New reports through the OTel error handler, which logs by default): a
// misspelt setting, say SECAUDIT_DELIVERY_STRICT_EVENT, would otherwise
// leave its default in force without a word. A warning, not an error, so
// that a variable meant for a newer version does not stop an older one.
func warnUnknownEnv(environ []string, report func(error)) {
	for _, name := range envconf.Unknown(environ) {
		msg := "setup: ignoring " + name + ": not a secaudit setting"
		if s := envconf.Suggest(name); s != "" {
			msg += " (did you mean " + s + "?)"
		}
		report(errors.New(msg))
	}
}

// scrubResource returns res with its attributes scrubbed by s (a secret in
// OTEL_RESOURCE_ATTRIBUTES, say), or res itself when nothing is replaced.
func scrubResource(res *resource.Resource, s *processor.Scrubber) *resource.Resource {
	attrs, n := s.ScrubAttributes(res.Attributes())
	if n == 0 {
		return res
	}
	return resource.NewWithAttributes(res.SchemaURL(), attrs...)
}
