package delivery

import (
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"
)

// TestPrecedence runs every variable delivery owns through option >
// environment > default: unset, the variable alone, an option beside the
// variable, an explicit zero option beside the variable (a value like any
// other: it wins, or it is refused with an error naming the option, but it
// never lets the variable through), and WithoutEnv beside the variable.
func TestPrecedence(t *testing.T) {
	spill := func(r resolved) any { return r.spill.dir }
	tests := []struct {
		env     string // the variable
		val     string // its value
		opt     Option // a non-zero option
		zero    Option // the same option with its zero value
		get     func(resolved) any
		def     any    // unset
		fromEnv any    // the variable alone
		fromOpt any    // opt beside the variable
		zeroErr string // the error zero gives, or "" when it is valid
		zeroVal any    // zero beside the variable, when valid
	}{
		{EnvMode, "strict", WithMode(ModeBlocking), WithMode(ModeAsync), func(r resolved) any { return r.mode },
			ModeAsync, ModeStrict, ModeBlocking, "", ModeAsync},
		{EnvTimeout, "1s", WithTimeout(2 * time.Second), WithTimeout(0), func(r resolved) any { return r.timeout },
			DefaultTimeout, time.Second, 2 * time.Second, "secaudit: WithTimeout(0s): want a positive duration", nil},
		{EnvQueueSize, "100", WithQueueSize(7), WithQueueSize(0), func(r resolved) any { return r.queueSize },
			DefaultQueueSize, 100, 7, "secaudit: WithQueueSize(0): want an integer >= 1", nil},
		{EnvBatchSize, "10", WithBatchSize(3), WithBatchSize(0), func(r resolved) any { return r.batchSize },
			DefaultBatchSize, 10, 3, "secaudit: WithBatchSize(0): want an integer >= 1", nil},
		{EnvExportTimeout, "5s", WithExportTimeout(time.Second), WithExportTimeout(0), func(r resolved) any { return r.exportTimeout },
			DefaultExportTimeout, 5 * time.Second, time.Second, "secaudit: WithExportTimeout(0s): want a positive duration", nil},
		{EnvRetryMaxElapsed, "1m", WithRetry(time.Millisecond, time.Second, time.Hour), WithRetry(time.Millisecond, time.Second, 0),
			func(r resolved) any { return r.retryElapsed },
			DefaultRetryMaxElapsed, time.Minute, time.Hour, "", time.Duration(0)},
		{EnvStrictEvents, "authz.*", WithStrictEvents("model.x"), WithStrictEvents(), func(r resolved) any { return fmt.Sprint(r.strict) },
			fmt.Sprint(patterns{}), fmt.Sprint(patterns{prefixes: []string{"authz."}}), fmt.Sprint(patterns{exact: []string{"model.x"}}), "", fmt.Sprint(patterns{})},
		{EnvBlockingEvents, "*", WithBlockingEvents("a", "b*"), WithBlockingEvents(), func(r resolved) any { return fmt.Sprint(r.blocking) },
			fmt.Sprint(patterns{}), fmt.Sprint(patterns{all: true}), fmt.Sprint(patterns{exact: []string{"a"}, prefixes: []string{"b"}}), "", fmt.Sprint(patterns{})},
		{EnvSummaryInterval, "10s", WithSummaryInterval(time.Hour), WithSummaryInterval(0), func(r resolved) any { return r.summary },
			DefaultSummaryInterval, 10 * time.Second, time.Hour, "", time.Duration(0)},
		{EnvLinger, "50ms", WithLinger(time.Millisecond), WithLinger(0), func(r resolved) any { return r.linger },
			DefaultLinger, 50 * time.Millisecond, time.Millisecond, "", time.Duration(0)},
		{EnvSpillDir, "/from/env", WithSpillDir("/from/option"), WithSpillDir(""), spill,
			"", "/from/env", "/from/option", `secaudit: WithSpillDir(""): want a directory`, nil},
		{EnvSpillMaxBytes, "1000", WithSpillMaxBytes(10), WithSpillMaxBytes(0), func(r resolved) any { return r.spillMax },
			int64(DefaultSpillMaxBytes), int64(1000), int64(10), "secaudit: WithSpillMaxBytes(0): want an integer >= 1", nil},
	}
	// Every variable option.go declares is in the table, once.
	src, err := os.ReadFile("option.go")
	if err != nil {
		t.Fatal(err)
	}
	declared := regexp.MustCompile(`(?m)^\tEnv\w+ += envconf\.`).FindAllString(string(src), -1)
	names := map[string]bool{}
	for _, tt := range tests {
		names[tt.env] = true
	}
	if len(declared) == 0 || len(names) != len(declared) || len(tests) != len(declared) {
		t.Fatalf("option.go declares %d variables, the table has %d rows for %d names", len(declared), len(tests), len(names))
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			check := func(t *testing.T, opts []Option, want any) {
				t.Helper()
				r, err := newConfig(opts)
				if err != nil {
					t.Fatal(err)
				}
				if got := tt.get(r); got != want {
					t.Errorf("got %v (%T), want %v (%T)", got, got, want, want)
				}
			}
			t.Run("default", func(t *testing.T) { check(t, nil, tt.def) })
			t.Setenv(tt.env, tt.val)
			t.Run("env", func(t *testing.T) { check(t, nil, tt.fromEnv) })
			t.Run("option beats env", func(t *testing.T) { check(t, []Option{tt.opt}, tt.fromOpt) })
			t.Run("without env", func(t *testing.T) { check(t, []Option{WithoutEnv()}, tt.def) })
			t.Run("explicit zero", func(t *testing.T) {
				if tt.zeroErr == "" {
					check(t, []Option{tt.zero}, tt.zeroVal)
					return
				}
				if _, err := newConfig([]Option{tt.zero}); err == nil || err.Error() != tt.zeroErr {
					t.Errorf("err = %v, want %s", err, tt.zeroErr)
				}
			})
		})
	}
}
