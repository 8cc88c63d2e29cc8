package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secaudit/secaudit/instrumentation"
)

// forwardedSample writes a sample file whose one event came through a
// proxy (client.address differs from network.peer.address).
func forwardedSample(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sample.jsonl")
	line := `{"timestamp":1,"severity_text":"INFO","attributes":{"event_type":"http.response.success","client.address":"203.0.113.9","network.peer.address":"10.0.0.2"},"event_name":"http.response.success"}` + "\n"
	direct := `{"timestamp":2,"severity_text":"INFO","attributes":{"event_type":"http.response.success","client.address":"10.0.0.3","network.peer.address":"10.0.0.3"},"event_name":"http.response.success"}` + "\n"
	if err := os.WriteFile(path, []byte(direct+line), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func directSample(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sample.jsonl")
	line := `{"timestamp":2,"severity_text":"INFO","attributes":{"event_type":"http.response.success","client.address":"10.0.0.3","network.peer.address":"10.0.0.3"},"event_name":"http.response.success"}` + "\n"
	if err := os.WriteFile(path, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDoctor(t *testing.T) {
	forwarded, direct := forwardedSample(t), directSample(t)
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		want  int
		risky []string // variables named as risky, in order
	}{
		{"defaults are clean", nil, nil, exitOK, nil},
		{"a careful configuration is clean", map[string]string{
			"SECAUDIT_LOG_REQUEST_BODIES":  "true",
			"SECAUDIT_BODY_FIELDS":         "amount,currency",
			"SECAUDIT_TRUSTED_PROXY_CIDRS": "10.0.0.0/8",
			"SECAUDIT_TRUSTED_PROXY_COUNT": "1",
			"SECAUDIT_SAMPLE_RATE":         "0.1",
			"SECAUDIT_LOG_OK_RESPONSES":    "true",
			"OTEL_LOGS_EXPORTER":           "otlp,jsonl",
			"OTEL_EXPORTER_OTLP_ENDPOINT":  "https://collector.example:4318",
			"SECAUDIT_DETECT":              "true",
			"SECAUDIT_INCLUDE_USERNAMES":   "false",
		}, []string{"-sample", forwarded}, exitOK, nil},
		{"OTLP over http to loopback is clean", map[string]string{
			"OTEL_LOGS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://127.0.0.1:4318/v1/logs",
		}, nil, exitOK, nil},
		{"a sample without forwarded requests is clean", nil, []string{"-sample", direct}, exitOK, nil},
		{"body capture without an allowlist", map[string]string{"SECAUDIT_LOG_REQUEST_BODIES": "true"}, nil, exitFinding,
			[]string{"SECAUDIT_LOG_REQUEST_BODIES"}},
		{"trusted proxies unset, forwarded requests in the sample", nil, []string{"-sample", forwarded}, exitFinding,
			[]string{"SECAUDIT_TRUSTED_PROXY_CIDRS"}},
		{"OK responses sampled at 0", map[string]string{"SECAUDIT_LOG_OK_RESPONSES": "true", "SECAUDIT_SAMPLE_RATE": "0"}, nil, exitFinding,
			[]string{"SECAUDIT_SAMPLE_RATE"}},
		{"OTLP without TLS to another host", map[string]string{"OTEL_LOGS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, nil, exitFinding,
			[]string{"OTEL_EXPORTER_OTLP_ENDPOINT"}},
		{"OTLP https made insecure", map[string]string{"OTEL_LOGS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "https://collector:4318/v1/logs", "OTEL_EXPORTER_OTLP_INSECURE": "true"}, nil, exitFinding,
			[]string{"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"}},
		{"detection off", map[string]string{"SECAUDIT_DETECT": "off"}, nil, exitFinding, []string{"SECAUDIT_DETECT"}},
		{"usernames on", map[string]string{"SECAUDIT_INCLUDE_USERNAMES": "1"}, nil, exitFinding, []string{"SECAUDIT_INCLUDE_USERNAMES"}},
		{"all of them", map[string]string{
			"SECAUDIT_LOG_REQUEST_BODIES": "yes", "SECAUDIT_SAMPLE_RATE": "0", "OTEL_LOGS_EXPORTER": "otlp",
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://192.0.2.10:4318", "SECAUDIT_DETECT": "false", "SECAUDIT_INCLUDE_USERNAMES": "true",
		}, []string{"-sample", forwarded}, exitFinding, []string{
			"SECAUDIT_LOG_REQUEST_BODIES", "SECAUDIT_TRUSTED_PROXY_CIDRS", "SECAUDIT_SAMPLE_RATE",
			"OTEL_EXPORTER_OTLP_ENDPOINT", "SECAUDIT_DETECT", "SECAUDIT_INCLUDE_USERNAMES",
		}},
		{"an invalid value", map[string]string{"SECAUDIT_MAX_BODY_BYTES": "lots"}, nil, exitFinding, nil},
		// The service opens a redis:// store (its package registered);
		// doctor does not connect, and does not call the URL invalid.
		{"a Redis state store", map[string]string{"SECAUDIT_STATE": "redis://127.0.0.1:6379/0"}, nil, exitOK, nil},
		{"an unknown state store", map[string]string{"SECAUDIT_STATE": "bogus://x"}, nil, exitFinding, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCommand(t, tt.env, append([]string{"doctor"}, tt.args...)...)
			if code != tt.want {
				t.Errorf("exit %d, want %d\n%s%s", code, tt.want, stdout, stderr)
			}
			_, section, _ := strings.Cut(stdout, "\nrisky settings:\n")
			var named []string
			for _, l := range strings.Split(strings.TrimSpace(section), "\n") {
				if name, _, ok := strings.Cut(strings.TrimSpace(l), ":"); ok {
					named = append(named, name)
				}
			}
			if strings.Join(named, ",") != strings.Join(tt.risky, ",") {
				t.Errorf("risky settings %q, want %q\n%s", named, tt.risky, stdout)
			}
			if code == exitOK && !strings.Contains(stdout, "OK: no invalid value, no risky setting") {
				t.Errorf("clean configuration without its OK line:\n%s", stdout)
			}
			for name, v := range tt.env {
				if !strings.Contains(stdout, name+strings.Repeat(" ", 36-len(name)+1)+v) {
					t.Errorf("%s=%s not shown with its value:\n%s", name, v, stdout)
				}
			}
		})
	}
}

// TestDoctorReportsAsTheService checks that a bad value is reported in
// the service's own words: the error the middleware's constructor
// returns for the same environment.
func TestDoctorReportsAsTheService(t *testing.T) {
	for name, v := range map[string]string{
		"SECAUDIT_SAMPLE_RATE":         "1.5",
		"SECAUDIT_TRUSTED_PROXY_CIDRS": "10.0.0.0/33",
		"SECAUDIT_IGNORE_PATHS":        "(unclosed",
		"SECAUDIT_MAX_BODY_BYTES":      "0",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, v)
			_, err := instrumentation.NewMiddleware()
			if err == nil {
				t.Fatalf("the middleware accepts %s=%s", name, v)
			}
			code, stdout, _ := runCommand(t, map[string]string{name: v}, "doctor")
			if code != exitFinding {
				t.Errorf("exit %d, want %d", code, exitFinding)
			}
			if !strings.Contains(stdout, "invalid: "+err.Error()+"\n") {
				t.Errorf("doctor does not report the service's error %q:\n%s", err, stdout)
			}
			if strings.Count(stdout, err.Error()) != 1 {
				t.Errorf("error reported %d times, want once", strings.Count(stdout, err.Error()))
			}
		})
	}
}

func TestDoctorNeverPrintsSecrets(t *testing.T) {
	env := map[string]string{
		"SECAUDIT_SAMPLE_KEY":             "correct-horse-battery-staple-0123",
		"OTEL_EXPORTER_OTLP_HEADERS":      "Authorization=Bearer%20hunter2hunter2",
		"OTEL_EXPORTER_OTLP_LOGS_HEADERS": "x-api-key=s3cr3t-v4lu3",
		"OTEL_LOGS_EXPORTER":              "otlp",
	}
	for _, extra := range []map[string]string{nil, {"SECAUDIT_SAMPLE_KEY": "short-s3cret"}} {
		for k, v := range extra {
			env[k] = v
		}
		code, stdout, stderr := runCommand(t, env, "doctor")
		for name, v := range env {
			if strings.HasSuffix(name, "_KEY") || strings.HasSuffix(name, "_HEADERS") {
				if strings.Contains(stdout+stderr, v) || strings.Contains(stdout+stderr, "hunter2") {
					t.Errorf("exit %d: %s's value printed:\n%s%s", code, name, stdout, stderr)
				}
				if !strings.Contains(stdout, name) || !strings.Contains(stdout, "not shown") {
					t.Errorf("%s not listed as set and hidden:\n%s", name, stdout)
				}
			}
		}
	}
}

func TestDoctorUsage(t *testing.T) {
	for _, args := range [][]string{{"extra"}, {"-nope"}, {"-sample", "/nonexistent/sample.jsonl"}} {
		if code, _, _ := runCommand(t, nil, append([]string{"doctor"}, args...)...); code != exitUsage {
			t.Errorf("doctor %v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// TestDoctorChecksEveryConstructor: settings owned by delivery, detection
// and blocking are checked by their constructors, in their words.
func TestDoctorChecksEveryConstructor(t *testing.T) {
	for name, tt := range map[string]struct{ value, want string }{
		"SECAUDIT_DELIVERY_MODE":  {"fast", `secaudit: SECAUDIT_DELIVERY_MODE="fast": want async, blocking or strict`},
		"SECAUDIT_BLOCK_DURATION": {"0s", `secaudit: SECAUDIT_BLOCK_DURATION="0s": want a Go duration > 0`},
		"SECAUDIT_RATE_LIMIT":     {"lots", `secaudit: SECAUDIT_RATE_LIMIT="lots": want N/DURATION`},
		"SECAUDIT_DETECT_RULES":   {"brute_force:x", `secaudit: SECAUDIT_DETECT_RULES="brute_force:x": want a list of rule:threshold/window`},
	} {
		code, stdout, _ := runCommand(t, map[string]string{name: tt.value}, "doctor")
		if code != exitFinding || !strings.Contains(stdout, "invalid: "+tt.want) {
			t.Errorf("%s=%s: exit %d, want 1 and %q:\n%s", name, tt.value, code, tt.want, stdout)
		}
	}
}
