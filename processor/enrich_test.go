package processor

import (
	"context"
	"math"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

func TestEnricher(t *testing.T) {
	e, err := NewEnricher(
		WithEnrichFunc(func(ctx context.Context, r *sdklog.Record) []attribute.KeyValue {
			return []attribute.KeyValue{attribute.String("tenant.id", "acme"), attribute.String("region", "eu")}
		}),
		WithEnrichFunc(func(context.Context, *sdklog.Record) []attribute.KeyValue { panic("boom") }),
		WithEnrichFunc(func(context.Context, *sdklog.Record) []attribute.KeyValue {
			return []attribute.KeyValue{attribute.String("skipped", "x"), {Key: "", Value: attribute.StringValue("bad")}}
		}),
		WithEnrichFunc(func(context.Context, *sdklog.Record) []attribute.KeyValue {
			return []attribute.KeyValue{attribute.String("skipped2", "x"), attribute.Float64("ratio", math.NaN())}
		}),
		WithEnrichFunc(func(context.Context, *sdklog.Record) []attribute.KeyValue {
			return []attribute.KeyValue{
				attribute.String("region", "us"),                    // later wins
				attribute.String("app.version", "2"),                // replaces the record's own
				semconv.ClientAddressKey.String("198.51.100.9"),     // protected
				semconv.SessionIDKey.String("forged"),               // protected
				attribute.String(semconv.EnvelopeEventTypeKey, "x"), // protected
			}
		}),
		WithEnrichFunc(nil), // ignored
	)
	if err != nil {
		t.Fatal(err)
	}
	got := capture(t, apiRecord(semconv.EventLoginSuccess, attribute.Value{},
		semconv.ClientAddressKey.String("203.0.113.7"),
		attribute.String("app.version", "1"),
	), e)
	m := testsupport.AttrMap(&got)
	want := map[string]string{"client.address": "203.0.113.7", "app.version": "2", "tenant.id": "acme", "region": "us"}
	if len(m) != len(want) {
		t.Fatalf("attributes = %v", attrsOf(&got))
	}
	for k, v := range want {
		if m[k].AsString() != v {
			t.Errorf("%s = %q, want %q", k, m[k].AsString(), v)
		}
	}
	if n := len(attrsOf(&got)); n != 4 {
		t.Fatalf("%d attributes (duplicates?): %v", n, attrsOf(&got))
	}
	st := e.Stats()
	if st.EnricherPanics != 1 || st.EnricherInvalid != 2 || st.EnricherProtected != 3 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestEnricherAppendsWithoutOverlap(t *testing.T) {
	e, err := NewEnricher(WithEnrichFunc(func(context.Context, *sdklog.Record) []attribute.KeyValue {
		return []attribute.KeyValue{attribute.String("tenant.id", "acme")}
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := capture(t, apiRecord("", attribute.Value{}, attribute.Int("a", 1)), e)
	if kvs := attrsOf(&got); len(kvs) != 2 || kvs[1].Key != "tenant.id" {
		t.Fatalf("attributes = %v", kvs)
	}
}
