package instrumentation

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/delivery"
)

// stallExporter blocks every Export while stalled.
type stallExporter struct {
	mu      sync.Mutex
	release chan struct{} // closed when not stalled
	n       int
}

func newStallExporter() *stallExporter {
	e := &stallExporter{release: make(chan struct{})}
	close(e.release)
	return e
}

func (e *stallExporter) stall(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if on {
		e.release = make(chan struct{})
	} else {
		close(e.release)
	}
}

func (e *stallExporter) Export(ctx context.Context, rs []sdklog.Record) error {
	e.mu.Lock()
	ch := e.release
	e.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return ctx.Err()
	}
	e.mu.Lock()
	e.n += len(rs)
	e.mu.Unlock()
	return nil
}

func (e *stallExporter) Shutdown(context.Context) error   { return nil }
func (e *stallExporter) ForceFlush(context.Context) error { return nil }

func TestStrictRoutesAnswer503WhenTheExporterStalls(t *testing.T) {
	clearEnv(t)
	const deadline = 100 * time.Millisecond
	exp := newStallExporter()
	dp, err := delivery.New(exp, delivery.WithoutEnv(), delivery.WithTimeout(deadline),
		delivery.WithStrictEvents("model.*", "http.response.*"), delivery.WithLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	provider := sdklog.NewLoggerProvider(sdklog.WithProcessor(dp))
	defer provider.Shutdown(context.Background())
	auditor, err := secaudit.New(secaudit.WithLoggerProvider(provider))
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(WithAuditor(auditor), WithGate(dp), WithStrictRoutes("^/admin/"), WithLogOKResponses(true))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /admin/users", func(w http.ResponseWriter, r *http.Request) {
		auditor.ModelCreated(r.Context(), secaudit.Model{Name: "user", ID: "9"})
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	srv := httptest.NewServer(m.Wrap(mux))
	defer srv.Close()
	do := func(method, path string) (int, time.Duration) {
		t.Helper()
		start := time.Now()
		resp, err := srv.Client().Do(mustRequest(t, method, srv.URL+path))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}

	if code, _ := do("POST", "/admin/users"); code != http.StatusCreated {
		t.Fatalf("healthy strict route answered %d", code)
	}

	exp.stall(true)
	refused := false
	for i := 0; i < 5 && !refused; i++ {
		code, took := do("POST", "/admin/users")
		// A strict request waits at most for its own record's deadline
		// (and the response event's), never indefinitely.
		if took > 4*deadline+500*time.Millisecond {
			t.Fatalf("strict request took %v with the exporter stalled (deadline %v)", took, deadline)
		}
		refused = code == http.StatusServiceUnavailable
	}
	if !refused {
		t.Fatal("strict route kept serving while the exporter was stalled")
	}
	for range 3 {
		code, took := do("GET", "/page")
		if code != http.StatusOK {
			t.Fatalf("non-strict route answered %d while the exporter stalled", code)
		}
		if took > 4*deadline+500*time.Millisecond {
			t.Fatalf("non-strict request took %v", took)
		}
	}
	if got := m.Stats().StrictRefused; got == 0 {
		t.Fatal("refusals not counted")
	}

	exp.stall(false)
	ok := false
	for i := 0; i < 50 && !ok; i++ {
		code, _ := do("POST", "/admin/users")
		ok = code == http.StatusCreated
		if !ok {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if !ok {
		t.Fatal("strict route did not recover when the exporter did")
	}
}

func TestStrictRoutesNeedAGate(t *testing.T) {
	clearEnv(t)
	if _, err := New(WithStrictRoutes("^/admin/")); err == nil || !strings.Contains(err.Error(), "WithGate") {
		t.Fatalf("err = %v, want one pointing at WithGate", err)
	}
	t.Setenv(EnvStrictRoutes, "(")
	if _, err := New(); err == nil || !strings.Contains(err.Error(), EnvStrictRoutes) {
		t.Fatalf("err = %v, want one naming %s", err, EnvStrictRoutes)
	}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
