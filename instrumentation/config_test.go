package instrumentation

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/secaudit/secaudit/semconv"
)

func TestInvalidEnvironmentNamesTheVariable(t *testing.T) {
	tests := []struct {
		env, value string
	}{
		{"SECAUDIT_LOG_OK_RESPONSES", "maybe"},
		{"SECAUDIT_SAMPLE_RATE", "1.5"},
		{"SECAUDIT_SAMPLE_RATE", "NaN"},
		{"SECAUDIT_IGNORE_PATHS", "(unclosed"},
		{"SECAUDIT_IGNORE_STATUS_CODES", "200,abc"},
		{"SECAUDIT_IGNORE_STATUS_CODES", "700"},
		{"SECAUDIT_TRUSTED_PROXY_CIDRS", "10.0.0.0/33"},
		{"SECAUDIT_TRUSTED_PROXY_COUNT", "0"},
		{"SECAUDIT_LOG_REQUEST_BODIES", "yes please"},
		{"SECAUDIT_BODY_PATHS", "[a-"},
		{"SECAUDIT_MAX_BODY_BYTES", "-1"},
		{"SECAUDIT_MAX_BODY_BYTES", "4k"},
		{"SECAUDIT_EMIT_SESSION_ID", "2"},
		{"SECAUDIT_INCLUDE_USERNAMES", "sure"}, // read by the default Auditor
	}
	for _, tt := range tests {
		t.Run(tt.env+"="+tt.value, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(tt.env, tt.value)
			_, err := New()
			if err == nil || !strings.Contains(err.Error(), tt.env) {
				t.Fatalf("New() error %v, want one naming %s", err, tt.env)
			}
			_, err = NewMiddleware()
			if err == nil {
				t.Fatal("NewMiddleware accepted it")
			}
			if _, err = NewHandler(status(200)); err == nil {
				t.Fatal("NewHandler accepted it")
			}
		})
	}
}

func TestInvalidOptionsNameTheOption(t *testing.T) {
	tests := []struct {
		name string
		opt  Option
		want string
	}{
		{"rate", WithSampleRate(-0.1), "WithSampleRate"},
		{"ignore path", WithIgnorePaths("ok", "(bad"), "WithIgnorePaths"},
		{"status", WithIgnoreStatusCodes(200, 99), "WithIgnoreStatusCodes"},
		{"cidr", WithTrustedProxies([]string{"10.0.0.0/8", "nope"}, 1), "WithTrustedProxies"},
		{"count without cidrs", WithTrustedProxies(nil, 2), "WithTrustedProxies"},
		{"cidrs without count", WithTrustedProxies([]string{"10.0.0.0/8"}, 0), "WithTrustedProxies"},
		{"body path", WithBodyPaths("*"), "WithBodyPaths"},
		{"max bytes", WithMaxBodyBytes(0), "WithMaxBodyBytes"},
		{"method", WithBodyMethods("PO ST"), "WithBodyMethods"},
		{"empty field", WithBodyFields("a", ""), "WithBodyFields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			_, err := New(WithAuditor(newRecorderAuditor(t).a), tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one naming %s", err, tt.want)
			}
		})
	}
	t.Run("bodies without fields", func(t *testing.T) {
		clearEnv(t)
		_, err := New(WithAuditor(newRecorderAuditor(t).a), WithRequestBodies(true))
		if err == nil || !strings.Contains(err.Error(), "SECAUDIT_BODY_FIELDS") {
			t.Fatalf("error %v", err)
		}
	})
}

// TestEnvironmentConfigures: each variable takes effect when its option is
// absent, and the option wins when both are given.
func TestEnvironmentConfigures(t *testing.T) {
	run := func(t *testing.T, env map[string]string, opts []Option, target, body string, code int) (int, map[string]string) {
		t.Helper()
		clearEnv(t)
		for k, v := range env {
			t.Setenv(k, v)
		}
		ra := newRecorderAuditor(t)
		m, err := New(append([]Option{WithAuditor(ra.a)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		h := &harness{t: t, m: m, rec: ra.rec, a: ra.a}
		method := "GET"
		if body != "" {
			method = "POST"
		}
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "10.0.0.1:9"
		req.Header.Set("X-Forwarded-For", "203.0.113.4")
		h.serve(status(code), req)
		recs := h.records()
		if len(recs) == 0 {
			return 0, nil
		}
		out := map[string]string{}
		for k, v := range attrsOf(recs[0]) {
			out[string(k)] = v.String()
		}
		return len(recs), out
	}
	t.Run("log ok", func(t *testing.T) {
		if n, _ := run(t, map[string]string{"SECAUDIT_LOG_OK_RESPONSES": "true"}, nil, "/", "", 200); n != 1 {
			t.Fatal("env did not enable OK responses")
		}
		if n, _ := run(t, map[string]string{"SECAUDIT_LOG_OK_RESPONSES": "true"}, []Option{WithLogOKResponses(false)}, "/", "", 200); n != 0 {
			t.Fatal("option did not win over env")
		}
	})
	t.Run("sample rate", func(t *testing.T) {
		env := map[string]string{"SECAUDIT_LOG_OK_RESPONSES": "1", "SECAUDIT_SAMPLE_RATE": "0"}
		if n, _ := run(t, env, nil, "/", "", 200); n != 0 {
			t.Fatal("env rate 0 kept an OK event")
		}
		if n, _ := run(t, env, []Option{WithSampleRate(1)}, "/", "", 200); n != 1 {
			t.Fatal("option rate did not win")
		}
	})
	t.Run("ignore paths and status codes", func(t *testing.T) {
		if n, _ := run(t, map[string]string{"SECAUDIT_IGNORE_PATHS": "^/healthz$, ^/metrics"}, nil, "/metrics/x", "", 500); n != 0 {
			t.Fatal("env ignore path not applied")
		}
		if n, _ := run(t, map[string]string{"SECAUDIT_IGNORE_PATHS": "^/metrics"}, []Option{WithIgnorePaths()}, "/metrics", "", 500); n != 1 {
			t.Fatal("empty option did not replace env paths")
		}
		if n, _ := run(t, map[string]string{"SECAUDIT_IGNORE_STATUS_CODES": "404, 500"}, nil, "/", "", 404); n != 0 {
			t.Fatal("env ignore status not applied")
		}
	})
	t.Run("trusted proxies", func(t *testing.T) {
		env := map[string]string{"SECAUDIT_TRUSTED_PROXY_CIDRS": "10.0.0.0/8", "SECAUDIT_TRUSTED_PROXY_COUNT": "1"}
		if _, a := run(t, env, nil, "/", "", 404); a[string(semconv.ClientAddressKey)] != "203.0.113.4" {
			t.Fatalf("client %q", a[string(semconv.ClientAddressKey)])
		}
		if _, a := run(t, env, []Option{WithTrustedProxies(nil, 0)}, "/", "", 404); a[string(semconv.ClientAddressKey)] != "10.0.0.1" {
			t.Fatalf("option (no proxies) did not win: client %q", a[string(semconv.ClientAddressKey)])
		}
	})
	t.Run("bodies", func(t *testing.T) {
		env := map[string]string{"SECAUDIT_LOG_REQUEST_BODIES": "on", "SECAUDIT_BODY_FIELDS": "amount, note",
			"SECAUDIT_BODY_PATHS": "^/api/", "SECAUDIT_MAX_BODY_BYTES": "20"}
		if _, a := run(t, env, nil, "/api/t", `{"amount":5,"x":1}`, 400); a[string(semconv.AuditRequestBodyKey)] != `{"amount":5}` {
			t.Fatalf("body %q", a[string(semconv.AuditRequestBodyKey)])
		}
		if _, a := run(t, env, nil, "/web/t", `{"amount":5}`, 400); a[string(semconv.AuditRequestBodyKey)] != "" {
			t.Fatal("env body path not applied")
		}
		if _, a := run(t, env, nil, "/api/t", `{"amount":5,"note":"0123456789"}`, 400); a[string(semconv.AuditRequestBodyParseStatusKey)] != "too_large" {
			t.Fatalf("env max not applied: %v", a)
		}
		if _, a := run(t, env, []Option{WithRequestBodies(false)}, "/api/t", `{"amount":5}`, 400); len(a) == 0 || a[string(semconv.AuditRequestBodyKey)] != "" {
			t.Fatal("option did not switch capture off")
		}
	})
}
