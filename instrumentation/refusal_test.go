package instrumentation

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/secaudit/secaudit/detect/guard"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// TestRefusalResponse: the 429 is what http.Error writes (Content-Type,
// X-Content-Type-Options, the message and a newline; a Content-Length set
// before is removed) with Retry-After, and the header values it shares
// between refusals stay clean when a writer adds to them.
func TestRefusalResponse(t *testing.T) {
	g := &fakeGuard{blocked: map[string]time.Duration{"203.0.113.7": 90 * time.Second}}
	h := newHarness(t, false, WithGuard(g))
	want := httptest.NewRecorder()
	want.Header().Set("Retry-After", "90")
	http.Error(want, "too many requests", http.StatusTooManyRequests)

	// An outer layer that set a Content-Length, and adds to every header
	// value after the middleware answered.
	outer := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "99")
			next.ServeHTTP(w, r)
			for k := range w.Header() {
				w.Header().Add(k, "appended")
			}
		})
	}
	for i := range 2 {
		req := httptest.NewRequest(http.MethodGet, "/x", nil)
		req.RemoteAddr = "203.0.113.7:1"
		w := httptest.NewRecorder()
		outer(h.m.Wrap(status(200))).ServeHTTP(w, req)
		if w.Code != http.StatusTooManyRequests || w.Body.String() != want.Body.String() {
			t.Fatalf("refusal %d: %d %q, want 429 %q", i, w.Code, w.Body.String(), want.Body.String())
		}
		// The header as written (the recorder's snapshot at WriteHeader).
		got := w.Result().Header
		for _, k := range []string{"Content-Type", "X-Content-Type-Options", "Retry-After", "Content-Length"} {
			if g, wv := got.Values(k), want.Header().Values(k); !slicesEqual(g, wv) {
				t.Errorf("refusal %d: %s %q, want %q", i, k, g, wv)
			}
		}
	}
	if textPlainValue[0] != "text/plain; charset=utf-8" || noSniffValue[0] != "nosniff" || len(textPlainValue) != 1 {
		t.Fatalf("shared values changed: %q %q", textPlainValue, noSniffValue)
	}
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRetryAfterValues: the cached Retry-After values are their seconds,
// also for seconds that share a slot, and under concurrent use.
func TestRetryAfterValues(t *testing.T) {
	secs := []int64{1, 59, 60, 60 + 256, 60, 3600, 3600 + 512, 1 << 40, 1}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				for _, s := range secs {
					if v := retryAfter(s); len(v) != 1 || cap(v) != 1 || v[0] != strconv.FormatInt(s, 10) {
						t.Errorf("retryAfter(%d) = %q (cap %d)", s, v, cap(v))
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// addrGuard is a guard with every optional method; it records which one
// the middleware asked.
type addrGuard struct {
	fakeGuard
	got     []netip.Addr
	strings int
}

func (g *addrGuard) RefuseAddressQuiet(addr string) (bool, time.Duration, string, string, bool) {
	g.strings++
	r, d, rule, scope := g.RefuseAddress(addr)
	return r, d, rule, scope, false
}

func (g *addrGuard) RefuseAddr(a netip.Addr) (bool, time.Duration, string, string, bool) {
	g.got = append(g.got, a)
	r, d, rule, scope := g.fakeGuard.RefuseAddress(a.String())
	return r, d, rule, scope, false
}

// TestAddrGuardGetsTheParsedAddress: a guard with RefuseAddr is handed the
// client address the middleware resolved (unmapped, no zone; the
// forwarded client behind a trusted proxy), never its text; without a
// client address it is not asked.
func TestAddrGuardGetsTheParsedAddress(t *testing.T) {
	tests := []struct {
		name, remote, xff string
		want              netip.Addr // zero: not asked
		wantStatus        int
	}{
		{"IPv4 peer", "203.0.113.7:1", "", netip.MustParseAddr("203.0.113.7"), http.StatusTooManyRequests},
		{"IPv4-mapped peer", "[::ffff:203.0.113.7]:1", "", netip.MustParseAddr("203.0.113.7"), http.StatusTooManyRequests},
		{"zoned IPv6 peer", "[fe80::1%eth0]:1", "", netip.MustParseAddr("fe80::1"), http.StatusOK},
		{"forwarded by a trusted proxy", "10.0.0.1:1", "203.0.113.7", netip.MustParseAddr("203.0.113.7"), http.StatusTooManyRequests},
		{"no client address", "@", "", netip.Addr{}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &addrGuard{fakeGuard: fakeGuard{blocked: map[string]time.Duration{"203.0.113.7": time.Minute}}}
			h := newHarness(t, false, WithGuard(g), WithTrustedProxies([]string{"10.0.0.0/8"}, 1))
			req := httptest.NewRequest(http.MethodGet, "/x", nil)
			req.RemoteAddr = tt.remote
			if tt.xff != "" {
				req.Header.Set("X-Forwarded-For", tt.xff)
			}
			if w := h.serve(status(200), req); w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", w.Code, tt.wantStatus)
			}
			if g.strings != 0 || g.calls.Load() != int64(len(g.got)) {
				t.Fatalf("string methods asked (%d quiet, %d in all)", g.strings, g.calls.Load())
			}
			switch {
			case !tt.want.IsValid() && len(g.got) != 0:
				t.Fatalf("asked with %v", g.got)
			case tt.want.IsValid() && (len(g.got) != 1 || g.got[0] != tt.want):
				t.Fatalf("asked with %v, want [%v]", g.got, tt.want)
			}
		})
	}
}

// TestRefusalAlloc locks the allocations of a quiet refusal (detect/guard's
// rate limit, the window's first refusal already reported): none. It is
// answered once the client address is resolved, before the request's
// exchange, id and context exist; the 429's header values are shared and
// its body pre-built; the guard takes the address already parsed. Before:
// 8 (the exchange, the request copy WithContext makes, http.Error's two
// header values and Retry-After's, Retry-After's text, the refusal's
// mark, the message boxed for fmt.Fprintln).
func TestRefusalAlloc(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts differ under -race")
	}
	clearEnv(t)
	g, err := guard.New(guard.WithoutEnv(), guard.WithRateLimit(1, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	full, _ := newPipeline(t, io.Discard)
	m, err := New(WithAuditor(full), WithGuard(g))
	if err != nil {
		t.Fatal(err)
	}
	h := m.Wrap(bareHandler())
	req := benchRequest()
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, req) // the window's one allowed request
	h.ServeHTTP(w, req) // its first refusal: a full event
	got := testing.AllocsPerRun(200, func() {
		w.code = 0
		h.ServeHTTP(w, req)
		if w.code != http.StatusTooManyRequests {
			t.Fatalf("status %d", w.code)
		}
	})
	if got != 0 {
		t.Fatalf("%v allocations per quiet refusal, want 0", got)
	}
	if s := g.Stats(); s.RateQuiet < 200 {
		t.Fatalf("RateQuiet %d: the refusals were not quiet", s.RateQuiet)
	}
}

// TestQuietRefusalBuildsNothing: a quiet refusal is answered before the
// middleware asks the session id source or the probe rules; it emits
// nothing (not even for a probe), and the window's first refusal still
// emits its full client_error event with the rule and scope.
func TestQuietRefusalBuildsNothing(t *testing.T) {
	g, err := guard.New(guard.WithoutEnv(), guard.WithRateLimit(1, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var sessions int
	h := newHarness(t, false, WithGuard(g), WithSessionIDSource(SessionIDFunc(func(*http.Request) string {
		sessions++
		return "s1"
	})))
	serve := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/.env", nil) // a probe
		req.RemoteAddr = "203.0.113.7:1"
		return h.serve(status(200), req)
	}
	serve() // allowed
	h.records()
	if w := serve(); w.Code != http.StatusTooManyRequests { // the first refusal: loud
		t.Fatalf("status %d", w.Code)
	}
	recs := h.records()
	var loud int
	for _, r := range recs {
		if r.EventName == semconv.EventHTTPResponseClientError {
			loud++
			if rule, _ := str(r, semconv.SecurityRuleNameKey); rule != guard.RuleRateLimit {
				t.Errorf("security_rule.name %q", rule)
			}
			if scope, _ := str(r, semconv.AuditBlockScopeKey); scope != string(guard.ScopeAddress) {
				t.Errorf("audit.block.scope %q", scope)
			}
		}
	}
	if loud != 1 {
		t.Fatalf("first refusal: records %v, want one client_error", recs)
	}
	sessions = 0
	for range 3 {
		if w := serve(); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "3600" {
			t.Fatalf("quiet refusal: %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
		}
	}
	if recs := h.records(); len(recs) != 0 || sessions != 0 {
		t.Fatalf("quiet refusals: %d records, session id source called %d times; want none", len(recs), sessions)
	}
	if s := h.m.Stats(); s.Blocked != 4 || s.BlockedQuiet != 3 {
		t.Fatalf("Stats Blocked %d BlockedQuiet %d, want 4 and 3", s.Blocked, s.BlockedQuiet)
	}
}

// BenchmarkRefusal sets the 429 path against serving, through a whole
// pipeline (JSONL to io.Discard): a request served with OK responses not
// audited (the defaults) and audited; a quiet refusal (detect/guard's
// rate limit, after the window's first refusal: no event); a loud one (a
// blocked address: a client_error event each, like an audited request).
func BenchmarkRefusal(b *testing.B) {
	clearEnv(b)
	g, err := guard.New(guard.WithoutEnv(), guard.WithRateLimit(1, time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	loud := &fakeGuard{blocked: map[string]time.Duration{"203.0.113.9": time.Hour}}
	for _, tc := range []struct {
		name   string
		opts   []Option
		warm   int
		status int
	}{
		{"served", nil, 0, http.StatusOK},
		{"served-audited", []Option{WithLogOKResponses(true)}, 0, http.StatusOK},
		{"refused-quiet", []Option{WithGuard(g)}, 2, http.StatusTooManyRequests},
		{"refused-loud", []Option{WithGuard(loud)}, 0, http.StatusTooManyRequests},
	} {
		b.Run(tc.name, func(b *testing.B) {
			a, _ := newPipeline(b, io.Discard)
			m, err := New(append([]Option{WithAuditor(a)}, tc.opts...)...)
			if err != nil {
				b.Fatal(err)
			}
			h := m.Wrap(bareHandler())
			req := benchRequest()
			for range tc.warm {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != tc.status {
					b.Fatalf("status %d, want %d", w.Code, tc.status)
				}
			}
		})
	}
}
