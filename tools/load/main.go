package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/processor"
	"github.com/secaudit/secaudit/semconv"
)

// missEvery is the -miss-every flag: read by the load process, passed on
// to it by the driver.
var missEvery = flag.Int("miss-every", 20, "every Nth request of a connection asks for a missing item (404); 0 for none")

var allModes = []string{
	"bare", "slog", "otelhttp", "otelhttp+secaudit", "secaudit", "secaudit-simple",
	"secaudit-default", "otelhttp+secaudit-default", "sdklog-floor", "otelhttp+passthrough",
}

func main() {
	var (
		serve    = flag.String("serve", "", "internal: run the server in this mode")
		load     = flag.String("load", "", "internal: run the load against this URL")
		modes    = flag.String("modes", strings.Join(allModes, ","), "comma-separated server modes")
		rounds   = flag.Int("rounds", 3, "rounds (modes interleaved in each)")
		duration = flag.Duration("duration", 5*time.Second, "measured time per run")
		warmup   = flag.Duration("warmup", 2*time.Second, "warm-up before each measurement")
		conns    = flag.Int("conns", 32, "concurrent keep-alive connections")
		pin      = flag.Bool("pin", false, "pin the server to CPU 0 and the load to CPU 1 with taskset")
		dir      = flag.String("dir", "", "directory for the servers' log files (default: a temporary one, removed)")
		asJSON   = flag.Bool("json", false, "print the results as JSON")
		profile  = flag.String("cpuprofile", "", "write the servers' CPU profiles to this file prefix (FILE.MODE.roundN)")
		perf     = flag.Bool("perf", false, "count each server's instructions and cycles (user and kernel) with perf stat")
	)
	flag.Parse()
	var err error
	switch {
	case *serve != "":
		err = runServer(*serve, *dir, *profile)
	case *load != "":
		err = runLoad(*load, *conns, *warmup, *duration)
	default:
		err = drive(plan{
			modes: strings.Split(*modes, ","), rounds: *rounds, duration: *duration, warmup: *warmup,
			conns: *conns, pin: *pin, dir: *dir, asJSON: *asJSON, profile: *profile, perf: *perf,
		})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// ---- server ----

// serverReport is what a server prints when it stops.
type serverReport struct {
	Served   uint64 `json:"served"`
	Emitted  uint64 `json:"emitted"`
	Exported uint64 `json:"exported"`
	Dropped  uint64 `json:"dropped"`
	Lines    uint64 `json:"lines"`
}

var body = []byte(`{"id":42,"name":"widget","price_cents":1999,"in_stock":true}`)

const (
	itemPath    = "/api/v1/items/42"
	missingPath = "/api/v1/items/404"
)

var missingBody = []byte(`{"error":"not found"}`)

func bare(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path != itemPath {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write(missingBody)
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func runServer(mode, dir, profile string) error {
	handler, stop, err := buildMode(mode, dir)
	if err != nil {
		return err
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	var served atomic.Uint64
	counting := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		handler.ServeHTTP(w, r)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: counting, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	// The driver signals this process by its id (perf stat may be its
	// parent).
	fmt.Printf("listening http://%s %d\n", l.Addr(), os.Getpid())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	rep := serverReport{Served: served.Load()}
	if stop != nil {
		if err := stop(ctx, &rep); err != nil {
			return err
		}
	}
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// statusWriter records the status, like any logging middleware must.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += n
	return n, err
}

type noopSpanExporter struct{}

func (noopSpanExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (noopSpanExporter) Shutdown(context.Context) error                             { return nil }

// buildMode returns the mode's handler and what to do at shutdown.
func buildMode(mode, dir string) (http.Handler, func(context.Context, *serverReport) error, error) {
	h := http.HandlerFunc(bare)
	withOtel := func(next http.Handler) (http.Handler, func(context.Context) error) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(noopSpanExporter{}))
		return otelhttp.NewHandler(next, "items", otelhttp.WithTracerProvider(tp)), tp.Shutdown
	}
	switch mode {
	case "bare":
		return h, nil, nil
	case "slog":
		f, err := os.Create(filepath.Join(dir, "slog.jsonl"))
		if err != nil {
			return nil, nil, err
		}
		logger := slog.New(slog.NewJSONHandler(f, nil))
		mw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w}
			h.ServeHTTP(sw, r)
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			logger.LogAttrs(r.Context(), slog.LevelInfo, "http.request",
				slog.String("http.request.method", r.Method), slog.String("url.path", r.URL.Path),
				slog.Int("http.response.status_code", sw.status), slog.Int64("http.server.duration_ns", int64(time.Since(start))),
				slog.String("client.address", host), slog.String("user_agent.original", r.UserAgent()),
				slog.String("enduser.id", r.Header.Get("X-User-Id")), slog.String("http.request.id", r.Header.Get("X-Request-Id")),
				slog.String("http.route", "/api/v1/items/{id}"), slog.Int("http.response.body.size", sw.bytes))
		})
		return mw, func(context.Context, *serverReport) error { return f.Close() }, nil
	case "otelhttp":
		oh, shutdown := withOtel(h)
		return oh, func(ctx context.Context, _ *serverReport) error { return shutdown(ctx) }, nil
	case "sdklog-floor":
		return buildFloor(h)
	case "otelhttp+passthrough":
		// The allocations secaudit's middleware makes for a request it
		// does not audit (its per-request state, a context value, the
		// request's copy), and nothing else.
		type key struct{}
		mw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			state := &struct {
				id   [32]byte
				rest [300]byte
			}{}
			sw := &statusWriter{ResponseWriter: w}
			h.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), key{}, state)))
		})
		oh, shutdown := withOtel(mw)
		return oh, func(ctx context.Context, _ *serverReport) error { return shutdown(ctx) }, nil
	case "otelhttp+secaudit", "secaudit", "secaudit-simple", "secaudit-default", "otelhttp+secaudit-default":
		audited, stop, err := buildSecaudit(h, dir, mode == "secaudit-simple", !strings.HasSuffix(mode, "-default"))
		if err != nil {
			return nil, nil, err
		}
		if !strings.HasPrefix(mode, "otelhttp+") {
			return audited, stop, nil
		}
		oh, shutdown := withOtel(audited)
		return oh, func(ctx context.Context, rep *serverReport) error {
			return errors.Join(stop(ctx, rep), shutdown(ctx))
		}, nil
	}
	return nil, nil, fmt.Errorf("unknown mode %q (want one of %s)", mode, strings.Join(allModes, ", "))
}

// buildSecaudit wires the secaudit pipeline by hand: JSONL file (rotating)
// ← delivery processor (async) or SDK simple processor ← processor chain
// ← LoggerProvider ← Auditor ← middleware.
func buildSecaudit(h http.Handler, dir string, simple, logOK bool) (http.Handler, func(context.Context, *serverReport) error, error) {
	exp, err := exporter.NewJSONL(exporter.WithFile(filepath.Join(dir, "audit.jsonl")), exporter.WithRotation(64<<20, 2))
	if err != nil {
		return nil, nil, err
	}
	var exporting sdklog.Processor
	var dp *delivery.Processor
	if simple {
		exporting = sdklog.NewSimpleProcessor(exp)
	} else {
		dp, err = delivery.New(exp, delivery.WithName("jsonl"))
		if err != nil {
			return nil, nil, err
		}
		exporting = dp
	}
	chain, err := processor.NewChain(exporting)
	if err != nil {
		return nil, nil, err
	}
	provider := sdklog.NewLoggerProvider(
		sdklog.WithResource(resource.NewSchemaless(semconv.ServiceNameKey.String("load"))),
		sdklog.WithAllowKeyDuplication(),
		sdklog.WithAttributeCountLimit(-1),
		sdklog.WithProcessor(chain),
	)
	auditor, err := secaudit.New(secaudit.WithLoggerProvider(provider))
	if err != nil {
		return nil, nil, err
	}
	opts := []instrumentation.Option{instrumentation.WithAuditor(auditor)}
	if logOK {
		opts = append(opts, instrumentation.WithLogOKResponses(true), instrumentation.WithSampleRate(1))
	}
	mw, err := instrumentation.New(opts...)
	if err != nil {
		return nil, nil, err
	}
	stop := func(ctx context.Context, rep *serverReport) error {
		err := provider.Shutdown(ctx)
		rep.Lines = exp.Stats().Records
		if dp != nil {
			st := dp.Stats()
			rep.Emitted, rep.Exported, rep.Dropped = st.Emitted, st.Exported, st.Dropped
		} else {
			rep.Emitted, rep.Exported = rep.Lines, rep.Lines
		}
		return err
	}
	return mw.Wrap(h), stop, nil
}

// discardProcessor is an sdk/log processor that only counts records.
type discardProcessor struct{ records atomic.Uint64 }

func (*discardProcessor) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (p *discardProcessor) OnEmit(context.Context, *sdklog.Record) error {
	p.records.Add(1)
	return nil
}
func (*discardProcessor) Shutdown(context.Context) error   { return nil }
func (*discardProcessor) ForceFlush(context.Context) error { return nil }

// buildFloor is the sdklog-floor mode: the attributes of secaudit's
// http.response.success event, built in one API record after the handler
// and emitted into the SDK, with nothing after the SDK but a counter.
func buildFloor(h http.Handler) (http.Handler, func(context.Context, *serverReport) error, error) {
	sink := &discardProcessor{}
	provider := sdklog.NewLoggerProvider(
		sdklog.WithResource(resource.NewSchemaless(semconv.ServiceNameKey.String("load"))),
		sdklog.WithAllowKeyDuplication(),
		sdklog.WithAttributeCountLimit(-1),
		sdklog.WithProcessor(sink),
	)
	logger := provider.Logger("floor")
	mw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		var rec otellog.Record
		now := time.Now()
		rec.SetTimestamp(now)
		rec.SetObservedTimestamp(now)
		rec.SetEventName(semconv.EventHTTPResponseSuccess)
		rec.SetSeverity(semconv.SeverityInfo)
		rec.SetSeverityText(semconv.SeverityTextInfo)
		rec.SetBody(attribute.StringValue(semconv.BodyHTTPResponse))
		rec.AddAttributes(
			semconv.AuditSchemaVersionKey.String(semconv.SchemaVersion),
			semconv.AuditActionKey.String(semconv.ActionResponse),
			semconv.AuditOutcomeKey.String(semconv.OutcomeSuccess),
			semconv.UserIDKey.String(r.Header.Get("X-User-Id")),
			semconv.AuditRequestIDKey.String(r.Header.Get("X-Request-Id")),
			semconv.ClientAddressKey.String(host),
			semconv.NetworkPeerAddressKey.String(host),
			semconv.HTTPRequestMethodKey.String(r.Method),
			semconv.URLPathKey.String(r.URL.Path),
			semconv.HTTPRouteKey.String("/api/v1/items/{id}"),
			semconv.HTTPResponseStatusCodeKey.Int(sw.status),
			semconv.URLFullKey.String("http://"+r.Host+r.URL.EscapedPath()),
			semconv.AuditDurationKey.Int64(int64(time.Since(start))),
			semconv.UserAgentOriginalKey.String(r.UserAgent()),
		)
		logger.Emit(r.Context(), rec)
	})
	stop := func(ctx context.Context, rep *serverReport) error {
		err := provider.Shutdown(ctx)
		n := sink.records.Load()
		rep.Emitted, rep.Exported = n, n
		return err
	}
	return mw, stop, nil
}

// ---- load ----

// loadReport is what a load process prints.
type loadReport struct {
	Requests uint64  `json:"requests"` // completed in the measured window
	Errors   uint64  `json:"errors"`
	Seconds  float64 `json:"seconds"`
	P50us    float64 `json:"p50_us"`
	P99us    float64 `json:"p99_us"`
}

// histogram counts latencies in buckets 2^(i/4) µs wide (about 19 % steps).
type histogram [128]uint64

func bucket(d time.Duration) int {
	us := float64(d.Nanoseconds()) / 1e3
	i := 0
	for b := 1.0; b < us && i < len(histogram{})-1; b *= 1.189207115 {
		i++
	}
	return i
}

func (h *histogram) quantile(q float64) float64 {
	var total uint64
	for _, n := range h {
		total += n
	}
	if total == 0 {
		return 0
	}
	target := uint64(q * float64(total))
	var sum uint64
	b := 1.0
	for _, n := range h {
		sum += n
		if sum > target {
			return b
		}
		b *= 1.189207115
	}
	return b
}

func runLoad(url string, conns int, warmup, duration time.Duration) error {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()

	start := time.Now()
	measureFrom := start.Add(warmup)
	end := measureFrom.Add(duration)
	var wg sync.WaitGroup
	hists := make([]histogram, conns)
	counts := make([]uint64, conns)
	errs := make([]uint64, conns)
	for c := range conns {
		wg.Go(func() {
			newReq := func(path string) *http.Request {
				req, _ := http.NewRequest(http.MethodGet, url+path, nil)
				req.Header.Set("User-Agent", "secaudit-load/1.0")
				req.Header.Set("X-Request-Id", "4bf92f3577b34da6a3ce929d0e0e4736")
				req.Header.Set("X-User-Id", "42")
				req.Header.Set("Authorization", "Bearer not-a-real-token")
				return req
			}
			item, missing := newReq(itemPath), newReq(missingPath)
			for n := 1; ; n++ {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				req, want := item, http.StatusOK
				if *missEvery > 0 && n%*missEvery == 0 {
					req, want = missing, http.StatusNotFound
				}
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode != want {
						err = fmt.Errorf("status %d, want %d", resp.StatusCode, want)
					}
				}
				t1 := time.Now()
				if t0.Before(measureFrom) || t1.After(end) {
					continue
				}
				if err != nil {
					errs[c]++
					continue
				}
				counts[c]++
				hists[c][bucket(t1.Sub(t0))]++
			}
		})
	}
	wg.Wait()
	var rep loadReport
	var all histogram
	for c := range conns {
		rep.Requests += counts[c]
		rep.Errors += errs[c]
		for i, n := range hists[c] {
			all[i] += n
		}
	}
	rep.Seconds = duration.Seconds()
	rep.P50us, rep.P99us = all.quantile(0.5), all.quantile(0.99)
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// ---- driver ----

type run struct {
	Mode      string       `json:"mode"`
	Round     int          `json:"round"`
	RPS       float64      `json:"rps"`
	P50us     float64      `json:"p50_us"`
	P99us     float64      `json:"p99_us"`
	CPUus     float64      `json:"server_cpu_us_per_request"`
	Errors    uint64       `json:"errors"`
	Server    serverReport `json:"server"`
	ServerCPU float64      `json:"server_cpu_seconds"`
	// With -perf: the server's instructions and cycles (user and kernel,
	// warm-up included) per request served.
	InstrPerReq  float64 `json:"instructions_per_request,omitempty"`
	CyclesPerReq float64 `json:"cycles_per_request,omitempty"`
}

// plan is what the driver runs.
type plan struct {
	modes    []string
	rounds   int
	duration time.Duration
	warmup   time.Duration
	conns    int
	pin      bool
	dir      string
	asJSON   bool
	profile  string // CPU profile file prefix
	perf     bool   // count instructions and cycles with perf stat
}

func drive(pl plan) error {
	for _, m := range pl.modes {
		if !slices.Contains(allModes, m) {
			return fmt.Errorf("unknown mode %q (want %s)", m, strings.Join(allModes, ", "))
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if pl.perf {
		if _, err := exec.LookPath("perf"); err != nil {
			return fmt.Errorf("-perf: %w", err)
		}
	}
	if pl.dir == "" {
		tmp, err := os.MkdirTemp("", "secaudit-load-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		pl.dir = tmp
	}
	var runs []run
	for round := 1; round <= pl.rounds; round++ {
		for _, mode := range roundOrder(pl.modes, round) {
			prof := ""
			if pl.profile != "" {
				prof = fmt.Sprintf("%s.%s.round%d", pl.profile, strings.ReplaceAll(mode, "+", "-"), round)
			}
			r, err := measure(self, mode, round, pl, prof)
			if err != nil {
				return fmt.Errorf("%s round %d: %w", mode, round, err)
			}
			fmt.Fprintf(os.Stderr, "round %d %-18s %8.0f req/s  %6.1f µs CPU/req  p50 %6.0f µs  p99 %7.0f µs  events %d/%d/%d (emitted/exported/dropped)\n",
				round, mode, r.RPS, r.CPUus, r.P50us, r.P99us, r.Server.Emitted, r.Server.Exported, r.Server.Dropped)
			runs = append(runs, r)
		}
	}
	if pl.asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(runs)
	}
	printTable(runs, pl)
	return nil
}

// roundOrder is the order modes run in round (1-based): rotated by one
// place per round, so that over len(modes) rounds each mode runs once in
// every position and no mode always follows the same neighbour's warm-up
// or meets a drift of the host at the same point of the round.
func roundOrder(modes []string, round int) []string {
	if len(modes) == 0 {
		return nil
	}
	k := (round - 1) % len(modes)
	return append(slices.Clone(modes[k:]), modes[:k]...)
}

// pairedRatios returns, for every round in which both ran, mode's req/s
// divided by base's in that round: the two ran minutes apart at most, so
// the host's slow drifts, which move every mode's req/s together, cancel
// in the ratio.
func pairedRatios(runs []run, mode, base string) []float64 {
	rps := map[[2]any]float64{}
	for _, r := range runs {
		rps[[2]any{r.Mode, r.Round}] = r.RPS
	}
	var out []float64
	for _, r := range runs {
		if r.Mode != mode {
			continue
		}
		if b := rps[[2]any{base, r.Round}]; b > 0 {
			out = append(out, r.RPS/b)
		}
	}
	return out
}

func command(pin bool, cpu string, self string, args ...string) *exec.Cmd {
	if pin {
		return exec.Command("taskset", append([]string{"-c", cpu, self}, args...)...)
	}
	return exec.Command(self, args...)
}

func measure(self, mode string, round int, pl plan, profile string) (run, error) {
	args := []string{"-serve", mode, "-dir", pl.dir}
	if profile != "" {
		args = append(args, "-cpuprofile", profile)
	}
	prog := self
	perfOut := ""
	if pl.perf {
		// perf stat runs the server as its child and writes the counts
		// (CSV) to perfOut when the server exits.
		perfOut = filepath.Join(pl.dir, fmt.Sprintf("perf.%s.%d.csv", strings.ReplaceAll(mode, "+", "-"), round))
		args = append([]string{"stat", "-x,", "-o", perfOut, "-e", "instructions,cycles", "--", self}, args...)
		prog = "perf"
	}
	srv := command(pl.pin, "0", prog, args...)
	srv.Stderr = os.Stderr
	out, err := srv.StdoutPipe()
	if err != nil {
		return run{}, err
	}
	if err := srv.Start(); err != nil {
		return run{}, err
	}
	serverPID := 0 // the server's own process: srv's, or perf's child
	done := false
	defer func() {
		if !done {
			if serverPID > 0 {
				_ = syscall.Kill(serverPID, syscall.SIGKILL)
			}
			_ = srv.Process.Kill()
			_ = srv.Wait()
		}
	}()
	lines := bufio.NewScanner(out)
	var url string
	if lines.Scan() {
		_, _ = fmt.Sscanf(lines.Text(), "listening %s %d", &url, &serverPID)
	}
	if url == "" || serverPID <= 0 {
		return run{}, fmt.Errorf("server did not start: %q", lines.Text())
	}

	ld := command(pl.pin, "1", self, "-load", url, "-conns", fmt.Sprint(pl.conns), "-warmup", pl.warmup.String(), "-duration", pl.duration.String(), "-miss-every", fmt.Sprint(*missEvery))
	ld.Stderr = os.Stderr
	loadOut, err := ld.Output()
	if err != nil {
		return run{}, fmt.Errorf("load: %w", err)
	}
	var lr loadReport
	if err := json.Unmarshal(loadOut, &lr); err != nil {
		return run{}, fmt.Errorf("load report %q: %w", loadOut, err)
	}

	if err := syscall.Kill(serverPID, syscall.SIGTERM); err != nil {
		return run{}, err
	}
	// Without its report the server did not stop cleanly; under perf,
	// which exits 0 when its child dies of a signal, this is the only sign.
	if !lines.Scan() {
		return run{}, errors.New("the server sent no report")
	}
	var sr serverReport
	if err := json.Unmarshal(lines.Bytes(), &sr); err != nil {
		return run{}, fmt.Errorf("server report %q: %w", lines.Text(), err)
	}
	_, _ = io.Copy(io.Discard, out)
	done = true
	if err := srv.Wait(); err != nil {
		return run{}, fmt.Errorf("server: %w", err)
	}
	// perf's own CPU time is tiny (it waits for its child) and counted
	// with the server's: ProcessState covers the waited-for children.
	st := srv.ProcessState
	cpu := st.UserTime() + st.SystemTime()
	r := run{
		Mode: mode, Round: round,
		RPS:   float64(lr.Requests) / lr.Seconds,
		P50us: lr.P50us, P99us: lr.P99us,
		Errors: lr.Errors, Server: sr, ServerCPU: cpu.Seconds(),
	}
	if sr.Served > 0 {
		r.CPUus = float64(cpu.Microseconds()) / float64(sr.Served)
	}
	if perfOut != "" {
		counts, err := readPerfCounts(perfOut)
		if err != nil {
			return run{}, err
		}
		if sr.Served > 0 {
			r.InstrPerReq = float64(counts["instructions"]) / float64(sr.Served)
			r.CyclesPerReq = float64(counts["cycles"]) / float64(sr.Served)
		}
	}
	return r, nil
}

// readPerfCounts reads the counts of a perf stat -x, output file: event
// name (without modifiers such as ":u") to count. An event perf could not
// count is an error.
func readPerfCounts(path string) (map[string]uint64, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	counts := map[string]uint64{}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Split(line, ",")
		if len(f) < 3 || strings.HasPrefix(line, "#") {
			continue
		}
		event, modifier, _ := strings.Cut(f[2], ":")
		if modifier != "" {
			// perf restricts what it counts (":u": user space only, when
			// perf_event_paranoid keeps the kernel from this user), so the
			// figures would not compare with those of a run that counted both.
			fmt.Fprintf(os.Stderr, "load: perf counted %s: only part of the work (run as root, or lower kernel.perf_event_paranoid)\n", f[2])
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("perf stat: %s: %q", event, f[0])
		}
		counts[event] = n
	}
	if _, ok := counts["instructions"]; !ok {
		return nil, fmt.Errorf("perf stat counted no instructions (%s): %q", path, raw)
	}
	return counts, nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// quartiles returns the medians of the lower and upper halves of xs (the
// middle element, if any, left out of both): the middle half of the runs
// lies between them.
func quartiles(xs []float64) (q1, q3 float64) {
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s) < 2 {
		m := median(s)
		return m, m
	}
	h := len(s) / 2
	return median(s[:h]), median(s[len(s)-h:])
}

func printTable(runs []run, pl plan) {
	type agg struct{ rps, cpu, p50, p99, instr, cycles []float64 }
	by := map[string]*agg{}
	var lost []string
	for _, r := range runs {
		a := by[r.Mode]
		if a == nil {
			a = &agg{}
			by[r.Mode] = a
		}
		a.rps = append(a.rps, r.RPS)
		a.cpu = append(a.cpu, r.CPUus)
		a.p50 = append(a.p50, r.P50us)
		a.p99 = append(a.p99, r.P99us)
		a.instr = append(a.instr, r.InstrPerReq)
		a.cycles = append(a.cycles, r.CyclesPerReq)
		if r.Server.Emitted != r.Server.Exported+r.Server.Dropped || r.Server.Dropped > 0 || r.Errors > 0 {
			lost = append(lost, fmt.Sprintf("%s round %d: emitted %d exported %d dropped %d, %d request errors",
				r.Mode, r.Round, r.Server.Emitted, r.Server.Exported, r.Server.Dropped, r.Errors))
		}
	}
	// medians of a mode's runs; zero for a mode that did not run.
	type medians struct{ rps, cpu, p50, p99, instr, cycles float64 }
	med := func(mode string) medians {
		a := by[mode]
		if a == nil {
			return medians{}
		}
		return medians{median(a.rps), median(a.cpu), median(a.p50), median(a.p99), median(a.instr), median(a.cycles)}
	}
	// ratio formats x/base, or "–" without a base.
	ratio := func(x, base float64, ok bool) string {
		if !ok || base == 0 || x == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f×", x/base)
	}
	// diff formats x-base scaled by unit, or "–" without a base.
	diff := func(x, base, unit float64, ok bool) string {
		if !ok || base == 0 {
			return "–"
		}
		return fmt.Sprintf("%+.1f", (x-base)/unit)
	}
	bare, otel := med("bare"), med("otelhttp")
	// otelhttp and the modes behind it are compared with otelhttp too.
	withOtel := func(mode string) bool { return strings.HasPrefix(mode, "otelhttp") }

	placement := "unpinned"
	if pl.pin {
		placement = "pinned (server CPU 0, load CPU 1)"
	}
	fmt.Printf("%d connections, %v measured per run, %d runs per mode, %s; medians (runs in parentheses)\n\n",
		pl.conns, pl.duration, len(runs)/max(1, len(pl.modes)), placement)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "| mode\t| req/s\t| × bare\t| × otelhttp\t| server CPU µs/req\t| Δ CPU vs bare\t| Δ CPU vs otelhttp\t| p50 µs\t| p99 µs\t|")
	fmt.Fprintln(tw, "|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|")
	for _, m := range pl.modes {
		a := by[m]
		if a == nil {
			continue
		}
		x := med(m)
		fmt.Fprintf(tw, "| %s\t| %.0f (%s)\t| %s\t| %s\t| %.1f (%s)\t| %s\t| %s\t| %.0f\t| %.0f\t|\n",
			m, x.rps, join(a.rps, "%.0f"), ratio(x.rps, bare.rps, true), ratio(x.rps, otel.rps, withOtel(m)),
			x.cpu, join(a.cpu, "%.1f"), diff(x.cpu, bare.cpu, 1, true), diff(x.cpu, otel.cpu, 1, withOtel(m)), x.p50, x.p99)
	}
	_ = tw.Flush()
	printPaired(runs, pl.modes)
	if pl.perf {
		fmt.Println("\nServer work per request (perf stat, user and kernel, warm-up included; medians):")
		fmt.Println()
		tw := tabwriter.NewWriter(os.Stdout, 0, 0, 1, ' ', 0)
		fmt.Fprintln(tw, "| mode\t| k instructions\t| Δ vs bare\t| Δ vs otelhttp\t| k cycles\t| Δ vs bare\t| Δ vs otelhttp\t| cycles: bare ÷ mode\t| otelhttp ÷ mode\t|")
		fmt.Fprintln(tw, "|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|")
		for _, m := range pl.modes {
			if by[m] == nil {
				continue
			}
			x, behind := med(m), withOtel(m)
			fmt.Fprintf(tw, "| %s\t| %.1f\t| %s\t| %s\t| %.1f\t| %s\t| %s\t| %s\t| %s\t|\n", m,
				x.instr/1000, diff(x.instr, bare.instr, 1000, true), diff(x.instr, otel.instr, 1000, behind),
				x.cycles/1000, diff(x.cycles, bare.cycles, 1000, true), diff(x.cycles, otel.cycles, 1000, behind),
				ratio(bare.cycles, x.cycles, true), ratio(otel.cycles, x.cycles, behind))
		}
		_ = tw.Flush()
	}
	if len(lost) == 0 {
		fmt.Println("\nNo audit event dropped; every request answered as expected (200, or 404 for the missing item).")
	} else {
		fmt.Println("\nLosses or errors:\n  " + strings.Join(lost, "\n  "))
	}
}

// printPaired prints each mode's per-round throughput ratios to bare and
// to otelhttp (see pairedRatios): median, then every round's ratio.
func printPaired(runs []run, modes []string) {
	type col struct{ base, prefix string }
	cols := []col{{"bare", ""}, {"otelhttp", "otelhttp"}}
	var lines []string
	for _, m := range modes {
		var cells []string
		for _, c := range cols {
			if m == c.base || !strings.HasPrefix(m, c.prefix) {
				continue
			}
			if rs := pairedRatios(runs, m, c.base); len(rs) > 0 {
				q1, q3 := quartiles(rs)
				cells = append(cells, fmt.Sprintf("%.2f× %s (middle half %.2f–%.2f of %d rounds: %s)",
					median(rs), c.base, q1, q3, len(rs), join(rs, "%.2f")))
			}
		}
		if len(cells) > 0 {
			lines = append(lines, fmt.Sprintf("  %-26s %s", m, strings.Join(cells, "; ")))
		}
	}
	if len(lines) > 0 {
		fmt.Println("\nThroughput paired by round (each round's ratio, then their median):")
		fmt.Println(strings.Join(lines, "\n"))
	}
}

func join(xs []float64, format string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(parts, "/")
}
