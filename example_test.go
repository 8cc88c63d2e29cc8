package secaudit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/setup"
)

// Example wires a pipeline writing JSONL, the audit middleware around a
// ServeMux, and a handler that reports an authorization failure: the
// request yields the handler's authz.denied event and the middleware's
// http.response.client_error, sharing the request's facts.
func Example() {
	var out bytes.Buffer
	pipeline, err := setup.New(context.Background(),
		setup.WithServiceName("shop"), setup.WithJSONLWriter(&out))
	if err != nil {
		panic(err)
	}
	audit := pipeline.Auditor()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /accounts/{id}", func(w http.ResponseWriter, r *http.Request) {
		secaudit.SetUser(r.Context(), secaudit.User{ID: "1"}) // from your auth middleware
		audit.AuthzDenied(r.Context(), secaudit.Model{Name: "account", ID: r.PathValue("id")}, "not_owner")
		http.Error(w, "forbidden", http.StatusForbidden)
	})
	mw, err := instrumentation.New(instrumentation.WithAuditor(audit))
	if err != nil {
		panic(err)
	}
	req := httptest.NewRequest("GET", "/accounts/2", nil)
	req.RemoteAddr = "203.0.113.7:52100"
	mw.Wrap(mux).ServeHTTP(httptest.NewRecorder(), req)
	if err := pipeline.Shutdown(context.Background()); err != nil {
		panic(err)
	}

	dec := json.NewDecoder(&out)
	for dec.More() {
		var line struct {
			EventName  string         `json:"event_name"`
			Severity   string         `json:"severity_text"`
			Attributes map[string]any `json:"attributes"`
		}
		if err := dec.Decode(&line); err != nil {
			panic(err)
		}
		a := line.Attributes
		fmt.Println(line.EventName, line.Severity, a["user.id"], a["client.address"], a["http.route"], a["audit.model.id"], a["http.response.status_code"])
	}
	// Output:
	// authz.denied WARNING 1 203.0.113.7 /accounts/{id} 2 <nil>
	// http.response.client_error WARNING 1 203.0.113.7 /accounts/{id} <nil> 403
}
