package delivery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/semconv"
)

// otlpEndpoint is a minimal OTLP/HTTP logs receiver that counts the log
// records it decodes. It can be stopped and started again on the same
// port, like a Collector being restarted.
type otlpEndpoint struct {
	t    *testing.T
	addr string
	srv  *httptest.Server

	mu       sync.Mutex
	received int
	byName   map[string]int
}

func newOTLPEndpoint(t *testing.T) *otlpEndpoint {
	e := &otlpEndpoint{t: t, byName: map[string]int{}}
	e.start("127.0.0.1:0")
	e.addr = e.srv.Listener.Addr().String()
	t.Cleanup(e.stop)
	return e
}

func (e *otlpEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req collogspb.ExportLogsServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	e.mu.Lock()
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			for _, lr := range sl.GetLogRecords() {
				e.received++
				e.byName[lr.GetEventName()]++
			}
		}
	}
	e.mu.Unlock()
	out, _ := proto.Marshal(&collogspb.ExportLogsServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (e *otlpEndpoint) start(addr string) {
	var l net.Listener
	var err error
	for range 50 { // the port may linger for a moment after Close
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		e.t.Fatalf("listening on %s again: %v", addr, err)
	}
	e.srv = httptest.NewUnstartedServer(e)
	e.srv.Listener = l
	e.srv.Start()
}

func (e *otlpEndpoint) stop() {
	if e.srv != nil {
		e.srv.Close()
		e.srv = nil
	}
}

// count returns the records received, summaries excepted.
func (e *otlpEndpoint) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.received - e.byName[delivery.EventPipelineDropped]
}

// TestOTLPOutage: an otlploghttp exporter behind the processor, an OTLP
// endpoint that goes away and comes back on the same port. Records wait in
// the bounded queue during the outage and are delivered when it ends;
// beyond the bound, losses are counted: delivered + dropped = emitted.
func TestOTLPOutage(t *testing.T) {
	tests := []struct {
		name     string
		queue    int
		spill    bool // to a JSONL file
		wantLoss bool
	}{
		{name: "within the bound", queue: 1000},
		{name: "beyond the bound", queue: 40, wantLoss: true},
		{name: "beyond the bound, spilled", queue: 40, spill: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			endpoint := newOTLPEndpoint(t)
			exp, err := otlploghttp.New(context.Background(),
				otlploghttp.WithEndpoint(endpoint.addr),
				otlploghttp.WithInsecure(),
				otlploghttp.WithTimeout(2*time.Second),
				// The processor retries; the exporter's own retry would
				// block the worker for up to a minute per batch.
				otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}),
			)
			if err != nil {
				t.Fatal(err)
			}
			opts := []delivery.Option{
				delivery.WithName("otlp"),
				delivery.WithQueueSize(tt.queue),
				delivery.WithBatchSize(20),
				delivery.WithRetry(10*time.Millisecond, 50*time.Millisecond, 0),
			}
			spillFile := filepath.Join(t.TempDir(), "otlp.spill.jsonl")
			if tt.spill {
				opts = append(opts, delivery.WithSpillDir(filepath.Dir(spillFile)))
			}
			p := newProcessor(t, exp, opts...)
			provider := newProvider(p)
			t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
			logger := provider.Logger("test")
			ctx := context.Background()
			emit := func(n int) {
				for i := range n {
					name := semconv.EventHTTPResponseSuccess
					if i%10 == 0 {
						name = semconv.EventLoginFailed
					}
					logger.Emit(ctx, event(name))
				}
			}

			emit(30) // fewer than the smaller queue holds
			// Wait for the exporter's side too: stopping the endpoint between
			// its receipt and the response would make that batch count as
			// failed although it arrived (delivery is at least once).
			waitFor(t, "delivery before the outage", func() bool { return endpoint.count() == 30 && p.Stats().Exported == 30 })

			endpoint.stop()
			for range 10 { // traffic goes on during the outage
				emit(20)
				time.Sleep(5 * time.Millisecond)
				if tt.spill {
					// The spill buffer is no larger than the queue (40): let
					// the file keep up, as it does with a queue of thousands.
					waitFor(t, "the spill file to keep up", func() bool { return p.Stats().SpillPending == 0 })
				}
			}
			waitFor(t, "failed exports to show", func() bool { return p.Stats().ExportErrors > 0 })
			h := p.Health()
			if h.Ready || h.LastError == "" {
				t.Errorf("health during the outage: %+v", h)
			}
			if got := endpoint.count(); got != 30 {
				t.Fatalf("%d records delivered during the outage", got)
			}

			endpoint.start(endpoint.addr)
			st := p.Stats()
			waitFor(t, "delivery after the outage", func() bool { return endpoint.count() == int(st.Emitted-st.Dropped-st.Spilled) })
			if err := provider.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}

			st = p.Stats()
			delivered := uint64(endpoint.count())
			spilled := uint64(countLines(t, spillFile))
			t.Logf("emitted %d, delivered %d, spilled %d, dropped %d (%v), export errors %d",
				st.Emitted, delivered, spilled, st.Dropped, st.Drops, st.ExportErrors)
			if st.Emitted != 230 || delivered+spilled+st.Dropped != st.Emitted || delivered != st.Exported || spilled != st.Spilled {
				t.Errorf("emitted %d, delivered %d, exported %d, spilled %d (file) %d (Stats), dropped %d: want delivered + spilled + dropped = emitted = 230",
					st.Emitted, delivered, st.Exported, spilled, st.Spilled, st.Dropped)
			}
			if tt.wantLoss != (st.Dropped > 0) {
				t.Errorf("dropped %d records; want loss: %v", st.Dropped, tt.wantLoss)
			}
			if tt.spill != (spilled > 0) {
				t.Errorf("spilled %d records; want spilling: %v", spilled, tt.spill)
			}
			endpoint.mu.Lock()
			failedLogins := endpoint.byName[semconv.EventLoginFailed]
			summaries := endpoint.byName[delivery.EventPipelineDropped]
			endpoint.mu.Unlock()
			if wantSummaries := min(1, int(st.Dropped)); summaries != wantSummaries {
				t.Errorf("%d audit.pipeline.dropped events delivered, want %d", summaries, wantSummaries)
			}
			if failedLogins != 23 {
				t.Errorf("%d failed logins delivered, want all 23 (security events outrank OK responses)", failedLogins)
			}
		})
	}
}

// countLines counts the lines of a file, each of which must be a JSON
// object; 0 when the file does not exist.
func countLines(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range bytes.Lines(data) {
		if !json.Valid(line) || line[len(line)-1] != '\n' {
			t.Fatalf("%s: line %d is not a whole JSON line: %q", path, n+1, line)
		}
		n++
	}
	return n
}
