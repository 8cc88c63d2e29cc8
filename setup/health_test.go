package setup_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/detect"
	"github.com/secaudit/secaudit/setup"
)

// TestHealthHandlerDetection: after a brute force of five failed logins the
// health report's detection object counts one brute_force alert and the
// state's keys, names neither the address nor the claimed user, and leaves
// the delivery report and the status as they were; with detection off
// (option or SECAUDIT_DETECT=false) it says enabled false and counts
// nothing.
func TestHealthHandlerDetection(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		opts []setup.Option
		on   bool
	}{
		{name: "default", on: true},
		{name: "option off", opts: []setup.Option{setup.WithDetectOptions(detect.WithEnabled(false))}},
		{name: "env off", env: map[string]string{"SECAUDIT_DETECT": "false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			p, err := setup.New(context.Background(), append([]setup.Option{setup.WithJSONLWriter(io.Discard)}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown(context.Background())
			req := &secaudit.Request{ID: strings.Repeat("cd", 16), ClientAddress: "203.0.113.9", Method: "POST", Path: "/login"}
			ctx := secaudit.ContextWithRequest(context.Background(), req)
			for range 5 {
				p.Auditor().LoginFailed(ctx, secaudit.User{Name: "mallory-claimed"}, "bad_password")
			}
			if err := p.ForceFlush(context.Background()); err != nil {
				t.Fatal(err)
			}

			srv := httptest.NewServer(p.HealthHandler())
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			for _, secret := range []string{"203.0.113.9", "mallory-claimed", req.ID} {
				if strings.Contains(string(body), secret) {
					t.Errorf("the report shows %q:\n%s", secret, body)
				}
			}
			var rep struct {
				Ready     bool
				Pipelines []struct{ Name, Status string }
				Detection *struct {
					Enabled        bool             `json:"enabled"`
					Evaluations    int64            `json:"evaluations"`
					Alerts         map[string]int64 `json:"alerts"`
					StateKeys      int64            `json:"state_keys"`
					StateBytes     int64            `json:"state_bytes"`
					StateMaxBytes  int64            `json:"state_max_bytes"`
					StateEvictions int64            `json:"state_evictions"`
					StateErrors    int64            `json:"state_errors"`
					RulePanics     int64            `json:"rule_panics"`
				}
			}
			if err := json.Unmarshal(body, &rep); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if !rep.Ready || len(rep.Pipelines) != 1 || rep.Pipelines[0].Name != "jsonl" || rep.Pipelines[0].Status != "ok" {
				t.Errorf("delivery report changed: %s", body)
			}
			d := rep.Detection
			if d == nil {
				t.Fatalf("no detection object: %s", body)
			}
			if !tt.on {
				if d.Enabled || d.Evaluations != 0 || d.Alerts != nil || d.StateKeys != 0 {
					t.Errorf("detection off, report %s", body)
				}
				return
			}
			if !d.Enabled || !reflect.DeepEqual(d.Alerts, map[string]int64{detect.RuleBruteForce: 1}) {
				t.Errorf("alerts %v, enabled %v, want {brute_force:1}:\n%s", d.Alerts, d.Enabled, body)
			}
			if d.Evaluations < 5 || d.StateKeys <= 0 || d.StateBytes <= 0 || d.StateMaxBytes != 64<<20 || d.StateBytes > d.StateMaxBytes {
				t.Errorf("counters: %s", body)
			}
			if d.StateEvictions != 0 || d.StateErrors != 0 || d.RulePanics != 0 {
				t.Errorf("errors counted: %s", body)
			}
		})
	}
}
