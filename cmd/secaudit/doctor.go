package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/detect"
	"github.com/secaudit/secaudit/detect/guard"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/internal/auditlog"
	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/processor"
)

func init() {
	register(command{"doctor", "checks the environment's SECAUDIT_*/OTEL_* configuration and names risky settings", runDoctor})
}

const doctorUsage = `usage: secaudit doctor [-sample FILE]

Reads the SECAUDIT_* and OTEL_* variables the service would read, with the
service's own parsers, and prints each setting with its value and where it
came from (env or default); secrets are never printed. Then it names risky
settings: body capture without an allowlist, trusted proxies unset while
the -sample events show forwarded requests, OK responses sampled at 0, OTLP
without TLS to a host that is not loopback, detection off, usernames on.

Exit status: 0 for a clean configuration, 1 when a value is invalid or a
setting is risky, 2 for bad usage.

flags:
`

// doctorSetting is one variable doctor shows.
type doctorSetting struct {
	name   string
	def    string // what applies when unset
	secret bool
	// parse checks the value with the owner's parser (run inside
	// envconf.ReadFrom); nil: any value.
	parse func(name string) error
}

func boolSetting(name string) error     { _, _, err := envconf.Bool(name); return err }
func rateSetting(name string) error     { _, _, err := envconf.Rate(name); return err }
func regexpSetting(name string) error   { _, _, err := envconf.Regexps(name); return err }
func prefixSetting(name string) error   { _, _, err := envconf.Prefixes(name); return err }
func statusSetting(name string) error   { _, _, err := envconf.StatusCodes(name); return err }
func positiveSetting(name string) error { _, _, err := envconf.Int(name, 1); return err }

var doctorSettings = []doctorSetting{
	{name: envconf.ServiceName, def: "unknown_service:<program>"},
	{name: envconf.ResourceAttributes, def: "(none)"},
	{name: envconf.LogsExporter, def: "jsonl (stdout)"},
	{name: envconf.OTLPLogsEndpoint, def: "(OTEL_EXPORTER_OTLP_ENDPOINT)"},
	{name: envconf.OTLPEndpoint, def: "https://localhost:4318"},
	{name: "OTEL_EXPORTER_OTLP_LOGS_HEADERS", def: "(none)", secret: true},
	{name: "OTEL_EXPORTER_OTLP_HEADERS", def: "(none)", secret: true},
	{name: "OTEL_EXPORTER_OTLP_LOGS_INSECURE", def: "false"},
	{name: "OTEL_EXPORTER_OTLP_INSECURE", def: "false"},
	{name: envconf.JSONLPath, def: "(stdout)"},
	{name: envconf.JSONLMaxBytes, def: "(no rotation)", parse: positiveSetting},
	{name: envconf.JSONLMaxFiles, def: "(see rotation)", parse: positiveSetting},
	{name: envconf.LogOKResponses, def: "false", parse: boolSetting},
	{name: envconf.SampleRate, def: "1", parse: rateSetting},
	{name: envconf.SampleKey, def: "(random per process)", secret: true},
	{name: envconf.IgnorePaths, def: "(none)", parse: regexpSetting},
	{name: envconf.IgnoreStatusCodes, def: "(none)", parse: statusSetting},
	{name: envconf.TrustedProxyCIDRs, def: "(none: X-Forwarded-For ignored)", parse: prefixSetting},
	{name: envconf.TrustedProxyCount, def: "(none)", parse: positiveSetting},
	{name: envconf.LogRequestBodies, def: "false", parse: boolSetting},
	{name: envconf.BodyFields, def: "(none)"},
	{name: envconf.BodyPaths, def: "(all)", parse: regexpSetting},
	{name: envconf.MaxBodyBytes, def: "4096", parse: positiveSetting},
	{name: envconf.SensitiveKeys, def: "(built-in list)"},
	{name: envconf.SensitiveKeyAllowlist, def: "(none)"},
	{name: envconf.SensitiveValuePatterns, def: "(built-in detectors)", parse: regexpSetting},
	{name: envconf.IncludeUsernames, def: "false", parse: boolSetting},
	{name: envconf.EmitSessionID, def: "false", parse: boolSetting},
	{name: envconf.DeliveryMode, def: "async"},
	{name: envconf.DeliverySpillDir, def: "(no spill)"},
	{name: envconf.Detect, def: "true", parse: boolSetting},
	{name: envconf.DetectRules, def: "(built-in rules)"},
	{name: envconf.Block, def: "false", parse: boolSetting},
	{name: envconf.BlockDuration, def: "15m"},
	{name: envconf.BlockAllowCIDRs, def: "(none)", parse: prefixSetting},
	{name: envconf.RateLimit, def: "(off)"},
	{name: "SECAUDIT_STATE", def: "memory"},
}

// secretName reports whether a variable's value must not be printed.
func secretName(name string) bool {
	for _, w := range []string{"KEY", "SECRET", "TOKEN", "PASSWORD", "HEADERS"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// finding is one risky setting.
type finding struct{ setting, why string }

func runDoctor(ctx context.Context, inv invocation) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(inv.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), doctorUsage)
		fs.PrintDefaults()
	}
	sample := fs.String("sample", "", "a JSONL file of the service's events, to look for forwarded requests")
	if err := fs.Parse(inv.args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(inv.stderr, "secaudit doctor: no arguments expected, only -sample FILE")
		return exitUsage
	}
	var evidence forwardEvidence
	if *sample != "" {
		var err error
		if evidence, err = readForwardEvidence(ctx, *sample); err != nil {
			fmt.Fprintln(inv.stderr, "secaudit doctor:", err)
			return exitUsage
		}
	}
	getenv := func(name string) string { return strings.TrimSpace(inv.getenv(name)) }

	var invalid []error
	var risky []finding
	envconf.ReadFrom(getenv, func() {
		for _, s := range doctorSettings {
			if s.parse != nil {
				if err := s.parse(s.name); err != nil {
					invalid = append(invalid, err)
				}
			}
		}
		// The constructors the service runs, for what the per-variable
		// parsers cannot see (settings that must go together).
		invalid = append(invalid, constructorErrors(ctx)...)
		risky = doctorFindings(evidence)
	})
	invalid = dedupErrors(invalid)

	settings := slices.Clone(doctorSettings)
	for _, name := range envconf.Known() { // settings added since this table
		if !slices.ContainsFunc(settings, func(s doctorSetting) bool { return s.name == name }) {
			settings = append(settings, doctorSetting{name: name, def: "(the package's default)", secret: secretName(name)})
		}
	}
	w := bufio.NewWriter(inv.stdout)
	defer w.Flush()
	fmt.Fprintln(w, "setting                              value                                    from")
	for _, s := range settings {
		v := getenv(s.name)
		from, shown := "env", v
		switch {
		case v == "":
			from, shown = "default", s.def
		case s.secret:
			shown = fmt.Sprintf("(set, %d characters, not shown)", len(v))
		}
		fmt.Fprintf(w, "%-36s %-40s %s\n", s.name, shown, from)
	}
	for _, err := range invalid {
		fmt.Fprintf(w, "\ninvalid: %v", err)
	}
	if len(invalid) > 0 {
		fmt.Fprintln(w)
	}
	if len(risky) > 0 {
		fmt.Fprintln(w, "\nrisky settings:")
		for _, f := range risky {
			fmt.Fprintf(w, "  %s: %s\n", f.setting, f.why)
		}
	}
	if len(invalid) == 0 && len(risky) == 0 {
		fmt.Fprintln(w, "\nOK: no invalid value, no risky setting")
		return exitOK
	}
	return exitFinding
}

// constructorErrors builds the middleware, the processor chain and the
// detection processor as the service would, and returns their errors.
func constructorErrors(ctx context.Context) []error {
	var errs []error
	if _, err := instrumentation.NewMiddleware(); err != nil {
		errs = append(errs, err)
	}
	if c, err := processor.NewChain(discard{}); err != nil {
		errs = append(errs, err)
	} else {
		_ = c.Shutdown(ctx)
	}
	if _, err := guard.New(); err != nil {
		errs = append(errs, err)
	}
	if p, err := delivery.New(discardExporter{}); err != nil {
		errs = append(errs, err)
	} else {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_ = p.Shutdown(sctx)
		cancel()
	}
	// A store URL (redis://) is opened by the service, which imports the
	// store's package; doctor checks the rest without connecting.
	var opts []detect.Option
	if v, ok := envconf.String("SECAUDIT_STATE"); ok && !strings.EqualFold(v, "memory") {
		if u, err := url.Parse(v); err == nil && (u.Scheme == "redis" || u.Scheme == "rediss") && u.Host != "" {
			opts = append(opts, detect.WithState(detect.NewMemoryState(1<<20)))
		}
	}
	if d, err := detect.New(opts...); err != nil {
		errs = append(errs, err)
	} else {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_ = d.Shutdown(sctx)
		cancel()
	}
	return errs
}

// dedupErrors drops errors whose message was already seen, and splits
// joined errors.
func dedupErrors(errs []error) []error {
	seen := map[string]bool{}
	var out []error
	var add func(error)
	add = func(err error) {
		if err == nil {
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				add(e)
			}
			return
		}
		if !seen[err.Error()] {
			seen[err.Error()] = true
			out = append(out, err)
		}
	}
	for _, err := range errs {
		add(err)
	}
	return out
}

// discard is the processor after the chain built to check it.
type discard struct{}

func (discard) OnEmit(context.Context, *sdklog.Record) error { return nil }
func (discard) Enabled(context.Context, sdklog.EnabledParameters) bool {
	return true
}
func (discard) Shutdown(context.Context) error   { return nil }
func (discard) ForceFlush(context.Context) error { return nil }

// discardExporter is the exporter of the delivery processor built to
// check delivery's settings.
type discardExporter struct{}

func (discardExporter) Export(context.Context, []sdklog.Record) error { return nil }
func (discardExporter) Shutdown(context.Context) error                { return nil }
func (discardExporter) ForceFlush(context.Context) error              { return nil }

// forwardEvidence is what a sample file says about forwarded requests.
type forwardEvidence struct {
	events    int
	forwarded int    // events whose client address differs from the peer, or that carry the header
	example   string // the first such event, as "line N: ..."
}

func readForwardEvidence(ctx context.Context, path string) (forwardEvidence, error) {
	var ev forwardEvidence
	err := auditlog.Read(ctx, []string{path}, nil, auditlog.Options{}, func(l *auditlog.Line) error {
		if l.Err != nil {
			return nil
		}
		e, err := auditlog.Parse(l.Data)
		if err != nil {
			return nil
		}
		ev.events++
		if e.Forwarded || (e.Addr != "" && e.Peer != "" && e.Addr != e.Peer) {
			ev.forwarded++
			if ev.example == "" {
				ev.example = fmt.Sprintf("line %d: client.address %s, network.peer.address %s", l.Num, e.Addr, e.Peer)
				if e.Forwarded {
					ev.example = fmt.Sprintf("line %d: an X-Forwarded-For header (http.request.header.x-forwarded-for)", l.Num)
				}
			}
		}
		return nil
	})
	if err != nil {
		return ev, fmt.Errorf("-sample: %w", err)
	}
	return ev, nil
}

// doctorFindings names the risky settings of the environment. It runs
// inside envconf.ReadFrom, so that each value is read by the parser the
// service reads it with (an invalid value, reported apart, is no finding).
func doctorFindings(evidence forwardEvidence) []finding {
	var out []finding
	bodies, _, _ := envconf.Bool(envconf.LogRequestBodies)
	if fields, _ := envconf.List(envconf.BodyFields); bodies && len(fields) == 0 {
		out = append(out, finding{envconf.LogRequestBodies, "request bodies are captured without an allowlist (" + envconf.BodyFields + " is empty): the service refuses to start, and any field would otherwise be a candidate for the log"})
	}
	_, cidrs := envconf.String(envconf.TrustedProxyCIDRs)
	_, count := envconf.String(envconf.TrustedProxyCount)
	if !cidrs && !count && evidence.forwarded > 0 {
		out = append(out, finding{envconf.TrustedProxyCIDRs, fmt.Sprintf("trusted proxies are unset while %d of %d sample events were forwarded (%s): client.address would be the proxy's address for every request", evidence.forwarded, evidence.events, evidence.example)})
	}
	if rate, set, err := envconf.Rate(envconf.SampleRate); set && err == nil && rate == 0 {
		out = append(out, finding{envconf.SampleRate, "OK responses are sampled at 0: no success or redirect event is ever written"})
	}
	if f, ok := otlpFinding(); ok {
		out = append(out, f)
	}
	if on, set, err := envconf.Bool(envconf.Detect); set && err == nil && !on {
		out = append(out, finding{envconf.Detect, "detection is off: no brute-force, scan or enumeration alert, no lockout"})
	}
	if on, _, _ := envconf.Bool(envconf.IncludeUsernames); on {
		out = append(out, finding{envconf.IncludeUsernames, "user names are written to the log (personal data; off by default for GDPR)"})
	}
	return out
}

// otlpFinding names OTLP without TLS to a host that is not loopback
// (inside envconf.ReadFrom).
func otlpFinding() (finding, bool) {
	exporters, _ := envconf.String(envconf.LogsExporter)
	if !slices.Contains(envconf.Split(strings.ToLower(exporters)), "otlp") {
		return finding{}, false
	}
	name := envconf.OTLPLogsEndpoint
	endpoint, ok := envconf.String(name)
	if !ok {
		name = envconf.OTLPEndpoint
		endpoint, _ = envconf.String(name)
	}
	if endpoint == "" {
		return finding{}, false // https://localhost:4318
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return finding{}, false // the service reports the bad value
	}
	insecure := false
	for _, n := range []string{"OTEL_EXPORTER_OTLP_LOGS_INSECURE", "OTEL_EXPORTER_OTLP_INSECURE"} {
		if v, ok := envconf.String(n); ok && strings.EqualFold(v, "true") {
			insecure = true
		}
	}
	if (u.Scheme == "https" && !insecure) || isLoopback(u.Hostname()) {
		return finding{}, false
	}
	return finding{name, fmt.Sprintf("OTLP without TLS to %s, which is not loopback: audit events (personal data) travel in clear", u.Host)}, true
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
