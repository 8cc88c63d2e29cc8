package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/secaudit/secaudit/internal/auditlog"
)

func init() {
	register(command{"view", "a local web page over JSONL files (loopback only, nothing from the internet)", runView})
}

const viewUsage = `usage: secaudit view [flags] FILE...

Serves a page over the JSONL files on a loopback address and prints its
URL (with a random token; the page is for this machine's user only): a
timeline of events by class, failed logins by user and by address, the top
addresses by client errors, alerts and blocks, and a table with the
filters of tail whose rows expand to the whole event. The files are
indexed once and followed live (across rotation); every asset is embedded.

flags:
`

//go:embed viewassets
var viewAssets embed.FS

// viewServer serves the page and its JSON API.
type viewServer struct {
	ix       *index
	token    string
	traceURL string // template with {trace_id}
	port     string // the listener's port, for the Host check
	now      func() time.Time
	mux      *http.ServeMux
}

func runView(ctx context.Context, inv invocation) int {
	fset := flag.NewFlagSet("view", flag.ContinueOnError)
	fset.SetOutput(inv.stderr)
	fset.Usage = func() {
		fmt.Fprint(fset.Output(), viewUsage)
		fset.PrintDefaults()
	}
	addr := fset.String("addr", "127.0.0.1:0", "the loopback address to listen on (port 0: any free port)")
	open := fset.Bool("open", false, "open the page in a browser (xdg-open)")
	traceURL := fset.String("trace-url", "", "a link to a trace, with {trace_id} (e.g. http://localhost:3000/explore?...{trace_id}...)")
	interval := fset.Duration("interval", time.Second, "how often the files are looked at for new lines")
	if err := fset.Parse(inv.args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fset.NArg() == 0 {
		fmt.Fprintln(inv.stderr, "secaudit view: give one or more JSONL files")
		fset.Usage()
		return exitUsage
	}
	if *traceURL != "" && !strings.Contains(*traceURL, "{trace_id}") {
		fmt.Fprintf(inv.stderr, "secaudit view: -trace-url %q: want a URL with {trace_id}\n", *traceURL)
		return exitUsage
	}
	if *traceURL != "" && !strings.HasPrefix(*traceURL, "http://") && !strings.HasPrefix(*traceURL, "https://") {
		fmt.Fprintf(inv.stderr, "secaudit view: -trace-url %q: want an http:// or https:// URL\n", *traceURL)
		return exitUsage
	}
	if *interval <= 0 {
		fmt.Fprintln(inv.stderr, "secaudit view: -interval must be positive")
		return exitUsage
	}
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintf(inv.stderr, "secaudit view: -addr %q: want a loopback address and port, such as 127.0.0.1:0\n", *addr)
		return exitUsage
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ix := newIndex()
	defer ix.close()
	ready := make(chan error)
	followed := make(chan error, 1)
	go func() { followed <- ix.follow(ctx, fset.Args(), inv.wait, *interval, ready) }()
	select {
	case <-ready:
	case err := <-followed:
		fmt.Fprintln(inv.stderr, "secaudit view:", err)
		return exitFinding
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		cancel()
		<-followed
		fmt.Fprintln(inv.stderr, "secaudit view:", err)
		return exitFinding
	}
	token := make([]byte, 16)
	rand.Read(token)
	s := newViewServer(ix, hex.EncodeToString(token), *traceURL, inv.clock)
	_, s.port, _ = net.SplitHostPort(ln.Addr().String())
	url := fmt.Sprintf("http://%s/?token=%s", ln.Addr(), s.token)
	ix.mu.RLock()
	fmt.Fprintf(inv.stdout, "secaudit view: %d events indexed from %s\n%s\n", len(ix.entries), strings.Join(fset.Args(), ", "), url)
	ix.mu.RUnlock()
	if *open {
		if cmd := exec.Command("xdg-open", url); cmd.Start() == nil {
			go cmd.Wait()
		} else {
			fmt.Fprintln(inv.stderr, "secaudit view: could not start xdg-open; open the URL above")
		}
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err = <-served:
	case err = <-followed:
		followed <- err
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	srv.Shutdown(sctx)
	cancel()
	ferr := <-followed
	if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(inv.stderr, "secaudit view:", err)
		return exitFinding
	}
	if ferr != nil && !errors.Is(ferr, context.Canceled) {
		fmt.Fprintln(inv.stderr, "secaudit view:", ferr)
		return exitFinding
	}
	return exitOK
}

func newViewServer(ix *index, token, traceURL string, now func() time.Time) *viewServer {
	s := &viewServer{ix: ix, token: token, traceURL: traceURL, now: now, mux: http.NewServeMux()}
	assets, _ := fs.Sub(viewAssets, "viewassets")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(assets)))
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			http.Error(w, "secaudit view: open the URL the command printed (with its token)", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		page, _ := viewAssets.ReadFile("viewassets/index.html")
		w.Write(page)
	})
	s.mux.HandleFunc("GET /api/query", s.apiQuery)
	s.mux.HandleFunc("GET /api/event", s.apiEvent)
	return s
}

// ServeHTTP checks the Host (against DNS rebinding) and sets the headers
// every answer carries.
func (s *viewServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	if !s.hostAllowed(r.Host) {
		http.Error(w, "secaudit view: unexpected Host header", http.StatusMisdirectedRequest)
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *viewServer) hostAllowed(host string) bool {
	h, port, err := net.SplitHostPort(host)
	if err != nil || (s.port != "" && port != s.port) {
		return false
	}
	return h == "127.0.0.1" || h == "localhost" || h == "::1"
}

// authorized checks the token (query parameter or X-Secaudit-Token).
func (s *viewServer) authorized(r *http.Request) bool {
	t := r.Header.Get("X-Secaudit-Token")
	if t == "" {
		t = r.URL.Query().Get("token")
	}
	return subtle.ConstantTimeCompare([]byte(t), []byte(s.token)) == 1
}

// row is one row of the table.
type row struct {
	ID        int    `json:"id"`
	Time      int64  `json:"time"` // Unix ms
	Severity  string `json:"severity"`
	Event     string `json:"event"`
	User      string `json:"user"`
	Addr      string `json:"addr"`
	Method    string `json:"method"`
	Route     string `json:"route"`
	Status    int    `json:"status"`
	Outcome   string `json:"outcome"`
	Rule      string `json:"rule,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	TraceID   string `json:"trace_id,omitempty"`
	TraceURL  string `json:"trace_url,omitempty"`
}

type queryAnswer struct {
	result
	Rows     []row   `json:"rows"`
	Recent   []row   `json:"alerts_and_blocks"`
	Offset   int     `json:"offset"`
	Limit    int     `json:"limit"`
	TookMS   float64 `json:"took_ms"` // the server's time to answer
	TraceURL bool    `json:"trace_links"`
}

func (s *viewServer) apiQuery(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	start := time.Now()
	ans, err := s.query(r)
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	ans.TookMS = float64(time.Since(start).Microseconds()) / 1000
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Server-Timing", fmt.Sprintf("query;dur=%.3f", ans.TookMS))
	json.NewEncoder(w).Encode(ans)
}

// query answers /api/query's parameters: event, user, addr, since,
// request (as tail's flags), offset and limit.
func (s *viewServer) query(r *http.Request) (queryAnswer, error) {
	v := r.URL.Query()
	since, err := auditlog.ParseSince(v.Get("since"), s.now())
	if err != nil {
		return queryAnswer{}, err
	}
	f := auditlog.Filter{Event: v.Get("event"), User: v.Get("user"), Addr: v.Get("addr"), Since: since, Request: v.Get("request")}
	if err := f.Compile(); err != nil {
		return queryAnswer{}, err
	}
	offset, _ := strconv.Atoi(v.Get("offset"))
	limit, err := strconv.Atoi(v.Get("limit"))
	if err != nil || limit <= 0 {
		limit = 50
	}
	offset, limit = max(offset, 0), min(limit, 500)
	res := s.ix.run(f, offset, limit)
	ans := queryAnswer{result: res, Offset: offset, Limit: limit, TraceURL: s.traceURL != "", Rows: []row{}, Recent: []row{}}
	for _, i := range res.Rows {
		ans.Rows = append(ans.Rows, s.row(i))
	}
	for _, i := range res.Recent {
		ans.Recent = append(ans.Recent, s.row(i))
	}
	return ans, nil
}

// row reads entry i's line and makes its row.
func (s *viewServer) row(i int) row {
	line, err := s.ix.line(i)
	if err != nil {
		return row{ID: i, Event: "(unreadable: " + err.Error() + ")"}
	}
	e, err := auditlog.Parse(line)
	if err != nil {
		return row{ID: i, Event: "(changed on disk)"}
	}
	rw := row{
		ID: i, Time: e.Time / 1e6, Severity: e.Severity, Event: e.Name, User: e.User(), Addr: e.Addr,
		Method: e.Method, Route: e.Where(), Status: e.Status, Outcome: e.Outcome, Rule: e.Rule,
		RequestID: e.RequestID, TraceID: e.TraceID,
	}
	if s.traceURL != "" && isHex(e.TraceID) {
		rw.TraceURL = strings.ReplaceAll(s.traceURL, "{trace_id}", e.TraceID)
	}
	return rw
}

func isHex(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// apiEvent answers the whole event of a row: /api/event?id=N.
func (s *viewServer) apiEvent(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	id, err := strconv.Atoi(r.URL.Query().Get("id"))
	if err != nil {
		http.Error(w, "want id=N", http.StatusBadRequest)
		return
	}
	line, err := s.ix.line(id)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	if !json.Valid(line) {
		http.Error(w, "the line changed on disk", http.StatusConflict)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(line)
}
