package testsupport

import (
	"context"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
)

func TestCapture(t *testing.T) {
	ctx := context.Background()
	c := &Capture{}
	if !c.Enabled(ctx, sdklog.EnabledParameters{}) {
		t.Fatal("a zero Capture is not enabled")
	}
	c.SetEnabled(false)
	if c.Enabled(ctx, sdklog.EnabledParameters{}) {
		t.Fatal("enabled after SetEnabled(false)")
	}
	c.SetEnabled(true)

	lp := NewProvider(c)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			var r log.Record
			r.SetEventName("e")
			r.AddAttributes(attribute.Int("i", i))
			lp.Logger("test").Emit(ctx, r)
		})
	}
	wg.Wait()
	if err := lp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := lp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 8 || len(c.Records()) != 8 || c.Flushes() != 1 || c.Shutdowns() != 1 {
		t.Fatalf("Len %d, Records %d, Flushes %d, Shutdowns %d; want 8, 8, 1, 1",
			c.Len(), len(c.Records()), c.Flushes(), c.Shutdowns())
	}
	if last := c.Last(t); last.EventName() != "e" {
		t.Errorf("Last event name %q", last.EventName())
	}
	c.Reset()
	if c.Len() != 0 {
		t.Errorf("Len %d after Reset", c.Len())
	}
}

func TestSDKRecordAndAttrMap(t *testing.T) {
	var r log.Record
	r.SetEventName("e")
	r.AddAttributes(attribute.String("k", "first"), attribute.String("k", "last"), attribute.Int("n", 1))
	rec := SDKRecord(t, r)
	if rec.AttributesLen() != 3 {
		t.Errorf("%d attributes, want 3 (duplicate keys kept, as setup keeps them)", rec.AttributesLen())
	}
	m := AttrMap(&rec)
	if len(m) != 2 || m["k"].AsString() != "last" || m["n"].AsInt64() != 1 {
		t.Errorf("AttrMap = %v, want k=last (the last duplicate) and n=1", m)
	}
}
