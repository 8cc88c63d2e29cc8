package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// benchEvents is the size of the viewer's benchmark file.
const benchEvents = 1_000_000

// benchFile writes (once, cached in the temporary directory) a JSONL file
// of benchEvents demo-like events: 5 000 addresses, 500 users, the demo's
// mix of logins, responses, model events, alerts and blocks, each line
// the size of a real one (about 600 bytes).
func benchFile(b *testing.B) string {
	b.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("secaudit-view-bench-%d.jsonl", benchEvents))
	if info, err := os.Stat(path); err == nil && info.Size() > benchEvents*300 {
		return path
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	kinds := []struct {
		name, sev, outcome, route string
		sevN, status              int
		weight                    int
	}{
		{"http.response.client_error", "WARNING", "failure", "/api/accounts/{id}", 13, 404, 25},
		{"auth.login.success", "INFO", "success", "/login", 9, 0, 12},
		{"auth.login.failed", "WARNING", "failure", "/login", 13, 0, 11},
		{"auth.logout.success", "INFO", "success", "/logout", 9, 0, 12},
		{"model.access", "INFO", "success", "/api/accounts/{id}", 9, 0, 9},
		{"model.update", "INFO", "success", "/api/accounts/{id}", 9, 0, 9},
		{"model.create", "INFO", "success", "/api/transfers", 9, 0, 9},
		{"authz.denied", "WARNING", "failure", "/api/accounts/{id}", 13, 0, 5},
		{"security.suspicious_request", "WARNING", "failure", "/etc/passwd", 13, 0, 4},
		{"http.response.server_error", "ERROR", "failure", "/panic", 17, 500, 2},
		{"security.alert", "WARNING", "failure", "/login", 13, 0, 1},
		{"security.block.applied", "WARNING", "success", "", 13, 0, 1},
	}
	var pick []int
	for i, k := range kinds {
		for range k.weight {
			pick = append(pick, i)
		}
	}
	start := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC).UnixNano()
	for i := range benchEvents {
		k := kinds[pick[r.IntN(len(pick))]]
		ts := start + int64(i)*86_400_000_000 // one event every 86.4 ms: a day
		addr := fmt.Sprintf("10.%d.%d.%d", r.IntN(20), r.IntN(250), r.IntN(10)+1)
		user := ""
		if r.IntN(3) > 0 {
			user = fmt.Sprintf(`"user.id":"%d",`, r.IntN(500)+1)
		}
		status := ""
		if k.status != 0 {
			status = fmt.Sprintf(`"http.response.status_code":%d,"url.full":"http://shop.example/api/accounts/%d","audit.duration_ns":%d,"user_agent.original":"Mozilla/5.0 (X11; Linux x86_64)",`, k.status, r.IntN(1000), r.IntN(1e6))
		}
		fmt.Fprintf(w, `{"timestamp":%d,"observed_timestamp":%d,"severity_text":"%s","severity_number":%d,"body":"%s","resource":{"service.name":"shop","service.version":"1.4.2"},"instrumentation_scope":{"name":"github.com/secaudit/secaudit","version":"0.1.0"},"attributes":{"event_type":"%s","schema_version":"1.0","audit.schema_version":"1.0","audit.action":"x","audit.outcome":"%s","audit.request_id":"%016x%016x",%s%s"client.address":"%s","network.peer.address":"%s","http.request.method":"GET","url.path":"%s","http.route":"%s"},"event_name":"%s","trace_id":"%016x%016x","span_id":"%016x","trace_flags":1}`+"\n",
			ts, ts, k.sev, k.sevN, k.name, k.name, k.outcome, r.Uint64(), r.Uint64(), user, status, addr, addr, k.route, k.route, k.name, r.Uint64(), r.Uint64(), r.Uint64())
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	return path
}

var errFirstPass = errors.New("first pass done")

// indexOnce indexes path once, as view does, without following.
func indexOnce(b *testing.B, path string) *index {
	ix := newIndex()
	err := ix.follow(context.Background(), []string{path}, func(context.Context) error { return errFirstPass }, time.Second, make(chan error))
	if !errors.Is(err, errFirstPass) {
		b.Fatal(err)
	}
	return ix
}

// indexBytes is the memory the index holds: its entries and its interned
// strings (map entries estimated at 2× the key).
func (ix *index) indexBytes() int {
	n := cap(ix.entries) * int(unsafe.Sizeof(entry{}))
	for _, u := range ix.users {
		n += 2 * (len(u.id) + len(u.name) + 32)
	}
	for _, in := range []*interner{ix.userIDs, ix.addrs, ix.events, ix.classes} {
		for _, s := range in.vals {
			n += 2 * (len(s) + 16)
		}
	}
	return n
}

// BenchmarkViewIndex1M indexes a file of 1 000 000 events, as secaudit
// view does at start. Metrics: ns/op (the whole file), B/op (allocated
// while indexing), index-B/event (what the index keeps: entries and
// interned strings) and heap-B/event (live heap after indexing, GC'd).
func BenchmarkViewIndex1M(b *testing.B) {
	path := benchFile(b)
	b.ReportAllocs()
	var ix *index
	cpu0 := cpuTime()
	for b.Loop() {
		if ix != nil {
			ix.close()
		}
		ix = indexOnce(b, path)
	}
	b.StopTimer()
	// CPU time is steadier than wall time on a shared machine.
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
	if len(ix.entries) != benchEvents {
		b.Fatalf("%d events indexed, want %d", len(ix.entries), benchEvents)
	}
	b.ReportMetric(float64(ix.indexBytes())/benchEvents, "index-B/event")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchEvents, "ns/event")
	ix.close()
	// The live heap the index holds once built (after a GC).
	var base, built runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)
	ix = indexOnce(b, path)
	runtime.GC()
	runtime.ReadMemStats(&built)
	b.ReportMetric(float64(int64(built.HeapAlloc)-int64(base.HeapAlloc))/benchEvents, "heap-B/event")
	runtime.KeepAlive(ix)
	ix.close()
}

var bench1M struct {
	once sync.Once
	ix   *index
}

// BenchmarkViewQuery1M answers /api/query over the 1 000 000-event index
// (built once): the charts and a page of 50 rows for a filter, through
// the server's handler. took-ms is the server's own timing (took_ms).
func BenchmarkViewQuery1M(b *testing.B) {
	bench1M.once.Do(func() { bench1M.ix = indexOnce(b, benchFile(b)) })
	s := newViewServer(bench1M.ix, "tok", "http://grafana/explore?trace={trace_id}", time.Now)
	for _, q := range []struct{ name, query string }{
		{"all", ""},
		{"failed_logins_from_a_network", "event=auth.login.failed&addr=10.3.0.0/16"},
		{"one_user_security_events", "event=security.*&user=42"},
		{"one_request", "request=ffffffffffffffffffffffffffffffff"},
	} {
		b.Run(q.name, func(b *testing.B) {
			var took float64
			var matched int
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "/api/query?limit=50&"+q.query, nil)
				req.Host = "127.0.0.1:1"
				req.Header.Set("X-Secaudit-Token", "tok")
				w := httptest.NewRecorder()
				s.ServeHTTP(w, req)
				var a answer
				if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || w.Code != http.StatusOK {
					b.Fatalf("%d %v", w.Code, err)
				}
				took += a.TookMS
				matched = a.M
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
			b.ReportMetric(took/float64(b.N), "took-ms")
			b.ReportMetric(float64(matched), "matched")
		})
	}
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
