package setup_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/detect"
	"github.com/secaudit/secaudit/detect/guard"
	"github.com/secaudit/secaudit/setup"
)

// TestStateRedisNeedsImport: SECAUDIT_STATE=redis://… in an application
// that does not import detect/redisstate stops start-up with the one error
// format, naming the variable and the import to add (and hiding the
// password); "memory" is the default store.
func TestStateRedisNeedsImport(t *testing.T) {
	clearEnv(t)
	t.Setenv("SECAUDIT_STATE", "redis://:pw@127.0.0.1:6379/0")
	p, err := setup.New(context.Background(), setup.WithExporters("none"))
	if err == nil {
		_ = p.Shutdown(context.Background())
		t.Fatal("no error")
	}
	want := `secaudit: SECAUDIT_STATE="redis://:xxxxx@127.0.0.1:6379/0": want "memory", or add import _ "github.com/secaudit/secaudit/detect/redisstate" to the application so that redis:// URLs open`
	if err.Error() != want {
		t.Fatalf("error:\n%s\nwant\n%s", err, want)
	}
	t.Setenv("SECAUDIT_STATE", "memory")
	p, err = setup.New(context.Background(), setup.WithExporters("none"))
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Shutdown(context.Background())
}

// fakeShared is a shared store (detection state and guard store) that is
// down: every operation fails.
type fakeShared struct {
	*detect.MemoryState
	closed int
}

func (f *fakeShared) HashSecret() ([]byte, bool) { return []byte("0123456789abcdef"), true }
func (f *fakeShared) StoreStats() detect.StoreStats {
	return detect.StoreStats{Kind: "fake", Degraded: true, Errors: 7}
}
func (f *fakeShared) Close() error { f.closed++; return nil }
func (f *fakeShared) Count(detect.Key, time.Duration, time.Time) (int, error) {
	return 0, detect.ErrUnavailable
}
func (f *fakeShared) AddDistinct(detect.Key, uint64, int, time.Duration, time.Time) (int, error) {
	return 0, detect.ErrUnavailable
}
func (f *fakeShared) PutBlock(context.Context, string, guard.Block) error {
	return detect.ErrUnavailable
}
func (f *fakeShared) DeleteBlock(context.Context, string) error { return detect.ErrUnavailable }
func (f *fakeShared) WatchBlocks(guard.BlockWatch)              {}
func (f *fakeShared) RateCount(context.Context, string, time.Duration) (int64, time.Duration, error) {
	return 0, 0, detect.ErrUnavailable
}
func (f *fakeShared) Degraded() bool { return true }

// TestSharedStateWiring: a shared store given with detect.WithState is
// the state of detection and the guard's store (one instance for both);
// while it fails, detection and the rate limit fail open, and the health
// report's detection object shows the store degraded with its errors.
// The pipeline does not close a store it did not open.
func TestSharedStateWiring(t *testing.T) {
	clearEnv(t)
	f := &fakeShared{MemoryState: detect.NewMemoryState(1 << 20)}
	p, err := setup.New(context.Background(), setup.WithoutEnv(), setup.WithJSONLPath(t.TempDir()+"/events.jsonl"),
		setup.WithDetectOptions(detect.WithState(f)),
		setup.WithGuardOptions(guard.WithEnabled(true), guard.WithRateLimit(1, time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Guard().Degraded() {
		t.Error("the guard does not use the shared store")
	}
	for range 3 {
		if refused, _, _, _ := p.Guard().RefuseAddress("198.51.100.1"); refused {
			t.Fatal("refused while the store fails")
		}
	}
	ctx := secaudit.ContextWithRequest(context.Background(), &secaudit.Request{ClientAddress: "198.51.100.1"})
	p.Auditor().LoginFailed(ctx, secaudit.User{Name: "alice"}, "bad password")
	srv := httptest.NewServer(p.HealthHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep struct {
		Detection struct {
			State         string `json:"state"`
			StateDegraded bool   `json:"state_degraded"`
			StoreErrors   int64  `json:"store_errors"`
			StateErrors   int64  `json:"state_errors"`
			Blocking      struct {
				StoreErrors int64 `json:"store_errors"`
			} `json:"blocking"`
		} `json:"detection"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	d := rep.Detection
	if d.State != "fake" || !d.StateDegraded || d.StoreErrors != 7 || d.StateErrors == 0 || d.Blocking.StoreErrors != 3 {
		t.Fatalf("health detection %+v", d)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.closed != 0 {
		t.Fatal("the pipeline closed a store it did not open")
	}
	// The memory store by default.
	q, err := setup.New(context.Background(), setup.WithoutEnv(), setup.WithJSONLPath(t.TempDir()+"/events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Shutdown(context.Background())
	rec := httptest.NewRecorder()
	q.HealthHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if body := rec.Body.String(); !strings.Contains(body, `"state": "memory"`) || !strings.Contains(body, `"state_degraded": false`) {
		t.Fatalf("health %s", rec.Body)
	}
}
