package instrumentation

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/secaudit/secaudit/internal/envconf"
)

// TestSettingPrecedence runs every SECAUDIT_ variable the middleware reads
// through option > environment > default, explicit zeros and empty lists
// included, and WithoutEnv. The sampling and ignore variables are
// internal/auditscope's (shared with the processor chain); they are here
// too, as the middleware sees them.
func TestSettingPrecedence(t *testing.T) {
	get := func(f func(m *Middleware) any) func(m *Middleware) string {
		return func(m *Middleware) string { return fmt.Sprint(f(m)) }
	}
	logOK := get(func(m *Middleware) any { return m.logOK })
	query := get(func(m *Middleware) any { return m.query })
	rate := get(func(m *Middleware) any { return m.sampleRate })
	paths := get(func(m *Middleware) any { return m.ignorePaths })
	codes := get(func(m *Middleware) any {
		var out []int
		for c := range 600 {
			if m.ignoreStatus.Has(int64(c)) {
				out = append(out, c)
			}
		}
		return out
	})
	// The resolver and the capturer keep their settings to themselves: ask
	// them. proxies: the client of a request from 10.0.0.1, then from
	// 192.0.2.1, each forwarded for 203.0.113.4.
	proxies := get(func(m *Middleware) any {
		var out []string
		for _, peer := range []string{"10.0.0.1:9", "192.0.2.1:9"} {
			out = append(out, m.resolver.Resolve(peer, []string{"203.0.113.4"}).Client)
		}
		return out
	})
	// body: the byte cap, then what is captured of {"amount":1,"note":"n"}
	// posted to /api/t and to /v2/t.
	body := get(func(m *Middleware) any {
		if m.body == nil {
			return "off"
		}
		out := []any{m.body.MaxBytes()}
		for _, path := range []string{"/api/t", "/v2/t"} {
			r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{"amount":1,"note":"n"}`))
			r.Header.Set("Content-Type", "application/json")
			kv, rc := m.body.Capture(r)
			if rc != nil {
				rc.Close()
			}
			out = append(out, kv.Value.String())
		}
		return out
	})
	sessions := get(func(m *Middleware) any { return m.sessions != nil })
	strict := get(func(m *Middleware) any { return m.strictRoutes })

	src := WithSessionIDSource(SessionIDFunc(func(*http.Request) string { return "s" }))
	gate := WithGate(refuseGate{})
	on := WithRequestBodies(true)
	fields := WithBodyFields("amount")
	const (
		none    = "[10.0.0.1 192.0.2.1]" // no proxy is trusted
		defBody = `[4096 {"amount":1} {"amount":1}]`
	)
	tests := []struct {
		name string
		env  map[string]string
		opts []Option
		get  func(*Middleware) string
		want string
	}{
		{"log ok default", nil, nil, logOK, "false"},
		{"log ok env", map[string]string{envconf.LogOKResponses: "true"}, nil, logOK, "true"},
		{"log ok option false beats env", map[string]string{envconf.LogOKResponses: "true"}, []Option{WithLogOKResponses(false)}, logOK, "false"},
		{"log ok env ignored without env", map[string]string{envconf.LogOKResponses: "true"}, []Option{WithoutEnv()}, logOK, "false"},

		{"query default", nil, nil, query, "false"},
		{"query env", map[string]string{envconf.LogQuery: "on"}, nil, query, "true"},
		{"query option false beats env", map[string]string{envconf.LogQuery: "on"}, []Option{WithURLQuery(false)}, query, "false"},
		{"query env ignored without env", map[string]string{envconf.LogQuery: "on"}, []Option{WithoutEnv()}, query, "false"},

		{"rate default", nil, nil, rate, "1"},
		{"rate env", map[string]string{envconf.SampleRate: "0.25"}, nil, rate, "0.25"},
		{"rate env zero", map[string]string{envconf.SampleRate: "0"}, nil, rate, "0"},
		{"rate option beats env", map[string]string{envconf.SampleRate: "0.25"}, []Option{WithSampleRate(0.5)}, rate, "0.5"},
		{"rate option zero beats env 1", map[string]string{envconf.SampleRate: "1"}, []Option{WithSampleRate(0)}, rate, "0"},
		{"rate env ignored without env", map[string]string{envconf.SampleRate: "0.25"}, []Option{WithoutEnv()}, rate, "1"},

		{"paths default", nil, nil, paths, "[]"},
		{"paths env", map[string]string{envconf.IgnorePaths: "^/healthz$,^/metrics"}, nil, paths, "[^/healthz$ ^/metrics]"},
		{"paths option beats env", map[string]string{envconf.IgnorePaths: "^/metrics"}, []Option{WithIgnorePaths("^/x")}, paths, "[^/x]"},
		{"paths empty option beats env", map[string]string{envconf.IgnorePaths: "^/metrics"}, []Option{WithIgnorePaths()}, paths, "[]"},
		{"paths env ignored without env", map[string]string{envconf.IgnorePaths: "^/metrics"}, []Option{WithoutEnv()}, paths, "[]"},

		{"codes default", nil, nil, codes, "[]"},
		{"codes env", map[string]string{envconf.IgnoreStatusCodes: "301, 404"}, nil, codes, "[301 404]"},
		{"codes option beats env", map[string]string{envconf.IgnoreStatusCodes: "301"}, []Option{WithIgnoreStatusCodes(500)}, codes, "[500]"},
		{"codes empty option beats env", map[string]string{envconf.IgnoreStatusCodes: "301"}, []Option{WithIgnoreStatusCodes()}, codes, "[]"},
		{"codes env ignored without env", map[string]string{envconf.IgnoreStatusCodes: "301"}, []Option{WithoutEnv()}, codes, "[]"},

		{"proxies default", nil, nil, proxies, none},
		{"proxies env", map[string]string{envconf.TrustedProxyCIDRs: "10.0.0.0/8", envconf.TrustedProxyCount: "1"}, nil, proxies, "[203.0.113.4 192.0.2.1]"},
		{"proxies option beats env", map[string]string{envconf.TrustedProxyCIDRs: "10.0.0.0/8", envconf.TrustedProxyCount: "1"},
			[]Option{WithTrustedProxies([]string{"192.0.2.1"}, 1)}, proxies, "[10.0.0.1 203.0.113.4]"},
		{"proxies zero option beats env", map[string]string{envconf.TrustedProxyCIDRs: "10.0.0.0/8", envconf.TrustedProxyCount: "1"},
			[]Option{WithTrustedProxies(nil, 0)}, proxies, none},
		{"proxies env ignored without env", map[string]string{envconf.TrustedProxyCIDRs: "10.0.0.0/8", envconf.TrustedProxyCount: "1"},
			[]Option{WithoutEnv()}, proxies, none},

		{"bodies default", map[string]string{envconf.BodyFields: "amount"}, nil, body, "off"},
		{"bodies env", map[string]string{envconf.LogRequestBodies: "on", envconf.BodyFields: "amount"}, nil, body, defBody},
		{"bodies option false beats env", map[string]string{envconf.LogRequestBodies: "on", envconf.BodyFields: "amount"}, []Option{WithRequestBodies(false)}, body, "off"},
		{"bodies env ignored without env", map[string]string{envconf.LogRequestBodies: "on"}, []Option{WithoutEnv(), fields}, body, "off"},

		{"body fields env", map[string]string{envconf.BodyFields: "amount, note"}, []Option{on}, body, `[4096 {"amount":1,"note":"n"} {"amount":1,"note":"n"}]`},
		{"body fields option beats env", map[string]string{envconf.BodyFields: "note"}, []Option{on, fields}, body, defBody},
		{"body fields env ignored without env", map[string]string{envconf.BodyFields: "note"}, []Option{WithoutEnv(), on, fields}, body, defBody},

		{"body paths env", map[string]string{envconf.BodyPaths: "^/api/"}, []Option{on, fields}, body, `[4096 {"amount":1} ]`},
		{"body paths option beats env", map[string]string{envconf.BodyPaths: "^/api/"}, []Option{on, fields, WithBodyPaths("^/v2/")}, body, `[4096  {"amount":1}]`},
		{"body paths empty option beats env", map[string]string{envconf.BodyPaths: "^/api/"}, []Option{on, fields, WithBodyPaths()}, body, defBody},
		{"body paths env ignored without env", map[string]string{envconf.BodyPaths: "^/api/"}, []Option{WithoutEnv(), on, fields}, body, defBody},

		{"max body env", map[string]string{envconf.MaxBodyBytes: "20"}, []Option{on, fields}, body, "[20 too_large too_large]"},
		{"max body option beats env", map[string]string{envconf.MaxBodyBytes: "20"}, []Option{on, fields, WithMaxBodyBytes(30)}, body, `[30 {"amount":1} {"amount":1}]`},
		{"max body env ignored without env", map[string]string{envconf.MaxBodyBytes: "20"}, []Option{WithoutEnv(), on, fields}, body, defBody},

		{"session ids default with a source", nil, []Option{src}, sessions, "true"},
		{"session ids env", map[string]string{envconf.EmitSessionID: "false"}, []Option{src}, sessions, "false"},
		{"session ids option beats env", map[string]string{envconf.EmitSessionID: "false"}, []Option{src, WithSessionIDs(true)}, sessions, "true"},
		{"session ids env ignored without env", map[string]string{envconf.EmitSessionID: "false"}, []Option{WithoutEnv(), src}, sessions, "true"},

		{"strict default", nil, []Option{gate}, strict, "[]"},
		{"strict env", map[string]string{envconf.DeliveryStrictRoutes: "^/admin"}, []Option{gate}, strict, "[^/admin]"},
		{"strict option beats env", map[string]string{envconf.DeliveryStrictRoutes: "^/admin"}, []Option{gate, WithStrictRoutes("^/pay")}, strict, "[^/pay]"},
		{"strict empty option beats env", map[string]string{envconf.DeliveryStrictRoutes: "^/admin"}, []Option{WithStrictRoutes()}, strict, "[]"},
		{"strict env ignored without env", map[string]string{envconf.DeliveryStrictRoutes: "^/admin"}, []Option{WithoutEnv()}, strict, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			m, err := New(tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.get(m); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestWithoutEnvDefaultAuditor: WithoutEnv also keeps the default Auditor
// from reading SECAUDIT_INCLUDE_USERNAMES.
func TestWithoutEnvDefaultAuditor(t *testing.T) {
	clearEnv(t)
	t.Setenv("SECAUDIT_INCLUDE_USERNAMES", "maybe")
	if _, err := New(); err == nil {
		t.Fatal("a bad SECAUDIT_INCLUDE_USERNAMES was accepted")
	}
	if _, err := New(WithoutEnv()); err != nil {
		t.Fatalf("WithoutEnv read the environment: %v", err)
	}
}

// TestErrorFormat: a bad option or variable is reported in the one format,
// secaudit: SOURCE(value) / SOURCE="value": want …, without a package prefix.
func TestErrorFormat(t *testing.T) {
	tests := []struct {
		env  map[string]string
		opts []Option
		want string
	}{
		{nil, []Option{WithSampleRate(2)}, "secaudit: WithSampleRate(2): want a number from 0 to 1"},
		{nil, []Option{WithIgnoreStatusCodes(99)}, "secaudit: WithIgnoreStatusCodes(99): want HTTP status codes from 100 to 599"},
		{nil, []Option{WithMaxBodyBytes(0)}, "secaudit: WithMaxBodyBytes(0): want an integer >= 1"},
		{nil, []Option{WithBodyMethods("PO ST")}, `secaudit: WithBodyMethods("PO ST"): want HTTP methods`},
		{nil, []Option{WithRequestBodies(true)}, "secaudit: WithRequestBodies(true): want a field allowlist as well (WithBodyFields or SECAUDIT_BODY_FIELDS)"},
		{nil, []Option{WithTrustedProxies([]string{"nope"}, 1)}, `secaudit: WithTrustedProxies("nope"): want CIDRs such as 10.0.0.0/8 or IP addresses`},
		{nil, []Option{WithStrictRoutes("^/admin")}, `secaudit: WithStrictRoutes(^/admin): want a gate as well (WithGate, e.g. setup.Pipeline.Gate())`},
		{map[string]string{envconf.DeliveryStrictRoutes: "^/admin"}, nil, `secaudit: SECAUDIT_DELIVERY_STRICT_ROUTES="^/admin": want a gate as well (WithGate, e.g. setup.Pipeline.Gate())`},
		{map[string]string{envconf.TrustedProxyCIDRs: "10.0.0.0/8"}, nil, `secaudit: SECAUDIT_TRUSTED_PROXY_COUNT="": want an integer >= 1, as SECAUDIT_TRUSTED_PROXY_CIDRS is set`},
		{map[string]string{envconf.TrustedProxyCount: "1"}, nil, `secaudit: SECAUDIT_TRUSTED_PROXY_CIDRS="": want a list of CIDRs, as SECAUDIT_TRUSTED_PROXY_COUNT is set`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if _, err := New(tt.opts...); err == nil || err.Error() != tt.want {
				t.Fatalf("error %v, want %s", err, tt.want)
			}
		})
	}
}
