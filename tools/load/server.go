package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync/atomic"
	"syscall"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// serverReport is what a server prints when it stops.
type serverReport struct {
	Served   uint64 `json:"served"`
	Emitted  uint64 `json:"emitted"`
	Exported uint64 `json:"exported"`
	Dropped  uint64 `json:"dropped"`
	Lines    uint64 `json:"lines"`
	// Refused: requests the guard answered 429 (secaudit-block and
	// secaudit-ratelimit), Quiet of them with no event of their own
	// (counted into a security.rate_limited summary).
	Refused uint64 `json:"refused,omitempty"`
	Quiet   uint64 `json:"quiet,omitempty"`
	// Instructions: set by the driver for a run under cachegrind.
	Instructions uint64 `json:"-"`
}

var body = []byte(`{"id":42,"name":"widget","price_cents":1999,"in_stock":true}`)

const (
	itemPath    = "/api/v1/items/42"
	missingPath = "/api/v1/items/404"
)

var missingBody = []byte(`{"error":"not found"}`)

func bare(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path != itemPath {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write(missingBody)
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func runServer(mode, dir, profile string) error {
	handler, stop, err := buildMode(mode, dir)
	if err != nil {
		return err
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	var served atomic.Uint64
	counting := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		handler.ServeHTTP(w, r)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: counting, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	// The driver signals this process by its id (perf stat may be its
	// parent).
	fmt.Printf("listening http://%s %d\n", l.Addr(), os.Getpid())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	rep := serverReport{Served: served.Load()}
	if stop != nil {
		if err := stop(ctx, &rep); err != nil {
			return err
		}
	}
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// statusWriter records the status, like any logging middleware must.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += n
	return n, err
}

type noopSpanExporter struct{}

func (noopSpanExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (noopSpanExporter) Shutdown(context.Context) error                             { return nil }
