package grafana

import (
	"os"
	"testing"
)

// The tests of this package read the stack's files as a user's Grafana,
// Loki, Tempo and docker compose would: dashboard_test.go the dashboard
// model, logql_test.go every query and examples/logql.md,
// provisioning_test.go the data sources and dashboard provider,
// compose_test.go docker-compose.yaml against the files it mounts, and
// yaml_test.go the YAML subset parser they share.

// Paths, relative to this package's directory.
const (
	repoRoot            = "../.."
	datasourcesFile     = "provisioning/datasources/datasources.yaml"
	dashboardsProvider  = "provisioning/dashboards/dashboards.yaml"
	dashboardsDir       = "dashboards"
	overviewDashboard   = "dashboards/secaudit-overview.json"
	tempoConfigFile     = "tempo.yaml"
	logqlDoc            = "../logql.md"
	composeFile         = "../../docker-compose.yaml"
	otelcolConfigFile   = "../../tools/otelcol/config.yaml"
	otelcolBuilderFile  = "../../tools/otelcol/builder-config.yaml"
	lokiConfigFile      = "../../tools/loki/config.yaml"
	lokiGoModFile       = "../../tools/loki/go.mod"
	lokiUID, tempoUID   = "loki", "tempo"
	serviceSelector     = `{service_name="$service"}`
	traceLinkValue      = "${__value.raw}"
	composeOtelcolMount = "./tools/otelcol/config.yaml"
	composeLokiMount    = "./tools/loki/config.yaml"
)

// readYAML parses a YAML file whose top level is a mapping.
func readYAML(t *testing.T, file string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	v, err := parseYAML(string(raw))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: top level is %T, want a mapping", file, v)
	}
	return m
}

// get walks a parsed YAML tree by mapping keys (string) and sequence
// indexes (int); it returns nil when the path does not exist.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			s, ok := v.([]any)
			if !ok || k < 0 || k >= len(s) {
				return nil
			}
			v = s[k]
		}
	}
	return v
}

// str and list are get with a type: "" or nil when the value is missing or
// of another type.
func str(v any, path ...any) string { s, _ := get(v, path...).(string); return s }
func list(v any, path ...any) []any { s, _ := get(v, path...).([]any); return s }
