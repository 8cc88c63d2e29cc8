package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secaudit/secaudit/internal/auditlog"
)

// indexFiles indexes paths (following them, driven by f) and returns the
// index and a function that stops following.
func indexFiles(t testing.TB, f *follower, paths ...string) (*index, func()) {
	t.Helper()
	ix := newIndex()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan error)
	done := make(chan error, 1)
	go func() { done <- ix.follow(ctx, paths, f.wait, time.Second, ready) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	<-f.idle
	return ix, func() {
		cancel()
		<-done
		ix.close()
	}
}

func getJSON(t *testing.T, srv *httptest.Server, path string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	req.Header.Set("X-Secaudit-Token", "tok")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// answer is /api/query's answer as the page reads it.
type answer struct {
	T          int       `json:"total"`
	M          int       `json:"matched"`
	B          int       `json:"bad_lines"`
	FailedUser []counted `json:"failed_logins_by_user"`
	FailedAddr []counted `json:"failed_logins_by_addr"`
	ClientErr  []counted `json:"client_errors_by_addr"`
	Alerts     int       `json:"alerts"`
	Blocks     int       `json:"blocks"`
	Timeline   [][]int   `json:"timeline"`
	Rows       []row     `json:"rows"`
	Recent     []row     `json:"alerts_and_blocks"`
	TookMS     float64   `json:"took_ms"`
}

// countFile counts the file's events that pass f, with tail's filter.
func countFile(t testing.TB, path string, f auditlog.Filter) (n int) {
	t.Helper()
	if err := f.Compile(); err != nil {
		t.Fatal(err)
	}
	err := auditlog.Read(context.Background(), []string{path}, nil, auditlog.Options{}, func(l *auditlog.Line) error {
		if e, err := auditlog.Parse(l.Data); err == nil && f.Match(&e) {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestViewQuery(t *testing.T) {
	const file = "testdata/tail.jsonl"
	f := newFollower()
	ix, stop := indexFiles(t, f, file)
	defer stop()
	s := newViewServer(ix, "tok", "http://grafana.example/explore?trace={trace_id}", fixedNow)
	srv := httptest.NewServer(s)
	defer srv.Close()

	var all answer
	if code := getJSON(t, srv, "/api/query", &all); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if all.T != 8 || all.M != 8 || all.B != 1 || all.Alerts != 1 || all.Blocks != 1 {
		t.Errorf("total %d, matched %d, bad %d, alerts %d, blocks %d; want 8, 8, 1, 1, 1", all.T, all.M, all.B, all.Alerts, all.Blocks)
	}
	want := func(name string, got, want []counted) {
		t.Helper()
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Errorf("%s: %s, want %s", name, g, w)
		}
	}
	want("failed by user", all.FailedUser, []counted{{"2", 1}})
	want("failed by addr", all.FailedAddr, []counted{{"198.51.100.23", 1}})
	want("client errors by addr", all.ClientErr, []counted{{"198.51.100.23", 1}})
	sum := 0
	for _, b := range all.Timeline {
		for _, n := range b {
			sum += n
		}
	}
	if sum != 8 || len(all.Timeline) != timelineBuckets {
		t.Errorf("timeline holds %d events in %d buckets, want 8 in %d", sum, len(all.Timeline), timelineBuckets)
	}
	if len(all.Rows) != 8 || all.Rows[0].Event != "security.block.applied" || all.Rows[7].Event != "auth.login.success" {
		t.Errorf("rows not newest first: %+v", all.Rows)
	}
	first := all.Rows[7]
	if first.TraceURL != "http://grafana.example/explore?trace=4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace link %q", first.TraceURL)
	}
	if all.Rows[0].TraceURL != "" {
		t.Errorf("an event without a trace has a link: %q", all.Rows[0].TraceURL)
	}
	if len(all.Recent) != 2 || all.Recent[0].Event != "security.block.applied" || all.Recent[1].Rule != "brute_force" {
		t.Errorf("alerts and blocks: %+v", all.Recent)
	}

	// The filters agree with tail's (auditlog.Filter.Match over the file).
	for _, q := range []url.Values{
		{"event": {"auth.*"}}, {"event": {"security.alert"}}, {"user": {"1"}}, {"addr": {"198.51.100.0/24"}},
		{"since": {"3m"}}, {"request": {"fedcba9876543210fedcba9876543210"}},
		{"event": {"http.*"}, "addr": {"203.0.113.7"}}, {"user": {"nobody"}},
	} {
		var a answer
		if code := getJSON(t, srv, "/api/query?"+q.Encode(), &a); code != http.StatusOK {
			t.Fatalf("%v: status %d", q, code)
		}
		since, _ := auditlog.ParseSince(q.Get("since"), fixedNow())
		n := countFile(t, file, auditlog.Filter{Event: q.Get("event"), User: q.Get("user"), Addr: q.Get("addr"), Since: since, Request: q.Get("request")})
		if a.M != n || len(a.Rows) != n || a.T != 8 {
			t.Errorf("%v: matched %d (%d rows) of %d, want %d of 8", q, a.M, len(a.Rows), a.T, n)
		}
	}

	// Pages.
	var page answer
	getJSON(t, srv, "/api/query?offset=6&limit=5", &page)
	if len(page.Rows) != 2 || page.Rows[1].Event != "auth.login.success" {
		t.Errorf("page from 6: %+v", page.Rows)
	}
	// A bad filter is a 400 naming it.
	if code := getJSON(t, srv, "/api/query?since=yesterday", nil); code != http.StatusBadRequest {
		t.Errorf("bad since: status %d", code)
	}
	// A row's whole event is its line.
	var ev map[string]any
	if code := getJSON(t, srv, "/api/event?id="+itoa(first.ID), &ev); code != http.StatusOK || ev["trace_id"] != first.TraceID {
		t.Errorf("event %d: status %d, %v", first.ID, code, ev)
	}
	if code := getJSON(t, srv, "/api/event?id=99", nil); code != http.StatusNotFound {
		t.Errorf("unknown event: status %d", code)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestViewSecurity(t *testing.T) {
	f := newFollower()
	ix, stop := indexFiles(t, f, "testdata/tail.jsonl")
	defer stop()
	s := newViewServer(ix, "tok", "", fixedNow)
	s.port = "8123"
	tests := []struct {
		name, host, path, token string
		want                    int
	}{
		{"page with token", "127.0.0.1:8123", "/?token=tok", "", http.StatusOK},
		{"page by localhost", "localhost:8123", "/?token=tok", "", http.StatusOK},
		{"page without token", "127.0.0.1:8123", "/", "", http.StatusForbidden},
		{"page, wrong token", "127.0.0.1:8123", "/?token=tok2", "", http.StatusForbidden},
		{"api without token", "127.0.0.1:8123", "/api/query", "", http.StatusForbidden},
		{"api with header", "127.0.0.1:8123", "/api/query", "tok", http.StatusOK},
		{"event without token", "127.0.0.1:8123", "/api/event?id=0", "", http.StatusForbidden},
		{"DNS rebinding: another name", "attacker.example:8123", "/api/query", "tok", http.StatusMisdirectedRequest},
		{"another port", "127.0.0.1:80", "/api/query", "tok", http.StatusMisdirectedRequest},
		{"no port", "127.0.0.1", "/?token=tok", "", http.StatusMisdirectedRequest},
		{"assets need no token", "127.0.0.1:8123", "/static/app.js", "", http.StatusOK},
		{"POST refused", "127.0.0.1:8123", "/api/query", "tok", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := http.MethodGet
			if strings.HasPrefix(tt.name, "POST") {
				method = http.MethodPost
			}
			req := httptest.NewRequest(method, tt.path, nil)
			req.Host = tt.host
			if tt.token != "" {
				req.Header.Set("X-Secaudit-Token", tt.token)
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			if w.Code != tt.want {
				t.Errorf("status %d, want %d", w.Code, tt.want)
			}
			if w.Header().Get("Cache-Control") != "no-store" || !strings.Contains(w.Header().Get("Content-Security-Policy"), "default-src 'none'") || w.Header().Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("headers %v", w.Header())
			}
		})
	}
}

// TestViewAssetsAreLocal checks that the page fetches nothing from
// elsewhere: no absolute URL in the embedded assets but the SVG namespace.
func TestViewAssetsAreLocal(t *testing.T) {
	for _, name := range []string{"index.html", "app.js", "app.css"} {
		b, err := viewAssets.ReadFile("viewassets/" + name)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(b), "http://www.w3.org/2000/svg", "")
		if strings.Contains(s, "http://") || strings.Contains(s, "https://") || strings.Contains(s, "//cdn") {
			t.Errorf("%s refers to another origin", name)
		}
	}
}

func TestViewFollowsRotation(t *testing.T) {
	data, err := os.ReadFile("testdata/tail.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "{") {
			events = append(events, l+"\n")
		}
	}
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	appendFile(t, path, events[0]+events[1])
	f := newFollower()
	ix, stop := indexFiles(t, f, path)
	defer stop()
	s := newViewServer(ix, "tok", "", fixedNow)
	srv := httptest.NewServer(s)
	defer srv.Close()

	appendFile(t, path, events[2])
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, events[3]+events[4])
	f.step(t)
	var a answer
	getJSON(t, srv, "/api/query", &a)
	if a.T != 5 {
		t.Fatalf("%d events indexed after rotation, want 5", a.T)
	}
	// Rows of the renamed file and of the new one are both read back.
	for i, r := range a.Rows {
		want := events[4-i]
		var ev map[string]any
		getJSON(t, srv, "/api/event?id="+itoa(r.ID), &ev)
		if ev["event_name"] != strings.Split(strings.Split(want, `"event_name":"`)[1], `"`)[0] {
			t.Errorf("row %d: %v, want the event of line %q", i, ev["event_name"], want[:60])
		}
	}
}

// TestViewCommand runs secaudit view in process: it prints the URL,
// serves the page on loopback and stops with its context.
func TestViewCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		inv := invocation{stdout: pw, stderr: io.Discard, wait: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}
		done <- runInv(ctx, inv, "view", "testdata/tail.jsonl")
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var u string
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "http://127.0.0.1:") {
			u = sc.Text()
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if u == "" {
		t.Fatal("no URL printed")
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "secaudit view") {
		t.Errorf("page: %d %.80s", resp.StatusCode, body)
	}
	http.DefaultClient.CloseIdleConnections()
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("exit %d", code)
	}
}

func TestViewUsage(t *testing.T) {
	for _, args := range [][]string{
		nil, {"-addr", "0.0.0.0:0", "f"}, {"-addr", "192.0.2.1:80", "f"}, {"-addr", "localhost", "f"},
		{"-trace-url", "http://grafana/explore", "f"}, {"-trace-url", "javascript:{trace_id}", "f"}, {"-interval", "0s", "f"}, {"-nope"},
	} {
		if code, _, _ := runCommand(t, nil, append([]string{"view"}, args...)...); code != exitUsage {
			t.Errorf("view %v: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, _, _ := runCommand(t, nil, "view", "/nonexistent.jsonl"); code != exitFinding {
		t.Errorf("missing file: exit %d, want %d", code, exitFinding)
	}
}
