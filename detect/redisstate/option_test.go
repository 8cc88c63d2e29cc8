package redisstate_test

import (
	"strings"
	"testing"
	"time"

	"github.com/secaudit/secaudit/detect"
	"github.com/secaudit/secaudit/detect/redisstate"
)

// closedURL names a loopback port nothing listens on: a Redis that is down.
const closedURL = "redis://127.0.0.1:1/0"

// TestNewURL: the store's own URL parameters (prefix, timeout) and
// options, go-redis's parameters passed through, and the errors in the
// project's format. A Redis that is down does not stop New.
func TestNewURL(t *testing.T) {
	tests := []struct {
		name       string
		url        string
		opts       []redisstate.Option
		wantPrefix string
		wantErr    string
	}{
		{name: "defaults", url: closedURL, wantPrefix: "secaudit:"},
		{name: "prefix parameter", url: closedURL + "?prefix=shop:", wantPrefix: "shop:"},
		{name: "option over parameter", url: closedURL + "?prefix=shop:", opts: []redisstate.Option{redisstate.WithPrefix("other:")}, wantPrefix: "other:"},
		{name: "go-redis parameter", url: closedURL + "?pool_size=3&timeout=20ms", wantPrefix: "secaudit:"},
		{name: "bad timeout", url: closedURL + "?timeout=soon", wantErr: `timeout="soon": want a Go duration`},
		{name: "unknown parameter", url: closedURL + "?colour=red", wantErr: "unexpected option: colour"},
		{name: "empty prefix", url: closedURL, opts: []redisstate.Option{redisstate.WithPrefix("")}, wantErr: `secaudit: WithPrefix(""): want a non-empty prefix`},
		{name: "glob prefix", url: closedURL, opts: []redisstate.Option{redisstate.WithPrefix("a*")}, wantErr: `secaudit: WithPrefix("a*")`},
		{name: "zero timeout", url: closedURL, opts: []redisstate.Option{redisstate.WithTimeout(0)}, wantErr: "secaudit: WithTimeout(0s): want a duration > 0"},
		{name: "short secret", url: closedURL, opts: []redisstate.Option{redisstate.WithSecret([]byte("short"))}, wantErr: "secaudit: WithSecret(5 bytes): want at least 16 bytes"},
		{name: "bad retry", url: closedURL, opts: []redisstate.Option{redisstate.WithRetryInterval(-time.Second)}, wantErr: "secaudit: WithRetryInterval(-1s)"},
		{name: "bad report interval", url: closedURL, opts: []redisstate.Option{redisstate.WithReportInterval(0)}, wantErr: "secaudit: WithReportInterval(0s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]redisstate.Option{redisstate.WithErrorHandler(func(error) {})}, tt.opts...)
			s, err := redisstate.New(tt.url, opts...)
			if tt.wantErr != "" {
				if err == nil {
					_ = s.Close()
					t.Fatal("no error")
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %q, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Prefix() != tt.wantPrefix {
				t.Errorf("prefix %q, want %q", s.Prefix(), tt.wantPrefix)
			}
			if !s.Degraded() {
				t.Error("a store on a closed port is not degraded")
			}
			if _, ok := s.HashSecret(); ok {
				t.Error("a secret without Redis")
			}
		})
	}
}

// TestRegistered: importing the package makes SECAUDIT_STATE=redis://…
// open a Store (rediss:// too), the URL's password never in an error.
func TestRegistered(t *testing.T) {
	for _, u := range []string{closedURL + "?timeout=10ms", "rediss://127.0.0.1:1/0?timeout=10ms"} {
		t.Setenv("SECAUDIT_STATE", u)
		s, opened, err := detect.OpenState()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := s.(*redisstate.Store); !ok || !opened {
			t.Fatalf("%s opened %T (opened %v)", u, s, opened)
		}
		if st := s.StoreStats(); st.Kind != "redis" || !st.Degraded {
			t.Errorf("stats %+v", st)
		}
		_ = s.Close()
	}
	t.Setenv("SECAUDIT_STATE", "redis://:hunter2@127.0.0.1:1/0?colour=red")
	_, _, err := detect.OpenState()
	if err == nil || !strings.Contains(err.Error(), `secaudit: SECAUDIT_STATE="redis://:xxxxx@127.0.0.1:1/0?colour=red": want a store URL that opens (redis: unexpected option: colour)`) {
		t.Fatalf("error %v", err)
	}
}

// TestWithSecret: a given secret is used at once, without Redis.
func TestWithSecret(t *testing.T) {
	s, err := redisstate.New(closedURL, redisstate.WithSecret([]byte("0123456789abcdef")), redisstate.WithErrorHandler(func(error) {}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if b, ok := s.HashSecret(); !ok || string(b) != "0123456789abcdef" {
		t.Fatalf("secret %q %v", b, ok)
	}
}

// TestFailOpenDown: with Redis down, every operation returns
// detect.ErrUnavailable within the deadline; after the first failure the
// store does not ask again for the retry interval (skipped, no round
// trip); failures are reported once per interval.
func TestFailOpenDown(t *testing.T) {
	var reports []error
	s, err := redisstate.New(closedURL, redisstate.WithSecret([]byte("0123456789abcdef")),
		redisstate.WithTimeout(50*time.Millisecond), redisstate.WithRetryInterval(time.Hour),
		redisstate.WithErrorHandler(func(err error) { reports = append(reports, err) }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 100 {
		start := time.Now()
		_, _, err := s.CountAndFire(1, false, 0, 5, 5, time.Minute, time.Now())
		if took := time.Since(start); took > 50*time.Millisecond+testsupportMargin {
			t.Fatalf("operation %d took %v", i, took)
		}
		if err == nil || !strings.Contains(err.Error(), detect.ErrUnavailable.Error()) {
			t.Fatalf("operation %d: %v", i, err)
		}
	}
	// A record's batch fails open as one operation: every operation of
	// it gets the error at once (skipped, no round trip).
	for i := range 10 {
		ops := []detect.StateOp{{Key: 1, Threshold: 5, Limit: 5, Window: time.Minute},
			{Key: 2, Distinct: true, Member: 7, Threshold: 5, Limit: 5, Window: time.Minute}, {Key: 3, Forget: true}}
		start := time.Now()
		s.CountAndFireBatch(ops, time.Now())
		if took := time.Since(start); took > 50*time.Millisecond+testsupportMargin {
			t.Fatalf("batch %d took %v", i, took)
		}
		for j, op := range ops {
			if op.Err == nil || !strings.Contains(op.Err.Error(), detect.ErrUnavailable.Error()) || op.Fired {
				t.Fatalf("batch %d, operation %d: %+v", i, j, op)
			}
		}
	}
	st := s.StoreStats()
	if st.Errors != 1 || st.Skipped != 109 || !st.Degraded {
		t.Fatalf("stats %+v, want 1 error and 109 skipped", st)
	}
	if len(reports) != 1 || !strings.Contains(reports[0].Error(), "secaudit: redis state: 1 error(s)") {
		t.Fatalf("reports %v", reports)
	}
}

// testsupportMargin is the scheduling margin allowed over a deadline.
const testsupportMargin = 50 * time.Millisecond
