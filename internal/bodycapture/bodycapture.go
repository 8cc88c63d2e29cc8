package bodycapture

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"

	"github.com/secaudit/secaudit/semconv"
)

// DefaultMaxBytes is the default cap on bytes read for capture.
const DefaultMaxBytes = 4096

// DefaultMethods are the methods whose bodies are captured by default.
var DefaultMethods = []string{http.MethodPatch, http.MethodPost, http.MethodPut}

// Config configures a Capturer.
type Config struct {
	// Methods whose bodies are captured; DefaultMethods when empty.
	Methods []string
	// Paths, when any, restrict capture to paths one of them matches.
	Paths []*regexp.Regexp
	// Fields is the allowlist of top-level keys; nothing is captured
	// without one.
	Fields []string
	// MaxBytes caps the bytes read; DefaultMaxBytes when <= 0.
	MaxBytes int64
}

// Capturer captures request bodies. It is immutable and safe for concurrent
// use. A nil *Capturer captures nothing.
type Capturer struct {
	methods []string
	paths   []*regexp.Regexp
	fields  []string
	max     int64
}

// New returns a Capturer for cfg. The slices are copied.
func New(cfg Config) *Capturer {
	c := &Capturer{
		methods: append([]string(nil), cfg.Methods...),
		paths:   append([]*regexp.Regexp(nil), cfg.Paths...),
		fields:  append([]string(nil), cfg.Fields...),
		max:     cfg.MaxBytes,
	}
	if len(c.methods) == 0 {
		c.methods = append([]string(nil), DefaultMethods...)
	}
	if c.max <= 0 {
		c.max = DefaultMaxBytes
	}
	return c
}

// MaxBytes returns the cap on bytes read.
func (c *Capturer) MaxBytes() int64 {
	if c == nil {
		return 0
	}
	return c.max
}

// Capture inspects r's body. It returns the attribute to add to the
// request's audit event (an invalid KeyValue, Key "", when there is nothing
// to record) and, when it read from r.Body, the body the handler must read
// instead (nil otherwise). It does not modify r.
func (c *Capturer) Capture(r *http.Request) (attribute.KeyValue, io.ReadCloser) {
	if c == nil || !c.wants(r) {
		return attribute.KeyValue{}, nil
	}
	if r.ContentLength > c.max {
		return status(semconv.BodyParseTooLarge), nil
	}
	cts := r.Header.Values("Content-Type")
	if len(cts) != 1 || !isJSON(cts[0]) {
		return attribute.KeyValue{}, nil // not_json
	}
	if vs := r.Header.Values("Content-Length"); len(vs) > 0 {
		n, err := strconv.ParseInt(strings.TrimSpace(vs[0]), 10, 64)
		if err != nil {
			return attribute.KeyValue{}, nil // skipped
		}
		if n < 0 || n > c.max {
			return status(semconv.BodyParseTooLarge), nil
		}
	}
	if r.Body == nil || r.Body == http.NoBody {
		return attribute.KeyValue{}, nil // empty
	}

	data, replay := c.read(r.Body)
	if replay.err != nil && replay.err != io.EOF {
		return attribute.KeyValue{}, replay // read error: nothing recorded
	}
	return c.parse(data), replay
}

func (c *Capturer) wants(r *http.Request) bool {
	if len(c.fields) == 0 {
		return false
	}
	methodOK := false
	for _, m := range c.methods {
		if strings.EqualFold(m, r.Method) {
			methodOK = true
			break
		}
	}
	if !methodOK {
		return false
	}
	if len(c.paths) > 0 {
		matched := false
		for _, re := range c.paths {
			if re.MatchString(r.URL.Path) {
				matched = true
				break
			}
		}
		if !matched {
			return false
		}
	}
	for _, ct := range r.Header.Values("Content-Type") {
		if isForm(ct) {
			return false
		}
	}
	return true
}

// read reads at most max+1 bytes and returns them with the replaying body.
func (c *Capturer) read(body io.ReadCloser) ([]byte, *replayBody) {
	lr := io.LimitedReader{R: body, N: c.max + 1}
	data, err := io.ReadAll(&lr)
	rb := &replayBody{buf: data, orig: body}
	switch {
	case err != nil:
		rb.err = err
	case lr.N > 0:
		rb.err = io.EOF // the original body is exhausted
	}
	return data, rb
}

func (c *Capturer) parse(data []byte) attribute.KeyValue {
	switch {
	case int64(len(data)) > c.max:
		return status(semconv.BodyParseTooLarge)
	case len(data) == 0:
		return attribute.KeyValue{} // empty
	case bytes.HasPrefix(data, []byte("\xef\xbb\xbf")), !utf8.Valid(data):
		return status(semconv.BodyParseInvalidJSON)
	}
	// JSON is validated once: by Unmarshal for an object, by json.Valid
	// for anything else (invalid JSON, or valid JSON of another shape).
	if first := bytes.TrimLeft(data, " \t\r\n"); len(first) == 0 || first[0] != '{' {
		if !json.Valid(data) {
			return status(semconv.BodyParseInvalidJSON)
		}
		return status(semconv.BodyParseUnsupportedShape)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return status(semconv.BodyParseInvalidJSON)
	}
	if len(obj) == 0 {
		return attribute.KeyValue{} // empty
	}
	kept := make([]attribute.KeyValue, 0, len(c.fields))
	for _, f := range c.fields {
		raw, ok := obj[f]
		if !ok || hasKey(kept, f) {
			continue
		}
		v, err := decode(raw)
		if err != nil {
			return status(semconv.BodyParseInvalidJSON)
		}
		kept = append(kept, attribute.KeyValue{Key: attribute.Key(f), Value: v})
	}
	if len(kept) == 0 {
		return attribute.KeyValue{}
	}
	return semconv.AuditRequestBodyKey.Map(kept...)
}

func hasKey(kvs []attribute.KeyValue, k string) bool {
	for _, kv := range kvs {
		if string(kv.Key) == k {
			return true
		}
	}
	return false
}

func status(s string) attribute.KeyValue {
	return semconv.AuditRequestBodyParseStatusKey.String(s)
}

func decode(raw json.RawMessage) (attribute.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return attribute.Value{}, err
	}
	return toValue(v), nil
}

func toValue(v any) attribute.Value {
	switch t := v.(type) {
	case nil:
		return attribute.Value{}
	case bool:
		return attribute.BoolValue(t)
	case string:
		return attribute.StringValue(t)
	case json.Number:
		return number(string(t))
	case []any:
		vals := make([]attribute.Value, len(t))
		for i, e := range t {
			vals[i] = toValue(e)
		}
		return attribute.SliceValue(vals...)
	case map[string]any:
		kvs := make([]attribute.KeyValue, 0, len(t))
		for k, e := range t {
			kvs = append(kvs, attribute.KeyValue{Key: attribute.Key(k), Value: toValue(e)})
		}
		return attribute.MapValue(kvs...)
	}
	return attribute.Value{}
}

func number(s string) attribute.Value {
	if !strings.ContainsAny(s, ".eE") {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return attribute.Int64Value(n)
		}
		return attribute.StringValue(s) // an integer beyond int64: keep every digit
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return attribute.StringValue(s) // out of float64 range
	}
	return attribute.Float64Value(f)
}

func mediaType(ct string) string {
	base, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(base))
}

func isForm(ct string) bool {
	mt := mediaType(ct)
	return strings.HasPrefix(mt, "multipart/") || mt == "application/x-www-form-urlencoded"
}

func isJSON(ct string) bool {
	mt := mediaType(ct)
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// replayBody gives the handler the bytes read for capture, then the rest of
// the original body.
type replayBody struct {
	buf  []byte
	err  error // returned once buf is drained; nil means read orig
	orig io.ReadCloser
}

func (b *replayBody) Read(p []byte) (int, error) {
	if len(b.buf) > 0 {
		n := copy(p, b.buf)
		b.buf = b.buf[n:]
		return n, nil
	}
	if b.err != nil {
		return 0, b.err
	}
	return b.orig.Read(p)
}

func (b *replayBody) Close() error { return b.orig.Close() }
