package envconf

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// regexpVars are the variables that list regular expressions; they all go
// through SplitRegexps.
var regexpVars = []string{SensitiveValuePatterns, IgnorePaths, BodyPaths, DeliveryStrictRoutes}

func TestSplitRegexps(t *testing.T) {
	tests := []struct {
		name string
		give string
		want []string
	}{
		{"one", `^/healthz$`, []string{`^/healthz$`}},
		{"comma list, spaces trimmed", ` ^/healthz$ , ^/static/ `, []string{`^/healthz$`, `^/static/`}},
		{"repeat bound kept whole", `sk_live_[A-Za-z0-9]{20,}`, []string{`sk_live_[A-Za-z0-9]{20,}`}},
		{"DESIGN's example", `sk_live_[A-Za-z0-9]{20,},internal-[0-9]{4}`, []string{`sk_live_[A-Za-z0-9]{20,}`, `internal-[0-9]{4}`}},
		{"comma in a class", `x[,;]x,y`, []string{`x[,;]x`, `y`}},
		{"comma in a group", `(a|b,c),d`, []string{`(a|b,c)`, `d`}},
		{"nested", `((a{1,2}),[b,]),e`, []string{`((a{1,2}),[b,])`, `e`}},
		{"escaped comma keeps its backslash", `a\,b,c`, []string{`a\,b`, `c`}},
		{"escaped backslash then comma", `a\\,b`, []string{`a\\`, `b`}},
		{"escaped brackets do not nest", `\(,\[,\{`, []string{`\(`, `\[`, `\{`}},
		{"bracket in a class is literal", `x[(],x`, []string{`x[(]`, `x`}},
		{"] first in a class is literal", `x[]a,],x`, []string{`x[]a,]`, `x`}},
		{"] first in a negated class", `x[^],]+,x`, []string{`x[^],]+`, `x`}},
		{"POSIX class", `x[[:alpha:],]+,x`, []string{`x[[:alpha:],]+`, `x`}},
		{"quoted text", `\Qa,b\E,c`, []string{`\Qa,b\E`, `c`}},
		{"quoted to the end", `x,\Qa,b`, []string{`x`, `\Qa,b`}},
		{"escaped trailing space kept", `a\ ,b`, []string{`a\ `, `b`}},
		{"unbalanced ( keeps the rest", `(a,b`, []string{`(a,b`}},
		{"stray ) does not underflow", `a),b`, []string{`a)`, `b`}},
		{"JSON array", `["sk_live_[A-Za-z0-9]{20,}", "a,b", " spaced "]`, []string{`sk_live_[A-Za-z0-9]{20,}`, `a,b`, ` spaced `}},
		{"JSON array, surrounding space", ` ["x"] `, []string{`x`}},
		{"empty JSON array", `[]`, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SplitRegexps(tt.give)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("SplitRegexps(%q) = %q, want %q", tt.give, got, tt.want)
			}
		})
	}
}

func TestSplitRegexpsRefuses(t *testing.T) {
	tests := []struct{ name, give, want string }{
		{"trailing comma", `a,`, "pattern 2 is empty"},
		{"doubled comma", `a,,b`, "pattern 2 is empty"},
		{"leading comma", `,a`, "pattern 1 is empty"},
		{"a class taken for JSON", `[A-Z]{3}-[0-9]+`, `["[a-z]+"]`},
		{"JSON not closed", `["a"`, "JSON array of strings"},
		{"JSON with a number", `["a", 1]`, "JSON array of strings"},
		{"JSON with trailing text", `["a"],b`, "JSON array of strings"},
		{"JSON empty string", `["a", ""]`, "element 2 of the array is empty"},
		{"JSON null", `[null]`, "element 1 of the array is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SplitRegexps(tt.give)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("SplitRegexps(%q) = %q, %v; want an error containing %q", tt.give, got, err, tt.want)
			}
		})
	}
}

// TestRegexpsEnv reads each regex-list variable: a repeat bound with a comma
// stays one pattern that matches what it should, a JSON array works, and an
// element that does not compile alone (or is empty) stops start-up with the
// variable's name.
func TestRegexpsEnv(t *testing.T) {
	const key = "sk_live_" + "abcdefghijklmnopqrstuvwx"
	tests := []struct {
		name    string
		value   string
		match   []string // each must match some pattern
		nomatch []string // none may match any pattern
		n       int
		wantErr string
	}{
		{"repeat bound", `sk_live_[A-Za-z0-9]{20,}`, []string{key}, []string{"}", "sk_live_short", "a{20,}"}, 1, ""},
		{"two with bounds", `sk_live_[A-Za-z0-9]{20,},internal-[0-9]{4}`, []string{key, "internal-1234"}, []string{"}", "internal-12"}, 2, ""},
		{"JSON array", `["^/a,b$", "x{2,}"]`, []string{"/a,b", "xx"}, []string{"/a", "b", "x"}, 2, ""},
		{"escaped comma", `^a\,b$`, []string{"a,b"}, []string{"a", "b"}, 1, ""},
		{"fragment that does not compile", `^[a-z]+,(x`, nil, nil, 0, `pattern 2, "(x"`},
		{"JSON element that does not compile", `["ok", "a)"]`, nil, nil, 0, `pattern 2, "a)"`},
		{"empty element", `a,,b`, nil, nil, 0, "pattern 2 is empty"},
		{"bad JSON", `[a-z]+`, nil, nil, 0, "JSON array"},
	}
	for _, name := range regexpVars {
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				withEnv(t, map[string]string{name: tt.value})
				res, set, err := Regexps(name)
				if tt.n == 0 {
					if err == nil {
						t.Fatalf("Regexps = %v, want an error", res)
					}
					if !strings.Contains(err.Error(), name+"=") || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("error %q does not name %s or lacks %q", err, name, tt.wantErr)
					}
					return
				}
				if err != nil || !set || len(res) != tt.n {
					t.Fatalf("Regexps = %v, %v, %v; want %d patterns", res, set, err, tt.n)
				}
				any := func(s string) bool {
					return slices.ContainsFunc(res, func(re *regexp.Regexp) bool { return re.MatchString(s) })
				}
				for _, s := range tt.match {
					if !any(s) {
						t.Errorf("%q not matched by %v", s, res)
					}
				}
				for _, s := range tt.nomatch {
					if any(s) {
						t.Errorf("%q matched by %v", s, res)
					}
				}
			})
		}
	}
}

// FuzzSplitRegexps: the splitter never panics; what it splits, joined again
// with commas, splits the same; and any list of non-empty strings survives
// a round trip through a JSON array.
func FuzzSplitRegexps(f *testing.F) {
	for _, s := range []string{
		`sk_live_[A-Za-z0-9]{20,},internal-[0-9]{4}`, `a\,b,c`, `[]a,],x`, `[[:alpha:],]`, `\Qa,b\E,c`,
		`(a,b`, `a),b`, `a\ ,b`, `["x", "y,z"]`, `\`, `[`, `{,}`, " , ", "a\\\t,b",
	} {
		f.Add(s, "y{1,2}")
	}
	f.Fuzz(func(t *testing.T, s, other string) {
		got, err := SplitRegexps(s)
		if err == nil && !strings.HasPrefix(strings.TrimSpace(s), "[") {
			joined := strings.Join(got, ",")
			again, err := SplitRegexps(joined)
			if err != nil || !slices.Equal(again, got) {
				t.Fatalf("SplitRegexps(%q) = %q; joined %q splits as %q, %v", s, got, joined, again, err)
			}
		}
		if !utf8.ValidString(s) || !utf8.ValidString(other) {
			return // json.Marshal would replace the invalid bytes
		}
		var elems []string
		for _, e := range []string{s, other} {
			if e != "" {
				elems = append(elems, e)
			}
		}
		b, err := json.Marshal(elems)
		if err != nil {
			t.Fatal(err)
		}
		if elems == nil {
			b = []byte("[]")
		}
		back, err := SplitRegexps(string(b))
		if err != nil || !slices.Equal(back, elems) && !(len(back) == 0 && len(elems) == 0) {
			t.Fatalf("JSON %s splits as %q, %v; want %q", b, back, err, elems)
		}
	})
}

func ExampleSplitRegexps() {
	for _, v := range []string{
		`sk_live_[A-Za-z0-9]{20,},internal-[0-9]{4}`,
		`["^/a,b$", "[0-9]{3}"]`,
		`a\,b, c`,
	} {
		p, _ := SplitRegexps(v)
		fmt.Printf("%q\n", p)
	}
	// Output:
	// ["sk_live_[A-Za-z0-9]{20,}" "internal-[0-9]{4}"]
	// ["^/a,b$" "[0-9]{3}"]
	// ["a\\,b" "c"]
}
