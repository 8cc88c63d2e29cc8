package instrumentation

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/log/logtest"

	"github.com/secaudit/secaudit/semconv"
)

// TestWriterPassthroughOverRealServer: through the middleware on a real
// server, streaming (Flusher and ResponseController), deadlines, ReadFrom
// and a WebSocket-style hijack keep working, and the events record what the
// client got.
func TestWriterPassthroughOverRealServer(t *testing.T) {
	h := newHarness(t, false, WithLogOKResponses(true))
	mux := http.NewServeMux()
	mux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Flusher); !ok {
			t.Error("handler's writer is not a Flusher")
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Errorf("SetWriteDeadline: %v", err)
		}
		if err := rc.EnableFullDuplex(); err != nil {
			t.Errorf("EnableFullDuplex: %v", err)
		}
		io.WriteString(w, "data: two\n\n")
		if err := rc.Flush(); err != nil {
			t.Errorf("ResponseController.Flush: %v", err)
		}
	})
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
		rf, ok := w.(io.ReaderFrom)
		if !ok {
			t.Error("handler's writer is not a ReaderFrom")
			return
		}
		rf.ReadFrom(strings.NewReader(strings.Repeat("f", 3000)))
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Hijacker); !ok {
			t.Error("handler's writer is not a Hijacker")
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n') // echo one frame
		brw.WriteString("echo " + line)
		brw.Flush()
	})
	srv := httptest.NewServer(h.m.Wrap(mux))
	defer srv.Close()

	t.Run("sse", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/events")
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		// The first event arrives before the handler finishes.
		if line, err := br.ReadString('\n'); err != nil || line != "data: one\n" {
			t.Fatalf("first event %q %v", line, err)
		}
		rest, _ := io.ReadAll(br)
		resp.Body.Close()
		if string(rest) != "\ndata: two\n\n" {
			t.Fatalf("rest %q", rest)
		}
		r := waitOne(t, h)
		if r.EventName != semconv.EventHTTPResponseSuccess || attrsOf(r)[semconv.HTTPRouteKey].AsString() != "/events" {
			t.Fatalf("%s %v", r.EventName, r.Attributes)
		}
	})
	t.Run("readfrom", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/file")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(b) != 3000 {
			t.Fatalf("got %d bytes", len(b))
		}
		if got := attrsOf(waitOne(t, h))[semconv.HTTPResponseStatusCodeKey].AsInt64(); got != 200 {
			t.Fatalf("status %d", got)
		}
	})
	t.Run("websocket upgrade", func(t *testing.T) {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 101 {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		io.WriteString(conn, "ping\n")
		if line, err := br.ReadString('\n'); err != nil || line != "echo ping\n" {
			t.Fatalf("echo %q %v", line, err)
		}
		r := waitOne(t, h)
		if r.EventName != semconv.EventHTTPResponseSuccess || attrsOf(r)[semconv.HTTPResponseStatusCodeKey].AsInt64() != 101 {
			t.Fatalf("%s status %d", r.EventName, attrsOf(r)[semconv.HTTPResponseStatusCodeKey].AsInt64())
		}
	})
}

// waitOne waits for the event of a request served by a real server: the
// client can see the response before the handler's deferred audit runs.
func waitOne(t *testing.T, h *harness) logtest.Record {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		res := h.rec.Result()
		n := 0
		for _, recs := range res {
			n += len(recs)
		}
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	return h.only()
}

// TestHandlerReadsFullBodyWithCapture: with capture on, over a real
// server, the handler reads exactly the bytes the client sent — below,
// at and far above the cap, with and without Content-Length.
func TestHandlerReadsFullBodyWithCapture(t *testing.T) {
	h := newHarness(t, false, WithRequestBodies(true), WithBodyFields("amount"), WithMaxBodyBytes(64))
	sums := make(chan string, 1)
	srv := httptest.NewServer(h.m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("handler read: %v", err)
		}
		sum := sha256.Sum256(b)
		sums <- hex.EncodeToString(sum[:])
		w.WriteHeader(422)
	})))
	defer srv.Close()
	for _, size := range []int{20, 64, 65, 100_000} {
		for _, chunked := range []bool{false, true} {
			body := `{"amount":1,"pad":"` + strings.Repeat("p", max(size-22, 0)) + `"}`
			var rd io.Reader = strings.NewReader(body)
			if chunked {
				rd = io.MultiReader(rd) // hides the length: chunked encoding
			}
			req, _ := http.NewRequest("POST", srv.URL+"/t", rd)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			want := sha256.Sum256([]byte(body))
			if got := <-sums; got != hex.EncodeToString(want[:]) {
				t.Fatalf("size %d chunked %v: handler did not read the body the client sent", len(body), chunked)
			}
			a := attrsOf(waitOne(t, h))
			if len(body) <= 64 {
				if a[semconv.AuditRequestBodyKey].String() != `{"amount":1}` {
					t.Fatalf("size %d: body attribute %v", len(body), a)
				}
			} else if a[semconv.AuditRequestBodyParseStatusKey].AsString() != "too_large" {
				t.Fatalf("size %d: %v", len(body), a)
			}
		}
	}
}
