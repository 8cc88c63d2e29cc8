//go:build integration

package viewtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/secaudit/secaudit/internal/auditlog"
)

// traceTemplate is the -trace-url the viewer is started with.
const traceTemplate = "http://grafana.example:3000/explore?left=%7B%22queries%22:%5B%7B%22query%22:%22{trace_id}%22%7D%5D%7D"

// root is the repository's root, three levels up.
func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// cleanEnv is the environment without SECAUDIT_* and OTEL_* variables,
// for the demo and the viewer.
func cleanEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "SECAUDIT_") || strings.HasPrefix(kv, "OTEL_")
	})
}

func build(t *testing.T, dir, out, pkg string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

// expected is what the page must show, counted from the file with the
// same filters as secaudit tail.
type expected struct {
	total, alerts, blocks int
	byClass               map[string]int
	failedByAddr          map[string]int
	failedByUser          map[string]int
	clientErrByAddr       map[string]int
	loginFailed           int
}

func count(t *testing.T, path string) expected {
	t.Helper()
	x := expected{byClass: map[string]int{}, failedByAddr: map[string]int{}, failedByUser: map[string]int{}, clientErrByAddr: map[string]int{}}
	err := auditlog.Read(context.Background(), []string{path}, nil, auditlog.Options{}, func(l *auditlog.Line) error {
		e, err := auditlog.Parse(l.Data)
		if err != nil {
			t.Fatalf("line %d of the demo's output: %v", l.Num, err)
		}
		x.total++
		x.byClass[e.Class()]++
		switch e.Name {
		case "auth.login.failed":
			x.loginFailed++
			x.failedByAddr[e.Addr]++
			u := e.User()
			if u == "" {
				u = "(unknown)"
			}
			x.failedByUser[u]++
		case "http.response.client_error":
			x.clientErrByAddr[e.Addr]++
		case "security.alert":
			x.alerts++
		case "security.block.applied", "security.block.lifted":
			x.blocks++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// topCounts is the chart's expected content: the 10 largest, by count
// then key.
func topCounts(m map[string]int) map[string]int {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	out := map[string]int{}
	for _, k := range keys[:min(len(keys), 10)] {
		out[k] = m[k]
	}
	return out
}

// startViewer runs secaudit view and returns the URL it printed.
func startViewer(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"view"}, args...)...)
	cmd.Env = cleanEnv()
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "http://127.0.0.1:") {
				urls <- sc.Text()
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case u := <-urls:
		return u
	case <-time.After(60 * time.Second):
		t.Fatal("secaudit view printed no URL")
	}
	return ""
}

func TestIntegrationViewerInChromium(t *testing.T) {
	chromium := os.Getenv("SECAUDIT_TEST_CHROMIUM")
	if chromium == "" {
		t.Fatal("SECAUDIT_TEST_CHROMIUM is not set: run .ci/services/chromium start and export what it prints")
	}
	repo := root(t)
	work := t.TempDir()
	secaudit, demo := filepath.Join(work, "secaudit"), filepath.Join(work, "demo")
	build(t, repo, secaudit, "./cmd/secaudit")
	build(t, repo, demo, "./examples/demo")

	// The demo's traffic: logins, failures, scans, alerts.
	events := filepath.Join(work, "events.jsonl")
	out, err := os.Create(events)
	if err != nil {
		t.Fatal(err)
	}
	run := exec.Command(demo, "-addr", "127.0.0.1:0", "-traffic", "3s")
	var stderr strings.Builder
	run.Env, run.Stdout, run.Stderr = cleanEnv(), out, &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("demo -traffic: %v\n%s", err, stderr.String())
	}
	out.Close()
	want := count(t, events)
	if want.total < 100 || want.loginFailed == 0 || want.alerts == 0 {
		t.Fatalf("the demo's traffic is too thin to check the page: %+v", want)
	}

	url := startViewer(t, secaudit, "-trace-url", traceTemplate, events)

	opts := append(chromedp.DefaultExecAllocatorOptions[:0:0],
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(filepath.Join(work, "profile")),
		chromedp.WindowSize(1440, 1500),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()

	// Every console error or warning, uncaught exception and browser log
	// error (a failed request, a CSP violation) fails the test.
	var mu sync.Mutex
	var problems []string
	listen := func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			problems = append(problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				problems = append(problems, fmt.Sprintf("log %s (%s): %s %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	}
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithListener(listen))
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	text := func(sel string) string {
		s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	// counts reads data-key (or data-class) and data-count of the nodes.
	counts := func(sel, keyAttr string) map[string]int {
		nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll(sel), chromedp.AtLeast(0)))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		m := map[string]int{}
		for _, n := range nodes {
			c, _ := strconv.Atoi(n.AttributeValue("data-count"))
			m[n.AttributeValue(keyAttr)] += c
		}
		return m
	}
	sameCounts := func(name string, got, want map[string]int) {
		t.Helper()
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Errorf("%s: the page shows %s, the file has %s", name, g, w)
		}
	}
	rows := func() int {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#events tbody tr.ev").length`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1440, 1500),
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)),
	); err != nil {
		t.Fatal(err)
	}

	// The counts, the charts and the table against the file.
	if got := text("#total"); got != strconv.Itoa(want.total) {
		t.Errorf("total %s, the file has %d events", got, want.total)
	}
	if got := text("#matched"); got != strconv.Itoa(want.total) {
		t.Errorf("matched %s without a filter, want %d", got, want.total)
	}
	sameCounts("timeline by class (legend)", counts("#legend .legend-item", "data-class"), want.byClass)
	sameCounts("timeline by class (bars)", counts("#timeline rect", "data-class"), want.byClass)
	sameCounts("failed logins by user", counts("#failed-user g.bar", "data-key"), topCounts(want.failedByUser))
	sameCounts("failed logins by address", counts("#failed-addr g.bar", "data-key"), topCounts(want.failedByAddr))
	sameCounts("client errors by address", counts("#client-errors g.bar", "data-key"), topCounts(want.clientErrByAddr))
	if got := text("#alert-count"); got != strconv.Itoa(want.alerts) {
		t.Errorf("alerts %s, the file has %d", got, want.alerts)
	}
	if got := text("#block-count"); got != strconv.Itoa(want.blocks) {
		t.Errorf("blocks %s, the file has %d", got, want.blocks)
	}
	if n := rows(); n != min(50, want.total) {
		t.Errorf("%d rows in the table, want %d", n, min(50, want.total))
	}

	// The screenshot, before filtering: the README's picture when
	// VIEWTEST_SCREENSHOT names docs/viewer.png, else a temporary file, so
	// that a test run leaves the work tree as it was.
	shot := os.Getenv("VIEWTEST_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "viewer.png")
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(shot), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))

	// A filter narrows the table.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#filters input[name="event"]`), "auth.login.failed"),
		chromedp.Click(chromedp.CSS("#apply")),
		chromedp.WaitVisible(fmt.Sprintf(`//span[@id="matched" and text()="%d"]`, want.loginFailed)),
	); err != nil {
		t.Fatalf("filter: %v", err)
	}
	if n := rows(); n != min(50, want.loginFailed) {
		t.Errorf("%d rows after the filter, want %d", n, min(50, want.loginFailed))
	}
	eventsShown, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#events tbody tr.ev td:nth-child(3)")).map(td => td.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range eventsShown {
		if e != "auth.login.failed" {
			t.Errorf("a row of %q under the filter auth.login.failed", e)
		}
	}

	// A row expands to the whole event, and its trace link is right.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#events tbody tr.ev")),
		chromedp.WaitVisible(`//tr[@class="detail"]//pre[contains(., "event_name")]`),
	); err != nil {
		t.Fatalf("expand a row: %v", err)
	}
	detail := text("#events tbody tr.detail pre")
	link, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#events tbody tr.ev a.trace"), "href"))
	if err != nil || !link.Exists {
		t.Fatalf("the first row has no trace link: %v", err)
	}
	href := link.Value
	var ev struct {
		EventName  string         `json:"event_name"`
		TraceID    string         `json:"trace_id"`
		Attributes map[string]any `json:"attributes"`
	}
	if err := json.Unmarshal([]byte(detail), &ev); err != nil {
		t.Fatalf("the expanded row is not the event's JSON: %v\n%s", err, detail)
	}
	if ev.EventName != "auth.login.failed" || ev.Attributes["audit.request_id"] == nil || len(ev.TraceID) != 32 {
		t.Errorf("expanded event %+v", ev)
	}
	if wantHref := strings.ReplaceAll(traceTemplate, "{trace_id}", ev.TraceID); href != wantHref {
		t.Errorf("trace link %q, want %q", href, wantHref)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser: %s", p)
	}
}
