package instrumentation

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/semconv"
)

// refuseGate refuses every strict request, as a gate with a stalled
// exporter does.
type refuseGate struct{}

func (refuseGate) Admit(context.Context) error { return errors.New("stalled") }

// TestRegexListEnvironment: the variables that list regexes keep a pattern
// with a {n,} bound whole (it was cut at its comma, leaving the real
// pattern inert and a "}" fragment that matched any path with a brace),
// take a JSON array, and refuse an element that does not compile alone,
// naming the variable.
func TestRegexListEnvironment(t *testing.T) {
	// serve runs one request through a middleware configured by env alone
	// (no option for the variable under test) and returns the response code
	// and the records' attributes.
	serve := func(t *testing.T, env map[string]string, method, target, body string, code int) (int, []map[string]string) {
		t.Helper()
		clearEnv(t)
		t.Setenv(EnvStrictRoutes, "")
		for k, v := range env {
			t.Setenv(k, v)
		}
		ra := newRecorderAuditor(t)
		m, err := New(WithAuditor(ra.a), WithGate(refuseGate{}))
		if err != nil {
			t.Fatal(err)
		}
		h := &harness{t: t, m: m, rec: ra.rec, a: ra.a}
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := h.serve(status(code), req)
		var out []map[string]string
		for _, r := range h.records() {
			a := map[string]string{}
			for k, v := range attrsOf(r) {
				a[string(k)] = v.String()
			}
			out = append(out, a)
		}
		return w.Code, out
	}

	t.Run(envconf.IgnorePaths, func(t *testing.T) {
		tests := []struct {
			value, path string
			want        int // records
		}{
			{`^/static/[a-z]{2,}/,^/healthz$`, "/static/css/a.css", 0},
			{`^/static/[a-z]{2,}/,^/healthz$`, "/healthz", 0},
			{`^/static/[a-z]{2,}/,^/healthz$`, "/static/c/a.css", 1},
			{`^/static/[a-z]{2,}/,^/healthz$`, "/a}/b", 1},
			{`["^/a,b$", "^/c{2,}$"]`, "/a,b", 0},
			{`["^/a,b$", "^/c{2,}$"]`, "/ccc", 0},
			{`["^/a,b$", "^/c{2,}$"]`, "/a", 1},
		}
		for _, tt := range tests {
			if _, recs := serve(t, map[string]string{envconf.IgnorePaths: tt.value}, "GET", tt.path, "", 404); len(recs) != tt.want {
				t.Errorf("%s=%s: %s gave %d records, want %d", envconf.IgnorePaths, tt.value, tt.path, len(recs), tt.want)
			}
		}
	})

	t.Run(envconf.BodyPaths, func(t *testing.T) {
		tests := []struct {
			value, path string
			captured    bool
		}{
			{`^/api/v[0-9]{1,}/`, "/api/v12/pay", true},
			{`^/api/v[0-9]{1,}/`, "/api/pay", false},
			{`^/api/v[0-9]{1,}/`, "/x}/pay", false},
			{`["^/api/(pay|refund),?$"]`, "/api/refund", true},
		}
		for _, tt := range tests {
			env := map[string]string{"SECAUDIT_LOG_REQUEST_BODIES": "on", "SECAUDIT_BODY_FIELDS": "amount", envconf.BodyPaths: tt.value}
			_, recs := serve(t, env, "POST", tt.path, `{"amount":5}`, 400)
			if len(recs) != 1 {
				t.Fatalf("%d records", len(recs))
			}
			if got := recs[0][string(semconv.AuditRequestBodyKey)] == `{"amount":5}`; got != tt.captured {
				t.Errorf("%s=%s: %s body captured %v, want %v (%v)", envconf.BodyPaths, tt.value, tt.path, got, tt.captured, recs[0])
			}
		}
	})

	t.Run(EnvStrictRoutes, func(t *testing.T) {
		tests := []struct {
			value, path string
			want        int // the gate refuses strict routes: 503
		}{
			{`^/admin/[a-z]{3,}$`, "/admin/users", 503},
			{`^/admin/[a-z]{3,}$`, "/admin/ab", 200},
			{`^/admin/[a-z]{3,}$`, "/x}/", 200},
			{`["^/pay,now$"]`, "/pay,now", 503},
		}
		for _, tt := range tests {
			if code, _ := serve(t, map[string]string{EnvStrictRoutes: tt.value}, "GET", tt.path, "", 200); code != tt.want {
				t.Errorf("%s=%s: %s answered %d, want %d", EnvStrictRoutes, tt.value, tt.path, code, tt.want)
			}
		}
	})

	t.Run("fragment refused", func(t *testing.T) {
		for _, name := range []string{envconf.IgnorePaths, envconf.BodyPaths, EnvStrictRoutes} {
			clearEnv(t)
			t.Setenv(EnvStrictRoutes, "")
			t.Setenv(name, `^/x{2,},(y`)
			_, err := New(WithAuditor(newRecorderAuditor(t).a), WithGate(refuseGate{}))
			if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), `"(y"`) {
				t.Errorf("%s: New() error %v, want one naming the variable and the fragment", name, err)
			}
		}
	})
}
