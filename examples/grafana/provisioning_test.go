package grafana

import (
	"fmt"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/secaudit/secaudit/semconv"
)

// provisioned returns s as Grafana reads a provisioning value: environment
// variables expanded ($NAME, ${NAME}) and "$$" turned into "$". A "$" that is
// not escaped is an error here, because Grafana would replace it.
func provisioned(s string) (string, error) {
	parts := strings.Split(s, "$$")
	for _, p := range parts {
		if strings.Contains(p, "$") {
			return "", fmt.Errorf("%q: unescaped $ (Grafana expands it as an environment variable; write $$)", s)
		}
	}
	return strings.Join(parts, "$"), nil
}

func TestProvisioned(t *testing.T) {
	tests := []struct{ in, want, wantErr string }{
		{in: "$${__value.raw}", want: "${__value.raw}"},
		{in: `{a="$${x}"} | b="$${y}"`, want: `{a="${x}"} | b="${y}"`},
		{in: "plain", want: "plain"},
		{in: "${__value.raw}", wantErr: "unescaped"},
		{in: "$$$x", wantErr: "unescaped"},
	}
	for _, tt := range tests {
		got, err := provisioned(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("provisioned(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("provisioned(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// walkStrings calls f for every string value in a YAML tree.
func walkStrings(v any, f func(string)) {
	switch x := v.(type) {
	case string:
		f(x)
	case map[string]any:
		for _, e := range x {
			walkStrings(e, f)
		}
	case []any:
		for _, e := range x {
			walkStrings(e, f)
		}
	}
}

// datasourceByUID returns the provisioned data source with uid.
func datasourceByUID(t *testing.T, doc map[string]any, uid string) map[string]any {
	t.Helper()
	for _, ds := range list(doc, "datasources") {
		if str(ds, "uid") == uid {
			m, _ := ds.(map[string]any)
			return m
		}
	}
	t.Fatalf("%s: no data source with uid %q", datasourcesFile, uid)
	return nil
}

func TestDatasources(t *testing.T) {
	doc := readYAML(t, datasourcesFile)
	if str(doc, "apiVersion") != "1" {
		t.Errorf("apiVersion %q, want 1", str(doc, "apiVersion"))
	}
	walkStrings(doc, func(s string) {
		if _, err := provisioned(s); err != nil {
			t.Error(err)
		}
	})
	seen := map[string]bool{}
	for _, ds := range list(doc, "datasources") {
		for _, key := range []string{"uid", "name"} {
			if v := key + "=" + str(ds, key); seen[v] || str(ds, key) == "" {
				t.Errorf("data source %s empty or repeated", v)
			} else {
				seen[v] = true
			}
		}
	}

	loki := datasourceByUID(t, doc, lokiUID)
	if str(loki, "type") != "loki" {
		t.Errorf("uid %s: type %q, want loki", lokiUID, str(loki, "type"))
	}
	found := false
	for _, f := range list(loki, "jsonData", "derivedFields") {
		if str(f, "matcherType") != "label" || str(f, "matcherRegex") != "trace_id" {
			continue
		}
		found = true
		if str(f, "datasourceUid") != tempoUID {
			t.Errorf("derived field %q: datasourceUid %q, want %s", str(f, "name"), str(f, "datasourceUid"), tempoUID)
		}
		if u, _ := provisioned(str(f, "url")); u != traceLinkValue {
			t.Errorf("derived field %q: url reads as %q, want %s", str(f, "name"), u, traceLinkValue)
		}
		if str(f, "name") == "" {
			t.Error("derived field on trace_id has no name")
		}
	}
	if !found {
		t.Error("the Loki data source has no derived field with matcherType label and matcherRegex trace_id")
	}

	tempo := datasourceByUID(t, doc, tempoUID)
	if str(tempo, "type") != "tempo" {
		t.Errorf("uid %s: type %q, want tempo", tempoUID, str(tempo, "type"))
	}
	t2l := get(tempo, "jsonData", "tracesToLogsV2")
	if str(t2l, "datasourceUid") != lokiUID || str(t2l, "filterByTraceID") != "true" {
		t.Errorf("tracesToLogsV2 %v: want datasourceUid %s and filterByTraceID true", t2l, lokiUID)
	}
	start, err1 := time.ParseDuration(str(t2l, "spanStartTimeShift"))
	end, err2 := time.ParseDuration(str(t2l, "spanEndTimeShift"))
	if err1 != nil || err2 != nil || start >= 0 || end <= 0 {
		t.Errorf("span time shifts %q/%q: want a negative start and a positive end shift",
			str(t2l, "spanStartTimeShift"), str(t2l, "spanEndTimeShift"))
	}
	tagMapped := false
	for _, tag := range list(t2l, "tags") {
		tagMapped = tagMapped || (str(tag, "key") == string(semconv.ServiceNameKey) && str(tag, "value") == "service_name")
	}
	if !tagMapped {
		t.Errorf("tracesToLogsV2 does not map %s to service_name", semconv.ServiceNameKey)
	}
	if str(t2l, "customQuery") == "true" {
		q, _ := provisioned(str(t2l, "query"))
		// Filter on the trace_id label: the default query searches the log
		// line for the id, which OTLP records do not contain.
		if !strings.HasPrefix(q, "{service_name=") || !strings.Contains(q, `| trace_id="${__trace.traceId}"`) {
			t.Errorf("tracesToLogsV2 custom query reads as %q: want a service_name selector and a trace_id label filter", q)
		}
	}
}

func TestDashboardProvider(t *testing.T) {
	doc := readYAML(t, dashboardsProvider)
	compose := readYAML(t, composeFile)
	mounts := bindMounts(t, compose, "grafana")
	want := mounts["./examples/grafana/dashboards"]
	if want == "" {
		t.Fatalf("docker-compose grafana does not mount ./examples/grafana/dashboards (mounts %v)", mounts)
	}
	ok := false
	for _, p := range list(doc, "providers") {
		ok = ok || (str(p, "type") == "file" && str(p, "options", "path") == want)
	}
	if !ok {
		t.Errorf("%s: no file provider with path %s, where docker-compose mounts the dashboards", dashboardsProvider, want)
	}
	for src, dst := range map[string]string{
		"./examples/grafana/provisioning/datasources": "/etc/grafana/provisioning/datasources",
		"./examples/grafana/provisioning/dashboards":  "/etc/grafana/provisioning/dashboards",
	} {
		if mounts[src] != dst {
			t.Errorf("docker-compose grafana mounts %s at %q, want %s", src, mounts[src], dst)
		}
	}
	home := str(compose, "services", "grafana", "environment", "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
	if dir, file := path.Split(home); path.Clean(dir) != want || file != path.Base(overviewDashboard) {
		t.Errorf("home dashboard %q, want %s/%s", home, want, path.Base(overviewDashboard))
	}
}
