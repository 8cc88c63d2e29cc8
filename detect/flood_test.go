package detect_test

import (
	"context"
	"runtime"
	"strconv"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/detect"
	"github.com/secaudit/secaudit/internal/claim"
	"github.com/secaudit/secaudit/semconv"
)

// failedLogin returns a failed login record from addr.
func failedLogin(t testing.TB, addr string) *sdklog.Record {
	return sdkRecord(t, semconv.EventLoginFailed,
		semconv.ClientAddressKey.String(addr), semconv.AuditOutcomeKey.String(semconv.OutcomeFailure))
}

// sdkRecord returns an sdk record, cloned from one a provider built (its
// attribute limits set), to give straight to the processor.
func sdkRecord(t testing.TB, event string, kvs ...attribute.KeyValue) *sdklog.Record {
	t.Helper()
	got := &alerts{}
	provider := sdklog.NewLoggerProvider(sdklog.WithProcessor(keepAll{got}))
	defer func() { _ = provider.Shutdown(context.Background()) }()
	var rec log.Record
	rec.SetEventName(event)
	rec.AddAttributes(kvs...)
	provider.Logger("test").Emit(context.Background(), rec)
	r := got.last.Clone()
	return &r
}

// keepAll keeps the last record.
type keepAll struct{ a *alerts }

func (k keepAll) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (k keepAll) Shutdown(context.Context) error                         { return nil }
func (k keepAll) ForceFlush(context.Context) error                       { return nil }
func (k keepAll) OnEmit(_ context.Context, r *sdklog.Record) error {
	k.a.last = r.Clone()
	return nil
}

// TestFlood: 1 000 000 failed logins, each from a new address for a new
// user name (3 000 000 keys: brute_force, password_spray and
// distributed_brute_force each count one), go through the memory store at
// its default cap; the store stays within the cap, by its own accounting
// and by the heap, and a pair that fails 10 times among them (every 20 000
// records) is alerted.
func TestFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("1 000 000 records")
	}
	const n = 1_000_000
	const maxBytes = detect.DefaultStateMaxBytes
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	r := newRig(t, detect.WithStateMaxBytes(maxBytes))
	hitter := claim.WithUser(context.Background(), "victim")
	ctx := context.Background()
	rec := failedLogin(t, "")
	victim := failedLogin(t, "192.0.2.66")
	kvs := []attribute.KeyValue{{}, semconv.AuditOutcomeKey.String(semconv.OutcomeFailure)}
	buf := make([]byte, 0, 32)
	for i := range n {
		if i >= n/2 && i < n/2+10*20_000 && i%20_000 == 0 {
			if err := r.det.OnEmit(hitter, victim); err != nil {
				t.Fatal(err)
			}
		}
		buf = strconv.AppendInt(buf[:0], int64(i), 10)
		kvs[0] = semconv.ClientAddressKey.String("a" + string(buf))
		rec.SetAttributes(kvs...)
		if err := r.det.OnEmit(claim.WithUser(ctx, "u"+string(buf)), rec); err != nil {
			t.Fatal(err)
		}
	}

	st := r.det.Stats()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("state: %d keys, %d bytes accounted of %d, %d evictions; heap grew %d bytes (%.1f MiB)",
		st.State.Keys, st.State.Bytes, st.State.MaxBytes, st.State.Evictions, grew, float64(grew)/(1<<20))
	if st.State.Bytes > maxBytes {
		t.Errorf("accounted %d bytes > cap %d", st.State.Bytes, maxBytes)
	}
	if grew > maxBytes {
		t.Errorf("heap grew %d bytes > cap %d", grew, maxBytes)
	}
	if st.State.Evictions == 0 {
		t.Error("no eviction: the flood did not fill the store")
	}
	got := r.got.of(detect.RuleBruteForce)
	if len(got) != 1 {
		t.Fatalf("%d brute_force alerts, want 1 (the pair that failed 10 times)", len(got))
	}
	if a := attrs(got[0])[string(semconv.ClientAddressKey)]; a.AsString() != "192.0.2.66" {
		t.Errorf("alert for %v", a.String())
	}
	runtime.KeepAlive(r)
}
