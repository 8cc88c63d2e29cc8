package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/secaudit/secaudit/detect/guard"
	"github.com/secaudit/secaudit/setup"
)

// TestDemoLoginLockout: with blocking on, five wrong passwords for alice
// lock her out from that address: her right password is answered 429 with
// Retry-After (the password is not checked), bob still logs in; with
// blocking off (the default) the right password still works.
func TestDemoLoginLockout(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run("block="+strconv.FormatBool(on), func(t *testing.T) {
			p, err := setup.New(context.Background(), setup.WithJSONLWriter(io.Discard), setup.WithTracing(),
				setup.WithGuardOptions(guard.WithEnabled(on)))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown(context.Background())
			h, err := newHandler(p)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			login := func(user, password string) *http.Response {
				t.Helper()
				resp, err := srv.Client().Post(srv.URL+"/login", "application/json",
					strings.NewReader(`{"username":"`+user+`","password":"`+password+`"}`))
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp
			}
			for range 5 {
				if resp := login("alice", "wrong"); resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("wrong password: %d", resp.StatusCode)
				}
			}
			resp := login("alice", "wonderland")
			if on {
				if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "900" {
					t.Errorf("locked out alice: %d, Retry-After %q; want 429, 900", resp.StatusCode, resp.Header.Get("Retry-After"))
				}
			} else if resp.StatusCode != http.StatusOK {
				t.Errorf("blocking off: alice answered %d", resp.StatusCode)
			}
			if resp := login("bob", "builder"); resp.StatusCode != http.StatusOK {
				t.Errorf("bob answered %d", resp.StatusCode)
			}
		})
	}
}
