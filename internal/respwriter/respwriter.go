package respwriter

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"reflect"
	"sync/atomic"
)

// Writer observes a handler's response. Its zero value is not usable; get
// one from [Wrap].
type Writer struct {
	rw       http.ResponseWriter
	bytes    int64
	status   int32 // a status code has three digits: 32 bytes in all
	hijacked bool
}

var (
	_ http.ResponseWriter = (*Writer)(nil)
	_ io.StringWriter     = (*Writer)(nil)
)

// Status returns the first final status the handler sent, or 0 when it sent
// none (net/http then sends 200 when the handler returns, unless the
// connection was hijacked).
func (w *Writer) Status() int { return int(w.status) }

// BytesWritten returns the number of body bytes the handler wrote.
func (w *Writer) BytesWritten() int64 { return w.bytes }

// Hijacked reports whether the handler took over the connection through
// http.Hijacker on the handed writer.
func (w *Writer) Hijacked() bool { return w.hijacked }

// Unwrap returns the original writer, for [http.ResponseController].
func (w *Writer) Unwrap() http.ResponseWriter { return w.rw }

// Header returns the original writer's header map.
func (w *Writer) Header() http.Header { return w.rw.Header() }

// WriteHeader records the first final status and passes code on.
func (w *Writer) WriteHeader(code int) {
	if w.status == 0 && !w.hijacked && (code < 100 || code > 199 || code == http.StatusSwitchingProtocols) {
		w.status = int32(max(min(code, 1<<31-1), -1<<31))
	}
	w.rw.WriteHeader(code)
}

// Write records an implicit 200 and counts the bytes written.
func (w *Writer) Write(p []byte) (int, error) {
	w.implicitOK()
	n, err := w.rw.Write(p)
	w.bytes += int64(n)
	return n, err
}

// WriteString writes s without a copy when the original writer supports it.
func (w *Writer) WriteString(s string) (int, error) {
	w.implicitOK()
	var n int
	var err error
	if sw, ok := w.rw.(io.StringWriter); ok {
		n, err = sw.WriteString(s)
	} else {
		n, err = w.rw.Write([]byte(s))
	}
	w.bytes += int64(n)
	return n, err
}

// FlushError flushes through the original writer's chain (see
// [http.ResponseController.Flush]); it records an implicit 200 first.
// [http.ResponseController] prefers this method to Flush.
func (w *Writer) FlushError() error {
	w.implicitOK()
	return http.NewResponseController(w.rw).Flush()
}

func (w *Writer) implicitOK() {
	if w.status == 0 && !w.hijacked {
		w.status = http.StatusOK
	}
}

func (w *Writer) flush() {
	w.implicitOK()
	w.rw.(http.Flusher).Flush()
}

func (w *Writer) hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := w.rw.(http.Hijacker).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, rw, err
}

func (w *Writer) readFrom(r io.Reader) (int64, error) {
	w.implicitOK()
	n, err := w.rw.(io.ReaderFrom).ReadFrom(r)
	w.bytes += n
	return n, err
}

// The handed writer is one of eight types, one per combination of the
// optional interfaces. Each is a struct holding only a *Writer, so it fits
// in an interface value without an allocation of its own.

type (
	plain struct{ *Writer }
	f     struct{ *Writer }
	h     struct{ *Writer }
	r     struct{ *Writer }
	fh    struct{ *Writer }
	fr    struct{ *Writer }
	hr    struct{ *Writer }
	fhr   struct{ *Writer }
)

func (w f) Flush()                                       { w.flush() }
func (w h) Hijack() (net.Conn, *bufio.ReadWriter, error) { return w.hijack() }
func (w r) ReadFrom(src io.Reader) (int64, error)        { return w.readFrom(src) }

func (w fh) Flush()                                       { w.flush() }
func (w fh) Hijack() (net.Conn, *bufio.ReadWriter, error) { return w.hijack() }

func (w fr) Flush()                                { w.flush() }
func (w fr) ReadFrom(src io.Reader) (int64, error) { return w.readFrom(src) }

func (w hr) Hijack() (net.Conn, *bufio.ReadWriter, error) { return w.hijack() }
func (w hr) ReadFrom(src io.Reader) (int64, error)        { return w.readFrom(src) }

func (w fhr) Flush()                                       { w.flush() }
func (w fhr) Hijack() (net.Conn, *bufio.ReadWriter, error) { return w.hijack() }
func (w fhr) ReadFrom(src io.Reader) (int64, error)        { return w.readFrom(src) }

var (
	_ http.ResponseWriter = plain{}
	_ http.Flusher        = f{}
	_ http.Hijacker       = h{}
	_ io.ReaderFrom       = r{}
	_ http.Flusher        = fhr{}
	_ http.Hijacker       = fhr{}
	_ io.ReaderFrom       = fhr{}
)

// Wrap returns a new observer of rw and the writer to hand to the handler
// in its place.
func Wrap(rw http.ResponseWriter) (*Writer, http.ResponseWriter) {
	w := new(Writer)
	return w, w.Reset(rw)
}

// Reset makes w observe rw from scratch (so a Writer can live inside a
// larger per-request struct) and returns the writer to hand to the handler
// in rw's place. The returned writer does not allocate.
func (w *Writer) Reset(rw http.ResponseWriter) http.ResponseWriter {
	// Field by field: the Writer usually lives in a larger heap object,
	// where a whole-struct assignment pays the GC's bulk write barrier.
	w.rw, w.bytes, w.status, w.hijacked = rw, 0, 0, false
	switch kindOf(rw) {
	case kindFHR:
		return fhr{w}
	case kindFH:
		return fh{w}
	case kindFR:
		return fr{w}
	case kindHR:
		return hr{w}
	case kindF:
		return f{w}
	case kindH:
		return h{w}
	case kindR:
		return r{w}
	}
	return plain{w}
}

// The combinations of the optional interfaces a writer has, as bits.
const (
	kindF = 1 << iota // http.Flusher
	kindH             // http.Hijacker
	kindR             // io.ReaderFrom

	kindFH  = kindF | kindH
	kindFR  = kindF | kindR
	kindHR  = kindH | kindR
	kindFHR = kindF | kindH | kindR
)

// kinds remembers the interfaces of the first writer types Reset sees: a
// server hands the same one or two types every time (HTTP/1 and HTTP/2),
// and finding a type here costs less than the three interface
// assertions. Entries are added, never replaced: at most len(kinds)
// allocations per process; a type beyond them is asserted every time.
var kinds [4]atomic.Pointer[typeKind]

type typeKind struct {
	t    reflect.Type
	kind uint8
}

// kindOf returns the optional interfaces rw has.
func kindOf(rw http.ResponseWriter) uint8 {
	t := reflect.TypeOf(rw)
	for i := range kinds {
		k := kinds[i].Load()
		if k == nil {
			break
		}
		if k.t == t {
			return k.kind
		}
	}
	var kind uint8
	if _, ok := rw.(http.Flusher); ok {
		kind |= kindF
	}
	if _, ok := rw.(http.Hijacker); ok {
		kind |= kindH
	}
	if _, ok := rw.(io.ReaderFrom); ok {
		kind |= kindR
	}
	var add *typeKind
	for i := range kinds {
		k := kinds[i].Load()
		if k != nil {
			if k.t == t {
				break // another goroutine added it
			}
			continue
		}
		if add == nil {
			add = &typeKind{t: t, kind: kind}
		}
		if kinds[i].CompareAndSwap(nil, add) {
			break
		}
	}
	return kind
}
