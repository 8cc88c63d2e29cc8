package sampling

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func TestKeepBounds(t *testing.T) {
	var id trace.TraceID
	id[0] = 1
	tests := []struct {
		name string
		rate float64
		low  uint64
		want bool
	}{
		{"rate 1 keeps", 1, ^uint64(0), true},
		{"rate above 1 keeps", 2, ^uint64(0), true},
		{"rate 0 drops", 0, 0, false},
		{"negative rate drops", -1, 0, false},
		{"half keeps low", 0.5, 0, true},
		{"half drops high", 0.5, ^uint64(0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			binary.BigEndian.PutUint64(id[8:], tt.low)
			if got := Keep(id, tt.rate, 0); got != tt.want {
				t.Fatalf("Keep(rate %v, low %x) = %v, want %v", tt.rate, tt.low, got, tt.want)
			}
		})
	}
}

func TestKeepRateAndDeterminism(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 20000
	kept := 0
	for range n {
		var id trace.TraceID
		binary.BigEndian.PutUint64(id[:8], r.Uint64())
		binary.BigEndian.PutUint64(id[8:], r.Uint64())
		k := Keep(id, 0.25, 0)
		if k != Keep(id, 0.25, r.Uint64()) {
			t.Fatal("decision for a valid trace id depends on the fallback")
		}
		if k {
			kept++
		}
	}
	if frac := float64(kept) / n; frac < 0.23 || frac > 0.27 {
		t.Fatalf("kept %.3f of records at rate 0.25", frac)
	}
}

func TestKeepInvalidTraceUsesFallback(t *testing.T) {
	if !Keep(trace.TraceID{}, 0.5, 0) || Keep(trace.TraceID{}, 0.5, ^uint64(0)) {
		t.Fatal("zero trace id must be decided by the fallback")
	}
}

// TestDraw: one request id always draws the same number, so two samplers
// agree on it; across ids the draws keep about the share the rate asks for.
func TestDraw(t *testing.T) {
	const id = "8f14e45fceea167a5a36dedd4bea2543"
	first := Draw(id)
	for range 3 {
		if Draw(id) != first {
			t.Fatal("Draw is not deterministic")
		}
	}
	const n, rate = 10000, 0.3
	kept := 0
	for i := range n {
		if Keep(trace.TraceID{}, rate, Draw(fmt.Sprintf("%032x", i))) {
			kept++
		}
	}
	// Binomial(10000, 0.3): 3000 ± 46.
	if kept < 2800 || kept > 3200 {
		t.Fatalf("kept %d of %d at rate %v", kept, n, rate)
	}
}
