package delivery_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/secaudit/secaudit/delivery"
)

func TestOptionsAndEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		opts    []delivery.Option
		wantErr []string // substrings; nil = valid
		check   func(t *testing.T, h delivery.Health, st delivery.Stats)
	}{
		{name: "defaults", check: func(t *testing.T, h delivery.Health, st delivery.Stats) {
			if h.Mode != "async" || st.Capacity != delivery.DefaultQueueSize || h.Name != "default" {
				t.Errorf("defaults: mode %s, capacity %d, name %s", h.Mode, st.Capacity, h.Name)
			}
		}},
		{
			name: "env",
			env:  map[string]string{delivery.EnvMode: "Blocking", delivery.EnvQueueSize: "100", delivery.EnvTimeout: "1s"},
			check: func(t *testing.T, h delivery.Health, st delivery.Stats) {
				if h.Mode != "blocking" || st.Capacity != 100 {
					t.Errorf("env: mode %s, capacity %d", h.Mode, st.Capacity)
				}
			},
		},
		{
			name: "option beats env",
			env:  map[string]string{delivery.EnvMode: "nonsense", delivery.EnvQueueSize: "-4"},
			opts: []delivery.Option{delivery.WithMode(delivery.ModeStrict), delivery.WithQueueSize(7)},
			check: func(t *testing.T, h delivery.Health, st delivery.Stats) {
				if h.Mode != "strict" || st.Capacity != 7 {
					t.Errorf("mode %s, capacity %d", h.Mode, st.Capacity)
				}
			},
		},
		{name: "all env valid", env: map[string]string{
			delivery.EnvExportTimeout: "5s", delivery.EnvRetryMaxElapsed: "0", delivery.EnvSummaryInterval: "0s",
			delivery.EnvBatchSize: "10", delivery.EnvStrictEvents: "authz.*, model.*", delivery.EnvBlockingEvents: "auth.login.failed",
		}},
		{name: "bad mode env", env: map[string]string{delivery.EnvMode: "sometimes"}, wantErr: []string{`secaudit: SECAUDIT_DELIVERY_MODE="sometimes": want async, blocking or strict`}},
		{name: "bad timeout env", env: map[string]string{delivery.EnvTimeout: "soon"}, wantErr: []string{delivery.EnvTimeout}},
		{name: "zero timeout env", env: map[string]string{delivery.EnvTimeout: "0s"}, wantErr: []string{`secaudit: SECAUDIT_DELIVERY_TIMEOUT="0s": want a positive Go duration such as 250ms`}},
		{name: "bad queue env", env: map[string]string{delivery.EnvQueueSize: "0"}, wantErr: []string{delivery.EnvQueueSize}},
		{name: "bad batch env", env: map[string]string{delivery.EnvBatchSize: "x"}, wantErr: []string{delivery.EnvBatchSize}},
		{name: "bad export timeout env", env: map[string]string{delivery.EnvExportTimeout: "-1s"}, wantErr: []string{delivery.EnvExportTimeout}},
		{name: "bad retry env", env: map[string]string{delivery.EnvRetryMaxElapsed: "-1m"}, wantErr: []string{`secaudit: SECAUDIT_DELIVERY_RETRY_MAX_ELAPSED="-1m": want a Go duration >= 0 such as 5m`}},
		{name: "bad summary env", env: map[string]string{delivery.EnvSummaryInterval: "often"}, wantErr: []string{delivery.EnvSummaryInterval}},
		{name: "bad strict env", env: map[string]string{delivery.EnvStrictEvents: "a*b"}, wantErr: []string{`secaudit: SECAUDIT_DELIVERY_STRICT_EVENTS="a*b": want event names or prefix*; event pattern "a*b": only a trailing * is supported`}},
		{name: "bad blocking env", env: map[string]string{delivery.EnvBlockingEvents: "*x*"}, wantErr: []string{delivery.EnvBlockingEvents}},
		{name: "two bad env", env: map[string]string{delivery.EnvQueueSize: "0", delivery.EnvTimeout: "x"}, wantErr: []string{delivery.EnvQueueSize, delivery.EnvTimeout}},
		{name: "bad name", opts: []delivery.Option{delivery.WithName("")}, wantErr: []string{`secaudit: WithName(""): want a name that is not empty`}},
		{name: "bad mode", opts: []delivery.Option{delivery.WithMode(9)}, wantErr: []string{"WithMode"}},
		{name: "bad timeout", opts: []delivery.Option{delivery.WithTimeout(-time.Second)}, wantErr: []string{"WithTimeout"}},
		{name: "bad export timeout", opts: []delivery.Option{delivery.WithExportTimeout(0)}, wantErr: []string{"WithExportTimeout"}},
		{name: "bad queue", opts: []delivery.Option{delivery.WithQueueSize(0)}, wantErr: []string{"WithQueueSize"}},
		{name: "bad batch", opts: []delivery.Option{delivery.WithBatchSize(-1)}, wantErr: []string{"WithBatchSize"}},
		{name: "bad retry", opts: []delivery.Option{delivery.WithRetry(time.Second, time.Millisecond, 0)}, wantErr: []string{"WithRetry"}},
		{name: "bad retry elapsed", opts: []delivery.Option{delivery.WithRetry(time.Millisecond, time.Second, -1)}, wantErr: []string{"secaudit: WithRetry(1ms, 1s, -1ns): want 0 < initial <= max, and maxElapsed >= 0"}},
		{name: "bad linger env", env: map[string]string{delivery.EnvLinger: "-5ms"}, wantErr: []string{`secaudit: SECAUDIT_DELIVERY_LINGER="-5ms": want a Go duration >= 0 such as 5ms`}},
		{name: "bad linger", opts: []delivery.Option{delivery.WithLinger(-1)}, wantErr: []string{"WithLinger"}},
		{name: "bad summary", opts: []delivery.Option{delivery.WithSummaryInterval(-1)}, wantErr: []string{"WithSummaryInterval"}},
		{name: "empty pattern", opts: []delivery.Option{delivery.WithStrictEvents("")}, wantErr: []string{`secaudit: WithStrictEvents(""): want event names or prefix*; empty event pattern`}},
		{name: "nil option", opts: []delivery.Option{nil}},
		{
			name: "without env",
			env:  map[string]string{delivery.EnvQueueSize: "0"},
			opts: []delivery.Option{delivery.WithoutEnv()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range []string{delivery.EnvMode, delivery.EnvTimeout, delivery.EnvQueueSize, delivery.EnvBatchSize,
				delivery.EnvExportTimeout, delivery.EnvRetryMaxElapsed, delivery.EnvStrictEvents, delivery.EnvBlockingEvents, delivery.EnvSummaryInterval, delivery.EnvLinger} {
				t.Setenv(name, tt.env[name])
			}
			p, err := delivery.New(&memExporter{}, tt.opts...)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if tt.check != nil {
					tt.check(t, p.Health(), p.Stats())
				}
				if err := p.Shutdown(context.Background()); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				_ = p.Shutdown(context.Background())
				t.Fatal("New succeeded, want an error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []delivery.Mode{delivery.ModeAsync, delivery.ModeBlocking, delivery.ModeStrict} {
		got, err := delivery.ParseMode(" " + strings.ToUpper(m.String()) + " ")
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m, got, err)
		}
	}
	if _, err := delivery.ParseMode("eventually"); err == nil {
		t.Error("ParseMode accepted nonsense")
	}
	if s := delivery.Mode(7).String(); s != "Mode(7)" {
		t.Errorf("String = %q", s)
	}
}
