package setup_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"golang.org/x/mod/sumdb/note"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/integrity"
	"github.com/secaudit/secaudit/setup"
)

// keyFiles writes a signing key and its verifier key as secaudit keygen
// does.
func keyFiles(t *testing.T) (key string, v note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "setup-test")
	if err != nil {
		t.Fatal(err)
	}
	key = filepath.Join(t.TempDir(), "signing.key")
	if err := os.WriteFile(key, []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if v, err = note.NewVerifier(vkey); err != nil {
		t.Fatal(err)
	}
	return key, v
}

// TestJSONLChainFromEnv: SECAUDIT_JSONL_CHAIN, _SIGNING_KEY and
// _CHECKPOINT_INTERVAL give a chained, signed file set that verifies,
// across a restart.
func TestJSONLChainFromEnv(t *testing.T) {
	clearEnv(t)
	key, v := keyFiles(t)
	path := filepath.Join(t.TempDir(), "events.jsonl")
	t.Setenv("SECAUDIT_JSONL_PATH", path)
	t.Setenv("SECAUDIT_JSONL_MAX_BYTES", "8192")
	t.Setenv("SECAUDIT_JSONL_MAX_FILES", "50")
	t.Setenv("SECAUDIT_JSONL_CHAIN", "true")
	t.Setenv("SECAUDIT_JSONL_SIGNING_KEY", key)
	t.Setenv("SECAUDIT_JSONL_CHECKPOINT_INTERVAL", "1h")
	for range 2 { // a restart continues the chain
		p, err := setup.New(context.Background(), setup.WithServiceName("chain"))
		if err != nil {
			t.Fatal(err)
		}
		for range 30 {
			p.Auditor().LoginFailed(context.Background(), secaudit.User{ID: "1"}, "bad_password")
		}
		if err := p.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(path + "*")
	var logs []string
	for _, f := range files {
		if !strings.HasSuffix(f, integrity.CheckpointSuffix) {
			logs = append(logs, f)
		}
	}
	res, err := integrity.Verify(logs, integrity.Options{Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	if res.Lines != 60 || res.Files < 2 || res.Checkpoints < 2 {
		t.Errorf("verified %+v, want 60 lines in rotated files with checkpoints", res)
	}
}

func TestJSONLChainErrors(t *testing.T) {
	key, _ := keyFiles(t)
	secret, _ := os.ReadFile(key)
	notKey := filepath.Join(t.TempDir(), "not.key")
	if err := os.WriteFile(notKey, []byte("PRIVATE+KEY+x+00000000+AAAA\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "events.jsonl")
	missing := filepath.Join(t.TempDir(), "none.key")
	tests := []struct {
		name string
		env  map[string]string
		opts []setup.Option
		want string
	}{
		{"missing key file", map[string]string{"SECAUDIT_JSONL_PATH": file, "SECAUDIT_JSONL_SIGNING_KEY": missing},
			nil, `secaudit: SECAUDIT_JSONL_SIGNING_KEY="` + missing + `": want a key file written by secaudit keygen (no such file or directory)`},
		{"not a key", map[string]string{"SECAUDIT_JSONL_PATH": file, "SECAUDIT_JSONL_SIGNING_KEY": notKey},
			nil, `secaudit: SECAUDIT_JSONL_SIGNING_KEY="` + notKey + `": want a file holding an Ed25519 private key written by secaudit keygen (this one holds none)`},
		{"no file", map[string]string{"SECAUDIT_JSONL_SIGNING_KEY": key},
			nil, `secaudit: SECAUDIT_JSONL_SIGNING_KEY="` + key + `": want a JSONL file too (WithJSONLPath or SECAUDIT_JSONL_PATH)`},
		{"chain off", map[string]string{"SECAUDIT_JSONL_PATH": file, "SECAUDIT_JSONL_CHAIN": "false"},
			[]setup.Option{setup.WithJSONLSigningKey(key)}, `secaudit: WithJSONLSigningKey("` + key + `"): want the hash chain on (SECAUDIT_JSONL_CHAIN turns it off)`},
		{"bad chain", map[string]string{"SECAUDIT_JSONL_CHAIN": "yes please"}, nil, `SECAUDIT_JSONL_CHAIN="yes please"`},
		{"bad interval", map[string]string{"SECAUDIT_JSONL_CHECKPOINT_INTERVAL": "0s"}, nil, `SECAUDIT_JSONL_CHECKPOINT_INTERVAL="0s": want a positive Go duration such as 1m`},
		{"bad interval option", nil, []setup.Option{setup.WithJSONLCheckpointInterval(-1)}, `WithJSONLCheckpointInterval(-1ns): want a positive duration`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			p, err := setup.New(context.Background(), tt.opts...)
			if err == nil {
				_ = p.Shutdown(context.Background())
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n %q\nwant\n %q", err, tt.want)
			}
			if strings.Contains(err.Error(), strings.TrimSpace(string(secret))) || strings.Contains(err.Error(), "PRIVATE+KEY") {
				t.Errorf("error shows the key: %v", err)
			}
		})
	}
}

// TestRecordsCarryStream: every record carries audit.stream.id (32 hex
// digits, one per pipeline and process start) and audit.sequence from 1.
func TestRecordsCarryStream(t *testing.T) {
	clearEnv(t)
	streams := map[string]bool{}
	for range 2 {
		var out bytes.Buffer
		p, err := setup.New(context.Background(), setup.WithJSONLWriter(&out))
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			p.Auditor().LoginFailed(context.Background(), secaudit.User{ID: "1"}, "bad_password")
		}
		if err := p.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		var id string
		for i, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var env struct {
				Attributes map[string]any `json:"attributes"`
			}
			if err := json.Unmarshal([]byte(line), &env); err != nil {
				t.Fatal(err)
			}
			sid, _ := env.Attributes["audit.stream.id"].(string)
			if seq := env.Attributes["audit.sequence"]; seq != float64(i+1) || len(sid) != 32 || (id != "" && sid != id) {
				t.Errorf("line %d: audit.stream.id %q audit.sequence %v", i+1, sid, seq)
			}
			id = sid
		}
		streams[id] = true
	}
	if len(streams) != 2 {
		t.Errorf("streams %v: want a new one per start", streams)
	}
}

// TestSigningKeyReadableByOthers: a key file others can read is reported
// (through the OTel error handler, without the key), and start-up goes on.
func TestSigningKeyReadableByOthers(t *testing.T) {
	clearEnv(t)
	key, _ := keyFiles(t)
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	secret, _ := os.ReadFile(key)
	var mu sync.Mutex
	var reports []string
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { mu.Lock(); reports = append(reports, err.Error()); mu.Unlock() }))
	t.Cleanup(func() { otel.SetErrorHandler(prev) })
	p, err := setup.New(context.Background(), setup.WithJSONLPath(filepath.Join(t.TempDir(), "events.jsonl")), setup.WithJSONLSigningKey(key))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, r := range reports {
		if strings.Contains(r, "WithJSONLSigningKey") && strings.Contains(r, "chmod 600") {
			found = true
		}
		if strings.Contains(r, strings.TrimSpace(string(secret))) {
			t.Errorf("report shows the key: %s", r)
		}
	}
	if !found {
		t.Errorf("reports %q, want one about the key file's mode", reports)
	}
}
