package instrumentation

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"unsafe"

	"go.opentelemetry.io/otel/log/noop"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/internal/reqctx"
)

// noopAuditor is an Auditor whose provider records nothing.
func noopAuditor(t *testing.T) *secaudit.Auditor {
	t.Helper()
	a, err := secaudit.New(secaudit.WithLoggerProvider(noop.NewLoggerProvider()))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestRequestIDForm: 32 lowercase hex digits, different every time.
func TestRequestIDForm(t *testing.T) {
	form := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := map[string]bool{}
	for range 1000 {
		var x exchange
		id := x.newRequestID()
		if !form.MatchString(id) {
			t.Fatalf("request id %q is not 32 lowercase hex digits", id)
		}
		if seen[id] {
			t.Fatalf("request id %q repeated", id)
		}
		seen[id] = true
	}
}

// TestExchangeSize: the per-request state stays in a size class whose
// objects need no malloc header, and which it reached: at most 416 bytes
// (it was 512 before the rare facts moved out and the response observer
// shrank).
func TestExchangeSize(t *testing.T) {
	if size := unsafe.Sizeof(exchange{}); size > 416 {
		t.Fatalf("exchange is %d bytes, want at most 416", size)
	}
}

// TestFactsFilledWhenAsked: a request that nobody asks about never gets a
// request id nor a parsed address (the default, a 200 while OK responses
// are not audited); the first ask — secaudit.RequestFromContext or an
// event — fills them with the values of the request as it came, however
// the handler changed its copy since, and concurrent first asks all see
// the same facts.
func TestFactsFilledWhenAsked(t *testing.T) {
	m, err := New(WithAuditor(noopAuditor(t)))
	if err != nil {
		t.Fatal(err)
	}
	var ctx context.Context
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx = r.Context()
		secaudit.SetUser(ctx, secaudit.User{ID: "7"}) // reads no filled fact
		r.RemoteAddr = "192.0.2.99:1"                 // too late to change the origin
	}))
	req := httptest.NewRequest("GET", "/x", nil)
	req.RemoteAddr = "198.51.100.7:5555"
	h.ServeHTTP(httptest.NewRecorder(), req)

	x := ctx.(*reqctx.Node).Fill.(*exchange)
	if got := x.filled.Load(); got != factsPending {
		t.Fatalf("facts state %d after a request nobody asked about, want pending", got)
	}
	if x.req.ID != "" || x.req.ClientAddress != "" {
		t.Fatalf("request id %q, client %q made before anybody asked", x.req.ID, x.req.ClientAddress)
	}

	const askers = 8
	ids := make([]string, askers)
	var wg sync.WaitGroup
	for i := range askers {
		wg.Go(func() {
			f := secaudit.RequestFromContext(ctx)
			ids[i] = f.ID + " " + f.ClientAddress + " " + f.PeerAddress
		})
	}
	wg.Wait()
	form := regexp.MustCompile(`^[0-9a-f]{32} 198\.51\.100\.7 198\.51\.100\.7$`)
	for i, got := range ids {
		if !form.MatchString(got) || got != ids[0] {
			t.Fatalf("asker %d saw %q, want one id and the peer of the request as it came (first %q)", i, got, ids[0])
		}
	}
}
