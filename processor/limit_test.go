package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/log/logtest"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

func TestLimitValidation(t *testing.T) {
	// PRJ-17's Go translation: a limit that is not a positive int is
	// rejected at construction, naming the field.
	tests := []struct {
		opt  LimitOption
		want string
	}{
		{WithMaxDepth(0), "secaudit: WithMaxDepth(0): want max_depth >= 1"},
		{WithMaxMapEntries(-1), "secaudit: WithMaxMapEntries(-1): want max_mapping_entries >= 1"},
		{WithMaxSliceLength(0), "secaudit: WithMaxSliceLength(0): want max_sequence_length >= 1"},
		{WithMaxStringLength(0), "secaudit: WithMaxStringLength(0): want max_string_length >= 1"},
		{WithMaxAttributes(0), "secaudit: WithMaxAttributes(0): want max_attributes >= 1"},
		{WithMaxRecordBytes(1023), "secaudit: WithMaxRecordBytes(1023): want max_record_bytes >= 1024"},
		{WithLimits(Limits{MaxDepth: -2}), "secaudit: WithLimits(Limits{MaxDepth: -2}): want MaxDepth >= 1"},
	}
	for _, tt := range tests {
		_, err := NewLimiter(tt.opt)
		if err == nil || err.Error() != tt.want {
			t.Errorf("error = %v, want %q", err, tt.want)
		}
	}
	l := mustLimiter(t, WithLimits(Limits{MaxDepth: 3, MaxRecordBytes: 2048}))
	want := DefaultLimits()
	want.MaxDepth, want.MaxRecordBytes = 3, 2048
	if l.Limits() != want {
		t.Fatalf("limits = %+v", l.Limits())
	}
}

func TestLimiter(t *testing.T) {
	long := strings.Repeat("é", 10)
	tests := []struct {
		name        string
		opts        []LimitOption
		give        []attribute.KeyValue
		want        map[string]string
		wantMissing []string
		truncated   uint64
		dropped     uint64
	}{
		{
			name: "strings count runes",
			opts: []LimitOption{WithMaxStringLength(4)},
			give: []attribute.KeyValue{attribute.String("s", long), attribute.String("ok", "abcd"), attribute.StringSlice("l", []string{"abcde", "x"})},
			want: map[string]string{"s": "éééé[TRUNCATED]", "ok": "abcd", "l": `["abcd[TRUNCATED]","x"]`},
			// 2 strings
			truncated: 2,
		},
		{
			name:        "an over-long key drops its attribute, never renamed",
			opts:        []LimitOption{WithMaxStringLength(5)},
			give:        []attribute.KeyValue{attribute.String("toolong", "v"), attribute.String("short", "v"), {Key: "m", Value: attribute.MapValue(attribute.String("nested_long", "v"), attribute.String("k", "v"))}},
			want:        map[string]string{"short": "v", "m": `{"k":"v"}`},
			wantMissing: []string{"toolong", "toolo", "toolo[TRUNCATED]"},
			dropped:     2,
		},
		{
			name: "typed slices and maps",
			opts: []LimitOption{WithMaxSliceLength(2), WithMaxMapEntries(2)},
			give: []attribute.KeyValue{attribute.Int64Slice("ints", []int64{1, 2, 3}), attribute.StringSlice("strs", []string{"a", "b", "c"}), {Key: "m", Value: attribute.MapValue(attribute.Int("a", 1), attribute.Int("b", 2), attribute.Int("c", 3))},
				attribute.BoolSlice("bools", []bool{true, false, true}), attribute.Float64Slice("floats", []float64{1.5, 2, 3}), attribute.BoolSlice("short", []bool{true, false}),
				{Key: "values", Value: attribute.SliceValue(attribute.Int64Value(1), attribute.StringValue("x"), attribute.BoolValue(true))}},
			want: map[string]string{"ints": `[1,2,"[TRUNCATED]"]`, "strs": `["a","b","[TRUNCATED]"]`, "m": `{"_truncated":"[TRUNCATED]","a":1,"b":2}`,
				"bools": `[true,false,"[TRUNCATED]"]`, "floats": `[1.5,2,"[TRUNCATED]"]`, "short": `[true,false]`, "values": `[1,"x","[TRUNCATED]"]`},
			truncated: 5,
			dropped:   1,
		},
		{
			name:      "non-finite floats",
			give:      []attribute.KeyValue{attribute.Float64("nan", math.NaN()), attribute.Float64Slice("fs", []float64{1, math.Inf(-1)}), attribute.Float64("ok", 1.5)},
			want:      map[string]string{"nan": "nan", "fs": `[1,"-inf"]`, "ok": "1.5"},
			truncated: 2,
		},
		{
			name:        "attribute count keeps protected keys",
			opts:        []LimitOption{WithMaxAttributes(2)},
			give:        []attribute.KeyValue{attribute.Int("a", 1), attribute.Int("b", 2), attribute.Int("c", 3), semconv.AuditRequestIDKey.String("r"), semconv.AuditRedactedCountKey.Int(1)},
			want:        map[string]string{"a": "1", "b": "2", "audit.request_id": "r", "audit.redacted_count": "1", "_truncated": "[TRUNCATED]"},
			wantMissing: []string{"c"},
			dropped:     1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := mustLimiter(t, tt.opts...)
			got := capture(t, apiRecord("", attribute.Value{}, tt.give...), l)
			m := testsupport.AttrMap(&got)
			for k, want := range tt.want {
				if v, ok := m[k]; !ok || v.String() != want {
					t.Errorf("%s = %s, want %s", k, v.String(), want)
				}
			}
			for _, k := range tt.wantMissing {
				if _, ok := m[k]; ok {
					t.Errorf("%s present", k)
				}
			}
			if len(m) != len(tt.want) {
				t.Errorf("attributes = %v", m)
			}
			st := l.Stats()
			if st.LimitTruncated != tt.truncated || st.LimitDropped != tt.dropped {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

func TestLimiterBody(t *testing.T) {
	l := mustLimiter(t, WithMaxStringLength(3))
	got := capture(t, apiRecord("", attribute.StringValue("abcdef")), l)
	if got.Body().AsString() != "abc[TRUNCATED]" {
		t.Fatalf("body = %q", got.Body().AsString())
	}
}

func TestLimiterRecordBytes(t *testing.T) {
	l := mustLimiter(t, WithMaxRecordBytes(4096))
	big := strings.Repeat("x", 3000)
	got := capture(t, apiRecord(semconv.EventLoginFailed, attribute.StringValue("auth.login.failed"),
		semconv.AuditRequestIDKey.String("4bf92f3577b34da6a3ce929d0e0e4736"),
		attribute.String("a", big),
		attribute.String("b", big[:2000]),
		attribute.String("c", "small"),
	), l)
	m := testsupport.AttrMap(&got)
	if m["a"].AsString() != semconv.Truncated || m["c"].AsString() != "small" ||
		m["audit.request_id"].AsString() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("attributes = %v", m)
	}
	size := l.envelopeSize(&got) + jsonSize(got.Body())
	for _, kv := range attrsOf(&got) {
		size += jsonStringSize(string(kv.Key)) + jsonSize(kv.Value) + 2
	}
	if size > 4096 {
		t.Fatalf("estimated size %d > 4096", size)
	}

	// Keys alone over the cap: unprotected attributes are dropped, last first.
	l = mustLimiter(t, WithMaxRecordBytes(1024), WithMaxStringLength(600))
	key := func(c string) string { return strings.Repeat(c, 500) }
	got = capture(t, apiRecord("", attribute.Value{},
		semconv.UserIDKey.String("42"),
		attribute.Int(key("a"), 1), attribute.Int(key("b"), 2), attribute.Int(key("c"), 3)), l)
	m = testsupport.AttrMap(&got)
	if _, ok := m["user.id"]; !ok || len(m) != 1 {
		t.Fatalf("kept %d attributes", len(m))
	}
	if l.Stats().LimitDropped != 3 {
		t.Fatalf("stats = %+v", l.Stats())
	}

	// The resource counts against the cap.
	res := resource.NewSchemaless(attribute.String("service.name", strings.Repeat("s", 900)))
	rec := logtest.RecordFactory{Resource: res, Attributes: []attribute.KeyValue{attribute.String("a", strings.Repeat("x", 400))}}.NewRecord()
	l = mustLimiter(t, WithMaxRecordBytes(1500))
	l.limitRecord(&rec)
	if v := testsupport.AttrMap(&rec)["a"].AsString(); v != semconv.Truncated {
		t.Fatalf("a = %d bytes", len(v))
	}
}

func TestJSONStringSize(t *testing.T) {
	tests := map[string]int{
		"": 2, "ab": 4, `"`: 4, "\n": 4, "\x01": 8, "\x7f": 8, "é": 4, "\xff": 5, "<>&": 5,
		"\u0085": 8, "\u009f": 8, "\u00a0": 4, "\u2028": 8, "\U0001F600": 6,
	}
	for give, want := range tests {
		if got := jsonStringSize(give); got != want {
			t.Errorf("jsonStringSize(%q) = %d, want %d", give, got, want)
		}
	}
}

// FuzzJSONStringSize: the limiter's estimate of a string is exactly what
// the JSONL exporter writes for it.
func FuzzJSONStringSize(f *testing.F) {
	for _, s := range []string{
		"", "ab", `"\`, "\n\r\t", "\x00\x01\x1f\x7f", "<>&", "é", "\u0080\u0085\u009f", "\u00a0",
		"\u2028\u2029", "\xff", "\xc2", "\xe2\x80", "日本", "\U0001F600", "\xed\xa0\x80",
	} {
		f.Add(s)
	}
	base := testsupport.SDKRecord(f, apiRecord("e", attribute.StringValue("")))
	lineLen := func(s string) int {
		r := base.Clone()
		r.SetBody(attribute.StringValue(s))
		return len(exporter.AppendRecord(nil, &r, math.MaxInt32))
	}
	empty := lineLen("")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := jsonStringSize(s), lineLen(s)-empty+2; got != want {
			t.Errorf("jsonStringSize(%q) = %d, the exporter writes %d", s, got, want)
		}
	})
}

// TestLimiterC1Controls: C1 controls are two bytes of UTF-8 but six
// written (\u0085). A record full of them must be cut down by the limiter,
// not pass it and then be replaced by the exporter's malformed-record line,
// which keeps none of its content: text a client sends (a User-Agent, a
// body) could otherwise erase its own request's audit record.
func TestLimiterC1Controls(t *testing.T) {
	const limit = 4096
	l := mustLimiter(t, WithMaxRecordBytes(limit))
	ua := strings.Repeat("\u0085", 1500) // 3000 bytes, 9000 written
	rec := capture(t, apiRecord(semconv.EventHTTPResponseClientError, attribute.StringValue(semconv.BodyHTTPResponse),
		semconv.ClientAddressKey.String("203.0.113.7"),
		semconv.UserAgentOriginalKey.String(ua),
	), l)
	line := exporter.AppendRecord(nil, &rec, limit)
	var got struct {
		EventName  string         `json:"event_name"`
		Attributes map[string]any `json:"attributes"`
	}
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	if got.EventName != semconv.EventHTTPResponseClientError || got.Attributes[string(semconv.ClientAddressKey)] != "203.0.113.7" {
		t.Errorf("the record did not survive: %.300s", line)
	}
	if got.Attributes[string(semconv.UserAgentOriginalKey)] != semconv.Truncated {
		t.Errorf("user agent not truncated: %.100q", got.Attributes[string(semconv.UserAgentOriginalKey)])
	}
}

// longFloat returns a float written in the most bytes a float takes: 25,
// -0.00000dddddddddddddddd with 17 significant digits.
func longFloat(rnd *rand.Rand) float64 {
	for {
		f := -1.2345678901234567e-6 * (1 + rnd.Float64()*7)
		if len(strconv.FormatFloat(f, 'f', -1, 64)) == maxScalarSize {
			return f
		}
	}
}

// FuzzLimiterFitsExporter: whatever a record holds, and whatever room its
// resource takes, once the limiter has cut it to MaxRecordBytes the JSONL
// exporter with the same limit writes it, not an
// audit.logging.malformed_record line in its place. (Resources are kept
// under half the limit: one that leaves no room for the record's protected
// attributes is out of the limiter's reach.)
func FuzzLimiterFitsExporter(f *testing.F) {
	f.Add(uint64(1), uint16(0), "\u0085")
	f.Add(uint64(2), uint16(3000), "<\"\\\x00é\u2028\xff😀")
	f.Add(uint64(3), uint16(8000), "")
	f.Add(uint64(4), uint16(2000), "")
	f.Add(uint64(6), uint16(12000), "x")
	f.Fuzz(func(t *testing.T, seed uint64, extra uint16, text string) {
		limit := MinRecordBytes + int(extra)%(16*1024)
		l := mustLimiter(t, WithMaxRecordBytes(limit))
		rnd := rand.New(rand.NewPCG(seed, uint64(extra)))
		palette := []string{"a", "é", "\u0085", "\u009f", "\u2028", "<", "\"", "\\", "\x01", "\x7f", "\xff", "😀", "日", text}
		str := func() string {
			var b strings.Builder
			for range rnd.IntN(400) {
				b.WriteString(palette[rnd.IntN(len(palette))])
			}
			return b.String()
		}
		// Floats of every magnitude, the longest written forms among them
		// (17 significant digits just above 1e-6), and non-finite ones.
		float := func() float64 {
			switch rnd.IntN(6) {
			case 0:
				return math.Float64frombits(rnd.Uint64()) // any exponent, NaN and ±Inf included
			case 1:
				return longFloat(rnd)
			case 2:
				return (rnd.Float64()*2 - 1) * math.Pow(10, float64(rnd.IntN(630)-323))
			case 3:
				return []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.SmallestNonzeroFloat64, -math.MaxFloat64}[rnd.IntN(6)]
			}
			return rnd.NormFloat64() * math.MaxFloat64 / 8
		}
		floats := func(n int) []float64 {
			fs := make([]float64, rnd.IntN(n))
			for i := range fs {
				fs[i] = float()
			}
			return fs
		}
		// Every third record holds only floats of the longest written form,
		// in small values that survive the limiter in numbers: scalars,
		// Float64Slices, and slices and maps of floats.
		floatsOnly := seed%3 == 0
		long := func() attribute.Value {
			switch rnd.IntN(4) {
			case 0:
				return attribute.Float64Value(longFloat(rnd))
			case 1:
				fs := make([]float64, rnd.IntN(16))
				for i := range fs {
					fs[i] = longFloat(rnd)
				}
				return attribute.Float64SliceValue(fs)
			case 2:
				vs := make([]attribute.Value, rnd.IntN(16))
				for i := range vs {
					vs[i] = attribute.Float64Value(longFloat(rnd))
				}
				return attribute.SliceValue(vs...)
			}
			kvs := make([]attribute.KeyValue, rnd.IntN(16))
			for i := range kvs {
				kvs[i] = attribute.Float64(strconv.Itoa(i), longFloat(rnd))
			}
			return attribute.MapValue(kvs...)
		}
		var value func(depth int) attribute.Value
		value = func(depth int) attribute.Value {
			if floatsOnly {
				return long()
			}
			switch k := rnd.IntN(10); {
			case k == 0:
				return attribute.Int64Value(rnd.Int64() - math.MaxInt64/2)
			case k == 1 || k == 8:
				return attribute.Float64Value(float())
			case k == 9:
				return attribute.Float64SliceValue(floats(120))
			case k == 2:
				return attribute.ByteSliceValue([]byte(str()))
			case k == 3 && depth < 3:
				kvs := make([]attribute.KeyValue, rnd.IntN(12))
				for i := range kvs {
					kvs[i] = attribute.KeyValue{Key: attribute.Key(str()), Value: value(depth + 1)}
				}
				return attribute.MapValue(kvs...)
			case k == 4 && depth < 3:
				vs := make([]attribute.Value, rnd.IntN(12))
				for i := range vs {
					vs[i] = value(depth + 1)
				}
				return attribute.SliceValue(vs...)
			case k == 5:
				return attribute.StringSliceValue([]string{str(), str()})
			}
			return attribute.StringValue(str())
		}
		attrs := make([]attribute.KeyValue, 1+rnd.IntN(60))
		if floatsOnly {
			attrs = make([]attribute.KeyValue, 1+rnd.IntN(120))
		}
		for i := range attrs {
			attrs[i] = attribute.KeyValue{Key: attribute.Key("k" + strconv.Itoa(i) + str()[:0]), Value: value(0)}
		}
		attrs = append(attrs, semconv.ClientAddressKey.String("203.0.113.7"))
		// A resource of its own size: it takes room in every line.
		resSize := rnd.IntN(limit / 2)
		if floatsOnly {
			resSize /= 8
		}
		rr := &testsupport.Capture{}
		lp := sdklog.NewLoggerProvider(
			sdklog.WithResource(resource.NewSchemaless(attribute.String("host.labels", strings.Repeat("r", resSize)))),
			sdklog.WithProcessor(l), sdklog.WithProcessor(rr), sdklog.WithAllowKeyDuplication(), sdklog.WithAttributeCountLimit(-1),
		)
		lp.Logger("fuzz").Emit(context.Background(), apiRecord(semconv.EventLoginFailed, value(1), attrs...))
		rec := rr.Last(t)
		if seed%2 == 0 {
			// Fill the limited record with a string right up to what the
			// limiter's estimate lets through, and limit it again: the
			// slack of the envelope reserve must not hide an estimate below
			// what the exporter writes.
			attrs := attrsOf(&rec)
			room := limit - l.envelopeSize(&rec) - jsonSize(rec.Body())
			for _, kv := range attrs {
				room -= jsonStringSize(string(kv.Key)) + 1 + jsonSize(kv.Value) + 1
			}
			if room >= 0 {
				for i := 0; len(attrs) < l.Limits().MaxAttributes; i++ {
					key := "pad" + strconv.Itoa(i)
					over := jsonStringSize(key) + 1 + 2 + 1
					if room < over {
						break
					}
					n := min(room-over, l.Limits().MaxStringLength)
					attrs = append(attrs, attribute.String(key, strings.Repeat("p", n)))
					room -= over + n
				}
				lp.Logger("fuzz").Emit(context.Background(), apiRecord(semconv.EventLoginFailed, rec.Body(), attrs...))
				rec = rr.Last(t)
			}
		}
		line := exporter.AppendRecord(nil, &rec, limit)
		if strings.Contains(string(line), semconv.EventMalformedRecord) {
			t.Fatalf("limit %d: the exporter replaced the limited record:\n%.500s", limit, line)
		}
		if len(line) > limit+1 {
			t.Fatalf("line of %d bytes, limit %d", len(line), limit)
		}
	})
}

// TestLimiterCountsTheResource: the resource is written into every line, so
// a large one leaves less room for the rest. A record that would fit with a
// small resource must still be cut down, not pass the limiter and become the
// exporter's malformed-record line.
func TestLimiterCountsTheResource(t *testing.T) {
	const limit = 16384
	l := mustLimiter(t, WithMaxRecordBytes(limit))
	rr := &testsupport.Capture{}
	lp := sdklog.NewLoggerProvider(
		sdklog.WithResource(resource.NewSchemaless(attribute.String("k8s.pod.annotations", strings.Repeat("a", 3000)))),
		sdklog.WithProcessor(l), sdklog.WithProcessor(rr), sdklog.WithAllowKeyDuplication(),
	)
	t.Cleanup(func() { _ = lp.Shutdown(context.Background()) })
	lp.Logger("test").Emit(context.Background(), apiRecord(semconv.EventLoginFailed, attribute.StringValue("auth.login"),
		semconv.ClientAddressKey.String("203.0.113.7"),
		attribute.String("note", strings.Repeat("\x01", 2300)), // 2300 bytes, 13800 written
	))
	got := rr.Last(t)
	line := exporter.AppendRecord(nil, &got, limit)
	if strings.Contains(string(line), semconv.EventMalformedRecord) || !strings.Contains(string(line), "203.0.113.7") {
		t.Fatalf("the record did not survive the exporter: %.300s", line)
	}
}

// TestLimiterTruncationOwnsItsMemory: a truncated value is a string of
// its own, so a record queued for export does not keep the (possibly huge)
// original alive; a value within the limits is kept as it is, not copied.
func TestLimiterTruncationOwnsItsMemory(t *testing.T) {
	huge := strings.Repeat("q", 900<<10)
	lo := uintptr(unsafe.Pointer(unsafe.StringData(huge)))
	inHuge := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		return len(s) > 0 && p >= lo && p < lo+uintptr(len(huge))
	}
	short := huge[:10]
	l := mustLimiter(t)
	rec := capture(t, apiRecord(semconv.EventLoginFailed, attribute.StringValue(huge),
		attribute.String("s", huge),
		attribute.StringSlice("ss", []string{huge, short}),
		attribute.Map("m", attribute.String("v", huge)),
		attribute.Slice("sl", attribute.StringValue(huge)),
		attribute.String("short", short),
	), l)
	var pinned []string
	var walk func(path string, v attribute.Value)
	walk = func(path string, v attribute.Value) {
		switch v.Type() {
		case attribute.STRING:
			if s := v.AsString(); inHuge(s) && s != short {
				pinned = append(pinned, path)
			}
		case attribute.STRINGSLICE:
			for i, s := range v.AsStringSlice() {
				if inHuge(s) && s != short {
					pinned = append(pinned, path+"["+strconv.Itoa(i)+"]")
				}
			}
		case attribute.SLICE:
			for i, e := range v.AsSlice() {
				walk(path+"["+strconv.Itoa(i)+"]", e)
			}
		case attribute.MAP:
			for _, kv := range v.AsMap() {
				walk(path+"."+string(kv.Key), kv.Value)
			}
		}
	}
	walk("body", rec.Body())
	for _, kv := range attrsOf(&rec) {
		walk(string(kv.Key), kv.Value)
	}
	if len(pinned) > 0 {
		t.Errorf("truncated values share the original's memory: %v", pinned)
	}
	if got := testsupport.AttrMap(&rec)["short"].AsString(); !inHuge(got) {
		t.Errorf("a value within the limits was copied")
	}
}

// TestMaxScalarSize: no scalar is written in more than maxScalarSize
// bytes, and the longest ones take it all.
func TestMaxScalarSize(t *testing.T) {
	base := testsupport.SDKRecord(t, apiRecord("e", attribute.Value{}))
	written := func(v attribute.Value) int {
		r := base.Clone()
		r.SetBody(v)
		line := string(exporter.AppendRecord(nil, &r, math.MaxInt32))
		_, after, ok := strings.Cut(line, `"body":`)
		body, _, ok2 := strings.Cut(after, `,"resource":`)
		if !ok || !ok2 {
			t.Fatalf("no body in %s", line)
		}
		return len(body)
	}
	tests := []struct {
		give attribute.Value
		want int // bytes written
	}{
		{attribute.Float64Value(-1.2345678901234567e-6), maxScalarSize},
		{attribute.Float64Value(-9.999999999999999e-6), 24},
		{attribute.Float64Value(-1.2345678901234567e-300), 24},
		{attribute.Float64Value(-math.SmallestNonzeroFloat64), 7},
		{attribute.Float64Value(-math.MaxFloat64), 24},
		{attribute.Float64Value(-9.999999999999999e20), 22},
		{attribute.Float64Value(-0.1234567890123456), 19},
		{attribute.Int64Value(math.MinInt64), 20},
		{attribute.BoolValue(false), 5},
	}
	for _, tt := range tests {
		if got := written(tt.give); got != tt.want || got > maxScalarSize || got > jsonSize(tt.give) {
			t.Errorf("%s: written in %d bytes, want %d; jsonSize %d, maxScalarSize %d", tt.give.String(), got, tt.want, jsonSize(tt.give), maxScalarSize)
		}
	}
	// Every magnitude, both signs, long mantissas.
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		f := math.Float64frombits(rnd.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		if got := written(attribute.Float64Value(f)); got > maxScalarSize {
			t.Fatalf("%v written in %d bytes, more than maxScalarSize %d", f, got, maxScalarSize)
		}
	}
}

// TestLimiterFloatsFitExporter: a float is written in up to 25 bytes
// (-0.0000012345678901234567), more than an integer. A record of floats, in
// any position a float can take, that the limiter lets pass must fit the
// JSONL exporter, not become its malformed-record line, which keeps none of
// the record's content. Each record but the reported one (104
// Float64Slice attributes, default limits) is filled with a string right up
// to what the limiter's estimate lets through.
func TestLimiterFloatsFitExporter(t *testing.T) {
	const f = -1.2345678901234567e-6 // written as -0.0000012345678901234567
	floats := slices.Repeat([]float64{f}, 100)
	scalars := slices.Repeat([]attribute.Value{attribute.Float64Value(f)}, 100)
	members := make([]attribute.KeyValue, 100)
	for i := range members {
		members[i] = attribute.Float64("m"+strconv.Itoa(i), f)
	}
	many := func(n int, v attribute.Value) []attribute.KeyValue {
		attrs := make([]attribute.KeyValue, n)
		for i := range attrs {
			attrs[i] = attribute.KeyValue{Key: attribute.Key("f" + strconv.Itoa(i)), Value: v}
		}
		return attrs
	}
	tests := []struct {
		name  string
		body  attribute.Value
		attrs []attribute.KeyValue
		opts  []LimitOption
		fill  bool
	}{
		{name: "reported", attrs: many(104, attribute.Float64SliceValue(floats))},
		{name: "scalar", attrs: many(1000, attribute.Float64Value(f)), opts: []LimitOption{WithMaxAttributes(2000)}, fill: true},
		{name: "Float64Slice", attrs: many(20, attribute.Float64SliceValue(floats)), fill: true},
		{name: "slice element", attrs: many(20, attribute.SliceValue(scalars...)), fill: true},
		{name: "map value", attrs: many(20, attribute.MapValue(members...)), fill: true},
		{name: "body", body: attribute.SliceValue(slices.Repeat([]attribute.Value{attribute.Float64SliceValue(floats)}, 20)...), fill: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			if tt.fill { // one string fills the record
				opts = append(opts, WithMaxStringLength(1<<20))
			}
			l := mustLimiter(t, opts...)
			limit := l.Limits().MaxRecordBytes
			attrs := append(tt.attrs, semconv.ClientAddressKey.String("203.0.113.7"))
			if tt.fill {
				// The limiter's own estimate of the record, as fitRecord makes it.
				r := testsupport.SDKRecord(t, apiRecord(semconv.EventLoginFailed, tt.body, attrs...))
				room := limit - l.envelopeSize(&r) - jsonSize(r.Body())
				for _, kv := range attrsOf(&r) {
					room -= jsonStringSize(string(kv.Key)) + 1 + jsonSize(kv.Value) + 1
				}
				room -= jsonStringSize("pad") + 1 + 2 + 1
				if room < 0 {
					t.Fatalf("the record is %d bytes over the limit before filling", -room)
				}
				attrs = append(attrs, attribute.String("pad", strings.Repeat("p", room)))
			}
			rec := capture(t, apiRecord(semconv.EventLoginFailed, tt.body, attrs...), l)
			var out bytes.Buffer
			exp, err := exporter.NewJSONL(exporter.WithWriter(&out), exporter.WithMaxRecordBytes(limit))
			if err != nil {
				t.Fatal(err)
			}
			if err := exp.Export(context.Background(), []sdklog.Record{rec}); err != nil {
				t.Fatal(err)
			}
			if err := exp.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			line := out.String()
			if strings.Contains(line, semconv.EventMalformedRecord) || !strings.Contains(line, "203.0.113.7") {
				t.Fatalf("the record did not survive the exporter (limit %d): %.300s", limit, line)
			}
		})
	}
}
