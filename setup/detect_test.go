package setup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/detect"
	"github.com/secaudit/secaudit/semconv"
	"github.com/secaudit/secaudit/setup"
)

// TestDetectionWired: with the defaults, seven failed logins of one pair
// give one security.alert in the JSONL (brute_force, fired at the fifth),
// with the pair's address and the request's facts, and the claimed user
// name, which usernames-off keeps out of the log, shows nowhere. Off, no
// alert.
func TestDetectionWired(t *testing.T) {
	for _, on := range []bool{true, false} {
		var buf bytes.Buffer
		p, err := setup.New(context.Background(), setup.WithoutEnv(), setup.WithJSONLWriter(&buf),
			setup.WithDetectOptions(detect.WithEnabled(on)))
		if err != nil {
			t.Fatal(err)
		}
		if (p.Detector() != nil) != on {
			t.Fatalf("on=%v: Detector() = %v", on, p.Detector())
		}
		req := &secaudit.Request{ID: strings.Repeat("ab", 16), ClientAddress: "203.0.113.5", Method: "POST", Path: "/login"}
		ctx := secaudit.ContextWithRequest(context.Background(), req)
		for range 7 {
			p.Auditor().LoginFailed(ctx, secaudit.User{Name: "mallory-claimed"}, "bad_password")
		}
		if err := p.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if strings.Contains(out, "mallory-claimed") {
			t.Fatal("the claimed user name reached the log")
		}
		var alerts []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			if rec["event_name"] == semconv.EventAlert {
				alerts = append(alerts, rec)
			}
		}
		want := 0
		if on {
			want = 1
		}
		if len(alerts) != want {
			t.Fatalf("on=%v: %d alerts, want %d:\n%s", on, len(alerts), want, out)
		}
		if !on {
			continue
		}
		attrs, _ := alerts[0]["attributes"].(map[string]any)
		for k, v := range map[string]any{
			"security_rule.name": detect.RuleBruteForce, "client.address": "203.0.113.5",
			"audit.detect.count": float64(5), "audit.request_id": req.ID, "audit.outcome": "failure",
		} {
			if attrs[k] != v {
				t.Errorf("%s = %v, want %v", k, attrs[k], v)
			}
		}
		if st := p.Detector().Stats(); st.Alerts[detect.RuleBruteForce] != 1 {
			t.Errorf("stats %+v", st)
		}
	}
}
