package probe

import (
	"net/url"
	"testing"
	"unicode/utf8"

	"github.com/secaudit/secaudit/internal/testsupport"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		target string
		want   string
	}{
		// clean traffic
		{"/", ""},
		{"/api/accounts/42", ""},
		{"/api/accounts/42?expand=owner&sort=-created", ""},
		{"/search?q=union+station", ""},
		{"/search?q=select+a+plan", ""},
		{"/docs/v1..v2/diff", ""},
		{"/files/report.v2.pdf", ""},
		{"/users?name=O%27Brien", ""},
		{"/blog/php-tips", ""},
		{"/static/app.js?v=1.2.3", ""},
		{"/envelope", ""},
		{"/api/.well-known/openid-configuration", ""},
		{"/notes?text=1--2", ""},
		// path traversal
		{"/static/../../etc/hosts", RulePathTraversal},
		{"/static/%2e%2e/%2e%2e/secret", RulePathTraversal},
		{"/static/..%2f..%2fsecret", RulePathTraversal},
		{`/static/..\..\windows`, RulePathTraversal},
		{"/download?file=../../app.db", RulePathTraversal},
		{"/download?file=..%2F..%2Fapp.db", RulePathTraversal},
		{"/x/..", RulePathTraversal},
		// sensitive files
		{"/etc/passwd", RuleSensitiveFile},
		{"/view?page=/etc/shadow", RuleSensitiveFile},
		{"/view?page=%2Fetc%2Fpasswd", RuleSensitiveFile},
		{"/proc/self/environ", RuleSensitiveFile},
		{"/c/windows/win.ini", RuleSensitiveFile},
		// dotfiles
		{"/.env", RuleDotfileProbe},
		{"/app/.git/config", RuleDotfileProbe},
		{"/.aws/credentials", RuleDotfileProbe},
		{"/.htaccess", RuleDotfileProbe},
		// php and wordpress
		{"/index.php", RulePHPProbe},
		{"/admin/config.php?x=1", RulePHPProbe},
		{"/phpmyadmin/index.PHP", RulePHPProbe},
		{"/wp-admin/", RuleWordPressProbe},
		{"/blog/wp-login", RuleWordPressProbe},
		{"/wp-content/uploads/x.png", RuleWordPressProbe},
		// SQL injection
		{"/items?id=1+UNION+SELECT+password+FROM+users", RuleSQLInjection},
		{"/items?id=1%20union%20all%20select%201", RuleSQLInjection},
		{"/items?id=1/**/UNION/**/SELECT/**/1", RuleSQLInjection},
		{"/login?user=admin'+OR+'1'='1", RuleSQLInjection},
		{"/login?user=admin%27%20or%201%3D1--", RuleSQLInjection},
		{"/items?id=1;DROP TABLE users", RuleSQLInjection},
		{"/items?id=1+AND+SLEEP(5)", RuleSQLInjection},
		{"/items?id=1;waitfor+delay+'0:0:5'", RuleSQLInjection},
		{"/items?q=information_schema.tables", RuleSQLInjection},
		{"/items/1'--", RuleSQLInjection},
		// script injection
		{"/search?q=<script>alert(1)</script>", RuleScriptInjection},
		{"/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", RuleScriptInjection},
		{"/search?q=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E", RuleScriptInjection},
		{"/redirect?to=javascript:alert(1)", RuleScriptInjection},
		{"/p/%3Csvg%2Fonload%3Dalert(1)%3E", RuleScriptInjection},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			u, err := url.ParseRequestURI(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			if got := Match(u); got != tt.want {
				t.Fatalf("Match(%q) = %q, want %q", tt.target, got, tt.want)
			}
		})
	}
}

func TestMatchNil(t *testing.T) {
	if Match(nil) != "" {
		t.Fatal("nil URL matched")
	}
	if len(Rules()) != 7 {
		t.Fatalf("rules %v", Rules())
	}
}

func TestMatchCleanRequestDoesNotAllocate(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts differ under -race")
	}
	u, _ := url.ParseRequestURI("/api/accounts/42?expand=owner")
	if n := testing.AllocsPerRun(50, func() { Match(u) }); n != 0 {
		t.Fatalf("Match allocates %v times on a clean request", n)
	}
}

func BenchmarkMatchClean(b *testing.B) {
	u, _ := url.ParseRequestURI("/api/v1/items/42?expand=owner&page=2")
	b.ReportAllocs()
	for b.Loop() {
		Match(u)
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("/a/b?c=d")
	f.Add("/%2e%2e/x?q=%3Cscript")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.ParseRequestURI(s)
		if err != nil {
			return
		}
		got := Match(u)
		rule, evidence := Find(u)
		if rule != got || (got == "") != (evidence == "") {
			t.Fatalf("Match %q, Find %q %q", got, rule, evidence)
		}
		if n := utf8.RuneCountInString(evidence); n > MaxEvidenceRunes {
			t.Fatalf("evidence of %d runes", n)
		}
		if got == "" {
			return
		}
		for _, r := range Rules() {
			if r == got {
				return
			}
		}
		t.Fatalf("unknown rule %q", got)
	})
}
