package setup_test

import (
	"context"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/secaudit/secaudit/detect/guard"
	"github.com/secaudit/secaudit/setup"
)

// TestGuardMetrics: setup.WithMeterProvider reaches the pipeline's guard,
// whose counters are the secaudit.guard.* metrics (a block applied from
// Go and two refusals of its address, by quiet).
func TestGuardMetrics(t *testing.T) {
	clearEnv(t)
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(ctx) }()
	var out syncBuffer
	p, err := setup.New(ctx, setup.WithJSONLWriter(&out), setup.WithMeterProvider(mp),
		setup.WithGuardOptions(guard.WithEnabled(true)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(ctx)
	const addr = "203.0.113.7"
	if err := p.Guard().Block(ctx, guard.ScopeAddress, guard.Subject{Address: addr}, time.Hour, "test"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if refused, _, _, _, _ := p.Guard().RefuseAddressQuiet(addr); !refused {
			t.Fatal("the blocked address is not refused")
		}
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	if got := sumOf(rm, "secaudit.guard.blocks.applied"); got != 1 {
		t.Errorf("secaudit.guard.blocks.applied = %d, want 1", got)
	}
	if got := sumOf(rm, "secaudit.guard.refused"); got != 2 {
		t.Errorf("secaudit.guard.refused = %d, want 2 (one loud, one quiet)", got)
	}
}
