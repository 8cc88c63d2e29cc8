package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
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
	attacker := newAttackerTransport()
	defer attacker.CloseIdleConnections()
	// First a brute force: seven wrong passwords for one user from one
	// address, which detection (brute_force: 5 in 5 min) reports with one
	// security.alert.
	bruteForce(ctx, newClient(base, rand.New(rand.NewPCG(1, 2)), attacker))
	scenarios := []struct {
		weight int
		attack bool
		run    func(context.Context, *client)
	}{
		{6, false, normalUse},
		{3, true, passwordGuessing},
		{2, true, forbiddenReads},
		{2, true, probing},
		{1, true, tripPanic},
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
						var transport http.RoundTripper // the users' (http.DefaultTransport)
						if s.attack {
							transport = attacker
						}
						s.run(ctx, newClient(base, rng, transport))
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

// newClient is a client with a cookie jar of its own (one session) over
// transport (nil: http.DefaultTransport).
func newClient(base string, rng *rand.Rand, transport http.RoundTripper) *client {
	jar, _ := cookiejar.New(nil)
	return &client{base: base, http: &http.Client{Jar: jar, Timeout: 5 * time.Second, Transport: transport}, rng: rng}
}

// attackerAddr is the address the attacks come from where the system lets
// a client bind it (Linux answers every address of 127.0.0.0/8 on the
// loopback interface), while the users come from 127.0.0.1: alerts, blocks
// and lockouts (SECAUDIT_BLOCK=true) then fall on the attacker and not on
// the users. Where it cannot be bound (a demo on [::1], systems that only
// configure 127.0.0.1), the attacks come from the usual address.
var attackerAddr = netip.MustParseAddr("127.0.0.66")

// newAttackerTransport is the transport of the attacks: connections from
// attackerAddr when it can be bound, else from wherever the system says.
func newAttackerTransport() *http.Transport {
	from := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(attackerAddr, 0))}
	fallback := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if conn, err := from.DialContext(ctx, network, addr); err == nil {
				return conn, nil
			}
			return fallback.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     5 * time.Second,
	}
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
