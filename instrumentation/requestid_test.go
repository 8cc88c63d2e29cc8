package instrumentation

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"sync"
	"testing"
	"unsafe"

	"go.opentelemetry.io/otel/log/noop"

	"github.com/secaudit/secaudit"
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

// TestExchangeSize: the per-request state — the facts, the request id's
// text, the response observer and the handler's request, whose context is
// the exchange itself — is one object in the 640-byte size class: at most
// 632 bytes, as an object with pointers beyond 512 bytes carries an 8-byte
// malloc header (it was 416 bytes for the exchange plus 320 for the
// request copy WithContext made, in two allocations); and the handler's
// request and context are that object.
func TestExchangeSize(t *testing.T) {
	if size := unsafe.Sizeof(exchange{}); size > 632 {
		t.Fatalf("exchange is %d bytes, want at most 632 (640 with its malloc header)", size)
	}
	m, err := New(WithAuditor(noopAuditor(t)))
	if err != nil {
		t.Fatal(err)
	}
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x, ok := r.Context().(*exchange)
		if !ok {
			t.Fatalf("handler's context is %T, want the exchange", r.Context())
		}
		if r != &x.r2 {
			t.Fatal("handler's request is not the exchange's")
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
}

// TestKeptRequestNotReused: a handler that keeps its request and its
// context past the request (a goroutine reading them later) keeps that
// request's own facts: nothing of it is reused for the next request.
func TestKeptRequestNotReused(t *testing.T) {
	m, err := New(WithAuditor(noopAuditor(t)))
	if err != nil {
		t.Fatal(err)
	}
	type kept struct {
		r   *http.Request
		ctx context.Context
		id  string
	}
	var all []kept
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		all = append(all, kept{r, context.WithoutCancel(r.Context()), secaudit.RequestFromContext(r.Context()).ID})
	}))
	for i := range 50 {
		req := httptest.NewRequest("GET", fmt.Sprintf("/r/%d", i), nil)
		req.RemoteAddr = fmt.Sprintf("192.0.2.%d:1", i+1)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	runtime.GC()
	ids := map[string]bool{}
	for i, k := range all {
		f := secaudit.RequestFromContext(k.ctx)
		if want := fmt.Sprintf("/r/%d", i); k.r.URL.Path != want || f.Path != want {
			t.Fatalf("kept request %d: path %q, facts' path %q, want %q", i, k.r.URL.Path, f.Path, want)
		}
		if want := fmt.Sprintf("192.0.2.%d", i+1); f.ClientAddress != want || f.ID != k.id || ids[f.ID] {
			t.Fatalf("kept request %d: client %q id %q (seen before: %v), want %q and %q", i, f.ClientAddress, f.ID, ids[f.ID], want, k.id)
		}
		ids[f.ID] = true
		if secaudit.RequestFromContext(k.r.Context()) != f {
			t.Fatalf("kept request %d: its context carries other facts", i)
		}
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
		if req := secaudit.RequestForUpdate(ctx); req == nil {
			t.Error("RequestForUpdate: no request")
		} else {
			req.SetRoute("/x/{id}") // what router adapters do: fills nothing either
		}
		r.RemoteAddr = "192.0.2.99:1" // too late to change the origin
	}))
	req := httptest.NewRequest("GET", "/x", nil)
	req.RemoteAddr = "198.51.100.7:5555"
	h.ServeHTTP(httptest.NewRecorder(), req)

	x := ctx.(*exchange)
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
