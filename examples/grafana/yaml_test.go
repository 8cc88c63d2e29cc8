package grafana

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// parseYAML reads the block-style subset of YAML that the stack's files use:
// mappings, sequences (including "- key: value" items), plain, single- and
// double-quoted scalars, comments, and literal block scalars ("|", "|-").
// Every scalar stays a string; an empty value is nil. Anything else — flow
// collections, anchors, aliases, tags, folded scalars, tabs for indentation,
// several documents, duplicate keys — is an error rather than a silent
// misreading.
func parseYAML(src string) (any, error) {
	p := &yamlParser{}
	for i, raw := range strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n") {
		indent := len(raw) - len(strings.TrimLeft(raw, " "))
		p.lines = append(p.lines, yamlLine{num: i + 1, raw: raw, indent: indent, text: strings.TrimRight(raw[indent:], " ")})
	}
	if err := p.skip(); err != nil {
		return nil, err
	}
	if p.eof() {
		return nil, nil
	}
	if l := p.cur(); l.indent != 0 {
		return nil, l.errorf("the document must start at column 1")
	}
	v, err := p.block(0)
	if err != nil {
		return nil, err
	}
	if err := p.skip(); err != nil {
		return nil, err
	}
	if !p.eof() {
		return nil, p.cur().errorf("unexpected content %q", p.cur().text)
	}
	return v, nil
}

type yamlLine struct {
	num, indent int
	raw, text   string // text: without the indentation
}

func (l *yamlLine) errorf(format string, args ...any) error {
	return fmt.Errorf("yaml line %d: %s", l.num, fmt.Sprintf(format, args...))
}

type yamlParser struct {
	lines []yamlLine
	pos   int
}

func (p *yamlParser) eof() bool      { return p.pos >= len(p.lines) }
func (p *yamlParser) cur() *yamlLine { return &p.lines[p.pos] }

// skip moves past blank and comment-only lines, rejecting what the subset
// does not support on the way.
func (p *yamlParser) skip() error {
	for ; !p.eof(); p.pos++ {
		l := p.cur()
		if l.text == "" || strings.HasPrefix(l.text, "#") {
			continue
		}
		if strings.HasPrefix(l.text, "\t") {
			return l.errorf("tab in indentation")
		}
		if l.text == "---" || l.text == "..." {
			return l.errorf("document markers are not supported")
		}
		return nil
	}
	return nil
}

func isSeqItem(text string) bool { return text == "-" || strings.HasPrefix(text, "- ") }

// block parses the mapping or sequence whose lines start at indent.
func (p *yamlParser) block(indent int) (any, error) {
	if isSeqItem(p.cur().text) {
		return p.seq(indent)
	}
	return p.mapping(indent)
}

func (p *yamlParser) mapping(indent int) (any, error) {
	m := map[string]any{}
	for {
		if err := p.skip(); err != nil {
			return nil, err
		}
		if p.eof() {
			return m, nil
		}
		l := p.cur()
		if l.indent < indent {
			return m, nil
		}
		if l.indent > indent {
			return nil, l.errorf("unexpected indentation")
		}
		if isSeqItem(l.text) {
			return nil, l.errorf("sequence item where a key was expected")
		}
		key, rest, ok, err := splitKey(l.text)
		if err != nil {
			return nil, l.errorf("%v", err)
		}
		if !ok {
			return nil, l.errorf("expected \"key: value\", got %q", l.text)
		}
		if _, dup := m[key]; dup {
			return nil, l.errorf("duplicate key %q", key)
		}
		p.pos++
		var v any
		switch {
		case rest == "":
			if err := p.skip(); err != nil {
				return nil, err
			}
			if !p.eof() {
				switch n := p.cur(); {
				case n.indent > indent:
					v, err = p.block(n.indent)
				case n.indent == indent && isSeqItem(n.text):
					v, err = p.seq(indent)
				}
			}
		case rest == "|" || rest == "|-":
			v = p.literal(indent, rest == "|-")
		default:
			v, err = scalar(rest)
			if err != nil {
				err = l.errorf("%v", err)
			}
		}
		if err != nil {
			return nil, err
		}
		m[key] = v
	}
}

func (p *yamlParser) seq(indent int) (any, error) {
	s := []any{}
	for {
		if err := p.skip(); err != nil {
			return nil, err
		}
		if p.eof() {
			return s, nil
		}
		l := p.cur()
		if l.indent < indent || (l.indent == indent && !isSeqItem(l.text)) {
			return s, nil
		}
		if l.indent > indent {
			return nil, l.errorf("unexpected indentation")
		}
		rest := strings.TrimLeft(l.text[1:], " ")
		offset := len(l.text) - len(rest)
		_, _, isKey, _ := splitKey(rest)
		var v any
		var err error
		switch {
		case rest == "" || strings.HasPrefix(rest, "#"):
			p.pos++
			if err = p.skip(); err == nil && !p.eof() && p.cur().indent > indent {
				v, err = p.block(p.cur().indent)
			}
		case isKey || isSeqItem(rest):
			// The item is a block starting on this line: re-read the line
			// as its first line, at the column after "- ".
			l.indent += offset
			l.text = rest
			v, err = p.block(l.indent)
		default:
			p.pos++
			if v, err = scalar(rest); err != nil {
				err = l.errorf("%v", err)
			}
		}
		if err != nil {
			return nil, err
		}
		s = append(s, v)
	}
}

// literal reads a literal block scalar whose key line is at parent indent:
// the following lines indented deeper, without that indentation, ending in
// one newline ("|") or none ("|-").
func (p *yamlParser) literal(parent int, strip bool) string {
	var out []string
	content := -1
	for ; !p.eof(); p.pos++ {
		raw := p.cur().raw
		if strings.TrimSpace(raw) == "" {
			out = append(out, "")
			continue
		}
		indent := len(raw) - len(strings.TrimLeft(raw, " "))
		if content < 0 {
			if indent <= parent {
				break
			}
			content = indent
		}
		if indent < content {
			break
		}
		out = append(out, raw[content:])
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	s := strings.Join(out, "\n")
	if !strip && s != "" {
		s += "\n"
	}
	return s
}

// splitKey splits "key: rest" (or "key:"); ok is false when text is not a
// mapping entry.
func splitKey(text string) (key, rest string, ok bool, err error) {
	if text == "" {
		return "", "", false, nil
	}
	if text[0] == '"' || text[0] == '\'' {
		k, after, err := quoted(text)
		if err != nil {
			return "", "", false, err
		}
		if after != ":" && !strings.HasPrefix(after, ": ") {
			return "", "", false, nil
		}
		return k, strings.TrimSpace(after[1:]), true, nil
	}
	for i := 0; i < len(text); i++ {
		switch {
		case text[i] == '#' && i > 0 && text[i-1] == ' ':
			return "", "", false, nil
		case text[i] == ':' && (i == len(text)-1 || text[i+1] == ' '):
			k := text[:i]
			if k == "" || strings.ContainsAny(k[:1], "[{&*!|>%@`") {
				return "", "", false, nil
			}
			return k, strings.TrimSpace(text[i+1:]), true, nil
		}
	}
	return "", "", false, nil
}

// scalar reads a one-line scalar with an optional trailing comment.
func scalar(text string) (any, error) {
	if text[0] == '"' || text[0] == '\'' {
		v, after, err := quoted(text)
		if err != nil {
			return nil, err
		}
		if after = strings.TrimLeft(after, " "); after != "" && !strings.HasPrefix(after, "#") {
			return nil, fmt.Errorf("text after a quoted scalar: %q", after)
		}
		return v, nil
	}
	if strings.ContainsAny(text[:1], "[{&*!|>%@`") {
		return nil, fmt.Errorf("unsupported YAML construct %q", text)
	}
	if i := strings.Index(text, " #"); i >= 0 {
		text = text[:i]
	}
	return strings.TrimSpace(text), nil
}

// quoted reads the quoted scalar at the start of text and returns the rest
// of the line after the closing quote.
func quoted(text string) (value, after string, err error) {
	q := text[0]
	for i := 1; i < len(text); i++ {
		switch {
		case q == '"' && text[i] == '\\':
			i++
		case text[i] == q && q == '\'' && i+1 < len(text) && text[i+1] == '\'':
			i++
		case text[i] == q:
			if q == '\'' {
				return strings.ReplaceAll(text[1:i], "''", "'"), text[i+1:], nil
			}
			v, err := strconv.Unquote(text[:i+1])
			if err != nil {
				return "", "", fmt.Errorf("bad double-quoted scalar %s: %v", text[:i+1], err)
			}
			return v, text[i+1:], nil
		}
	}
	return "", "", errors.New("unterminated quoted scalar")
}

func TestParseYAML(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		want    any
		wantErr string
	}{
		{name: "empty", src: "# only a comment\n\n", want: nil},
		{
			name: "nested mappings and scalars",
			src:  "a: 1\nb:\n  c: two words # comment\n  d: \"q: #x\"\n  e: 'it''s'\n  f:\n",
			want: map[string]any{"a": "1", "b": map[string]any{"c": "two words", "d": "q: #x", "e": "it's", "f": nil}},
		},
		{
			name: "sequences of scalars and of mappings",
			src:  "s:\n  - x\n  - \"127.0.0.1:3000:3000\"\n  - ./a.yaml:/b.yaml:ro\n  - k: v\n    l:\n      - 1\n  -\n    m: n\nt: end\n",
			want: map[string]any{
				"s": []any{"x", "127.0.0.1:3000:3000", "./a.yaml:/b.yaml:ro",
					map[string]any{"k": "v", "l": []any{"1"}}, map[string]any{"m": "n"}},
				"t": "end",
			},
		},
		{
			name: "sequence at the key's indentation",
			src:  "a:\n- x\n- y: z\nb: c\n",
			want: map[string]any{"a": []any{"x", map[string]any{"y": "z"}}, "b": "c"},
		},
		{
			name: "literal block scalars keep lines, blank lines and hashes",
			src:  "a: |\n  FROM x\n\n  # not a comment\n    indented\nb: |-\n  one\n  two\n\nc: d\n",
			want: map[string]any{"a": "FROM x\n\n# not a comment\n  indented\n", "b": "one\ntwo", "c": "d"},
		},
		{
			name: "dollars and braces inside scalars",
			src:  "url: $${__value.raw}\nq: '{a=\"$${b}\"}'\n",
			want: map[string]any{"url": "$${__value.raw}", "q": `{a="$${b}"}`},
		},
		{name: "flow sequence", src: "a: [1, 2]\n", wantErr: "unsupported"},
		{name: "flow mapping", src: "a: {b: c}\n", wantErr: "unsupported"},
		{name: "anchor", src: "a: &x b\n", wantErr: "unsupported"},
		{name: "folded scalar", src: "a: >\n  b\n", wantErr: "unsupported"},
		{name: "tab indentation", src: "a:\n\tb: c\n", wantErr: "tab"},
		{name: "duplicate key", src: "a: 1\na: 2\n", wantErr: "duplicate key"},
		{name: "bad indentation", src: "a: 1\n  b: 2\n", wantErr: "indentation"},
		{name: "not a mapping entry", src: "a: 1\njust text\n", wantErr: "expected"},
		{name: "unterminated quote", src: "a: \"b\n", wantErr: "unterminated"},
		{name: "text after quote", src: "a: \"b\" c\n", wantErr: "after a quoted"},
		{name: "document marker", src: "---\na: 1\n", wantErr: "document markers"},
		{name: "indented document", src: "  a: 1\n", wantErr: "column 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseYAML(tt.src)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseYAML error = %v, want one containing %q (value %#v)", err, tt.wantErr, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseYAML: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("parseYAML =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}
