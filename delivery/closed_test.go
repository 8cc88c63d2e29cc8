package delivery_test

import (
	"context"
	"testing"

	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/semconv"
)

// TestDropClosed: a record a shut-down provider never handed to the
// processor, reported through DropClosed, counts as emitted and as dropped
// (closed) under its event name, and the identity still holds; a nil
// processor ignores the call.
func TestDropClosed(t *testing.T) {
	checkGoroutines(t)
	ctx := context.Background()
	exp := &memExporter{}
	p := newProcessor(t, exp)
	lp := newProvider(p)
	lp.Logger("test").Emit(ctx, event(semconv.EventLoginSuccess))
	if err := lp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// The SDK drops these without calling p: a wrapping provider reports
	// them.
	lp.Logger("test").Emit(ctx, event(semconv.EventAuthzDenied))
	p.DropClosed(semconv.EventAuthzDenied)
	p.DropClosed(semconv.EventLoginFailed)
	p.DropClosed("")

	st := p.Stats()
	checkIdentity(t, st, exp)
	if st.Emitted != 4 || st.Exported != 1 || st.DroppedFor(delivery.ReasonClosed) != 3 {
		t.Errorf("Stats = %+v, want 4 emitted, 1 exported, 3 dropped (closed)", st)
	}
	want := map[string]uint64{semconv.EventAuthzDenied: 1, semconv.EventLoginFailed: 1, delivery.UnnamedEvents: 1}
	for _, d := range st.Drops {
		if d.Reason != delivery.ReasonClosed || want[d.EventName] != d.Count {
			t.Errorf("drop %+v not expected", d)
		}
		delete(want, d.EventName)
	}
	if len(want) != 0 {
		t.Errorf("drops missing for %v", want)
	}

	var nilP *delivery.Processor
	nilP.DropClosed(semconv.EventLoginFailed) // no panic
}
