package probe

import (
	"net/url"
	"regexp"
	"strings"
)

// Rule names, as recorded in security_rule.name.
const (
	RulePathTraversal   = "path_traversal"
	RuleSensitiveFile   = "sensitive_file"
	RuleDotfileProbe    = "dotfile_probe"
	RulePHPProbe        = "php_probe"
	RuleWordPressProbe  = "wordpress_probe"
	RuleSQLInjection    = "sql_injection"
	RuleScriptInjection = "script_injection"
)

var (
	traversal = regexp.MustCompile(`(?i)(^|[/\\=])\.\.([/\\]|$)|%2e%2e|\.\.%2f|\.\.%5c|%2e\.|\.%2e`)
	sensitive = regexp.MustCompile(`(?i)/etc/(passwd|shadow|group)\b|/proc/self/environ|win\.ini|boot\.ini`)
	dotfile   = regexp.MustCompile(`(?i)(^|/)\.(env|git|svn|htaccess|htpasswd|aws|ssh|ds_store)([/.]|$)`)
	php       = regexp.MustCompile(`(?i)\.php\d?(/|$)`)
	wordpress = regexp.MustCompile(`(?i)(^|/)(wp-admin|wp-login|wp-content|wp-includes|xmlrpc)([/.]|$)`)
	sqli      = regexp.MustCompile(`(?i)\bunion(\s|/\*.*?\*/)+(all(\s|/\*.*?\*/)+)?select\b|'\s*(or|and)\s*'?\w+'?\s*=\s*'?\w+|;\s*(drop|insert|delete|update|truncate|alter)\s|\b(sleep|benchmark|pg_sleep)\s*\(|\bwaitfor\s+delay\b|\binformation_schema\b|'\s*--|\bor\s+1\s*=\s*1\b`)
	script    = regexp.MustCompile(`(?i)<\s*script|javascript\s*:|<[^>]*\bon[a-z]+\s*=|<\s*iframe|<\s*svg[^>]*onload`)
)

// A rule's regexp runs only on strings that contain one of its hints
// (lower-case, matched case-insensitively): RE2 is linear but not cheap, and
// almost every request contains none.
type rule struct {
	name    string
	re      *regexp.Regexp
	hints   []string
	inQuery bool // also checked against the query

	hintSets []byteSet // the bytes of each hint, set up by init
}

// byteSet is the set of (ASCII-lower-cased) bytes of a string: a hint can
// only occur in a string holding all of its bytes, a test of four ANDs.
type byteSet [4]uint64

func setOf(s string) byteSet {
	var b byteSet
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[c>>6] |= 1 << (c & 63)
	}
	return b
}

func (b byteSet) contains(sub byteSet) bool {
	return b[0]&sub[0] == sub[0] && b[1]&sub[1] == sub[1] && b[2]&sub[2] == sub[2] && b[3]&sub[3] == sub[3]
}

func init() {
	for i := range rules {
		for _, h := range rules[i].hints {
			rules[i].hintSets = append(rules[i].hintSets, setOf(h))
		}
	}
}

var rules = []rule{
	{name: RulePathTraversal, re: traversal, hints: []string{"..", "%2e"}, inQuery: true},
	{name: RuleSensitiveFile, re: sensitive, hints: []string{"/etc/", "/proc/", ".ini"}, inQuery: true},
	{name: RuleDotfileProbe, re: dotfile, hints: []string{"/."}, inQuery: false},
	{name: RulePHPProbe, re: php, hints: []string{".php"}, inQuery: false},
	{name: RuleWordPressProbe, re: wordpress, hints: []string{"wp-", "xmlrpc"}, inQuery: false},
	{name: RuleSQLInjection, re: sqli, hints: []string{"union", "'", ";", "sleep", "benchmark", "waitfor", "information_schema", "or 1", "or+1"}, inQuery: true},
	{name: RuleScriptInjection, re: script, hints: []string{"<", "javascript"}, inQuery: true},
}

func (r *rule) match(s string, set byteSet) bool {
	for i, h := range r.hints {
		if set.contains(r.hintSets[i]) && containsFold(s, h) {
			return r.re.MatchString(s)
		}
	}
	return false
}

// containsFold reports whether s contains the lower-case ASCII sub, ignoring
// ASCII case.
func containsFold(s, sub string) bool {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for ; j < n; j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}

// Rules returns the rule names in matching order.
func Rules() []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.name
	}
	return out
}

// Match returns the first rule matching the request target, or "".
// escapedPath is u.EscapedPath(), path the decoded u.Path, rawQuery
// u.RawQuery.
func Match(u *url.URL) string {
	if u == nil {
		return ""
	}
	escaped := u.RawPath
	if escaped == "" {
		escaped = u.Path
	}
	decodedQuery := u.RawQuery
	if strings.ContainsAny(decodedQuery, "%+") {
		if q, err := url.QueryUnescape(decodedQuery); err == nil {
			decodedQuery = q
		}
	}
	pathSet, escapedSet, querySet, decodedSet := setOf(u.Path), byteSet{}, byteSet{}, byteSet{}
	if escaped != u.Path {
		escapedSet = setOf(escaped)
	}
	if u.RawQuery != "" {
		querySet = setOf(u.RawQuery)
		if decodedQuery != u.RawQuery {
			decodedSet = setOf(decodedQuery)
		}
	}
	for i := range rules {
		r := &rules[i]
		if r.match(u.Path, pathSet) || (escaped != u.Path && r.match(escaped, escapedSet)) {
			return r.name
		}
		if r.inQuery && u.RawQuery != "" {
			if r.match(u.RawQuery, querySet) || (decodedQuery != u.RawQuery && r.match(decodedQuery, decodedSet)) {
				return r.name
			}
		}
	}
	return ""
}
