package envconf

import (
	"strings"
	"testing"
)

func withEnv(t *testing.T, env map[string]string) {
	t.Helper()
	old := lookup
	lookup = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	t.Cleanup(func() { lookup = old })
}

func TestParsers(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		parse   func(string) (any, bool, error)
		want    string
		wantSet bool
		wantErr bool
	}{
		{"bool true", "TRUE", func(n string) (any, bool, error) { return Bool(n) }, "true", true, false},
		{"bool off", "off", func(n string) (any, bool, error) { return Bool(n) }, "false", true, false},
		{"bool bad", "maybe", func(n string) (any, bool, error) { return Bool(n) }, "false", false, true},
		{"bool empty is unset", "  ", func(n string) (any, bool, error) { return Bool(n) }, "false", false, false},
		{"int ok", "4096", func(n string) (any, bool, error) { return Int(n, 1) }, "4096", true, false},
		{"int below min", "0", func(n string) (any, bool, error) { return Int(n, 1) }, "0", false, true},
		{"int bad", "4k", func(n string) (any, bool, error) { return Int(n, 1) }, "0", false, true},
		{"rate ok", "0.25", func(n string) (any, bool, error) { return Rate(n) }, "0.25", true, false},
		{"rate too big", "1.5", func(n string) (any, bool, error) { return Rate(n) }, "0", false, true},
		{"rate NaN", "NaN", func(n string) (any, bool, error) { return Rate(n) }, "0", false, true},
		{"status ok", "301, 302", func(n string) (any, bool, error) { return StatusCodes(n) }, "[301 302]", true, false},
		{"status bad", "301,abc", func(n string) (any, bool, error) { return StatusCodes(n) }, "[]", false, true},
		{"status range", "99", func(n string) (any, bool, error) { return StatusCodes(n) }, "[]", false, true},
		{"regex ok", "^/healthz$,^/static/", func(n string) (any, bool, error) { return Regexps(n) }, "[^/healthz$ ^/static/]", true, false},
		{"regex bad", "(", func(n string) (any, bool, error) { return Regexps(n) }, "[]", false, true},
		{"cidrs ok", "10.1.2.3/8, 192.0.2.1, 2001:db8::/32", func(n string) (any, bool, error) { return Prefixes(n) }, "[10.0.0.0/8 192.0.2.1/32 2001:db8::/32]", true, false},
		{"cidrs bad", "10.0.0.0/33", func(n string) (any, bool, error) { return Prefixes(n) }, "[]", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const name = "SECAUDIT_TEST_VAR"
			withEnv(t, map[string]string{name: tt.value})
			got, set, err := tt.parse(name)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), name) {
				t.Fatalf("error %q does not name the variable", err)
			}
			if set != tt.wantSet {
				t.Fatalf("set = %v, want %v", set, tt.wantSet)
			}
			if s := strings.ReplaceAll(fmtAny(got), "<nil>", "[]"); tt.wantErr == false && s != tt.want {
				t.Fatalf("value = %s, want %s", s, tt.want)
			}
		})
	}
}

func fmtAny(v any) string {
	switch x := v.(type) {
	case bool, int, float64:
		return strings.TrimSpace(strings.ReplaceAll(fmtSprint(x), "\n", ""))
	default:
		return fmtSprint(x)
	}
}
