package probe

import (
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
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
func Match(u *url.URL) string {
	if r, _ := find(u); r != nil {
		return r.name
	}
	return ""
}

// Find is [Match] with the evidence: the text the rule matched, widened to
// whole words and cut to an [Excerpt] of at most [MaxEvidenceRunes] runes.
// It is taken from the string that matched — the decoded or escaped path,
// the raw query or the query decoded once — and is a copy: it shares no
// memory with u. Both are "" when nothing matches.
func Find(u *url.URL) (rule, evidence string) {
	r, s := find(u)
	if r == nil {
		return "", ""
	}
	loc := r.re.FindStringIndex(s)
	if loc == nil { // unreachable: r matched s
		return r.name, ""
	}
	return r.name, Excerpt(s, loc[0], loc[1])
}

// find returns the first rule matching the request target and the string it
// matched in, or nil. escapedPath is u.EscapedPath(), path the decoded
// u.Path, rawQuery u.RawQuery.
func find(u *url.URL) (*rule, string) {
	if u == nil {
		return nil, ""
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
		if r.match(u.Path, pathSet) {
			return r, u.Path
		}
		if escaped != u.Path && r.match(escaped, escapedSet) {
			return r, escaped
		}
		if r.inQuery && u.RawQuery != "" {
			if r.match(u.RawQuery, querySet) {
				return r, u.RawQuery
			}
			if decodedQuery != u.RawQuery && r.match(decodedQuery, decodedSet) {
				return r, decodedQuery
			}
		}
	}
	return nil, ""
}

// MaxEvidenceRunes bounds an [Excerpt].
const MaxEvidenceRunes = 64

// ellipsis marks what an [Excerpt] left out.
const ellipsis = "…"

// Excerpt returns s[start:end], a match, as evidence: widened to whole
// words, and, when longer than [MaxEvidenceRunes] runes, its head and tail
// joined by "…", each cut at a word boundary. A word is a run of anything
// but spaces, quotes, brackets and the separators ,;&|*! (a single space
// between two digits, as in a card number, is inside a word), so the
// excerpt never starts or ends inside a token: a secret in it is whole,
// where the scrubber recognises it, or left out. A word longer than the
// room is left out whole; when that leaves nothing of a long match (one
// long word, such as a 100 KB path), the excerpt is the bare match between
// two "…" if it fits, else "…". The result is a copy (it shares no memory
// with s); invalid UTF-8 bytes count as one rune each.
func Excerpt(s string, start, end int) string {
	if start < 0 || end > len(s) || start > end {
		return ""
	}
	match := s[start:end]
	for start > 0 && inWord(s, start) {
		_, n := utf8.DecodeLastRuneInString(s[:start])
		start -= n
	}
	for end < len(s) && inWord(s, end) {
		_, n := utf8.DecodeRuneInString(s[end:])
		end += n
	}
	m := s[start:end]
	if utf8.RuneCountInString(m) <= MaxEvidenceRunes {
		return strings.Clone(m)
	}
	const headRunes = MaxEvidenceRunes / 2
	const tailRunes = MaxEvidenceRunes - headRunes - 1 // the ellipsis is one rune
	h := 0
	for range headRunes {
		_, n := utf8.DecodeRuneInString(m[h:])
		h += n
	}
	for h > 0 && inWord(m, h) {
		_, n := utf8.DecodeLastRuneInString(m[:h])
		h -= n
	}
	t := len(m)
	for range tailRunes {
		_, n := utf8.DecodeLastRuneInString(m[:t])
		t -= n
	}
	for t < len(m) && inWord(m, t) {
		_, n := utf8.DecodeRuneInString(m[t:])
		t += n
	}
	head := strings.TrimRightFunc(m[:h], unicode.IsSpace)
	tail := strings.TrimLeftFunc(m[t:], unicode.IsSpace)
	if head == "" && tail == "" && utf8.RuneCountInString(match) <= MaxEvidenceRunes-2 {
		return ellipsis + match + ellipsis
	}
	return head + ellipsis + tail
}

// inWord reports whether byte offset i of s (0 < i < len(s), on a rune
// boundary) falls inside a word: the runes on both sides are word runes.
func inWord(s string, i int) bool {
	before, _ := utf8.DecodeLastRuneInString(s[:i])
	after, n := utf8.DecodeRuneInString(s[i:])
	if isWordRune(before) && isWordRune(after) {
		return true
	}
	// A space between two digits: "4111 1111" is one word.
	if after == ' ' && isDigit(before) {
		next, _ := utf8.DecodeRuneInString(s[i+n:])
		return isDigit(next)
	}
	if before == ' ' && isDigit(after) {
		prev, _ := utf8.DecodeLastRuneInString(s[:i-1])
		return isDigit(prev)
	}
	return false
}

func isDigit(r rune) bool { return '0' <= r && r <= '9' }

// isWordRune: anything but spaces, quotes, brackets and the separators.
func isWordRune(r rune) bool {
	return !unicode.IsSpace(r) && !strings.ContainsRune("'\"`<>()[]{},;&|*!", r)
}
