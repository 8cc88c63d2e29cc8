package jsonenc

import "go.opentelemetry.io/otel/attribute"

// Mode says how [Size] counts strings.
type Mode uint8

const (
	// Exact counts every string and map key as [StringSize] (as written)
	// and a byte slice as [BytesSize]; the result bounds the written size.
	Exact Mode = iota
	// Raw counts a string, key or byte slice by its bytes plus two quotes,
	// without decoding it. Escaping multiplies a string by at most 6 (a
	// control byte becomes \u00XX) and base64 by 4/3, and Raw counts
	// scalars, brackets and commas as Exact does, so 6 × Raw bounds the
	// written size.
	Raw
)

// Size bounds the JSON text the exporter writes for v: a scalar (bool,
// int, float, null) counts [MaxScalarSize], a slice or map its brackets,
// and each element or member one comma, written or not; strings count as
// m says. It is exact for a string in Exact mode.
//
// Size stops walking once the count passes limit: the result is then some
// number above limit, found without walking the rest of v (in Exact mode,
// a string longer than limit counts its raw size). A limit of math.MaxInt
// walks all of v.
func Size(v attribute.Value, limit int, m Mode) int {
	switch v.Type() {
	case attribute.STRING:
		return stringSize(v.AsString(), limit, m)
	case attribute.BYTESLICE:
		if m == Raw {
			return len(v.AsString()) + 2
		}
		return BytesSize(len(v.AsString()))
	case attribute.INT64SLICE:
		return scalarsSize(len(v.AsInt64Slice()))
	case attribute.FLOAT64SLICE:
		return scalarsSize(len(v.AsFloat64Slice()))
	case attribute.BOOLSLICE:
		return scalarsSize(len(v.AsBoolSlice()))
	case attribute.STRINGSLICE:
		n := 2
		for _, s := range v.AsStringSlice() {
			if n += stringSize(s, limit-n, m) + 1; n > limit {
				break
			}
		}
		return n
	case attribute.SLICE:
		n := 2
		for _, e := range v.AsSlice() {
			if n += Size(e, limit-n, m) + 1; n > limit {
				break
			}
		}
		return n
	case attribute.MAP:
		n := 2
		for _, kv := range v.AsMap() {
			key := len(kv.Key) + 2
			if m == Exact {
				key = StringSize(string(kv.Key))
			}
			if n += key + 1 + Size(kv.Value, limit-n, m) + 1; n > limit {
				break
			}
		}
		return n
	}
	return MaxScalarSize // BOOL, INT64, FLOAT64, EMPTY (null)
}

// stringSize is a string's count in mode m, up to limit.
func stringSize(s string, limit int, m Mode) int {
	if n := len(s) + 2; m == Raw || n > limit { // escaping never shrinks
		return n
	}
	return StringSize(s)
}

// scalarsSize is the count of a slice of n scalars: brackets, and each
// element at most MaxScalarSize bytes and a comma.
func scalarsSize(n int) int { return 2 + (MaxScalarSize+1)*n }
