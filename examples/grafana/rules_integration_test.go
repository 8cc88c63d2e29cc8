//go:build integration

package grafana

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/secaudit/secaudit/semconv"
)

// event is one audit record as secaudit emits it, reduced to what the rules
// read.
type event struct {
	name  string
	attrs []attribute.KeyValue
}

// sendEvents sends the events over OTLP to the Collector of tools/stack from
// a plain SDK LoggerProvider, as records of service.
func sendEvents(t *testing.T, service string, events []event) {
	t.Helper()
	ctx := context.Background()
	exp, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL(os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")+"/v1/logs"),
		otlploghttp.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(
		sdklog.WithResource(resource.NewSchemaless(attribute.String(string(semconv.ServiceNameKey), service))),
		sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)),
	)
	logger := lp.Logger("secaudit-it-ruler")
	for i, e := range events {
		var r log.Record
		r.SetTimestamp(time.Now())
		r.SetEventName(e.name)
		r.SetSeverity(log.SeverityWarn)
		r.SetBody(attribute.StringValue(e.name))
		r.AddAttributes(append(e.attrs, attribute.String(string(semconv.AuditRequestIDKey), fmt.Sprintf("%s-%d", service, i)))...)
		logger.Emit(ctx, r)
	}
	if err := lp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func loginFailed(addr, userID, userName string) event {
	attrs := []attribute.KeyValue{semconv.ClientAddressKey.String(addr), semconv.AuditOutcomeKey.String("failure")}
	if userID != "" {
		attrs = append(attrs, semconv.UserIDKey.String(userID))
	}
	if userName != "" {
		attrs = append(attrs, semconv.UserNameKey.String(userName))
	}
	return event{semconv.EventLoginFailed, attrs}
}

func clientError(addr, route, path string, status int) event {
	attrs := []attribute.KeyValue{semconv.ClientAddressKey.String(addr), semconv.URLPathKey.String(path),
		semconv.HTTPResponseStatusCodeKey.Int(status)}
	if route != "" {
		attrs = append(attrs, semconv.HTTPRouteKey.String(route))
	}
	return event{semconv.EventHTTPResponseClientError, attrs}
}

// rulerAlert is one alert of Loki's /prometheus/api/v1/alerts.
type rulerAlert struct {
	Labels map[string]string
	State  string
	Value  string
}

func rulerAlerts(t *testing.T, base string) []rulerAlert {
	t.Helper()
	resp, err := http.Get(base + "/prometheus/api/v1/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ruler alerts: %d %s", resp.StatusCode, body)
	}
	var r struct {
		Data struct{ Alerts []rulerAlert }
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("ruler alerts: %v: %s", err, body)
	}
	return r.Data.Alerts
}

// TestIntegrationLokiRuler replays an attack through the real Collector into
// the real Loki, whose ruler evaluates examples/loki/rules/secaudit.yaml
// (tools/stack loads it): the rules fire for the attackers, and stay silent
// for a service with ordinary traffic. Then the dashboard's alerts panel
// shows the security.alert record the replay includes.
func TestIntegrationLokiRuler(t *testing.T) {
	lokiURL := os.Getenv("SECAUDIT_LOKI_URL")
	if lokiURL == "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" {
		t.Fatal("the integration tests need a running stack: tools/stack start, then source its stack.env")
	}
	stamp := time.Now().UnixNano()
	attacked := fmt.Sprintf("secaudit-it-ruler-attack-%d", stamp)
	normal := fmt.Sprintf("secaudit-it-ruler-normal-%d", stamp)

	const (
		bruteForcer = "203.0.113.7"
		sprayer     = "203.0.113.8"
		scanner     = "203.0.113.9"
		enumerator  = "203.0.113.10"
	)
	var attack []event
	for range 6 { // brute_force: 5 failures of one pair
		attack = append(attack, loginFailed(bruteForcer, "1", ""))
	}
	for i := range 12 { // password_spray: 10 distinct users from one address
		attack = append(attack, loginFailed(sprayer, "", fmt.Sprintf("user%02d", i)))
	}
	for i := range 11 { // distributed_brute_force: 10 addresses for one user
		attack = append(attack, loginFailed(fmt.Sprintf("198.51.100.%d", i+1), "2", ""))
	}
	for i := range 6 { // scanner: probes and unrouted 404s, 12 requests
		path := fmt.Sprintf("/probe-%d.php", i)
		attack = append(attack, event{semconv.EventSuspiciousRequest, []attribute.KeyValue{
			semconv.ClientAddressKey.String(scanner), semconv.URLPathKey.String(path), semconv.SecurityRuleNameKey.String("sensitive_file")}})
		attack = append(attack, clientError(scanner, "", fmt.Sprintf("/missing-%d", i), 404))
	}
	for i := range 22 { // enumeration: distinct ids under one route
		attack = append(attack, clientError(enumerator, "/api/accounts/{id}", fmt.Sprintf("/api/accounts/%d", 100+i), 403))
	}
	// What the in-process detector emits when brute_force fires.
	attack = append(attack, event{"security.alert", []attribute.KeyValue{
		semconv.SecurityRuleNameKey.String("brute_force"), semconv.ClientAddressKey.String(bruteForcer),
		semconv.UserIDKey.String("1"), semconv.AuditOutcomeKey.String("failure"),
		attribute.Int("audit.detect.count", 5), attribute.Int("audit.detect.window_s", 300)}})

	// Ordinary traffic: logins that succeed, a few typos, a few 404s and
	// refused pages from many addresses.
	var ordinary []event
	for i := range 20 {
		addr := fmt.Sprintf("192.0.2.%d", i+1)
		ordinary = append(ordinary, event{semconv.EventLoginSuccess, []attribute.KeyValue{
			semconv.ClientAddressKey.String(addr), semconv.UserIDKey.String(fmt.Sprint(i + 1))}})
		if i%4 == 0 {
			ordinary = append(ordinary, loginFailed(addr, fmt.Sprint(i+1), ""))
		}
		ordinary = append(ordinary, clientError(addr, "", "/favicon.ico", 404))
		ordinary = append(ordinary, clientError(addr, "/api/accounts/{id}", fmt.Sprintf("/api/accounts/%d", i), 403))
	}

	start := time.Now()
	sendEvents(t, normal, ordinary)
	sendEvents(t, attacked, attack)

	want := map[string]string{ // alert → the subject label it must carry
		"SecauditBruteForce":            bruteForcer,
		"SecauditPasswordSpray":         sprayer,
		"SecauditDistributedBruteForce": "2",
		"SecauditScanner":               scanner,
		"SecauditEnumeration":           enumerator,
		"SecauditAlert":                 bruteForcer,
	}
	subject := func(a rulerAlert) string {
		if a.Labels["alertname"] == "SecauditDistributedBruteForce" {
			return a.Labels["user_id"]
		}
		return a.Labels["client_address"]
	}
	firing := map[string]rulerAlert{}
	deadline := time.Now().Add(90 * time.Second)
	for len(firing) < len(want) && time.Now().Before(deadline) {
		for _, a := range rulerAlerts(t, lokiURL) {
			name := a.Labels["alertname"]
			if a.Labels["service_name"] == attacked && a.State == "firing" && want[name] != "" && subject(a) == want[name] {
				if _, seen := firing[name]; !seen {
					t.Logf("%s firing after %v: %v value %s", name, time.Since(start).Round(100*time.Millisecond), a.Labels, a.Value)
				}
				firing[name] = a
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	for name := range want {
		if _, ok := firing[name]; !ok {
			t.Errorf("%s did not fire for %s within 90s", name, want[name])
		}
	}
	if a, ok := firing["SecauditAlert"]; ok && a.Labels["security_rule_name"] != "brute_force" {
		t.Errorf("SecauditAlert labels %v, want security_rule_name brute_force", a.Labels)
	}

	// Once Loki holds all the ordinary traffic and every rule group has
	// been evaluated since, nothing fires for it, and for the attacked
	// service nothing fires that should not.
	total := fmt.Sprintf(`sum(count_over_time({service_name=%q} [1h]))`, normal)
	for {
		if v := lokiInstant(t, lokiURL, total); v == len(ordinary) {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("Loki holds %d records of the ordinary traffic, sent %d", v, len(ordinary))
		}
		time.Sleep(200 * time.Millisecond)
	}
	for seen := time.Now(); !evaluatedSince(t, lokiURL, seen); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline.Add(30 * time.Second)) {
			t.Fatal("the ruler did not evaluate its rules again")
		}
	}
	var extra []string
	for _, a := range rulerAlerts(t, lokiURL) {
		switch svc := a.Labels["service_name"]; {
		case svc == normal:
			extra = append(extra, fmt.Sprintf("%s %v", a.Labels["alertname"], a.Labels))
		case svc == attacked && want[a.Labels["alertname"]] != subject(a):
			extra = append(extra, fmt.Sprintf("%s %v", a.Labels["alertname"], a.Labels))
		}
	}
	if len(extra) > 0 {
		t.Errorf("alerts that should not fire: %q", extra)
	}

	// The dashboard's alerts panel, on the same Loki.
	n := 0
	for _, expr := range dashboardExprs(t) {
		if !strings.Contains(expr, `event_name="security.alert"`) {
			continue
		}
		n++
		q := strings.NewReplacer("$service", attacked, "$__auto", "1m").Replace(expr)
		if got := lokiSeries(t, lokiURL, q); !slices.Contains(got, "brute_force") {
			t.Errorf("alerts panel %s: series %q, want brute_force", q, got)
		}
	}
	if n == 0 {
		t.Error("no dashboard panel shows security.alert")
	}
}

// lokiSeries runs a metric range query and returns each series' security_rule_name.
func lokiSeries(t *testing.T, base, query string) []string {
	t.Helper()
	q := url.Values{}
	q.Set("query", query)
	q.Set("start", fmt.Sprint(time.Now().Add(-time.Hour).UnixNano()))
	q.Set("end", fmt.Sprint(time.Now().Add(time.Minute).UnixNano()))
	q.Set("step", "15s")
	resp, err := http.Get(base + "/loki/api/v1/query_range?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Loki %s: %d %s", query, resp.StatusCode, body)
	}
	var r struct {
		Data struct {
			Result []struct{ Metric map[string]string }
		}
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range r.Data.Result {
		out = append(out, s.Metric["security_rule_name"])
	}
	return out
}

// lokiInstant runs an instant metric query that returns one number.
func lokiInstant(t *testing.T, base, query string) int {
	t.Helper()
	resp, err := http.Get(base + "/loki/api/v1/query?" + url.Values{"query": {query}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r struct {
		Data struct {
			Result []struct{ Value []any }
		}
	}
	if err := json.Unmarshal(body, &r); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("Loki %s: %d %v %s", query, resp.StatusCode, err, body)
	}
	if len(r.Data.Result) == 0 || len(r.Data.Result[0].Value) != 2 {
		return 0
	}
	var n int
	fmt.Sscan(fmt.Sprint(r.Data.Result[0].Value[1]), &n)
	return n
}

// evaluatedSince reports whether every rule group of the ruler was last
// evaluated after since.
func evaluatedSince(t *testing.T, base string, since time.Time) bool {
	t.Helper()
	resp, err := http.Get(base + "/prometheus/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Groups []struct{ LastEvaluation time.Time }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	for _, g := range r.Data.Groups {
		if !g.LastEvaluation.After(since) {
			return false
		}
	}
	return len(r.Data.Groups) > 0
}
