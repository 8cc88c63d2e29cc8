package instrumentation

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/processor"
)

// ownBytes is the size of the string values a record holds: what it may
// legitimately retain.
func ownBytes(r *sdklog.Record) int {
	n := len(r.Body().AsString())
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		n += len(kv.Key)
		if kv.Value.Type() == attribute.STRING {
			n += len(kv.Value.AsString())
		}
		return true
	})
	return n
}

// readRequest parses raw as net/http's server does, so Method, Path and
// the query are substrings of one request line, as in production.
func readRequest(t *testing.T, raw []byte) *http.Request {
	t.Helper()
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	req.RemoteAddr = "203.0.113.9:52100"
	return req
}

// TestQueuedRecordRetainsOnlyItsOwnValues: records held in a stalled queue
// behind the default processor chain (limits included) must not keep their
// requests alive. Each request carries 900 KB of path, query and/or user
// agent; the heap retained per queued record, beyond the record's own
// limited values, must stay within 8 KB (it was the whole request line and
// the per-request state: about 0.9 MB per 900 KB of request).
func TestQueuedRecordRetainsOnlyItsOwnValues(t *testing.T) {
	clearEnv(t)
	const n = 60
	const budget = 8 << 10
	big := strings.Repeat("a", 900<<10)
	tests := []struct {
		name          string
		path, query   string
		ua            string
		absoluteLimit bool // retained itself ≤ budget: nothing long is logged
	}{
		{"900 KB query, never logged", "/items/42", big, "curl/8.0", true},
		{"900 KB path, query and user agent", "/" + big, big, big, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// keep is a stalled queue: it keeps a clone of every record, as
			// the delivery queue does while its exporter is down.
			keep := &testsupport.Capture{}
			chain, err := processor.NewChain(keep, processor.WithoutEnv())
			if err != nil {
				t.Fatal(err)
			}
			lp := sdklog.NewLoggerProvider(sdklog.WithAllowKeyDuplication(), sdklog.WithProcessor(chain))
			defer lp.Shutdown(context.Background())
			a, err := secaudit.New(secaudit.WithLoggerProvider(lp), secaudit.WithUsernames(false))
			if err != nil {
				t.Fatal(err)
			}
			m, err := New(WithAuditor(a))
			if err != nil {
				t.Fatal(err)
			}
			h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				secaudit.SetUser(r.Context(), secaudit.User{ID: "1"})
				http.NotFound(w, r)
			}))
			serve := func() {
				raw := []byte("GET " + tt.path + "?q=" + tt.query + " HTTP/1.1\r\nHost: example.com\r\nUser-Agent: " +
					tt.ua + "\r\n\r\n")
				h.ServeHTTP(&discardWriter{h: http.Header{}}, readRequest(t, raw))
			}
			serve() // warm up pools and lazily built state
			keep.Reset()

			var before, after runtime.MemStats
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&before)
			for range n {
				serve()
			}
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&after)

			recs := keep.Records()
			if len(recs) != n {
				t.Fatalf("%d records queued, want %d", len(recs), n)
			}
			own := 0
			for i := range recs {
				own += ownBytes(&recs[i])
			}
			retained := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			perRecord := retained / n
			overhead := (retained - int64(own)) / n
			t.Logf("retained %d B per queued record (%d B of them its own values, %d B beyond)", perRecord, own/n, overhead)
			if overhead > budget {
				t.Errorf("each queued record retains %d B beyond its own values (%d B), want ≤ %d", overhead, own/n, budget)
			}
			if tt.absoluteLimit && perRecord > budget {
				t.Errorf("each queued record retains %d B, want ≤ %d", perRecord, budget)
			}
			runtime.KeepAlive(recs)
		})
	}
}
