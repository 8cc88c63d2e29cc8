package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/exporter"
)

// runInv runs args with inv's streams and environment, filling what is
// missing as runCommand does.
func runInv(ctx context.Context, inv invocation, args ...string) int {
	if inv.stdin == nil {
		inv.stdin = strings.NewReader("")
	}
	if inv.getenv == nil {
		inv.getenv = func(string) string { return "" }
	}
	return run(ctx, args, inv)
}

var utc = map[string]string{"TZ": "UTC"}

// fixedNow is the clock of the -since tests: 2026-01-02T03:10:00Z.
var fixedNow = func() time.Time { return time.Date(2026, 1, 2, 3, 10, 0, 0, time.UTC) }

func TestTailGolden(t *testing.T) {
	const file = "testdata/tail.jsonl"
	tests := []struct {
		golden string
		args   []string
	}{
		{"tail_plain.golden", []string{file}},
		{"tail_color.golden", []string{"-color", "always", file}},
		{"tail_event_exact.golden", []string{"-event", "auth.login.failed", file}},
		{"tail_event_prefix.golden", []string{"-event", "security.*", file}},
		{"tail_user.golden", []string{"-user", "1", file}},
		{"tail_addr.golden", []string{"-addr", "198.51.100.23", file}},
		{"tail_addr_cidr.golden", []string{"-addr", "2001:db8::/32", file}},
		{"tail_since_duration.golden", []string{"-since", "3m", file}},
		{"tail_since_rfc3339.golden", []string{"-since", "2026-01-02T03:07:05Z", file}},
		{"tail_request.golden", []string{"-request", "fedcba9876543210fedcba9876543210", file}},
		{"tail_json.golden", []string{"-json", "-event", "auth.*", file}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			inv := invocation{stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return utc[k] }, now: fixedNow}
			code := runInv(context.Background(), inv, append([]string{"tail"}, tt.args...)...)
			// The file has one line that is not JSON: reported, not fatal.
			if code != exitFinding {
				t.Errorf("exit %d, want %d (one bad line)", code, exitFinding)
			}
			if want := "secaudit tail: testdata/tail.jsonl:5: not a JSON event:"; !strings.HasPrefix(stderr.String(), want) || strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("stderr %q, want one line starting %q", stderr.String(), want)
			}
			golden(t, tt.golden, stdout.String())
		})
	}
}

func TestTailJSONPassesLinesUnchanged(t *testing.T) {
	data, err := os.ReadFile("testdata/tail.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	inv := invocation{stdin: bytes.NewReader(data), stdout: &stdout, stderr: new(bytes.Buffer)}
	runInv(context.Background(), inv, "tail", "-json")
	var want []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "{") {
			want = append(want, l)
		}
	}
	if got := stdout.String(); got != strings.Join(want, "\n")+"\n" {
		t.Errorf("-json from stdin changed the lines:\n%s", got)
	}
}

func TestTailTerminalColours(t *testing.T) {
	for _, tt := range []struct {
		terminal bool
		flag     string
		want     bool
	}{
		{true, "auto", true}, {false, "auto", false}, {false, "always", true}, {true, "never", false},
	} {
		var stdout bytes.Buffer
		inv := invocation{stdout: &stdout, stderr: new(bytes.Buffer), isTerminal: tt.terminal}
		runInv(context.Background(), inv, "tail", "-color", tt.flag, "-event", "model.update", "testdata/tail.jsonl")
		if got := strings.Contains(stdout.String(), "\x1b["); got != tt.want {
			t.Errorf("terminal %v, -color %s: coloured %v, want %v", tt.terminal, tt.flag, got, tt.want)
		}
	}
}

func TestTailUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-color", "pink"}, {"-since", "yesterday"}, {"-addr", "10.0.0.0/99"}, {"-event", "a*b"}, {"-nope"},
		{"-interval", "0s", "-f"},
	} {
		code, _, stderr := runCommand(t, nil, append([]string{"tail"}, args...)...)
		if code != exitUsage || stderr == "" {
			t.Errorf("tail %v: exit %d, stderr %q; want %d and a message", args, code, stderr, exitUsage)
		}
	}
	if code, _, _ := runCommand(t, nil, "tail", "/nonexistent/events.jsonl"); code != exitFinding {
		t.Errorf("missing file: exit %d, want %d", code, exitFinding)
	}
}

// follower drives tail -f: each time tail has read everything it sends
// on idle and waits for the test to let it look again.
type follower struct {
	idle   chan struct{}
	resume chan struct{}
}

func newFollower() *follower {
	return &follower{idle: make(chan struct{}), resume: make(chan struct{})}
}

func (f *follower) wait(ctx context.Context) error {
	select {
	case f.idle <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-f.resume:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// step lets tail look at the files once more and waits until it has
// read everything again.
func (f *follower) step(t *testing.T) {
	t.Helper()
	select {
	case f.resume <- struct{}{}:
	case <-time.After(10 * time.Second):
		t.Fatal("tail -f did not poll")
	}
	select {
	case <-f.idle:
	case <-time.After(10 * time.Second):
		t.Fatal("tail -f did not come back")
	}
}

func appendFile(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTailFollowAcrossRotation follows a file through the JSONL
// exporter's rotation (exporter/file.go: path is renamed path.1, older
// backups shift up, and a new file is created under path), a line
// written in two parts, and a truncation.
func TestTailFollowAcrossRotation(t *testing.T) {
	data, err := os.ReadFile("testdata/tail.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "{") {
			events = append(events, l+"\n")
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	appendFile(t, path, events[0]+events[1])

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFollower()
	var stdout, stderr bytes.Buffer
	done := make(chan int)
	go func() {
		inv := invocation{stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return utc[k] }, wait: f.wait}
		done <- runInv(ctx, inv, "tail", "-f", path)
	}()
	<-f.idle // the first two lines are read

	// A line written in two parts is printed once it is whole.
	appendFile(t, path, events[2][:40])
	f.step(t)
	appendFile(t, path, events[2][40:])
	f.step(t)

	// Rotation: the last lines of the old file, then the rename (with a
	// backup shifted up), then the new file.
	appendFile(t, path, events[3])
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path+".1", events[4]) // written before the exporter switched
	f.step(t)                           // the new file does not exist yet
	if err := os.Rename(path+".1", path+".2"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, events[5])
	f.step(t)
	// A second rotation.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, events[6])
	f.step(t)
	// Truncated in place (copytruncate): read again from the start.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, events[7][:20])
	f.step(t)
	appendFile(t, path, events[7][20:])
	f.step(t)

	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("exit %d, want 0; stderr %s", code, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr: %s", stderr.String())
	}
	golden(t, "tail_follow.golden", stdout.String())
}

// TestTailFollowsTheExportersRotation writes through the JSONL exporter
// itself with rotation by size (a file holds two or three records), one
// record per poll of tail -f, and expects every record once, in order.
func TestTailFollowsTheExportersRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	exp, err := exporter.NewJSONL(exporter.WithFile(path), exporter.WithRotation(1200, 3))
	if err != nil {
		t.Fatal(err)
	}
	provider := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)))
	defer provider.Shutdown(context.Background())
	logger := provider.Logger("tail-test")
	write := func(i int) {
		t.Helper()
		var r log.Record
		ts := time.Date(2026, 1, 2, 3, 4, i, 0, time.UTC)
		r.SetTimestamp(ts)
		r.SetObservedTimestamp(ts)
		r.SetEventName("auth.login.failed")
		r.SetSeverity(log.SeverityWarn)
		r.SetSeverityText("WARNING")
		r.SetBody(attribute.StringValue("auth.login.failed"))
		r.AddAttributes(
			attribute.String("user.id", strconv.Itoa(i)),
			attribute.String("client.address", "192.0.2.1"),
			attribute.String("audit.outcome", "failure"),
			attribute.String("http.route", "/login"),
			attribute.String("padding", strings.Repeat("x", 300)),
		)
		logger.Emit(context.Background(), r)
	}
	write(0)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFollower()
	var stdout, stderr bytes.Buffer
	done := make(chan int)
	go func() {
		inv := invocation{stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return utc[k] }, wait: f.wait}
		done <- runInv(ctx, inv, "tail", "-f", path)
	}()
	<-f.idle
	const n = 12
	for i := 1; i < n; i++ {
		write(i)
		f.step(t)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("exit %d; stderr %s", code, stderr.String())
	}
	if exp.Stats().Rotations < 3 {
		t.Fatalf("%d rotations, want several", exp.Stats().Rotations)
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), n, stdout.String())
	}
	for i, l := range lines {
		if !strings.Contains(l, " user="+strconv.Itoa(i)+" ") {
			t.Errorf("line %d: %q, want user=%d", i, l, i)
		}
	}
}
