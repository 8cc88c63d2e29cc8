package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/semconv"
)

// eventCounter counts exported records by event name for the summary.
type eventCounter struct {
	mu     sync.Mutex
	counts map[string]int
	alerts map[string]int // security.alert records by rule
}

var _ sdklog.Processor = (*eventCounter)(nil)

func newEventCounter() *eventCounter {
	return &eventCounter{counts: map[string]int{}, alerts: map[string]int{}}
}

func (c *eventCounter) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }

func (c *eventCounter) OnEmit(_ context.Context, r *sdklog.Record) error {
	rule := ""
	if r.EventName() == semconv.EventAlert {
		r.WalkAttributes(func(kv attribute.KeyValue) bool {
			if kv.Key == semconv.SecurityRuleNameKey {
				rule = kv.Value.AsString()
				return false
			}
			return true
		})
	}
	c.mu.Lock()
	c.counts[r.EventName()]++
	if rule != "" {
		c.alerts[rule]++
	}
	c.mu.Unlock()
	return nil
}

func (c *eventCounter) Shutdown(context.Context) error   { return nil }
func (c *eventCounter) ForceFlush(context.Context) error { return nil }

func (c *eventCounter) snapshot() (events, alerts map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts), maps.Clone(c.alerts)
}

func printSummary(w io.Writer, counts, alerts map[string]int) {
	names := make([]string, 0, len(counts))
	total := 0
	for k, v := range counts {
		names = append(names, k)
		total += v
	}
	sort.Strings(names)
	fmt.Fprintln(w, "demo: events by type")
	for _, n := range names {
		label := n
		if label == "" {
			label = "(no event name)"
		}
		fmt.Fprintf(w, "  %-32s %6d\n", label, counts[n])
	}
	fmt.Fprintf(w, "  %-32s %6d\n", "total", total)
	rules := slices.Sorted(maps.Keys(alerts))
	fmt.Fprintln(w, "demo: alerts by rule")
	for _, r := range rules {
		fmt.Fprintf(w, "  %-32s %6d\n", r, alerts[r])
	}
}

// driveTraffic sends a realistic mix against base until ctx ends: users
// logging in and using their accounts, and an attacker guessing passwords,
// reading other users' accounts, probing for files and tripping a panic.
func driveTraffic(ctx context.Context, base string) {
	// First a brute force: seven wrong passwords for one user from one
	// address, which detection (brute_force: 5 in 5 min) reports with one
	// security.alert.
	bruteForce(ctx, newClient(base, rand.New(rand.NewPCG(1, 2))))
	scenarios := []struct {
		weight int
		run    func(context.Context, *client)
	}{
		{6, normalUse},
		{3, passwordGuessing},
		{2, forbiddenReads},
		{2, probing},
		{1, tripPanic},
	}
	total := 0
	for _, s := range scenarios {
		total += s.weight
	}
	var wg sync.WaitGroup
	for worker := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(worker), uint64(time.Now().UnixNano())))
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				n := rng.IntN(total)
				for _, s := range scenarios {
					if n < s.weight {
						s.run(ctx, newClient(base, rng))
						break
					}
					n -= s.weight
				}
			}
		}()
	}
	wg.Wait()
}

type client struct {
	base string
	http *http.Client
	rng  *rand.Rand
}

func newClient(base string, rng *rand.Rand) *client {
	jar, _ := cookiejar.New(nil)
	return &client{base: base, http: &http.Client{Jar: jar, Timeout: 5 * time.Second}, rng: rng}
}

func (c *client) do(ctx context.Context, method, path, body string, header ...string) int {
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "secaudit-demo-traffic/1.0")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func normalUse(ctx context.Context, c *client) {
	who, pass, own := "alice", "wonderland", "1"
	if c.rng.IntN(2) == 0 {
		who, pass, own = "bob", "builder", "2"
	}
	c.do(ctx, "GET", "/healthz", "")
	if c.do(ctx, "POST", "/login", `{"username":"`+who+`","password":"`+pass+`"}`) != http.StatusOK {
		return
	}
	c.do(ctx, "GET", "/api/accounts/"+own, "")
	c.do(ctx, "PATCH", "/api/accounts/"+own, fmt.Sprintf(`{"nickname":"%s-%d"}`, who, c.rng.IntN(1000)))
	c.do(ctx, "POST", "/api/transfers", fmt.Sprintf(`{"from":%s,"to":%d,"amount":%d}`, own, 3-int(own[0]-'0'), 1+c.rng.IntN(20)))
	c.do(ctx, "GET", fmt.Sprintf("/slow?ms=%d", c.rng.IntN(30)), "")
	c.do(ctx, "POST", "/logout", "")
}

func passwordGuessing(ctx context.Context, c *client) {
	users := []string{"alice", "bob", "admin", "root"}
	guesses := []string{"123456", "password", "letmein", "wonderland1"}
	c.do(ctx, "POST", "/login", fmt.Sprintf(`{"username":%q,"password":%q}`, users[c.rng.IntN(len(users))], guesses[c.rng.IntN(len(guesses))]),
		"Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhdHRhY2tlciJ9.c2lnbmF0dXJl")
	c.do(ctx, "POST", "/login", `{"username":"alice",`) // malformed
}

// bruteForce sends seven failed logins for carol, a user nobody else
// guesses.
func bruteForce(ctx context.Context, c *client) {
	for i := range 7 {
		c.do(ctx, "POST", "/login", fmt.Sprintf(`{"username":"carol","password":"guess-%d"}`, i))
	}
}

func forbiddenReads(ctx context.Context, c *client) {
	if c.do(ctx, "POST", "/login", `{"username":"bob","password":"builder"}`) != http.StatusOK {
		return
	}
	c.do(ctx, "GET", "/api/accounts/1", "")
	c.do(ctx, "POST", "/api/transfers", `{"from":1,"to":2,"amount":1000}`)
	c.do(ctx, "POST", "/api/transfers", `{"from":2,`) // invalid JSON
	c.do(ctx, "POST", "/logout", "")
	c.do(ctx, "POST", "/logout", "") // no session any more
}

func probing(ctx context.Context, c *client) {
	paths := []string{"/wp-admin/install.php", "/.env", "/api/accounts/999", "/api/accounts/../../etc/passwd",
		"/admin", "/api/accounts/1?id=1%20OR%201=1"}
	for range 2 {
		c.do(ctx, "GET", paths[c.rng.IntN(len(paths))], "",
			"X-Forwarded-For", "127.0.0.1", "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	}
}

func tripPanic(ctx context.Context, c *client) {
	c.do(ctx, "GET", "/panic", "")
}
