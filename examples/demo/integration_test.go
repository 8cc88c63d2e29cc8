//go:build integration

// Integration tests against the real OpenTelemetry Collector and Loki that
// tools/stack builds and starts (see tools/README.md). Run them with
//
//	tools/stack start && set -a && . "$(tools/stack env --path)" && set +a
//	go test -race -tags integration -run Integration ./examples/demo
//
// .ci/run does exactly that.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/semconv"
	"github.com/secaudit/secaudit/setup"
)

// stack holds where the running Collector and Loki are.
type stack struct {
	lokiURL, logsFile, tracesFile string
}

func stackFromEnv(t *testing.T) stack {
	t.Helper()
	s := stack{
		lokiURL:    os.Getenv("SECAUDIT_LOKI_URL"),
		logsFile:   os.Getenv("SECAUDIT_OTELCOL_LOGS_FILE"),
		tracesFile: os.Getenv("SECAUDIT_OTELCOL_TRACES_FILE"),
	}
	if s.lokiURL == "" || s.logsFile == "" || s.tracesFile == "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" {
		t.Fatal("the integration tests need a running stack: tools/stack start, then source its stack.env")
	}
	return s
}

// emitted records what the pipeline handed to its exporters.
type emitted struct {
	mu      sync.Mutex
	records []emittedRecord
}

type emittedRecord struct {
	name, requestID, traceID, spanID string
}

func (e *emitted) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (e *emitted) Shutdown(context.Context) error                         { return nil }
func (e *emitted) ForceFlush(context.Context) error                       { return nil }
func (e *emitted) OnEmit(_ context.Context, r *sdklog.Record) error {
	rec := emittedRecord{name: r.EventName(), traceID: r.TraceID().String(), spanID: r.SpanID().String()}
	r.WalkAttributes(func(kv attributeKV) bool {
		if kv.Key == semconv.AuditRequestIDKey {
			rec.requestID = kv.Value.AsString()
		}
		return true
	})
	e.mu.Lock()
	e.records = append(e.records, rec)
	e.mu.Unlock()
	return nil
}

func (e *emitted) byName() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]int{}
	for _, r := range e.records {
		out[r.name]++
	}
	return out
}

// Secrets the traffic sends; none may reach the Collector or Loki.
var secrets = []string{"wonderland", "builder", "Tr0ub4dor&3-zq", "4111111111111111", "4111 1111 1111 1111",
	"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJpdC10ZXN0In0.aXQtc2lnbmF0dXJl"}

const callerTraceID = "5bf92f3577b34da6a3ce929d0e0e4736"

// driveScript sends a fixed mix that exercises every event the dashboard
// shows, with the secrets above in passwords, bodies and headers.
func driveScript(t *testing.T, base string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	do := func(method, path, body string, want int, header ...string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s %s = %d, want %d", method, path, resp.StatusCode, want)
		}
	}
	bearer := "Bearer " + secrets[5]
	for range 3 {
		do("POST", "/login", `{"username":"alice","password":"Tr0ub4dor&3-zq"}`, 401, "Authorization", bearer)
		do("POST", "/login", `{"username":"mallory","password":"Tr0ub4dor&3-zq"}`, 401)
	}
	do("POST", "/login", `{"username":"alice","password":"wonderland"}`, 200,
		"traceparent", "00-"+callerTraceID+"-00f067aa0ba902b7-01")
	do("GET", "/api/accounts/1", "", 200)
	do("GET", "/api/accounts/2", "", 403)
	do("GET", "/api/accounts/999", "", 404)
	do("PATCH", "/api/accounts/1", `{"nickname":"it-nick"}`, 200)
	do("POST", "/api/transfers", `{"from":1,"to":2,"amount":5,"memo":"card 4111 1111 1111 1111","password":"wonderland"}`, 201)
	do("POST", "/api/transfers", `{"from":1,`, 400)
	do("GET", "/panic", "", 500)
	do("GET", "/healthz", "", 200)
	do("GET", "/.env", "", 404)
	do("GET", "/wp-login.php", "", 404)
	do("POST", "/logout", "", 204)
	do("POST", "/logout", "", 204)
	do("POST", "/login", `{"username":"bob","password":"builder"}`, 200)
	do("GET", "/api/accounts/1", "", 403)
	do("POST", "/logout", "", 204)
}

func TestIntegrationCollectorAndLoki(t *testing.T) {
	st := stackFromEnv(t)
	service := fmt.Sprintf("secaudit-it-%d", time.Now().UnixNano())
	t.Setenv("OTEL_SERVICE_NAME", service)
	t.Setenv("OTEL_LOGS_EXPORTER", "otlp")
	t.Setenv("SECAUDIT_LOG_OK_RESPONSES", "true")
	t.Setenv("SECAUDIT_LOG_REQUEST_BODIES", "true")
	t.Setenv("SECAUDIT_BODY_FIELDS", "from,to,amount,memo,password,username")

	ctx := context.Background()
	got := &emitted{}
	pipeline, err := setup.New(ctx, setup.WithProcessor(got), setup.WithTracing())
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHandler(pipeline)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	driveScript(t, srv.URL)
	srv.Close()
	if err := pipeline.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	want := got.byName()
	total := 0
	for _, n := range want {
		total += n
	}
	for _, name := range []string{semconv.EventLoginFailed, semconv.EventLoginSuccess, semconv.EventAuthzDenied,
		semconv.EventHTTPResponseServerError, semconv.EventSuspiciousRequest, semconv.EventModelUpdate, semconv.EventLogoutUnknown} {
		if want[name] == 0 {
			t.Fatalf("the script emitted no %s event: %v", name, want)
		}
	}

	// 1. The Collector's file output: every event exactly once, each
	// linked to a span the Collector received, no secret anywhere.
	var collected []collectedLog
	deadline := time.Now().Add(30 * time.Second)
	for {
		collected = readCollectorLogs(t, st.logsFile, service)
		if len(collected) >= total || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(collected) != total {
		t.Fatalf("collector file holds %d records of %s, emitted %d", len(collected), service, total)
	}
	seen := map[string]bool{}
	gotNames := map[string]int{}
	for _, r := range collected {
		key := r.name + "|" + r.requestID + "|" + r.spanID
		if seen[key] {
			t.Fatalf("record %s arrived twice", key)
		}
		seen[key] = true
		gotNames[r.name]++
	}
	for name, n := range want {
		if gotNames[name] != n {
			t.Errorf("collector has %d %s, emitted %d", gotNames[name], name, n)
		}
	}
	// Spans travel their own pipeline (batch span processor, the
	// Collector's traces batch and file flush), so wait until every span
	// the events link to has arrived, or the deadline.
	var spans map[string]bool
	deadline = time.Now().Add(30 * time.Second)
	for {
		spans = readCollectorSpans(t, st.tracesFile)
		missing := 0
		for _, r := range collected {
			if !spans[r.traceID+"/"+r.spanID] {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	callerSeen := false
	for _, r := range collected {
		if !spans[r.traceID+"/"+r.spanID] {
			t.Errorf("%s event (request %s) links to span %s/%s the Collector never received", r.name, r.requestID, r.traceID, r.spanID)
		}
		callerSeen = callerSeen || (r.traceID == callerTraceID && r.name == semconv.EventLoginSuccess)
	}
	if !callerSeen {
		t.Error("the login with a caller's traceparent did not continue the caller's trace")
	}
	raw, err := os.ReadFile(st.logsFile)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecrets(t, "collector file", raw)

	// 2. Loki: every event exactly once, selectable by event name, with
	// trace_id as structured metadata; no secret.
	var streams lokiResult
	deadline = time.Now().Add(60 * time.Second)
	for {
		streams = queryLoki(t, st.lokiURL, fmt.Sprintf(`{service_name=%q}`, service))
		if streams.count() >= total || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if n := streams.count(); n != total {
		t.Fatalf("Loki holds %d lines of %s, emitted %d", n, service, total)
	}
	for _, v := range streams.labelled("trace_id") {
		if !spans[v+"/"] && !traceKnown(spans, v) {
			t.Errorf("Loki line with trace_id %s unknown to the Collector", v)
		}
	}
	if n := len(streams.labelled("trace_id")); n != total {
		t.Errorf("%d of %d Loki lines carry trace_id", n, total)
	}
	for name, n := range want {
		sel := queryLoki(t, st.lokiURL, fmt.Sprintf(`{service_name=%q} | event_name=%q`, service, name))
		if sel.count() != n {
			t.Errorf("Loki selects %d lines with event_name=%q, emitted %d", sel.count(), name, n)
		}
	}
	assertNoSecrets(t, "Loki", streams.raw)

	t.Logf("%d events of %d kinds arrived exactly once in the Collector file and in Loki, each linked to a received span: %v", total, len(want), want)

	// 3. Every LogQL query of the shipped dashboard returns data.
	for _, q := range dashboardQueries(t) {
		// The alerts panel needs security.alert records: it is proven by
		// examples/grafana's TestIntegrationLokiRuler, and here once the
		// demo's traffic makes its detector fire.
		if strings.Contains(q.expr, `event_name="security.alert"`) && want["security.alert"] == 0 {
			t.Logf("panel %q: the script raised no security.alert; checked by TestIntegrationLokiRuler", q.title)
			continue
		}
		expr := strings.NewReplacer(`$service`, service, `$__auto`, "1m", `$__range`, "1h").Replace(q.expr)
		res := queryLoki(t, st.lokiURL, expr)
		if res.count() == 0 && res.series() == 0 {
			t.Errorf("dashboard panel %q returns no data: %s", q.title, expr)
		}
		t.Logf("panel %q: %d lines, %d series", q.title, res.count(), res.series())
	}
}

func traceKnown(spans map[string]bool, traceID string) bool {
	for k := range spans {
		if strings.HasPrefix(k, traceID+"/") {
			return true
		}
	}
	return false
}

func assertNoSecrets(t *testing.T, where string, data []byte) {
	t.Helper()
	for _, s := range secrets {
		if bytes.Contains(data, []byte(s)) {
			t.Errorf("%s contains the secret %q", where, s)
		}
	}
}

type collectedLog struct{ name, requestID, traceID, spanID string }

// readCollectorLogs parses the Collector's file exporter output (OTLP JSON,
// one export request per line) and returns the records of service.
func readCollectorLogs(t *testing.T, path, service string) []collectedLog {
	t.Helper()
	var out []collectedLog
	for _, line := range completeLines(path) {
		var req struct {
			ResourceLogs []struct {
				Resource  struct{ Attributes []otlpKV }
				ScopeLogs []struct {
					LogRecords []struct {
						EventName  string
						TraceID    string `json:"traceId"`
						SpanID     string `json:"spanId"`
						Attributes []otlpKV
					}
				}
			}
		}
		if err := json.Unmarshal(line, &req); err != nil {
			t.Fatalf("collector logs file: %v", err)
		}
		for _, rl := range req.ResourceLogs {
			if otlpString(rl.Resource.Attributes, "service.name") != service {
				continue
			}
			for _, sl := range rl.ScopeLogs {
				for _, lr := range sl.LogRecords {
					out = append(out, collectedLog{name: lr.EventName, requestID: otlpString(lr.Attributes, "audit.request_id"),
						traceID: lr.TraceID, spanID: lr.SpanID})
				}
			}
		}
	}
	return out
}

// completeLines returns the newline-terminated, non-blank lines of the file
// at path: the Collector may be writing the last one. A file not written yet
// has none.
func completeLines(path string) [][]byte {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i]
	} else {
		return nil
	}
	var out [][]byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) > 0 {
			out = append(out, line)
		}
	}
	return out
}

// readCollectorSpans returns "traceID/spanID" of every span in the file.
func readCollectorSpans(t *testing.T, path string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, line := range completeLines(path) {
		var req struct {
			ResourceSpans []struct {
				ScopeSpans []struct {
					Spans []struct {
						TraceID string `json:"traceId"`
						SpanID  string `json:"spanId"`
					}
				}
			}
		}
		if err := json.Unmarshal(line, &req); err != nil {
			t.Fatalf("collector traces file: %v", err)
		}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					out[s.TraceID+"/"+s.SpanID] = true
				}
			}
		}
	}
	return out
}

type otlpKV struct {
	Key   string
	Value struct {
		StringValue string
	}
}

func otlpString(kvs []otlpKV, key string) string {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value.StringValue
		}
	}
	return ""
}

// lokiResult is a query_range answer.
type lokiResult struct {
	raw  []byte
	Data struct {
		ResultType string
		Result     []struct {
			Stream map[string]string
			Metric map[string]string
			Values [][]json.RawMessage
		}
	}
}

func (r lokiResult) count() int {
	if r.Data.ResultType != "streams" {
		return 0
	}
	n := 0
	for _, s := range r.Data.Result {
		n += len(s.Values)
	}
	return n
}

func (r lokiResult) series() int {
	if r.Data.ResultType != "matrix" {
		return 0
	}
	return len(r.Data.Result)
}

// labelled returns the value of label for every line that has it.
func (r lokiResult) labelled(label string) []string {
	var out []string
	for _, s := range r.Data.Result {
		if v, ok := s.Stream[label]; ok && v != "" {
			for range s.Values {
				out = append(out, v)
			}
		}
	}
	return out
}

func queryLoki(t *testing.T, base, query string) lokiResult {
	t.Helper()
	q := url.Values{}
	q.Set("query", query)
	q.Set("start", fmt.Sprint(time.Now().Add(-time.Hour).UnixNano()))
	q.Set("end", fmt.Sprint(time.Now().Add(time.Minute).UnixNano()))
	q.Set("limit", "5000")
	q.Set("step", "15s")
	resp, err := http.Get(base + "/loki/api/v1/query_range?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Loki %s: %d %s", query, resp.StatusCode, body)
	}
	var r lokiResult
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("Loki answer: %v", err)
	}
	r.raw = body
	return r
}

type panelQuery struct{ title, expr string }

// dashboardQueries returns the LogQL of every panel of the shipped dashboard.
func dashboardQueries(t *testing.T) []panelQuery {
	t.Helper()
	data, err := os.ReadFile("../grafana/dashboards/secaudit-overview.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	var out []panelQuery
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			if tg.Expr != "" {
				out = append(out, panelQuery{p.Title, tg.Expr})
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("dashboard has no queries")
	}
	return out
}

// TestIntegrationCollectorOutage stops the real Collector in the middle of
// traffic and restarts it: every request keeps succeeding within the stated
// latency bound, records wait in the delivery queue, and afterwards
// delivered + counted-lost == emitted.
func TestIntegrationCollectorOutage(t *testing.T) {
	o := newOutage(t, "secaudit-outage")
	stackCmd, ctx, got, pipeline, srv := o.stackCmd, o.ctx, o.got, o.pipeline, o.srv

	// Traffic: two clients, each a login failure and an account read in a
	// loop, with every request's latency recorded by phase.
	const latencyBound = 500 * time.Millisecond
	var mu sync.Mutex
	phase := "before"
	slowest := map[string]time.Duration{}
	requests := map[string]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := srv.Client()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, path := range []string{"/login", "/api/accounts/1"} {
					start := time.Now()
					var resp *http.Response
					var err error
					if path == "/login" {
						resp, err = c.Post(srv.URL+path, "application/json", strings.NewReader(`{"username":"alice","password":"nope"}`))
					} else {
						resp, err = c.Get(srv.URL + path)
					}
					if err != nil {
						t.Errorf("request failed during %s: %v", phase, err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					took := time.Since(start)
					mu.Lock()
					requests[phase]++
					slowest[phase] = max(slowest[phase], took)
					mu.Unlock()
					if resp.StatusCode != http.StatusUnauthorized {
						t.Errorf("%s answered %d during %s", path, resp.StatusCode, phase)
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	setPhase := func(p string) { mu.Lock(); phase = p; mu.Unlock() }

	time.Sleep(time.Second)
	stackCmd("otelcol-stop")
	setPhase("outage")
	time.Sleep(3 * time.Second)
	queuedInOutage := pipeline.Delivery()[0].Stats().Queued
	stackCmd("otelcol-start")
	setPhase("after")
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	shutdownCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := pipeline.Shutdown(shutdownCtx); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	t.Logf("requests by phase %v, slowest %v; %d records queued during the outage", requests, slowest, queuedInOutage)
	for p, d := range slowest {
		if d > latencyBound {
			t.Errorf("slowest request during %s took %v, bound %v", p, d, latencyBound)
		}
	}
	if requests["outage"] == 0 {
		t.Fatal("no request was served during the outage")
	}
	mu.Unlock()
	if queuedInOutage == 0 {
		t.Error("no record waited in the queue during the outage: the Collector was not really down")
	}

	emittedTotal := len(got.records)
	stats := pipeline.Delivery()[0].Stats()
	if stats.Emitted != uint64(emittedTotal) || stats.Exported+stats.Dropped != stats.Emitted {
		t.Fatalf("delivery stats %+v do not account for the %d emitted records", stats, emittedTotal)
	}
	delivered := len(o.delivered(t, emittedTotal-int(stats.Dropped)))
	t.Logf("emitted %d, delivered %d, counted lost %d", emittedTotal, delivered, stats.Dropped)
	if delivered+int(stats.Dropped) != emittedTotal {
		t.Fatalf("delivered %d + counted lost %d != emitted %d", delivered, stats.Dropped, emittedTotal)
	}
	if stats.Dropped != 0 {
		t.Errorf("%d records lost in a %v outage the queue could hold", stats.Dropped, 3*time.Second)
	}
}

// TestIntegrationCollectorOutageSpilled is the outage beyond the queue's
// bound, with a dead-letter file: the real Collector is stopped, traffic
// overflows a small queue, and what the queue cannot hold is spilled to
// the file instead of being dropped. After the Collector returns and the
// pipeline shuts down, delivered + spilled == emitted, nothing dropped.
func TestIntegrationCollectorOutageSpilled(t *testing.T) {
	spillDir := t.TempDir()
	t.Setenv("SECAUDIT_DELIVERY_QUEUE_SIZE", "50")
	t.Setenv("SECAUDIT_DELIVERY_SPILL_DIR", spillDir)
	o := newOutage(t, "secaudit-spill")
	stackCmd, ctx, got, pipeline, srv := o.stackCmd, o.ctx, o.got, o.pipeline, o.srv
	c := srv.Client()
	get := func(n int) {
		t.Helper()
		for range n {
			resp, err := c.Get(srv.URL + "/api/accounts/1")
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			// Let the dead-letter file keep up: its buffer is as large as
			// the queue.
			time.Sleep(200 * time.Microsecond)
		}
	}

	get(20)
	stackCmd("otelcol-stop")
	get(300) // 300 events (401s), 6 times what the queue holds
	p := pipeline.Delivery()[0]
	waitUntil := time.Now().Add(10 * time.Second)
	for p.Stats().Spilled == 0 && time.Now().Before(waitUntil) {
		time.Sleep(10 * time.Millisecond)
	}
	stackCmd("otelcol-start")
	get(20)

	shutdownCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := pipeline.Shutdown(shutdownCtx); err != nil {
		t.Fatal(err)
	}

	emittedTotal := len(got.records)
	stats := p.Stats()
	if stats.Emitted != uint64(emittedTotal) || stats.Exported+stats.Spilled+stats.Dropped != stats.Emitted {
		t.Fatalf("delivery stats %+v do not account for the %d emitted records", stats, emittedTotal)
	}
	spillFile := filepath.Join(spillDir, "otlp.spill.jsonl")
	spilled := map[string]bool{}
	data, err := os.ReadFile(spillFile)
	if err != nil {
		t.Fatal(err)
	}
	for line := range bytes.Lines(data) {
		var r struct {
			EventName  string         `json:"event_name"`
			SpanID     string         `json:"span_id"`
			Attributes map[string]any `json:"attributes"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("%s: %v: %q", spillFile, err, line)
		}
		spilled[fmt.Sprintf("%s|%v|%s", r.EventName, r.Attributes[string(semconv.AuditRequestIDKey)], r.SpanID)] = true
	}
	seen := o.delivered(t, emittedTotal-len(spilled))
	delivered := len(seen)
	for k := range spilled {
		if seen[k] {
			t.Fatalf("record %s both delivered and spilled", k)
		}
	}
	t.Logf("emitted %d, delivered %d, spilled %d (%v), dropped %d", emittedTotal, delivered, len(spilled), stats.Spills, stats.Dropped)
	if len(spilled) != int(stats.Spilled) {
		t.Errorf("spill file holds %d records, Stats.Spilled = %d", len(spilled), stats.Spilled)
	}
	if stats.Spilled < 200 {
		t.Errorf("only %d records spilled: the outage did not overflow the queue", stats.Spilled)
	}
	if delivered+len(spilled) != emittedTotal || stats.Dropped != 0 {
		t.Fatalf("delivered %d + spilled %d != emitted %d, or dropped %d != 0", delivered, len(spilled), emittedTotal, stats.Dropped)
	}

	// The Collector is back: replaying the spill file delivers the rest,
	// each record once.
	out, err := exec.Command("go", "run", "../../tools/spillreplay", "-file", spillFile).CombinedOutput()
	if err != nil {
		t.Fatalf("spillreplay: %v\n%s", err, out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
	seen = o.delivered(t, emittedTotal)
	copies := map[string]int{}
	for _, r := range readCollectorLogs(t, o.stack.logsFile, o.service) {
		copies[r.name+"|"+r.requestID+"|"+r.spanID]++
	}
	for k := range spilled {
		if copies[k] != 1 {
			t.Errorf("spilled record %s arrived %d times after the replay, want once", k, copies[k])
		}
	}
	if len(seen) != emittedTotal {
		t.Fatalf("after the replay the Collector holds %d distinct records, emitted %d", len(seen), emittedTotal)
	}
}

// outage is what the Collector-outage tests share: the running stack, a
// way to stop and start its Collector (started again at the end of the
// test if it is left stopped), and the demo's handler behind an httptest
// server, exporting over OTLP, OK responses audited, span export off (it
// would fail during the outage), failed exports retried every 50 ms–1 s
// until Shutdown.
type outage struct {
	stack    stack
	stackCmd func(arg string)
	ctx      context.Context
	got      *emitted
	pipeline *setup.Pipeline
	srv      *httptest.Server
	service  string // service.name, unique to the test
}

func newOutage(t *testing.T, servicePrefix string) *outage {
	t.Helper()
	o := &outage{stack: stackFromEnv(t), ctx: context.Background(), got: &emitted{}}
	o.stackCmd = func(arg string) {
		t.Helper()
		out, err := exec.Command("../../tools/stack", arg).CombinedOutput()
		if err != nil {
			t.Fatalf("tools/stack %s: %v\n%s", arg, err, out)
		}
	}
	t.Cleanup(func() {
		if exec.Command("../../tools/stack", "status").Run() != nil {
			_ = exec.Command("../../tools/stack", "otelcol-start").Run()
		}
	})
	o.service = fmt.Sprintf("%s-%d", servicePrefix, time.Now().UnixNano())
	t.Setenv("OTEL_SERVICE_NAME", o.service)
	t.Setenv("OTEL_LOGS_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1000")
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	t.Setenv("SECAUDIT_LOG_OK_RESPONSES", "true")
	var err error
	o.pipeline, err = setup.New(o.ctx, setup.WithProcessor(o.got), setup.WithTracing(),
		setup.WithDeliveryOptions(delivery.WithRetry(50*time.Millisecond, time.Second, 0)))
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHandler(o.pipeline)
	if err != nil {
		t.Fatal(err)
	}
	o.srv = httptest.NewServer(h)
	t.Cleanup(o.srv.Close)
	return o
}

// delivered polls the Collector's file, for up to 30 s, until it holds at
// least want distinct records of the test's service (summaries aside),
// and returns them as "event name|request id|span id".
func (o *outage) delivered(t *testing.T, want int) map[string]bool {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		seen := map[string]bool{}
		for _, r := range readCollectorLogs(t, o.stack.logsFile, o.service) {
			if r.name != semconv.EventPipelineDropped {
				seen[r.name+"|"+r.requestID+"|"+r.spanID] = true
			}
		}
		if len(seen) >= want || time.Now().After(deadline) {
			return seen
		}
		time.Sleep(200 * time.Millisecond)
	}
}
