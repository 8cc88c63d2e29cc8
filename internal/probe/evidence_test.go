package probe

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFindEvidence(t *testing.T) {
	tests := []struct {
		name, target       string
		wantRule, evidence string
	}{
		{"clean", "/api/accounts/42?expand=owner", "", ""},
		{"sql tautology", "/search?q=1' OR 1=1--", RuleSQLInjection, "' OR 1=1--"},
		{"sql tautology, encoded", "/login?user=admin%27%20or%201%3D1--", RuleSQLInjection, "' or 1=1--"},
		{"union select", "/items?id=1+UNION+SELECT+password+FROM+users", RuleSQLInjection, "UNION SELECT"},
		{"sleep", "/items?id=1+AND+SLEEP(5)&page=2", RuleSQLInjection, "id=1+AND+SLEEP("},
		{"traversal in the path", "/static/../../etc/hosts", RulePathTraversal, "/static/../../etc/hosts"},
		{"traversal in the query", "/download?file=../../app.db&x=1", RulePathTraversal, "file=../../app.db"},
		{"traversal, escaped path", "/static/..%2f..%2fsecret", RulePathTraversal, "/static/../../secret"},
		{"sensitive file", "/view?page=/etc/shadow", RuleSensitiveFile, "page=/etc/shadow"},
		{"dotfile", "/app/.git/config", RuleDotfileProbe, "/app/.git/config"},
		{"php probe", "/wp-admin/install.php", RulePHPProbe, "/wp-admin/install.php"},
		{"wordpress probe", "/blog/wp-login", RuleWordPressProbe, "/blog/wp-login"},
		{"script", "/search?q=<script>alert(1)</script>", RuleScriptInjection, "<script"},
		{"event handler", "/search?q=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E", RuleScriptInjection, "<img src=x onerror=alert"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.ParseRequestURI(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			rule, evidence := Find(u)
			if rule != tt.wantRule || evidence != tt.evidence {
				t.Fatalf("Find(%q) = %q, %q; want %q, %q", tt.target, rule, evidence, tt.wantRule, tt.evidence)
			}
			if m := Match(u); m != rule {
				t.Fatalf("Match = %q, Find = %q", m, rule)
			}
		})
	}
	if r, e := Find(nil); r != "" || e != "" {
		t.Fatalf("Find(nil) = %q, %q", r, e)
	}
}

func TestExcerpt(t *testing.T) {
	long := strings.Repeat("a", 200)
	tests := []struct {
		name, s    string
		start, end int // of the match; -1 for the whole string
		want       string
	}{
		{"whole match", "x=' or 1=1", 2, 10, "' or 1=1"},
		{"widened to words", "q=abc'or x=yz&n=2", 4, 10, "q=abc'or x=yz"},
		{"card number kept whole", "' or 1=4111 1111 1111 1111&x", 0, 11, "' or 1=4111 1111 1111 1111"},
		{"a long word is left out whole", "' or x=" + long + "&y", 0, 8, "' or…"},
		{"head and tail at word boundaries", "union/* " + strings.Repeat("word ", 40) + "*/select", 0, -1,
			"union/* word word word word word…word word word word */select"},
		{"no room for either side", long, 0, -1, "…"},
		{"the bare match in one long word", long + "/../" + long, 200, 204, "…/../…"},
		{"bad range", "abc", 2, 1, ""},
		{"out of range", "abc", 0, 4, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			end := tt.end
			if end < 0 {
				end = len(tt.s)
			}
			got := Excerpt(tt.s, tt.start, end)
			if got != tt.want {
				t.Fatalf("Excerpt = %q, want %q", got, tt.want)
			}
			if n := utf8.RuneCountInString(got); n > MaxEvidenceRunes {
				t.Fatalf("%d runes", n)
			}
		})
	}
}

// TestFindEvidenceBounded: a 100 KB attack yields evidence of at most
// MaxEvidenceRunes runes, whichever rule and part of the target it is in,
// and never a piece of a word cut by the limit.
func TestFindEvidenceBounded(t *testing.T) {
	pad := strings.Repeat("ab cd ", 100<<10/6)
	token := "AKIA" + strings.Repeat("Z", 16)
	tests := []string{
		"/items?q=1+UNION/*" + url.QueryEscape(pad) + "*/SELECT+1",
		"/search?q=" + url.QueryEscape("<img title='"+pad+token+"' onerror=x>"),
		"/items?q=" + url.QueryEscape("' or "+token+"="+strings.Repeat("x", 100<<10)),
		"/a/" + strings.Repeat("b/", 50<<10) + "..%2F" + strings.Repeat("c", 50<<10),
	}
	for _, target := range tests {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			t.Fatal(err)
		}
		rule, evidence := Find(u)
		if rule == "" || evidence == "" {
			t.Fatalf("%.40q…: rule %q evidence %q", target, rule, evidence)
		}
		if n := utf8.RuneCountInString(evidence); n > MaxEvidenceRunes {
			t.Fatalf("%.40q…: evidence of %d runes", target, n)
		}
		for _, w := range strings.FieldsFunc(evidence, func(r rune) bool { return !isWordRune(r) || r == '…' }) {
			if strings.Contains(token, w) && w != token && len(w) > 3 {
				t.Fatalf("evidence %q holds a piece %q of a token", evidence, w)
			}
		}
		t.Logf("%s: %q", rule, evidence)
	}
}

func BenchmarkFindSuspicious(b *testing.B) {
	u, _ := url.ParseRequestURI("/search?q=1%27+OR+1%3D1--&page=2")
	b.ReportAllocs()
	for b.Loop() {
		Find(u)
	}
}
