package processor

import (
	"context"
	"math"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// EnrichFunc returns attributes to add to a record, e.g. a tenant id from
// ctx. It must not modify r or keep it after returning, and must be safe
// for concurrent use. Returning nil adds nothing.
type EnrichFunc func(ctx context.Context, r *sdklog.Record) []attribute.KeyValue

// Enricher is an sdk/log processor that adds the attributes its functions
// return. Functions run in order; when two return the same key the later
// wins, and an added key replaces the record's own attribute of that key.
// Protected contract keys ([ProtectedKeys]: event type, schema version,
// request id, client and peer address, session id, user id, …) can never be
// set: such an attribute is dropped and counted. A function that panics, or
// returns an invalid attribute (empty key, unset value, or a NaN/Inf float),
// is skipped for that record alone and counted; the record always goes on.
//
// Register it before the [Scrubber] so additions are scrubbed and limited
// like everything else ([NewChain] does). It is safe for concurrent use. A
// nil or zero Enricher adds nothing.
type Enricher struct {
	funcs []EnrichFunc

	stats counters
}

var _ sdklog.Processor = (*Enricher)(nil)

// NewEnricher returns an Enricher running the functions given with
// WithEnrichFunc.
func NewEnricher(opts ...EnrichOption) (*Enricher, error) {
	return newEnricher(newConfig(opts)), nil
}

func newEnricher(c config) *Enricher { return &Enricher{funcs: c.enrich} }

// Enabled reports false: the Enricher only adds to records.
func (*Enricher) Enabled(context.Context, sdklog.EnabledParameters) bool { return false }

// OnEmit adds the enrichers' attributes to r. It never fails.
func (e *Enricher) OnEmit(ctx context.Context, r *sdklog.Record) error {
	if e == nil || len(e.funcs) == 0 || r == nil {
		return nil
	}
	var stack [16]attribute.KeyValue
	adds := stack[:0]
	for _, fn := range e.funcs {
		add, ok := e.call(ctx, fn, r)
		if !ok {
			continue
		}
		if !validAdditions(add) {
			e.stats.enricherInvalid.Add(1)
			continue
		}
		for _, kv := range add {
			if isProtectedKey(string(kv.Key)) {
				e.stats.enricherProtected.Add(1)
				continue
			}
			adds = setKV(adds, kv)
		}
	}
	if len(adds) == 0 {
		return nil
	}
	overlap := false
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		for _, a := range adds {
			if a.Key == kv.Key {
				overlap = true
				return false
			}
		}
		return true
	})
	if !overlap {
		r.AddAttributes(adds...)
		return nil
	}
	merged := make([]attribute.KeyValue, 0, r.AttributesLen()+len(adds))
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		for _, a := range adds {
			if a.Key == kv.Key {
				return true // replaced below
			}
		}
		merged = append(merged, kv)
		return true
	})
	r.SetAttributes(append(merged, adds...)...)
	return nil
}

// setKV sets kv in kvs, replacing an earlier value of the same key.
func setKV(kvs []attribute.KeyValue, kv attribute.KeyValue) []attribute.KeyValue {
	for i := range kvs {
		if kvs[i].Key == kv.Key {
			kvs[i] = kv
			return kvs
		}
	}
	return append(kvs, kv)
}

func validAdditions(kvs []attribute.KeyValue) bool {
	for _, kv := range kvs {
		if kv.Key == "" || kv.Value.Type() == attribute.EMPTY {
			return false
		}
		if kv.Value.Type() == attribute.FLOAT64 {
			if f := kv.Value.AsFloat64(); math.IsNaN(f) || math.IsInf(f, 0) {
				return false
			}
		}
	}
	return true
}

// call runs fn; a panic skips it.
func (e *Enricher) call(ctx context.Context, fn EnrichFunc, r *sdklog.Record) (add []attribute.KeyValue, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			e.stats.enricherPanics.Add(1)
			add, ok = nil, false
		}
	}()
	return fn(ctx, r), true
}

// Shutdown does nothing.
func (*Enricher) Shutdown(context.Context) error { return nil }

// ForceFlush does nothing.
func (*Enricher) ForceFlush(context.Context) error { return nil }

// Stats returns the Enricher's counters.
func (e *Enricher) Stats() Stats {
	if e == nil {
		return Stats{}
	}
	return e.stats.snapshot()
}
