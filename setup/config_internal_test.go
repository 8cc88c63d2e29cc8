package setup

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/secaudit/secaudit/exporter"
)

// signingKeyFile writes a signing key as secaudit keygen does.
func signingKeyFile(t *testing.T) string {
	t.Helper()
	skey, _, err := note.GenerateKey(rand.Reader, "precedence")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "signing.key")
	if err := os.WriteFile(path, []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPrecedence runs every variable setup resolves itself through option >
// environment > default: unset, the variable alone, an option beside the
// variable, an explicit zero option beside the variable (a value like any
// other: it wins, or it is refused with an error naming the option, never
// overridden by the variable), and WithoutEnv beside the variable. The
// delivery, processor and Auditor variables are their packages' (each has
// its own table); New passes WithoutEnv on to them.
func TestPrecedence(t *testing.T) {
	file := WithJSONLPath("/var/log/audit.jsonl")
	rotation := func(c config) any {
		n, ok := c.rotateBytes.Get()
		if !ok {
			return "off"
		}
		return fmt.Sprintf("%d keep %d", n, c.rotateKeep.Or(defaultRotateKeep))
	}
	envKey, optKey := signingKeyFile(t), signingKeyFile(t)
	tests := []struct {
		env     string   // the variable
		val     string   // its value
		base    []Option // given in every case (a file for the file settings)
		opt     Option   // a non-zero option
		zero    Option   // the same option with its zero value
		get     func(config) any
		def     any    // unset
		fromEnv any    // the variable alone
		fromOpt any    // opt beside the variable
		zeroErr string // the error zero gives, or "" when it is valid
		zeroVal any    // zero beside the variable, when valid
	}{
		{"OTEL_LOGS_EXPORTER", "otlp", nil, WithExporters("jsonl", "otlp"), WithExporters("none"),
			func(c config) any { return fmt.Sprint(c.exporters.Or(defaultExporters)) },
			"[jsonl]", "[otlp]", "[jsonl otlp]", "", "[]"},
		{"SECAUDIT_JSONL_PATH", "/env/audit.jsonl", nil, WithJSONLPath("/opt/audit.jsonl"), WithJSONLPath(""),
			func(c config) any { d, _ := c.jsonl.Get(); return d.path },
			"", "/env/audit.jsonl", "/opt/audit.jsonl", `secaudit: WithJSONLPath(""): want a file path`, nil},
		{"SECAUDIT_JSONL_MAX_BYTES", "100", []Option{file}, WithJSONLRotation(200, 3), WithJSONLRotation(0, 3), rotation,
			"off", "100 keep 5", "200 keep 3", "secaudit: WithJSONLRotation(0, 3): want maxBytes >= 1 and keep from 1 to 1000", nil},
		{"SECAUDIT_JSONL_MAX_FILES", "2", []Option{file}, WithJSONLRotation(10, 7), WithJSONLRotation(10, 0),
			func(c config) any { return c.rotateKeep.Or(defaultRotateKeep) },
			defaultRotateKeep, 2, 7, "secaudit: WithJSONLRotation(10, 0): want maxBytes >= 1 and keep from 1 to 1000", nil},
		{"SECAUDIT_JSONL_FSYNC", "always", []Option{file}, WithJSONLFsync(exporter.FsyncInterval(time.Second)), WithJSONLFsync(exporter.FsyncNever),
			func(c config) any { return c.fsync.Or(exporter.FsyncNever).String() },
			"never", "always", "1s", "", "never"},
		{"SECAUDIT_JSONL_CHAIN", "true", nil, WithJSONLChain(true), WithJSONLChain(false),
			func(c config) any { return fmt.Sprint(c.hashChain.Or(false)) },
			"false", "true", "true", "", "false"},
		{"SECAUDIT_JSONL_SIGNING_KEY", envKey, []Option{file}, WithJSONLSigningKey(optKey), WithJSONLSigningKey(""),
			func(c config) any { return c.signingKey.Or("") },
			"", envKey, optKey, `secaudit: WithJSONLSigningKey(""): want a key file written by secaudit keygen (no such file or directory)`, nil},
		{"SECAUDIT_JSONL_CHECKPOINT_INTERVAL", "30s", nil, WithJSONLCheckpointInterval(2 * time.Minute), WithJSONLCheckpointInterval(0),
			func(c config) any { return c.cpInterval.Or(exporter.DefaultCheckpointInterval).String() },
			"1m0s", "30s", "2m0s", "secaudit: WithJSONLCheckpointInterval(0s): want a positive duration", nil},
	}
	// Every variable config.go resolves is in the table, once.
	src, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, tt := range tests {
		names[tt.env] = true
	}
	if n := strings.Count(string(src), "setting.Env("); n != len(tests) || len(names) != n {
		t.Fatalf("config.go resolves %d variables, the table has %d rows for %d names", n, len(tests), len(names))
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			opts := func(o ...Option) []Option { return append(append([]Option(nil), tt.base...), o...) }
			check := func(t *testing.T, opts []Option, want any) {
				t.Helper()
				c, err := newConfig(opts)
				if err != nil {
					t.Fatal(err)
				}
				if got := tt.get(c); got != want {
					t.Errorf("got %v (%T), want %v (%T)", got, got, want, want)
				}
			}
			t.Run("default", func(t *testing.T) { check(t, opts(), tt.def) })
			t.Setenv(tt.env, tt.val)
			t.Run("env", func(t *testing.T) { check(t, opts(), tt.fromEnv) })
			t.Run("option beats env", func(t *testing.T) { check(t, opts(tt.opt), tt.fromOpt) })
			t.Run("without env", func(t *testing.T) { check(t, opts(WithoutEnv()), tt.def) })
			t.Run("explicit zero", func(t *testing.T) {
				if tt.zeroErr == "" {
					check(t, opts(tt.zero), tt.zeroVal)
					return
				}
				if _, err := newConfig(opts(tt.zero)); err == nil || err.Error() != tt.zeroErr {
					t.Errorf("err = %v, want %s", err, tt.zeroErr)
				}
			})
		})
	}
}
