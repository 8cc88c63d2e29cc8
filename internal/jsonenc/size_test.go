package jsonenc_test

import (
	"encoding/binary"
	"math"
	"strconv"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/log/logtest"

	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/internal/jsonenc"
)

// written is the number of bytes the JSONL exporter writes for v as a
// record's body.
func written(t *testing.T, v attribute.Value) int {
	t.Helper()
	line := func(body attribute.Value) int {
		r := logtest.RecordFactory{EventName: "e", Body: body}.NewRecord()
		return len(exporter.AppendRecord(nil, &r, math.MaxInt32))
	}
	// An empty body is written as "".
	return line(v) - line(attribute.Value{}) + len(`""`)
}

// slack is how far Size(v, math.MaxInt, Exact) is above what is written,
// by its documented rules: each scalar counts MaxScalarSize, and each
// non-empty container one comma more than it has.
func slack(t *testing.T, v attribute.Value, top bool) int {
	scalar := func(s string) int {
		if len(s) > jsonenc.MaxScalarSize {
			t.Fatalf("scalar %s is longer than MaxScalarSize", s)
		}
		return jsonenc.MaxScalarSize - len(s)
	}
	comma := func(n int) int { return min(n, 1) }
	n := 0
	switch v.Type() {
	case attribute.EMPTY:
		if top {
			return scalar(`""`)
		}
		return scalar("null")
	case attribute.BOOL:
		return scalar(strconv.FormatBool(v.AsBool()))
	case attribute.INT64:
		return scalar(strconv.FormatInt(v.AsInt64(), 10))
	case attribute.FLOAT64:
		return scalar(string(jsonenc.AppendFloat(nil, v.AsFloat64())))
	case attribute.BOOLSLICE:
		for _, b := range v.AsBoolSlice() {
			n += scalar(strconv.FormatBool(b))
		}
		return n + comma(len(v.AsBoolSlice()))
	case attribute.INT64SLICE:
		for _, i := range v.AsInt64Slice() {
			n += scalar(strconv.FormatInt(i, 10))
		}
		return n + comma(len(v.AsInt64Slice()))
	case attribute.FLOAT64SLICE:
		for _, f := range v.AsFloat64Slice() {
			n += scalar(string(jsonenc.AppendFloat(nil, f)))
		}
		return n + comma(len(v.AsFloat64Slice()))
	case attribute.STRINGSLICE:
		return comma(len(v.AsStringSlice()))
	case attribute.SLICE:
		for _, e := range v.AsSlice() {
			n += slack(t, e, false)
		}
		return n + comma(len(v.AsSlice()))
	case attribute.MAP:
		for _, kv := range v.AsMap() {
			n += slack(t, kv.Value, false)
		}
		return n + comma(len(v.AsMap()))
	}
	return 0 // STRING, BYTESLICE: exact
}

// gen builds an attribute value from fuzz bytes.
type gen struct{ data []byte }

func (g *gen) byte() byte {
	if len(g.data) == 0 {
		return 0
	}
	b := g.data[0]
	g.data = g.data[1:]
	return b
}

func (g *gen) bits() uint64 {
	var w [8]byte
	n := copy(w[:], g.data)
	g.data = g.data[n:]
	return binary.LittleEndian.Uint64(w[:])
}

func (g *gen) str() string {
	n := min(int(g.byte()%24), len(g.data))
	s := string(g.data[:n])
	g.data = g.data[n:]
	return s
}

func (g *gen) float() float64 {
	f := math.Float64frombits(g.bits())
	if math.IsNaN(f) || math.IsInf(f, 0) { // JSON cannot hold them; the limiter rewrites them
		return -1.2345678901234567e-6
	}
	return f
}

func (g *gen) value(depth int) attribute.Value {
	n := int(g.byte() % 5)
	switch k := g.byte() % 12; {
	case k == 0:
		return attribute.Value{}
	case k == 1:
		return attribute.BoolValue(g.byte()&1 == 0)
	case k == 2:
		return attribute.Int64Value(int64(g.bits()))
	case k == 3:
		return attribute.Float64Value(g.float())
	case k == 4:
		return attribute.ByteSliceValue([]byte(g.str()))
	case k == 5:
		bs := make([]bool, n)
		for i := range bs {
			bs[i] = g.byte()&1 == 0
		}
		return attribute.BoolSliceValue(bs)
	case k == 6:
		ns := make([]int64, n)
		for i := range ns {
			ns[i] = int64(g.bits())
		}
		return attribute.Int64SliceValue(ns)
	case k == 7:
		fs := make([]float64, n)
		for i := range fs {
			fs[i] = g.float()
		}
		return attribute.Float64SliceValue(fs)
	case k == 8:
		ss := make([]string, n)
		for i := range ss {
			ss[i] = g.str()
		}
		return attribute.StringSliceValue(ss)
	case k == 9 && depth < 4:
		vs := make([]attribute.Value, n)
		for i := range vs {
			vs[i] = g.value(depth + 1)
		}
		return attribute.SliceValue(vs...)
	case k == 10 && depth < 4:
		// Keys unique as written (the exporter keeps the last of equal
		// keys): whatever the text, the suffix after the last '#' differs.
		kvs := make([]attribute.KeyValue, n)
		for i := range kvs {
			kvs[i] = attribute.KeyValue{Key: attribute.Key(g.str() + "#" + strconv.Itoa(i)), Value: g.value(depth + 1)}
		}
		return attribute.MapValue(kvs...)
	}
	return attribute.StringValue(g.str())
}

// FuzzSize checks the size model against the JSONL exporter's output for
// any value: in Exact mode, Size is exactly the bytes written plus the
// documented slack (MaxScalarSize per scalar, one comma per non-empty
// container), so exact for strings and an upper bound for all; 6 × the
// Raw size is an upper bound too; and with a limit, Size is the full size
// when that is within the limit, else a number above the limit.
func FuzzSize(f *testing.F) {
	f.Add([]byte("\x00\x04\x05hello"), 100)
	f.Add([]byte("\x03\x0a\x01\x05\xff\"\x85\n\x00\x03\x01\x02\x03\x04\x05\x06\x07\x08"), 10)
	f.Add([]byte("\x04\x09\x02\x07\x01\x02\x03\x04\x05\x06\x07\x08\x02\x0b\x03\xe2\x80\xa8"), 30)
	f.Add([]byte("\x02\x08\x03\x06\\\\\\\\\\\\\x01\x7f\x00"), 5)
	f.Fuzz(func(t *testing.T, data []byte, limit int) {
		v := (&gen{data: data}).value(0)
		w := written(t, v)
		full := jsonenc.Size(v, math.MaxInt, jsonenc.Exact)
		if want := w + slack(t, v, true); full != want {
			t.Fatalf("Size(%s) = %d; the exporter writes %d bytes, slack %d", v.String(), full, w, want-w)
		}
		raw := jsonenc.Size(v, math.MaxInt, jsonenc.Raw)
		if 6*raw < w {
			t.Fatalf("Raw Size(%s) = %d; 6 × it is below the %d bytes written", v.String(), raw, w)
		}
		limit %= 4 * (full + 1)
		for _, m := range []struct {
			mode jsonenc.Mode
			full int
		}{{jsonenc.Exact, full}, {jsonenc.Raw, raw}} {
			got := jsonenc.Size(v, limit, m.mode)
			if (m.full <= limit && got != m.full) || (m.full > limit && got <= limit) {
				t.Fatalf("mode %d: Size(%s, %d) = %d, full size %d", m.mode, v.String(), limit, got, m.full)
			}
		}
	})
}
