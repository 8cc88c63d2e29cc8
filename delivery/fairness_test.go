package delivery_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// actorRecord builds an SDK record for name from the client at addr,
// authenticated as user when user is not empty, tagged with tag as its
// request id.
func actorRecord(t testing.TB, name, addr, user, tag string) sdklog.Record {
	t.Helper()
	rec := sdkRecord(t, name)
	attrs := []attribute.KeyValue{
		semconv.AuditSchemaVersionKey.String(semconv.SchemaVersion),
		semconv.AuditRequestIDKey.String(tag),
	}
	if addr != "" {
		attrs = append(attrs, semconv.ClientAddressKey.String(addr))
	}
	if user != "" {
		attrs = append(attrs, semconv.UserIDKey.String(user))
	}
	rec.SetAttributes(attrs...)
	return rec
}

// TestFairEviction: with the exporter down and a small queue, anonymous
// noise does not evict the audit trail, and one address's flood evicts
// its own records before anyone else's. Each step emits n records of one
// event for one client address (and user, when set), tagged; want is the
// number of records of each tag exported once the exporter is back.
func TestFairEviction(t *testing.T) {
	type step struct {
		event, addr, user, tag string
		n                      int
	}
	const (
		clientError = semconv.EventHTTPResponseClientError
		success     = semconv.EventHTTPResponseSuccess
	)
	tests := []struct {
		name  string
		queue int
		steps []step
		want  map[string]int
	}{{
		// The reproduction: 200 unauthenticated 404s, then an
		// authenticated DELETE (its model.delete, then its response),
		// and a login.
		name:  "anonymous 404s then an authenticated delete",
		queue: 64,
		steps: []step{
			{clientError, "198.51.100.23", "", "noise", 200},
			{semconv.EventModelDelete, "203.0.113.7", "1", "delete", 1},
			{success, "203.0.113.7", "1", "delete-response", 1},
			{semconv.EventLoginSuccess, "203.0.113.8", "2", "login", 1},
		},
		want: map[string]int{"noise": 62, "delete": 1, "delete-response": 0, "login": 1},
	}, {
		name:  "one address floods among others' client errors",
		queue: 16,
		steps: []step{
			{clientError, "192.0.2.1", "", "b", 2},
			{clientError, "192.0.2.2", "", "c", 2},
			{clientError, "192.0.2.3", "", "d", 2},
			{clientError, "198.51.100.66", "", "flood", 30},
			{clientError, "192.0.2.1", "", "b", 2},
			{clientError, "192.0.2.2", "", "c", 2},
			{clientError, "192.0.2.3", "", "d", 2},
		},
		want: map[string]int{"b": 4, "c": 4, "d": 4, "flood": 4},
	}, {
		name:  "a flood of authenticated errors evicts its own",
		queue: 8,
		steps: []step{
			{clientError, "192.0.2.1", "7", "u7", 2},
			{clientError, "192.0.2.9", "8", "u8", 20},
			{clientError, "192.0.2.1", "7", "u7", 2},
		},
		want: map[string]int{"u7": 4, "u8": 4},
	}, {
		name:  "a more valuable record evicts from the flooder, not the newest",
		queue: 8,
		steps: []step{
			{success, "198.51.100.66", "", "flood", 6},
			{success, "192.0.2.1", "", "b", 2},
			{semconv.EventModelUpdate, "192.0.2.2", "3", "update", 2},
		},
		want: map[string]int{"flood": 4, "b": 2, "update": 2},
	}, {
		// The other half: one address floods failed logins (a
		// security event, no user.id) while three users log in and change
		// models. The flood evicts its own records, never theirs.
		name:  "a flood of failed logins after the users' audit trail",
		queue: 64,
		steps: []step{
			{semconv.EventLoginSuccess, "192.0.2.1", "1", "u1", 1},
			{semconv.EventModelUpdate, "192.0.2.1", "1", "u1", 2},
			{semconv.EventLoginSuccess, "192.0.2.2", "2", "u2", 1},
			{semconv.EventModelCreate, "192.0.2.2", "2", "u2", 2},
			{semconv.EventLoginSuccess, "192.0.2.3", "3", "u3", 1},
			{semconv.EventModelDelete, "192.0.2.3", "3", "u3", 2},
			{semconv.EventLoginFailed, "198.51.100.66", "", "flood", 500},
		},
		want: map[string]int{"u1": 3, "u2": 3, "u3": 3, "flood": 55},
	}, {
		name:  "a flood of failed logins before the users' audit trail",
		queue: 64,
		steps: []step{
			{semconv.EventLoginFailed, "198.51.100.66", "", "flood", 500},
			{semconv.EventLoginSuccess, "192.0.2.1", "1", "u1", 1},
			{semconv.EventModelUpdate, "192.0.2.1", "1", "u1", 2},
			{semconv.EventLoginSuccess, "192.0.2.2", "2", "u2", 1},
			{semconv.EventModelCreate, "192.0.2.2", "2", "u2", 2},
			{semconv.EventLoginSuccess, "192.0.2.3", "3", "u3", 1},
			{semconv.EventModelDelete, "192.0.2.3", "3", "u3", 2},
			{semconv.EventLoginFailed, "198.51.100.66", "", "flood", 100},
		},
		want: map[string]int{"u1": 3, "u2": 3, "u3": 3, "flood": 55},
	}, {
		// A user provoking server errors (security) is a flood like any
		// other: its own records go, not the others' logins.
		name:  "a user's flood of server errors",
		queue: 16,
		steps: []step{
			{semconv.EventLoginSuccess, "192.0.2.1", "1", "u1", 2},
			{semconv.EventHTTPResponseServerError, "192.0.2.9", "9", "u9", 40},
			{semconv.EventModelUpdate, "192.0.2.2", "2", "u2", 2},
		},
		want: map[string]int{"u1": 2, "u2": 2, "u9": 12},
	}, {
		// Two floods of about the same size do not make room in a lighter
		// actor's records.
		name:  "two floods leave a lighter actor's record",
		queue: 12,
		steps: []step{
			{semconv.EventModelUpdate, "192.0.2.1", "1", "u1", 1},
			{semconv.EventLoginFailed, "198.51.100.66", "", "c", 6},
			{semconv.EventLoginFailed, "198.51.100.67", "", "a", 8},
		},
		want: map[string]int{"u1": 1, "c": 6, "a": 5},
	}, {
		// Between actors holding about as many, priority still decides:
		// a security event displaces the audit trail of the heaviest.
		name:  "priority between equal shares",
		queue: 4,
		steps: []step{
			{semconv.EventModelUpdate, "192.0.2.1", "1", "u1", 2},
			{semconv.EventModelUpdate, "192.0.2.2", "2", "u2", 2},
			{semconv.EventLoginFailed, "198.51.100.66", "", "f", 1},
			{semconv.EventLoginFailed, "198.51.100.66", "", "f", 1},
		},
		want: map[string]int{"u1": 1, "u2": 1, "f": 2},
	}, {
		// A flooder's own, less valuable records make room for its
		// security events before anyone else's do.
		name:  "a flood evicts its own audit records first",
		queue: 8,
		steps: []step{
			{semconv.EventModelUpdate, "192.0.2.1", "1", "u1", 2},
			{semconv.EventModelUpdate, "192.0.2.9", "9", "u9", 6},
			{semconv.EventHTTPResponseServerError, "192.0.2.9", "9", "u9-5xx", 4},
		},
		want: map[string]int{"u1": 2, "u9": 2, "u9-5xx": 4},
	}, {
		name:  "equal shares do not churn",
		queue: 4,
		steps: []step{
			{clientError, "192.0.2.1", "", "a", 2},
			{clientError, "192.0.2.2", "", "b", 2},
			{clientError, "192.0.2.1", "", "a", 1},
			{clientError, "192.0.2.2", "", "b", 1},
		},
		want: map[string]int{"a": 2, "b": 2},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			exp := &memExporter{keep: true}
			p := newProcessor(t, exp, delivery.WithQueueSize(tt.queue), delivery.WithBatchSize(1))
			exp.setStall(true) // the Collector is down: nothing leaves the queue
			ctx := context.Background()
			first := actorRecord(t, semconv.EventHTTPResponseSuccess, "192.0.2.200", "", "in-flight")
			if err := p.OnEmit(ctx, &first); err != nil {
				t.Fatal(err)
			}
			<-exp.entered // the exporter holds it; the queue is empty
			var emitted int
			for _, s := range tt.steps {
				rec := actorRecord(t, s.event, s.addr, s.user, s.tag)
				for range s.n {
					if err := p.OnEmit(ctx, &rec); err != nil {
						t.Fatal(err)
					}
					emitted++
				}
			}
			exp.setStall(false)
			if err := p.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for i := range exp.records {
				if v, ok := testsupport.AttrMap(&exp.records[i])[string(semconv.AuditRequestIDKey)]; ok {
					got[v.AsString()]++
				}
			}
			for tag, n := range tt.want {
				if got[tag] != n {
					t.Errorf("exported %d records tagged %q, want %d (all: %v)", got[tag], tag, n, got)
				}
			}
			st := p.Stats()
			checkIdentity(t, st, exp)
			if st.Exported != uint64(1+min(emitted, tt.queue)) {
				t.Errorf("exported %d, want the record in flight and a full queue (%d)", st.Exported, tt.queue)
			}
		})
	}
}

// BenchmarkOnEmit: the cost of OnEmit itself. flowing: records from 256
// client addresses to an exporter that takes everything. enqueue: the
// same into a queue that nothing leaves (no worker in the way). full: a
// stalled exporter and a full queue of one address's client errors; every
// other record comes from that address (refused), the rest from 256
// others (each evicts one of the flood's). full-trail: the same with
// failed logins (security) from the address and logins (audit) of 256
// users.
func BenchmarkOnEmit(b *testing.B) {
	const addrs = 256
	recs := make([]sdklog.Record, addrs)
	for i := range recs {
		recs[i] = actorRecord(b, semconv.EventHTTPResponseClientError, fmt.Sprintf("198.51.100.%d", i), "", "r")
	}
	flood := actorRecord(b, semconv.EventHTTPResponseClientError, "203.0.113.66", "", "f")
	logins := make([]sdklog.Record, addrs)
	for i := range logins {
		logins[i] = actorRecord(b, semconv.EventLoginSuccess, fmt.Sprintf("198.51.100.%d", i), fmt.Sprint(i), "l")
	}
	failed := actorRecord(b, semconv.EventLoginFailed, "203.0.113.66", "", "f")
	ctx := context.Background()

	b.Run("flowing", func(b *testing.B) {
		p := newProcessor(b, discardExporter{})
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_ = p.OnEmit(ctx, &recs[i%addrs])
			i++
		}
		b.StopTimer()
		_ = p.Shutdown(ctx)
	})
	b.Run("enqueue", func(b *testing.B) {
		exp := &memExporter{}
		p := newProcessor(b, exp, delivery.WithQueueSize(b.N+1), delivery.WithBatchSize(1))
		exp.setStall(true)
		_ = p.OnEmit(ctx, &flood)
		<-exp.entered
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N { // b.N sized the queue: not b.Loop
			_ = p.OnEmit(ctx, &recs[i%addrs])
		}
		b.StopTimer()
		if st := p.Stats(); st.Dropped != 0 {
			b.Fatalf("%d records dropped", st.Dropped)
		}
		exp.setStall(false)
		_ = p.Shutdown(ctx)
	})
	full := func(b *testing.B, flood *sdklog.Record, recs []sdklog.Record) {
		exp := &memExporter{}
		p := newProcessor(b, exp, delivery.WithQueueSize(1024), delivery.WithBatchSize(1))
		exp.setStall(true)
		_ = p.OnEmit(ctx, flood)
		<-exp.entered
		for range 1024 {
			_ = p.OnEmit(ctx, flood)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i%2 == 0 {
				_ = p.OnEmit(ctx, flood)
			} else {
				_ = p.OnEmit(ctx, &recs[(i/2)%addrs])
			}
			i++
		}
		b.StopTimer()
		exp.setStall(false)
		_ = p.Shutdown(ctx)
	}
	b.Run("full", func(b *testing.B) { full(b, &flood, recs) })
	b.Run("full-trail", func(b *testing.B) { full(b, &failed, logins) })
}

// TestFairEvictionAfterFailedExport: a batch whose export failed goes back
// to the front of the queue, and the records it then displaces are chosen
// as a new record's would be: the flood's, not the users' audit trail.
func TestFairEvictionAfterFailedExport(t *testing.T) {
	checkGoroutines(t)
	exp := &memExporter{keep: true, fail: func(n int) error {
		if n == 1 {
			return errUnavailable
		}
		return nil
	}}
	p := newProcessor(t, exp, delivery.WithQueueSize(16), delivery.WithBatchSize(1),
		delivery.WithRetry(time.Millisecond, time.Millisecond, 0))
	exp.setStall(true)
	ctx := context.Background()
	emit := func(event, addr, user, tag string, n int) {
		t.Helper()
		rec := actorRecord(t, event, addr, user, tag)
		for range n {
			if err := p.OnEmit(ctx, &rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	emit(semconv.EventLoginFailed, "198.51.100.66", "", "flood", 1)
	<-exp.entered // the exporter holds the flood's first record
	emit(semconv.EventLoginSuccess, "192.0.2.1", "1", "u1", 1)
	emit(semconv.EventModelUpdate, "192.0.2.1", "1", "u1", 1)
	emit(semconv.EventLoginSuccess, "192.0.2.2", "2", "u2", 1)
	emit(semconv.EventModelDelete, "192.0.2.2", "2", "u2", 1)
	emit(semconv.EventLoginFailed, "198.51.100.66", "", "flood", 40)
	exp.setStall(false) // the export fails; its record goes back, one too many
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for i := range exp.records {
		if v, ok := testsupport.AttrMap(&exp.records[i])[string(semconv.AuditRequestIDKey)]; ok {
			got[v.AsString()]++
		}
	}
	if want := map[string]int{"u1": 2, "u2": 2, "flood": 12}; !maps.Equal(got, want) {
		t.Errorf("exported %v, want %v", got, want)
	}
	checkIdentity(t, p.Stats(), exp)
}
