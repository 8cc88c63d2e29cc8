package setup_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/setup"
)

// TestDefaultsRecordAfterNew: after setup.New, a middleware and an Auditor
// built without a provider record through the pipeline, not a silent
// no-op.
func TestDefaultsRecordAfterNew(t *testing.T) {
	clearEnv(t)
	path := filepath.Join(t.TempDir(), "events.jsonl")
	ctx := context.Background()
	pipeline, err := setup.New(ctx, setup.WithJSONLPath(path))
	if err != nil {
		t.Fatal(err)
	}
	audit, err := instrumentation.New() // no WithAuditor
	if err != nil {
		t.Fatal(err)
	}
	auditor, err := secaudit.New() // no WithLoggerProvider
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(audit.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auditor.LoginFailed(r.Context(), secaudit.User{Name: "mallory"}, "bad_password")
		w.WriteHeader(http.StatusForbidden)
	})))
	resp, err := srv.Client().Get(srv.URL + "/admin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	srv.Close()
	if err := pipeline.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"event_name":"http.response.client_error"`, `"event_name":"auth.login.failed"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("no %s in\n%s", want, data)
		}
	}
}
