package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// runCommand runs the command line args in process and returns its exit
// status, stdout and stderr. getenv sees only env.
func runCommand(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	inv := invocation{
		stdin:  strings.NewReader(""),
		stdout: &stdout,
		stderr: &stderr,
		getenv: func(k string) string { return env[k] },
	}
	code := run(context.Background(), args, inv)
	return code, stdout.String(), stderr.String()
}

func TestDispatch(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"no command", nil, exitUsage, "", "usage: secaudit"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{"help", []string{"help"}, exitOK, "usage: secaudit", ""},
		{"-h", []string{"-h"}, exitOK, "usage: secaudit", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCommand(t, nil, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d", code, tt.wantCode)
			}
			if tt.wantStdout != "" && !strings.Contains(stdout, tt.wantStdout) {
				t.Errorf("stdout %q, want it to contain %q", stdout, tt.wantStdout)
			}
			if tt.wantStderr != "" && !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tt.wantStderr)
			}
		})
	}
}

func TestUsageListsEveryCommand(t *testing.T) {
	_, stdout, _ := runCommand(t, nil, "help")
	for name, c := range commands {
		if c.summary == "" {
			t.Errorf("command %s has no summary", name)
		}
		if !strings.Contains(stdout, "  "+name+" ") {
			t.Errorf("usage does not list %s:\n%s", name, stdout)
		}
	}
}
