package respwriter

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/secaudit/secaudit/internal/testsupport"
)

// base is a minimal ResponseWriter with none of the optional interfaces.
type base struct {
	header  http.Header
	codes   []int
	body    strings.Builder
	flushes int
}

func (b *base) Header() http.Header {
	if b.header == nil {
		b.header = http.Header{}
	}
	return b.header
}
func (b *base) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *base) WriteHeader(code int)        { b.codes = append(b.codes, code) }

type withFlush struct{ *base }

func (w withFlush) Flush() { w.flushes++ }

type withHijack struct{ *base }

var errNoConn = errors.New("test hijack")

func (withHijack) Hijack() (net.Conn, *bufio.ReadWriter, error) { return nil, nil, errNoConn }

type withReadFrom struct{ *base }

func (w withReadFrom) ReadFrom(r io.Reader) (int64, error) { return io.Copy(&w.body, r) }

type withFH struct{ *base }

func (w withFH) Flush()                                     { w.flushes++ }
func (withFH) Hijack() (net.Conn, *bufio.ReadWriter, error) { return nil, nil, errNoConn }

type withFR struct{ *base }

func (w withFR) Flush()                              { w.flushes++ }
func (w withFR) ReadFrom(r io.Reader) (int64, error) { return io.Copy(&w.body, r) }

type withHR struct{ *base }

func (withHR) Hijack() (net.Conn, *bufio.ReadWriter, error) { return nil, nil, errNoConn }
func (w withHR) ReadFrom(r io.Reader) (int64, error)        { return io.Copy(&w.body, r) }

type withFHR struct{ *base }

func (w withFHR) Flush()                                     { w.flushes++ }
func (withFHR) Hijack() (net.Conn, *bufio.ReadWriter, error) { return nil, nil, errNoConn }
func (w withFHR) ReadFrom(r io.Reader) (int64, error)        { return io.Copy(&w.body, r) }

func TestWrapKeepsExactlyTheOptionalInterfaces(t *testing.T) {
	tests := []struct {
		name    string
		give    func(*base) http.ResponseWriter
		f, h, r bool
	}{
		{"none", func(b *base) http.ResponseWriter { return b }, false, false, false},
		{"flusher", func(b *base) http.ResponseWriter { return withFlush{b} }, true, false, false},
		{"hijacker", func(b *base) http.ResponseWriter { return withHijack{b} }, false, true, false},
		{"readerfrom", func(b *base) http.ResponseWriter { return withReadFrom{b} }, false, false, true},
		{"flusher+hijacker", func(b *base) http.ResponseWriter { return withFH{b} }, true, true, false},
		{"flusher+readerfrom", func(b *base) http.ResponseWriter { return withFR{b} }, true, false, true},
		{"hijacker+readerfrom", func(b *base) http.ResponseWriter { return withHR{b} }, false, true, true},
		{"all", func(b *base) http.ResponseWriter { return withFHR{b} }, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &base{}
			orig := tt.give(b)
			obs, w := Wrap(orig)
			_, f := w.(http.Flusher)
			_, h := w.(http.Hijacker)
			_, r := w.(io.ReaderFrom)
			if f != tt.f || h != tt.h || r != tt.r {
				t.Fatalf("flusher/hijacker/readerfrom = %v/%v/%v, want %v/%v/%v", f, h, r, tt.f, tt.h, tt.r)
			}
			if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); !ok || u.Unwrap() != orig || obs.Unwrap() != orig {
				t.Fatal("Unwrap does not return the original writer")
			}
			if f {
				w.(http.Flusher).Flush()
				if b.flushes != 1 {
					t.Fatalf("flushes = %d, want 1", b.flushes)
				}
				if obs.Status() != http.StatusOK {
					t.Fatalf("status after Flush = %d, want 200", obs.Status())
				}
			}
			if r {
				n, err := w.(io.ReaderFrom).ReadFrom(strings.NewReader("abcdef"))
				if err != nil || n != 6 || obs.BytesWritten() != 6 || b.body.String() != "abcdef" {
					t.Fatalf("ReadFrom = %d, %v; bytes %d body %q", n, err, obs.BytesWritten(), b.body.String())
				}
				if obs.Status() != http.StatusOK {
					t.Fatalf("status after ReadFrom = %d, want 200", obs.Status())
				}
			}
			if h {
				if _, _, err := w.(http.Hijacker).Hijack(); !errors.Is(err, errNoConn) {
					t.Fatalf("Hijack err = %v, want the original's", err)
				}
				if obs.Hijacked() {
					t.Fatal("a failed hijack is recorded as hijacked")
				}
			}
		})
	}
}

func TestWriterRecordsFirstFinalStatusAndBytes(t *testing.T) {
	tests := []struct {
		name       string
		do         func(w http.ResponseWriter)
		wantStatus int
		wantBytes  int64
		wantCodes  []int
	}{
		{"nothing", func(http.ResponseWriter) {}, 0, 0, nil},
		{"write only", func(w http.ResponseWriter) { w.Write([]byte("hello")) }, 200, 5, nil},
		{"write string", func(w http.ResponseWriter) { io.WriteString(w, "hey") }, 200, 3, nil},
		{"explicit 404", func(w http.ResponseWriter) { w.WriteHeader(404); w.Write([]byte("no")) }, 404, 2, []int{404}},
		{"second status ignored", func(w http.ResponseWriter) { w.WriteHeader(201); w.WriteHeader(500) }, 201, 0, []int{201, 500}},
		{"100 and 103 pass through", func(w http.ResponseWriter) { w.WriteHeader(100); w.WriteHeader(103); w.WriteHeader(204) }, 204, 0, []int{100, 103, 204}},
		{"101 is final", func(w http.ResponseWriter) { w.WriteHeader(101) }, 101, 0, []int{101}},
		{"103 then body", func(w http.ResponseWriter) { w.WriteHeader(103); w.Write([]byte("x")) }, 200, 1, []int{103}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &base{}
			obs, w := Wrap(b)
			tt.do(w)
			if obs.Status() != tt.wantStatus || obs.BytesWritten() != tt.wantBytes {
				t.Fatalf("status %d bytes %d, want %d %d", obs.Status(), obs.BytesWritten(), tt.wantStatus, tt.wantBytes)
			}
			if len(b.codes) != len(tt.wantCodes) {
				t.Fatalf("codes passed on %v, want %v", b.codes, tt.wantCodes)
			}
			for i := range b.codes {
				if b.codes[i] != tt.wantCodes[i] {
					t.Fatalf("codes passed on %v, want %v", b.codes, tt.wantCodes)
				}
			}
		})
	}
}

// TestWriterOverRealServer checks the behaviours handlers rely on against a
// real net/http server: streaming flushes, ResponseController deadlines and
// flushes through Unwrap/FlushError, ReadFrom, and a hijack.
func TestWriterOverRealServer(t *testing.T) {
	type seen struct {
		status   int
		bytes    int64
		hijacked bool
	}
	results := make(chan seen, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: 1\n\n")
		w.(http.Flusher).Flush()
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Errorf("SetWriteDeadline through wrapper: %v", err)
		}
		io.WriteString(w, "data: 2\n\n")
		if err := rc.Flush(); err != nil {
			t.Errorf("ResponseController.Flush through wrapper: %v", err)
		}
	})
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
		w.(io.ReaderFrom).ReadFrom(strings.NewReader(strings.Repeat("z", 1000)))
	})
	mux.HandleFunc("/hijack", func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack through wrapper: %v", err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\nhi")
		brw.Flush()
	})
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		obs, w := Wrap(rw)
		mux.ServeHTTP(w, r)
		results <- seen{obs.Status(), obs.BytesWritten(), obs.Hijacked()}
	}))
	defer srv.Close()

	t.Run("sse", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/sse")
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		line, err := br.ReadString('\n')
		if err != nil || line != "data: 1\n" {
			t.Fatalf("first event %q, %v", line, err)
		}
		rest, _ := io.ReadAll(br)
		resp.Body.Close()
		if string(rest) != "\ndata: 2\n\n" {
			t.Fatalf("rest %q", rest)
		}
		got := <-results
		if got.status != 200 || got.bytes != 18 || got.hijacked {
			t.Fatalf("seen %+v", got)
		}
	})
	t.Run("readfrom", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/file")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got := <-results
		if len(b) != 1000 || got.status != 200 || got.bytes != 1000 {
			t.Fatalf("body %d, seen %+v", len(b), got)
		}
	})
	t.Run("hijack", func(t *testing.T) {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, "GET /hijack HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 101 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		got := <-results
		if !got.hijacked || got.status != 0 {
			t.Fatalf("seen %+v, want hijacked with no status", got)
		}
	})
}

func TestWrapAllocatesOnce(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts differ under -race")
	}
	rw := withFHR{&base{}}
	allocs := testing.AllocsPerRun(100, func() {
		obs, w := Wrap(rw)
		w.WriteHeader(200)
		_ = obs.Status()
	})
	if allocs > 1 {
		t.Fatalf("Wrap allocates %v times, want 1", allocs)
	}
	var obs Writer
	allocs = testing.AllocsPerRun(100, func() {
		w := obs.Reset(rw)
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
	})
	if allocs != 0 || obs.Status() != 200 {
		t.Fatalf("Reset allocates %v times (status %d), want 0", allocs, obs.Status())
	}
}
