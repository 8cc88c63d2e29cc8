package setup_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/setup"
)

// clearEnv unsets every variable the pipeline reads, for the test's
// duration, the OTLP endpoint of an integration stack included.
func clearEnv(t testing.TB) {
	t.Helper()
	testsupport.ClearEnv(t)
}

func TestEnvParsing(t *testing.T) {
	tests := []struct {
		name          string
		env           map[string]string
		opts          []setup.Option
		wantErrNaming string
		wantExporters []string
	}{
		{name: "default is jsonl", wantExporters: []string{"jsonl"}},
		{name: "otlp", env: map[string]string{"OTEL_LOGS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}, wantExporters: []string{"otlp"}},
		{name: "comma list", env: map[string]string{"OTEL_LOGS_EXPORTER": " otlp , jsonl ", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}, wantExporters: []string{"otlp", "jsonl"}},
		{name: "none", env: map[string]string{"OTEL_LOGS_EXPORTER": "none"}, wantExporters: nil},
		{name: "option beats env", env: map[string]string{"OTEL_LOGS_EXPORTER": "bogus"}, opts: []setup.Option{setup.WithExporters("none")}, wantExporters: nil},
		{name: "unknown exporter", env: map[string]string{"OTEL_LOGS_EXPORTER": "kafka"}, wantErrNaming: "OTEL_LOGS_EXPORTER"},
		{name: "none combined", env: map[string]string{"OTEL_LOGS_EXPORTER": "none,jsonl"}, wantErrNaming: "OTEL_LOGS_EXPORTER"},
		{name: "bad option", opts: []setup.Option{setup.WithExporters("stdout2")}, wantErrNaming: "WithExporters"},
		{name: "bad compression", env: map[string]string{"OTEL_LOGS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, wantErrNaming: "OTEL_EXPORTER_OTLP_COMPRESSION"},
		{name: "bad endpoint", env: map[string]string{"OTEL_LOGS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "127.0.0.1:4318"}, wantErrNaming: "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"},
		{name: "bad resource attributes", env: map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "novalue"}, wantErrNaming: "OTEL_RESOURCE_ATTRIBUTES"},
		{name: "bad jsonl path", env: map[string]string{"SECAUDIT_JSONL_PATH": "/nonexistent-dir/x/events.jsonl"}, wantErrNaming: "SECAUDIT_JSONL_PATH"},
		{name: "rotation without a file", env: map[string]string{"SECAUDIT_JSONL_MAX_BYTES": "1048576"}, wantErrNaming: "SECAUDIT_JSONL_PATH"},
		{name: "bad rotation size", env: map[string]string{"SECAUDIT_JSONL_MAX_BYTES": "big"}, wantErrNaming: "SECAUDIT_JSONL_MAX_BYTES"},
		{name: "bad fsync", env: map[string]string{"SECAUDIT_JSONL_FSYNC": "sometimes"}, wantErrNaming: "SECAUDIT_JSONL_FSYNC"},
		{name: "bad delivery mode", env: map[string]string{"SECAUDIT_DELIVERY_MODE": "eventually"}, wantErrNaming: "SECAUDIT_DELIVERY_MODE"},
		{name: "bad scrub pattern", env: map[string]string{"SECAUDIT_SENSITIVE_VALUE_PATTERNS": "(unclosed"}, wantErrNaming: "SECAUDIT_SENSITIVE_VALUE_PATTERNS"},
		{name: "bad usernames flag", env: map[string]string{"SECAUDIT_INCLUDE_USERNAMES": "sometimes"}, wantErrNaming: "SECAUDIT_INCLUDE_USERNAMES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			opts := append([]setup.Option{setup.WithJSONLWriter(io.Discard)}, tt.opts...)
			if _, ok := tt.env["SECAUDIT_JSONL_PATH"]; ok {
				opts = tt.opts
			}
			p, err := setup.New(context.Background(), opts...)
			if tt.wantErrNaming != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrNaming) {
					t.Fatalf("err = %v, want an error naming %s", err, tt.wantErrNaming)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown(context.Background())
			if got := p.Exporters(); strings.Join(got, ",") != strings.Join(tt.wantExporters, ",") {
				t.Fatalf("exporters %v, want %v", got, tt.wantExporters)
			}
		})
	}
}

func TestServiceNamePrecedence(t *testing.T) {
	tests := []struct {
		name string
		env  string
		opt  string
		want string
	}{
		{"env", "from-env", "", "from-env"},
		{"option beats env", "from-env", "from-option", "from-option"},
		{"default names the program", "", "", "unknown_service:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			if tt.env != "" {
				t.Setenv("OTEL_SERVICE_NAME", tt.env)
			}
			var buf bytes.Buffer
			opts := []setup.Option{setup.WithJSONLWriter(&buf)}
			if tt.opt != "" {
				opts = append(opts, setup.WithServiceName(tt.opt))
			}
			p, err := setup.New(context.Background(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			p.Auditor().LoginSucceeded(context.Background(), secaudit.User{ID: "1"})
			if err := p.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			var line struct {
				Resource map[string]any `json:"resource"`
			}
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("%v: %q", err, buf.String())
			}
			got, _ := line.Resource["service.name"].(string)
			if !strings.HasPrefix(got, tt.want) || (tt.want != "unknown_service:" && got != tt.want) {
				t.Fatalf("service.name %q, want %q", got, tt.want)
			}
		})
	}
}

// otlpSink is an OTLP/HTTP logs endpoint that counts the records it receives.
type otlpSink struct {
	mu       sync.Mutex
	records  int
	gzipSeen bool
	scopes   []scopeSeen
}

// scopeSeen is an instrumentation scope as an otlpSink received it.
type scopeSeen struct {
	name, version string
	attrs         map[string]string
}

func (s *otlpSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := io.Reader(r.Body)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
		s.mu.Lock()
		s.gzipSeen = true
		s.mu.Unlock()
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req collogs.ExportLogsServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n := 0
	var scopes []scopeSeen
	for _, rl := range req.ResourceLogs {
		for _, sl := range rl.ScopeLogs {
			n += len(sl.LogRecords)
			sc := scopeSeen{name: sl.GetScope().GetName(), version: sl.GetScope().GetVersion(), attrs: map[string]string{}}
			for _, kv := range sl.GetScope().GetAttributes() {
				sc.attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
			}
			scopes = append(scopes, sc)
		}
	}
	s.mu.Lock()
	s.records += n
	s.scopes = append(s.scopes, scopes...)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&collogs.ExportLogsServiceResponse{})
	w.Write(out)
}

func TestShutdownFlushesEveryRecord(t *testing.T) {
	clearEnv(t)
	sink := &otlpSink{}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	t.Setenv("OTEL_LOGS_EXPORTER", "otlp,jsonl")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	path := filepath.Join(t.TempDir(), "events.jsonl")
	t.Setenv("SECAUDIT_JSONL_PATH", path)

	p, err := setup.New(context.Background(), setup.WithServiceName("flush-test"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 1500 // below the batch queue size: nothing may be dropped
	audit := p.Auditor()
	for range n {
		audit.LoginFailed(context.Background(), secaudit.User{Name: "u"}, "bad_password")
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	got, gz := sink.records, sink.gzipSeen
	sink.mu.Unlock()
	if got != n {
		t.Fatalf("collector received %d records, want %d", got, n)
	}
	if !gz {
		t.Fatal("OTLP export was not gzip-compressed by default")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if !json.Valid(sc.Bytes()) {
			t.Fatalf("invalid JSON line %q", sc.Text())
		}
		lines++
	}
	if lines != n {
		t.Fatalf("JSONL file has %d lines, want %d", lines, n)
	}
	// Shutdown is idempotent.
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

func TestJSONLFileRotationFromEnv(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "events.jsonl")
	t.Setenv("SECAUDIT_JSONL_PATH", path)
	t.Setenv("SECAUDIT_JSONL_MAX_BYTES", "4096")
	t.Setenv("SECAUDIT_JSONL_MAX_FILES", "2")
	t.Setenv("SECAUDIT_JSONL_FSYNC", "always")
	p, err := setup.New(context.Background(), setup.WithServiceName("rotation"))
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		p.Auditor().LoginFailed(context.Background(), secaudit.User{ID: "1"}, "bad_password")
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(path + "*")
	if len(files) != 3 {
		t.Fatalf("files %v, want the live file and 2 rotated ones", files)
	}
	for _, f := range files {
		info, err := os.Stat(f)
		if err != nil || info.Size() > 4096 {
			t.Fatalf("%s: %v, size %d > 4096", f, err, info.Size())
		}
	}
	if s := p.Delivery()[0].Stats(); s.Emitted != 100 || s.Exported != 100 || s.Dropped != 0 {
		t.Fatalf("delivery stats %+v, want 100 emitted and exported", s)
	}
}

func TestHealthHandler(t *testing.T) {
	clearEnv(t)
	p, err := setup.New(context.Background(), setup.WithJSONLWriter(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	rec := httptest.NewRecorder()
	p.HealthHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz/audit", nil))
	if rec.Code != http.StatusOK || !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("health %d %s", rec.Code, rec.Body)
	}
	if err := p.Gate().Admit(context.Background()); err != nil {
		t.Fatalf("healthy pipeline refuses strict requests: %v", err)
	}
}

func TestNilPipelineIsSafe(t *testing.T) {
	var p *setup.Pipeline
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Its provider is nil, and a nil provider's loggers do nothing.
	logger := p.LoggerProvider().Logger("app")
	if logger.Enabled(context.Background(), log.EnabledParameters{}) {
		t.Error("a nil provider's logger is enabled")
	}
	logger.Emit(context.Background(), log.Record{})
}

// TestScopeAttributesAreScrubbed: the OTLP exporter sends a logger's
// instrumentation scope attributes with its records, and no processor can
// change them; a secret among them reaches the Collector redacted, the rest
// of the scope as given.
func TestScopeAttributesAreScrubbed(t *testing.T) {
	clearEnv(t)
	sink := &otlpSink{}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	t.Setenv("OTEL_LOGS_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	p, err := setup.New(context.Background(), setup.WithServiceName("scope-test"))
	if err != nil {
		t.Fatal(err)
	}
	logger := p.LoggerProvider().Logger("billing", log.WithInstrumentationVersion("1.2.3"),
		log.WithInstrumentationAttributes(
			attribute.String("db.url", "postgres://app:hunter2@db:5432/shop"),
			attribute.String("api_token", "tok-8f2a61"),
			attribute.String("team", "payments"),
		))
	var r log.Record
	r.SetSeverity(log.SeverityInfo)
	r.SetBody(attribute.StringValue("card charged"))
	logger.Emit(context.Background(), r)
	p.Auditor().LoginSucceeded(context.Background(), secaudit.User{ID: "1"})
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	sink.mu.Lock()
	defer sink.mu.Unlock()
	var billing *scopeSeen
	for i, sc := range sink.scopes {
		for k, v := range sc.attrs {
			if strings.Contains(v, "hunter2") || strings.Contains(v, "tok-8f2a61") {
				t.Errorf("scope %s: %s = %q exported", sc.name, k, v)
			}
		}
		if sc.name == "billing" {
			billing = &sink.scopes[i]
		}
	}
	if billing == nil || len(sink.scopes) != 2 || sink.records != 2 {
		t.Fatalf("received %d records in scopes %+v, want 2 records in the billing scope and the Auditor's", sink.records, sink.scopes)
	}
	want := map[string]string{
		"db.url":    "postgres://app:[REDACTED]@db:5432/shop",
		"api_token": "[REDACTED]",
		"team":      "payments",
	}
	if billing.version != "1.2.3" || !maps.Equal(billing.attrs, want) {
		t.Errorf("billing scope: version %q, attributes %v; want 1.2.3, %v", billing.version, billing.attrs, want)
	}
}

// TestResourceIsScrubbed: a secret in OTEL_RESOURCE_ATTRIBUTES or
// WithResourceAttributes reaches no exporter; the rest of the resource is
// kept.
func TestResourceIsScrubbed(t *testing.T) {
	clearEnv(t)
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod,db.url=postgres://app:hunter2@db:5432/shop")
	var buf bytes.Buffer
	p, err := setup.New(context.Background(), setup.WithJSONLWriter(&buf), setup.WithServiceName("shop"),
		setup.WithResourceAttributes(attribute.String("vault.token", "s.abcdefgh12345678")))
	if err != nil {
		t.Fatal(err)
	}
	p.Auditor().LoginSucceeded(context.Background(), secaudit.User{ID: "1"})
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hunter2", "s.abcdefgh12345678"} {
		if strings.Contains(buf.String(), secret) {
			t.Fatalf("%q exported: %s", secret, buf.String())
		}
	}
	var line struct {
		Resource map[string]any `json:"resource"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %q", err, buf.String())
	}
	want := map[string]any{
		"service.name":           "shop",
		"deployment.environment": "prod",
		"db.url":                 "postgres://app:[REDACTED]@db:5432/shop",
		"vault.token":            "[REDACTED]",
	}
	for k, v := range want {
		if line.Resource[k] != v {
			t.Errorf("resource %s = %v, want %v", k, line.Resource[k], v)
		}
	}
	// Pipeline.Resource is that same scrubbed resource, for a
	// TracerProvider to share.
	got := map[string]any{}
	for _, kv := range p.Resource().Attributes() {
		got[string(kv.Key)] = kv.Value.AsInterface()
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Pipeline.Resource %s = %v, want %v", k, got[k], v)
		}
	}
}
