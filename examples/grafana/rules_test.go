package grafana

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// lokiRulesFile holds secaudit's detection rules as Loki ruler alerting
// rules (DESIGN.md "Detection and response").
const lokiRulesFile = "../loki/rules/secaudit.yaml"

// builtinRules are the rule names of DESIGN.md's table.
var builtinRules = []string{"brute_force", "password_spray", "distributed_brute_force", "enumeration", "scanner", "sensitive_change"}

// lokiRule is one alerting rule of the rule file.
type lokiRule struct {
	alert, expr string
	labels      map[string]any
}

func readLokiRules(t *testing.T) []lokiRule {
	t.Helper()
	raw, err := os.ReadFile(lokiRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseYAML(string(raw))
	if err != nil {
		t.Fatalf("%s: %v", lokiRulesFile, err)
	}
	var out []lokiRule
	for _, g := range list(doc, "groups") {
		if str(g, "name") == "" {
			t.Errorf("%s: a group without a name", lokiRulesFile)
		}
		for _, r := range list(g, "rules") {
			labels, _ := get(r, "labels").(map[string]any)
			out = append(out, lokiRule{alert: str(r, "alert"), expr: str(r, "expr"), labels: labels})
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no rules", lokiRulesFile)
	}
	return out
}

// TestLokiRules: every built-in rule of DESIGN.md's table has an alert in the
// Loki rule file, named by its security_rule_name label; the in-process
// detector's security.alert records have one too; every expression is a
// query of the shape the dashboards use (known events and labels only), over
// all services and grouped by service.
func TestLokiRules(t *testing.T) {
	rules := readLokiRules(t)
	names := map[string]bool{}
	var forwardsAlerts bool
	for _, r := range rules {
		if r.alert == "" || r.expr == "" {
			t.Errorf("rule %+v: want alert and expr (recording rules do not belong here)", r)
			continue
		}
		if names[r.alert] {
			t.Errorf("alert %s is defined twice", r.alert)
		}
		names[r.alert] = true
		if str(r.labels, "severity") == "" || str(r.labels, "source") == "" {
			t.Errorf("alert %s: want severity and source labels", r.alert)
		}
		// The fleet-wide selector stands in for the dashboards' $service.
		expr := strings.Replace(r.expr, `{service_name=~".+"}`, serviceSelector, 1)
		if expr == r.expr {
			t.Errorf("alert %s: want the selector {service_name=~\".+\"} (every service)", r.alert)
		}
		for _, p := range checkLogQL(expr) {
			t.Errorf("alert %s (%s): %s", r.alert, r.expr, p)
		}
		if !strings.Contains(r.expr, "by (service_name,") {
			t.Errorf("alert %s: want the outer aggregation by service_name first", r.alert)
		}
		if strings.Contains(r.expr, `event_name="security.alert"`) {
			forwardsAlerts = true
		}
	}
	for _, name := range builtinRules {
		if !slices.ContainsFunc(rules, func(r lokiRule) bool { return str(r.labels, "security_rule_name") == name }) {
			t.Errorf("no alert of %s has security_rule_name %q", lokiRulesFile, name)
		}
	}
	if !forwardsAlerts {
		t.Errorf("no alert of %s selects security.alert records", lokiRulesFile)
	}
}
