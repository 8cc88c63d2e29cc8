//go:build integration

package redisstate_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/detect"
	"github.com/secaudit/secaudit/detect/guard"
	"github.com/secaudit/secaudit/detect/redisstate"
	"github.com/secaudit/secaudit/internal/claim"
	"github.com/secaudit/secaudit/semconv"
	"github.com/secaudit/secaudit/setup"
)

// redisURL is the server .ci/services/redis started.
func redisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("SECAUDIT_TEST_REDIS_URL")
	if u == "" {
		t.Fatal("SECAUDIT_TEST_REDIS_URL is not set: run .ci/services/redis start and export what it prints")
	}
	return u
}

// testPrefix is a key prefix of the test's own on the shared server; its
// keys are deleted when the test ends.
func testPrefix(t testing.TB, url string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		opt, err := redis.ParseURL(url)
		if err != nil {
			return
		}
		c := redis.NewClient(opt)
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return prefix
}

// waitFor polls cond every 5ms until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// server is a redis-server of the test's own (SECAUDIT_TEST_REDIS_SERVER)
// on a free loopback port, to kill and restart.
type server struct {
	bin  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

func startServer(t *testing.T) *server {
	t.Helper()
	bin := os.Getenv("SECAUDIT_TEST_REDIS_SERVER")
	if bin == "" {
		t.Fatal("SECAUDIT_TEST_REDIS_SERVER is not set: run .ci/services/redis start and export what it prints")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &server{bin: bin, port: port}
	s.start(t)
	t.Cleanup(s.kill)
	return s
}

func (s *server) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.port) }

func (s *server) start(t *testing.T) {
	t.Helper()
	s.cmd = exec.Command(s.bin, "--bind", "127.0.0.1", "--port", fmt.Sprint(s.port),
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", t.TempDir(), "--loglevel", "warning")
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(s.cmd, s.done)
	opt, _ := redis.ParseURL(s.url())
	c := redis.NewClient(opt)
	defer c.Close()
	waitFor(t, 5*time.Second, "redis-server does not answer PING", func() bool {
		return c.Ping(context.Background()).Err() == nil
	})
}

func (s *server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// jsonlEvents reads the event names of a JSONL file, with each line's
// security_rule.name.
func jsonlEvents(t *testing.T, path string) (events, rules []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			EventName  string         `json:"event_name"`
			Attributes map[string]any `json:"attributes"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		rule, _ := line.Attributes[string(semconv.SecurityRuleNameKey)].(string)
		events, rules = append(events, line.EventName), append(rules, rule)
	}
	return events, rules
}

// TestIntegrationPipelinesShareState: two pipelines (two setup.New, each
// with its own Redis connection, as two instances) with SECAUDIT_STATE's
// Redis: failures split between them reach brute_force's threshold
// together and fire exactly one security.alert in total; the lockout it
// applies through one refuses on the other; a manual address block through
// one refuses on the other and a lift through the other frees both; the
// rate limit counts both instances' requests together.
func TestIntegrationPipelinesShareState(t *testing.T) {
	base := redisURL(t)
	url := base + "?prefix=" + testPrefix(t, base)
	dir := t.TempDir()
	newPipeline := func(name string) *setup.Pipeline {
		p, err := setup.New(context.Background(), setup.WithoutEnv(),
			setup.WithJSONLPath(filepath.Join(dir, name+".jsonl")),
			setup.WithDetectOptions(detect.WithStateURL(url)),
			setup.WithGuardOptions(guard.WithEnabled(true), guard.WithRateLimit(5, time.Minute)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
		return p
	}
	a, b := newPipeline("a"), newPipeline("b")
	for _, p := range []*setup.Pipeline{a, b} {
		waitFor(t, 5*time.Second, "the guard's block copy is not loaded", func() bool { return !p.Guard().Degraded() })
	}

	const addr = "203.0.113.7"
	ctx := secaudit.ContextWithRequest(context.Background(), &secaudit.Request{ClientAddress: addr})
	for i := range 7 {
		p := a
		if i%2 == 1 {
			p = b
		}
		p.Auditor().LoginFailed(ctx, secaudit.User{ID: "u-alice", Name: "alice"}, "bad password")
	}
	for _, p := range []*setup.Pipeline{a, b} {
		if err := p.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	alerts := 0
	for _, name := range []string{"a", "b"} {
		events, rules := jsonlEvents(t, filepath.Join(dir, name+".jsonl"))
		for i, e := range events {
			if e == semconv.EventAlert {
				if rules[i] != detect.RuleBruteForce {
					t.Errorf("alert of rule %q", rules[i])
				}
				alerts++
			}
		}
	}
	if alerts != 1 {
		t.Fatalf("%d security.alert records in the two pipelines, want exactly 1", alerts)
	}
	// The lockout, applied by whichever pipeline fired, refuses on both.
	for name, p := range map[string]*setup.Pipeline{"a": a, "b": b} {
		waitFor(t, 2*time.Second, "pipeline "+name+" does not refuse the locked-out pair", func() bool {
			return p.Guard().CheckLogin("alice", addr).Blocked
		})
		if d := p.Guard().CheckLogin("bob", addr); d.Blocked {
			t.Errorf("pipeline %s refuses bob: %+v", name, d)
		}
		if d := p.Guard().CheckLogin("alice", "198.51.100.1"); d.Blocked {
			t.Errorf("pipeline %s refuses alice from another address: %+v", name, d)
		}
	}

	// A manual block through a refuses on b; a lift through b frees a.
	const other = "192.0.2.99"
	if err := a.Guard().Block(context.Background(), guard.ScopeAddress, guard.Subject{Address: other}, time.Minute, "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "b does not refuse the address a blocked", func() bool { return b.Guard().CheckAddress(other).Blocked })
	if d := b.Guard().CheckAddress(other); d.Rule != guard.RuleManual || d.Scope != guard.ScopeAddress || d.RetryAfterSeconds() < 55 {
		t.Errorf("b's decision %+v", d)
	}
	if !b.Guard().Lift(context.Background(), guard.ScopeAddress, guard.Subject{Address: other}) {
		t.Fatal("b did not lift the block")
	}
	waitFor(t, 2*time.Second, "a still refuses the address b lifted", func() bool { return !a.Guard().CheckAddress(other).Blocked })

	// The rate limit (5 a minute) counts both instances' requests.
	const limited = "198.51.100.50"
	refused := 0
	for i := range 8 {
		p := a
		if i%2 == 1 {
			p = b
		}
		if r, _, rule, _ := p.Guard().RefuseAddress(limited); r {
			if rule != guard.RuleRateLimit {
				t.Errorf("refused by %q", rule)
			}
			refused++
		}
	}
	if refused != 3 {
		t.Fatalf("%d of 8 requests refused across the two instances, want 3 (limit 5)", refused)
	}
}

// rig is one instance made by hand: a store on its own connection, a
// guard with it, and a detection processor feeding the guard.
type rig struct {
	store    *redisstate.Store
	guard    *guard.Guard
	det      *detect.Processor
	logger   log.Logger
	reports  atomic.Int64
	mu       sync.Mutex
	messages []string
}

func newRig(t testing.TB, url string, gopts ...guard.Option) *rig {
	t.Helper()
	return newRigTimeout(t, url, 50*time.Millisecond, gopts...)
}

// newRigTimeout is newRig with the store's deadline (benchmarks on a
// loaded machine give a longer one, so that they measure round trips
// rather than skipped operations).
func newRigTimeout(t testing.TB, url string, timeout time.Duration, gopts ...guard.Option) *rig {
	t.Helper()
	r := &rig{}
	s, err := redisstate.New(url, redisstate.WithTimeout(timeout), redisstate.WithRetryInterval(200*time.Millisecond),
		redisstate.WithReportInterval(time.Hour), redisstate.WithErrorHandler(func(err error) {
			r.reports.Add(1)
			r.mu.Lock()
			r.messages = append(r.messages, err.Error())
			r.mu.Unlock()
		}))
	if err != nil {
		t.Fatal(err)
	}
	r.store = s
	r.guard, err = guard.New(append([]guard.Option{guard.WithoutEnv(), guard.WithEnabled(true), guard.WithStore(s)}, gopts...)...)
	if err != nil {
		t.Fatal(err)
	}
	r.det, err = detect.New(detect.WithoutEnv(), detect.WithState(s), detect.WithResponder(r.guard.Responder()),
		detect.WithRule(detect.RuleBruteForce, 3, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	provider := sdklog.NewLoggerProvider(sdklog.WithProcessor(r.det))
	r.logger = provider.Logger("test")
	r.det.SetLogger(r.logger)
	r.guard.SetLogger(r.logger)
	t.Cleanup(func() {
		_ = provider.Shutdown(context.Background())
		_ = s.Close()
	})
	return r
}

// failedLogin emits one auth.login.failed of user from addr.
func (r *rig) failedLogin(user, addr string) {
	var rec log.Record
	rec.SetEventName(semconv.EventLoginFailed)
	rec.AddAttributes(semconv.ClientAddressKey.String(addr))
	r.logger.Emit(claim.WithUser(context.Background(), user), rec)
}

// TestIntegrationRedisDownAndBack: Redis killed mid-test → every check,
// rate-limited request and detection step returns within the deadline
// (50ms, plus a scheduling margin), blocks already known still refuse (the
// local copy), the rate limit and detection fail open with their errors
// counted and reported once, the health shows degraded, and a fail-closed
// path answers 503 while others pass. Redis restarted (empty) → the store
// reconnects, detection counts and blocks again, and a block applied on
// one instance refuses on the other again.
func TestIntegrationRedisDownAndBack(t *testing.T) {
	srv := startServer(t)
	url := srv.url()
	a := newRig(t, url, guard.WithRateLimit(1000, time.Minute), guard.WithFailClosedPaths("^/admin/"))
	b := newRig(t, url, guard.WithRateLimit(1000, time.Minute))
	for _, r := range []*rig{a, b} {
		waitFor(t, 5*time.Second, "store not ready", func() bool { return !r.store.Degraded() })
	}
	const known = "203.0.113.10"
	if err := a.guard.Block(context.Background(), guard.ScopeAddress, guard.Subject{Address: known}, time.Hour, "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "b does not see a's block", func() bool { return b.guard.CheckAddress(known).Blocked })
	protected := a.guard.FailClosed(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	serve := func(path string) int {
		rec := httptest.NewRecorder()
		protected.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	if c := serve("/admin/users"); c != http.StatusNoContent {
		t.Fatalf("fail-closed path with Redis up: %d", c)
	}

	const deadline = 50 * time.Millisecond
	const margin = 50 * time.Millisecond
	var worst time.Duration
	measure := func(f func()) {
		start := time.Now()
		f()
		if d := time.Since(start); d > worst {
			worst = d
		}
	}
	// A slow Redis: the server paused (SIGSTOP) answers nothing, every
	// call gives up at the deadline.
	if err := srv.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(600 * time.Millisecond)
	n := 0
	for time.Now().Before(end) {
		n++
		measure(func() { a.guard.RefuseAddress("198.51.100.6") })
		measure(func() { a.failedLogin("carol", "198.51.100.6") })
		time.Sleep(2 * time.Millisecond)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	t.Logf("Redis paused: %d rounds (rate-limited check, failed login), slowest call %v", n, worst)
	if worst > deadline+margin {
		t.Fatalf("slowest call with Redis paused took %v, want at most %v + %v", worst, deadline, margin)
	}
	if a.store.StoreStats().Errors == 0 {
		t.Fatal("no error counted with Redis paused")
	}

	srv.kill()
	worst = 0
	end = time.Now().Add(1500 * time.Millisecond) // several retry intervals
	n = 0
	for time.Now().Before(end) {
		n++
		measure(func() {
			if refused, _, _, _ := a.guard.RefuseAddress("198.51.100.7"); refused {
				t.Error("the rate limit refused with Redis down")
			}
		})
		measure(func() {
			if !a.guard.CheckAddress(known).Blocked {
				t.Error("a known block stopped refusing with Redis down")
			}
		})
		measure(func() { a.failedLogin("carol", "198.51.100.8") })
		time.Sleep(2 * time.Millisecond)
	}
	t.Logf("Redis down: %d rounds (rate-limited check, block check, failed login), slowest call %v", n, worst)
	if worst > deadline+margin {
		t.Fatalf("slowest call with Redis down took %v, want at most %v + %v", worst, deadline, margin)
	}
	st := a.store.StoreStats()
	if st.Errors == 0 || !st.Degraded || st.Skipped == 0 {
		t.Fatalf("store stats with Redis down: %+v", st)
	}
	if a.det.Stats().StateErrors == 0 || a.guard.Stats().StoreErrors == 0 || !a.guard.Degraded() {
		t.Fatalf("detect %+v, guard %+v", a.det.Stats(), a.guard.Stats())
	}
	if got := a.reports.Load(); got != 1 {
		t.Fatalf("%d reports through the error handler, want 1 (report interval 1h): %v", got, a.messages)
	}
	if c := serve("/admin/users"); c != http.StatusServiceUnavailable {
		t.Fatalf("fail-closed path with Redis down: %d, want 503", c)
	}
	if c := serve("/shop"); c != http.StatusNoContent {
		t.Fatalf("other path with Redis down: %d, want 204", c)
	}
	t.Logf("store stats while down: %+v", st)

	srv.start(t)
	for _, r := range []*rig{a, b} {
		waitFor(t, 5*time.Second, "the store did not recover", func() bool { return !r.store.Degraded() })
	}
	if c := serve("/admin/users"); c != http.StatusNoContent {
		t.Fatalf("fail-closed path after Redis returned: %d", c)
	}
	// The restarted Redis is empty: the block set reloads empty.
	waitFor(t, 2*time.Second, "b keeps a block the restarted Redis lost", func() bool { return !b.guard.CheckAddress(known).Blocked })
	// Detection resumes, shared: 3 failures split between a and b fire
	// brute_force once, and its lockout refuses on both.
	alertsBefore := a.det.Stats().Alerts[detect.RuleBruteForce] + b.det.Stats().Alerts[detect.RuleBruteForce]
	a.failedLogin("dave", "198.51.100.9")
	b.failedLogin("dave", "198.51.100.9")
	a.failedLogin("dave", "198.51.100.9")
	alerts := a.det.Stats().Alerts[detect.RuleBruteForce] + b.det.Stats().Alerts[detect.RuleBruteForce] - alertsBefore
	if alerts != 1 {
		t.Fatalf("%d brute_force alerts after Redis returned, want 1", alerts)
	}
	for name, r := range map[string]*rig{"a": a, "b": b} {
		waitFor(t, 2*time.Second, name+" does not refuse the pair locked out after Redis returned", func() bool {
			return r.guard.CheckLogin("dave", "198.51.100.9").Blocked
		})
	}
	// Blocking through the store resumes both ways.
	const later = "203.0.113.20"
	if err := b.guard.Block(context.Background(), guard.ScopeAddress, guard.Subject{Address: later}, time.Minute, "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "a does not see b's block after Redis returned", func() bool { return a.guard.CheckAddress(later).Blocked })
	if got := a.store.StoreStats().Reloads; got < 2 {
		t.Errorf("block set loaded %d times, want at start and after the restart", got)
	}
}

// hookCount counts the commands and pipelines sent: round trips.
type hookCount struct{ n atomic.Int64 }

func (h *hookCount) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *hookCount) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h *hookCount) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// TestIntegrationRoundTrips counts the round trips per operation with a
// go-redis hook: CheckAddress and CheckLogin 0 (the local copy), with or
// without blocks held; a request with the rate limit on 1; a record no
// rule counts 0; a failed login 1 (the operations of the three rules that
// count it in one pipeline); a successful login 1 (the reset).
func TestIntegrationRoundTrips(t *testing.T) {
	base := redisURL(t)
	url := base + "?prefix=" + testPrefix(t, base)
	plain := newRig(t, url)
	limited := newRig(t, url, guard.WithRateLimit(1000, time.Minute))
	var h hookCount
	plain.store.Client().AddHook(&h)
	limited.store.Client().AddHook(&h)
	for _, r := range []*rig{plain, limited} {
		waitFor(t, 5*time.Second, "store not ready", func() bool { return !r.store.Degraded() })
	}
	if err := plain.guard.Block(context.Background(), guard.ScopeAddress, guard.Subject{Address: "192.0.2.1"}, time.Minute, ""); err != nil {
		t.Fatal(err)
	}
	// Warm the script cache (EVALSHA falls back to EVAL once per script).
	limited.guard.RefuseAddress("192.0.2.200")
	plain.failedLogin("warm", "192.0.2.201")
	count := func(name string, want int64, f func()) {
		t.Helper()
		before := h.n.Load()
		f()
		if got := h.n.Load() - before; got != want {
			t.Errorf("%s: %d round trips, want %d", name, got, want)
		} else {
			t.Logf("%s: %d round trip(s)", name, got)
		}
	}
	count("CheckAddress, no rate limit", 0, func() { plain.guard.CheckAddress("198.51.100.1") })
	count("CheckAddress of a blocked address", 0, func() { plain.guard.CheckAddress("192.0.2.1") })
	count("RefuseAddress, no rate limit", 0, func() { plain.guard.RefuseAddress("198.51.100.1") })
	count("CheckLogin", 0, func() { plain.guard.CheckLogin("erin", "198.51.100.1") })
	count("RefuseAddress with the rate limit", 1, func() { limited.guard.RefuseAddress("198.51.100.1") })
	if err := limited.guard.Block(context.Background(), guard.ScopeAddress, guard.Subject{Address: "192.0.2.2"}, time.Minute, ""); err != nil {
		t.Fatal(err)
	}
	count("RefuseAddress of a blocked address with the rate limit", 0, func() {
		if refused, _, rule, _ := limited.guard.RefuseAddress("192.0.2.2"); !refused || rule != guard.RuleManual {
			t.Error("the blocked address was not refused by its block")
		}
	})
	count("a record no rule counts", 0, func() {
		var rec log.Record
		rec.SetEventName(semconv.EventModelUpdate)
		plain.logger.Emit(context.Background(), rec)
	})
	// brute_force (count), password_spray and distributed_brute_force
	// (distinct) count a failed login with an address and a user: their
	// three operations go in one pipeline.
	count("a failed login (3 rules, one pipeline)", 1, func() { plain.failedLogin("frank", "198.51.100.2") })
	// A successful login resets brute_force for the pair: one DEL.
	count("a successful login", 1, func() {
		var rec log.Record
		rec.SetEventName(semconv.EventLoginSuccess)
		rec.AddAttributes(semconv.ClientAddressKey.String("198.51.100.2"))
		plain.logger.Emit(claim.WithUser(context.Background(), "frank"), rec)
	})
	// After Redis lost its script cache, the scripts go again with EVAL:
	// one more round trip, once, and no error; the counts are exact (the
	// rig's brute_force fires at the third failure of the pair, and the
	// guard then applies its lockout: one MULTI/EXEC more).
	if err := plain.store.Client().ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	errs, alerts := plain.det.Stats().StateErrors, plain.det.Stats().Alerts[detect.RuleBruteForce]
	count("a failed login after SCRIPT FLUSH (EVAL again)", 2, func() { plain.failedLogin("grace", "198.51.100.3") })
	count("the second failed login of the pair", 1, func() { plain.failedLogin("grace", "198.51.100.3") })
	count("the third: brute_force fires, the lockout is stored", 2, func() { plain.failedLogin("grace", "198.51.100.3") })
	count("the fourth: no second alert in the window", 1, func() { plain.failedLogin("grace", "198.51.100.3") })
	if st := plain.det.Stats(); st.StateErrors != errs || st.Alerts[detect.RuleBruteForce] != alerts+1 {
		t.Errorf("%d state errors and %d brute_force alerts, want 0 and 1", st.StateErrors-errs, st.Alerts[detect.RuleBruteForce]-alerts)
	}
	if !plain.guard.CheckLogin("grace", "198.51.100.3").Blocked {
		t.Error("the pair is not locked out")
	}
}
