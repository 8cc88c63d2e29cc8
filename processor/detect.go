package processor

import (
	"math"
	"slices"
	"strings"

	"github.com/secaudit/secaudit/semconv"
)

// Detector selects built-in secret detectors of the [Scrubber]. Each one
// finds a secret inside any string value (attributes at any depth, the body,
// exception.message/stacktrace, url.query) and replaces only the secret's
// span with "[REDACTED]", so the rest of an error message survives:
// "dial postgres://app:[REDACTED]@db:5432 failed". Detectors are
// combinable bits; all are on by default. Every detector runs in time
// linear in the string, whatever it holds (a look-ahead shared by many
// anchors is searched once), so a 1 MB header costs milliseconds.
type Detector uint16

const (
	// DetectBearerToken: the token after "Bearer " (any case), when it is at
	// least 8 token characters and not a plain lowercase word.
	DetectBearerToken Detector = 1 << iota
	// DetectJWT: a JSON Web Token, "eyJ…" header, payload and signature.
	DetectJWT
	// DetectAWSAccessKeyID: AKIA/ASIA/ABIA/ACCA followed by 16 of A–Z0–9,
	// standing alone.
	DetectAWSAccessKeyID
	// DetectAWSSecretKey: a standalone run of exactly 40 base64 characters
	// (A–Za–z0–9/+) with upper case, lower case and a digit, not starting
	// with "/" and with at most three "/" (so URL paths and hex digests
	// survive).
	DetectAWSSecretKey
	// DetectPrivateKey: a PEM block "-----BEGIN … PRIVATE KEY-----" or a
	// PGP "-----BEGIN PGP PRIVATE KEY BLOCK-----" through its END line (or
	// the end of the string).
	DetectPrivateKey
	// DetectCardNumber: 13–19 digits, optionally in groups of 3+ separated by
	// single spaces or dashes, starting with 2–6 and passing the Luhn check;
	// also int64 and float64 values of that form (a float64 beyond 2^53,
	// not exact, with 17–19 digits and starting with 2–6 counts unchecked).
	// An order number that fails Luhn survives.
	DetectCardNumber
	// DetectURLPassword: the password of "scheme://user:pass@host" and of Go
	// DSNs "user:pass@tcp(host)/db", also when it holds '@', '#', '?', '/'
	// or spaces ("postgres://app:S3cr#t@db").
	DetectURLPassword
	// DetectSecretAssignment: the value in "password=…", "token: …",
	// "\"api_key\":\"…\"" and the like, when the key's normal form ends with
	// a secret word (password, passwd, pwd, passcode, passphrase, secret,
	// secretkey, token, apikey, accesskey, privatekey, credential(s), auth,
	// authorization, sessionid, session, cookie, jwt, bearer, signature,
	// sig). Whole-word suffix matching keeps "tokenizer=bpe" and
	// "secret_count=3" intact. For authorization and cookie keys the value
	// runs to the end of the line.
	DetectSecretAssignment
	// DetectProviderTokens: the API keys and tokens of well-known providers,
	// recognised by a distinctive prefix or structure and checked for
	// their alphabet and length, standing alone (not glued to a letter or
	// digit) — the families GitHub secret scanning, gitleaks and
	// trufflehog cover: source forges (GitHub ghp_/gho_/ghu_/ghs_/ghr_/
	// github_pat_, GitLab glpat-/gldt-/glrt-/…, Bitbucket ATBB, Atlassian
	// ATATT3), chat tokens and webhook URLs (Slack xox?- and
	// hooks.slack.com/services/…, Discord and Teams webhooks, Telegram
	// bot URLs: the host stays, the credential path goes), payment (Stripe
	// sk_/rk_ live and test keys and whsec_, Square, Braintree
	// access_token$production$…, Shopify, Plaid, Shippo, EasyPost,
	// Duffel), cloud (Google AIza…/GOCSPX-, Azure Storage AccountKey=…,
	// DigitalOcean, Heroku HRKU-, Alibaba LTAI, Tencent AKID, Fly.io,
	// Netlify, Supabase, PlanetScale, Databricks), AI (OpenAI, Anthropic,
	// Hugging Face, Replicate, Groq, Perplexity, xAI, LangSmith),
	// package registries (npm, PyPI, RubyGems, NuGet, Docker Hub,
	// Artifactory, Clojars, crates.io), mail (SendGrid, Mailgun,
	// Mailchimp, Brevo), observability (Grafana, New Relic, Sentry,
	// Dynatrace, Honeycomb), secret managers (HashiCorp Vault hvs./hvb./
	// hvr., Terraform Cloud …atlasv1…, Doppler, 1Password ops_, Pulumi,
	// age secret keys) and others (Linear, Notion, Figma, Postman,
	// Mapbox sk., Typeform, Contentful, Buildkite, Prefect, Frame.io).
	// Publishable keys (Stripe pk_, Mapbox pk.) are public by design and
	// not redacted; keys without a distinctive form (Datadog, Twilio, a
	// bare UUID) cannot be told from ids and are left to key rules and
	// your patterns. All formats are found in one pass over the string.
	DetectProviderTokens
	// DetectBasicCredentials: the credentials after "Basic " (any case)
	// when they are base64 (padded or not, at least 8 characters) of
	// printable text holding a ':' — an HTTP Basic user:password pair,
	// also outside an Authorization header (a User-Agent, a log line).
	DetectBasicCredentials

	// AllDetectors is every built-in detector (the default).
	AllDetectors = DetectBearerToken | DetectJWT | DetectAWSAccessKeyID | DetectAWSSecretKey |
		DetectPrivateKey | DetectCardNumber | DetectURLPassword | DetectSecretAssignment |
		DetectProviderTokens | DetectBasicCredentials

	// detectUnscreened is an internal bit (never a valid option): find
	// then runs every detector on every candidate its own anchors allow,
	// without the screens that rule candidates out early. The screens'
	// tests compare both, which must find the same spans.
	detectUnscreened Detector = 1 << 15
)

func (d Detector) String() string {
	names := []string{"BearerToken", "JWT", "AWSAccessKeyID", "AWSSecretKey", "PrivateKey", "CardNumber", "URLPassword", "SecretAssignment",
		"ProviderTokens", "BasicCredentials"}
	var parts []string
	for i, n := range names {
		if d&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// span is a half-open byte range [start, end) of a string to redact.
type span struct{ start, end int }

const (
	clsDigit uint8 = 1 << iota
	clsUpper
	clsLower
	clsB64Sym // + and /
	clsKey    // key characters: A–Z a–z 0–9 _ . -
)

var byteClass = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] |= clsDigit | clsKey
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] |= clsUpper | clsKey
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] |= clsLower | clsKey
	}
	t['+'] |= clsB64Sym
	t['/'] |= clsB64Sym
	t['_'] |= clsKey
	t['.'] |= clsKey
	t['-'] |= clsKey
	return t
}()

func isAlnum(c byte) bool { return byteClass[c]&(clsDigit|clsUpper|clsLower) != 0 }
func isB64(c byte) bool   { return byteClass[c]&(clsDigit|clsUpper|clsLower|clsB64Sym) != 0 }
func isB64URL(c byte) bool {
	return byteClass[c]&(clsDigit|clsUpper|clsLower) != 0 || c == '-' || c == '_'
}

// minSecretLen is the shortest string any detector can match ("pwd=x").
const minSecretLen = 5

// Anchor bits: which bytes a string contains, from one table-driven pass.
// The low bits are the detectors a byte anchors (a detector runs only when
// one of its anchor bytes is present); the high ones are bytes that
// matter otherwise.
const (
	ancDash    uint32 = 1 << (16 + iota) // '-' of "-----BEGIN", with ancUpperB
	ancUpperB                            // 'B' of "-----BEGIN" (and "Bearer")
	ancLowerB                            // 'b' of "bearer"
	ancPercent                           // '%': url.* values are also read decoded
	ancPlus                              // '+': a space in url.query
	ancColon                             // ':' of an assignment
	ancEquals                            // '=' of an assignment
)

// anchoredDetectors are the detectors whose anchor bytes are in
// anchorTable's low bits; the others run on length alone, and
// DetectPrivateKey runs when both its anchors (ancDash, ancUpperB) are
// present.
const anchoredDetectors = DetectSecretAssignment | DetectURLPassword | DetectJWT | DetectAWSAccessKeyID |
	DetectBearerToken | DetectBasicCredentials | DetectCardNumber

var anchorTable = func() (t [256]uint32) {
	t[':'] = uint32(DetectSecretAssignment) | ancColon
	t['='] = uint32(DetectSecretAssignment) | ancEquals
	t['@'] = uint32(DetectURLPassword)
	t['J'] = uint32(DetectJWT)
	t['A'] = uint32(DetectAWSAccessKeyID)
	t['b'] = uint32(DetectBearerToken|DetectBasicCredentials) | ancLowerB
	t['B'] = uint32(DetectBearerToken|DetectBasicCredentials) | ancUpperB
	t['-'] = ancDash
	t['%'] = ancPercent
	t['+'] = ancPlus
	for c := '0'; c <= '9'; c++ {
		t[c] = uint32(DetectCardNumber)
	}
	return t
}()

// minLen is the shortest string each detector can find a secret in, by
// bit; DetectProviderTokens' is tokenStride.
var minLen = [10]int{
	0: 15, // DetectBearerToken: "bearer", a blank and 8 characters
	1: 10, // DetectJWT: "eyJ" and a character, '.', 4 characters, '.'
	2: 20, // DetectAWSAccessKeyID
	3: 40, // DetectAWSSecretKey
	4: 27, // DetectPrivateKey: "-----BEGIN ", "PRIVATE KEY", "-----"
	5: 13, // DetectCardNumber
	6: minSecretLen,
	7: minSecretLen,
	8: minSecretLen,
	9: 14, // DetectBasicCredentials: "basic", a blank and 8 characters
}

// fitLen[n] is the detectors that fit in a string of n bytes (of 40 or
// more for the last).
var fitLen = func() (t [41]Detector) {
	for n := range t {
		for b, m := range minLen {
			if n >= m {
				t[n] |= 1 << b
			}
		}
	}
	return t
}()

// anchors returns the anchor bits of s.
func anchors(s string) uint32 {
	t := &anchorTable
	if len(s) < 8 {
		var m uint32
		for i := 0; i < len(s); i++ {
			m |= t[s[i]]
		}
		return m
	}
	var m0, m1, m2, m3 uint32
	if len(s)%8 != 0 {
		// The last 8 bytes, which hold whatever the 8-byte steps leave.
		tail := s[len(s)-8:]
		m0 = t[tail[0]] | t[tail[4]]
		m1 = t[tail[1]] | t[tail[5]]
		m2 = t[tail[2]] | t[tail[6]]
		m3 = t[tail[3]] | t[tail[7]]
	}
	for len(s) >= 8 {
		_ = s[7]
		m0 |= t[s[0]] | t[s[4]]
		m1 |= t[s[1]] | t[s[5]]
		m2 |= t[s[2]] | t[s[6]]
		m3 |= t[s[3]] | t[s[7]]
		s = s[8:]
	}
	return m0 | m1 | m2 | m3
}

// find appends the spans of secrets in s to spans, sorted and merged. One
// table-driven pass finds which anchor bytes s holds; only the detectors
// whose anchors are present and that fit in s then search, with the
// SIMD-backed strings functions or, for digit, base64 and token runs, by
// probing every 13th / 40th / tokenStride-th byte. Screens then rule out
// the common clean candidates before any detector reads them (a key that
// ends no secret word, a URL whose runs of token bytes are too short, a
// number too short for a card); TestDetectorScreens checks that they only
// skip work that finds nothing. A clean string costs about one load and
// one OR per byte.
func (d Detector) find(s string, spans []span) []span {
	if d == 0 || len(s) < minSecretLen {
		return spans
	}
	return d.findAnchored(s, anchors(s), spans)
}

// findAnchored is find for s, whose anchor bits are m.
func (d Detector) findAnchored(s string, m uint32, spans []span) []span {
	return d.findRun(s, m, d.toRun(s, m), spans)
}

// toRun returns the detectors of d that can find something in s, whose
// anchor bits are m: those whose anchor bytes s holds (or that have none)
// and that fit in its length. With detectUnscreened, every detector of d
// runs: each still searches for its own anchors, only slower. Otherwise
// the screens also drop DetectSecretAssignment when no separator follows
// a byte a secret key may end with (sepCandidate), DetectCardNumber when
// no probe of findCards lies in a run of card bytes long enough (a path
// or a version with digits), and DetectProviderTokens when a string
// shorter than any run of token bytes worth finding holds no run of a
// group as long as its shortest token (a URL).
func (d Detector) toRun(s string, m uint32) Detector {
	if d&detectUnscreened != 0 {
		return d & AllDetectors
	}
	// The detectors whose anchor bytes s holds (or that have none) and
	// that fit in its length.
	run := d & (Detector(m)&anchoredDetectors | DetectAWSSecretKey | DetectProviderTokens)
	if m&(ancDash|ancUpperB) == ancDash|ancUpperB {
		run |= d & DetectPrivateKey
	}
	run &= fitLen[min(len(s), len(fitLen)-1)]
	if len(s) < tokenStride {
		run &^= DetectProviderTokens
	}
	if run&DetectSecretAssignment != 0 && !(m&ancColon != 0 && sepCandidate(s, ':') || m&ancEquals != 0 && sepCandidate(s, '=')) {
		run &^= DetectSecretAssignment
	}
	if run&DetectCardNumber != 0 {
		// Card in run: len(s) >= 13. Below 26 bytes, findCards' only
		// probe is s[12].
		if len(s) < 26 && !cardByte(s[12]) || len(s) >= 26 && !cardCandidate(s) {
			run &^= DetectCardNumber
		}
	}
	if run&DetectProviderTokens != 0 && len(s) < groupMin[groupAny] && !mayHoldToken(s) {
		run &^= DetectProviderTokens // a short string as a whole: no run of token bytes need be found
	}
	return run
}

// findRun is find for s, whose anchor bits are m, running the detectors in
// run.
func (d Detector) findRun(s string, m uint32, run Detector, spans []span) []span {
	if run == 0 || len(s) < minSecretLen {
		return spans
	}
	// Each detector searches on its own (out of line, so that a clean
	// string pays for the ones it runs only).
	first := len(spans)
	screen := d&detectUnscreened == 0
	if run&DetectSecretAssignment != 0 {
		spans = findAssignments(s, m, spans, screen)
	}
	if run&DetectURLPassword != 0 {
		spans = findURLPasswords(s, spans)
	}
	if run&DetectJWT != 0 {
		spans = findJWTs(s, spans)
	}
	if run&DetectAWSAccessKeyID != 0 {
		spans = findAWSKeyIDs(s, spans)
	}
	if run&(DetectBearerToken|DetectBasicCredentials) != 0 {
		spans = findSchemes(s, m, run, spans, screen)
	}
	if run&DetectPrivateKey != 0 {
		spans = findPrivateKeys(s, spans)
	}
	if run&DetectCardNumber != 0 {
		spans = findCards(s, spans)
	}
	if run&DetectAWSSecretKey != 0 {
		spans = findAWSSecrets(s, spans)
	}
	if run&DetectProviderTokens != 0 {
		spans = findProviderTokens(s, spans, screen)
	}
	if len(spans)-first < 2 {
		return spans
	}
	return mergeSpans(spans, first)
}

// findAssignments appends the secret assignments of s, whose anchor bits
// are m.
func findAssignments(s string, m uint32, spans []span, screen bool) []span {
	// One memo for both separators: they are visited in string order,
	// so its searches start from increasing positions.
	var am assignMemo
	i, j := -1, -1
	if m&ancColon != 0 {
		i = strings.IndexByte(s, ':')
	}
	if m&ancEquals != 0 {
		j = strings.IndexByte(s, '=')
	}
	for i >= 0 || j >= 0 {
		k := j
		if j < 0 || (i >= 0 && i < j) {
			k = i
		}
		// The common clean case without a call: the key before the
		// separator ends in a letter or digit that ends no secret word
		// ("http:", "127.0.0.1:8080").
		if c := s[max(k-1, 0)]; !screen || k == 0 || !isAlnum(c) || secretWordLast[c] {
			spans = assignment(s, k, spans, &am, screen)
		}
		if k == i {
			i = nextByte(s, ':', i)
		} else {
			j = nextByte(s, '=', j)
		}
	}
	return spans
}

// sepCandidate reports whether a separator c of s follows a byte that the
// key of a secret assignment may end with: a letter or digit that ends a
// secret word, or none (a blank, a quote, '_', '-' or '.' may come between
// the key's last letter and the separator), or nothing at all.
func sepCandidate(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		k := strings.IndexByte(s[i:], c)
		if k < 0 {
			return false
		}
		if i += k; i == 0 || !isAlnum(s[i-1]) || secretWordLast[s[i-1]] {
			return true
		}
	}
	return false
}

// findURLPasswords appends the passwords of URLs and DSNs in s.
func findURLPasswords(s string, spans []span) []span {
	if strings.IndexByte(s, ':') >= 0 {
		var um urlMemo
		for i := strings.Index(s, "://"); i >= 0; i = nextString(s, "://", i) {
			spans = urlPassword(s, i, spans, &um)
		}
	}
	for i := strings.IndexByte(s, '@'); i >= 0; i = nextByte(s, '@', i) {
		spans = dsnPassword(s, i, spans)
	}
	return spans
}

// findJWTs appends the JSON Web Tokens in s.
func findJWTs(s string, spans []span) []span {
	for j := strings.IndexByte(s, 'J'); j >= 0; j = nextByte(s, 'J', j) {
		if i := j - 2; i >= 0 && s[i] == 'e' && s[i+1] == 'y' && (i == 0 || !isB64URL(s[i-1])) {
			spans = jwt(s, i, spans)
		}
	}
	return spans
}

// findAWSKeyIDs appends the AWS access key ids in s.
func findAWSKeyIDs(s string, spans []span) []span {
	for i := strings.IndexByte(s, 'A'); i >= 0 && len(s)-i >= 20; i = nextByte(s, 'A', i) {
		spans = awsKeyID(s, i, spans)
	}
	return spans
}

// findSchemes appends the bearer tokens and Basic credentials in s, of
// the detectors in run; m is s's anchor bits.
func findSchemes(s string, m uint32, run Detector, spans []span, screen bool) []span {
	for _, c := range [...]byte{'b', 'B'} {
		if screen && m&anchorTable[c]&(ancLowerB|ancUpperB) == 0 {
			continue
		}
		// "basic" plus a space and 8 base64 characters: 14 bytes
		// ("bearer …" needs 15).
		for i := strings.IndexByte(s, c); i >= 0 && len(s)-i >= 14; i = nextByte(s, c, i) {
			if i > 0 && isAlnum(s[i-1]) {
				continue
			}
			if run&DetectBearerToken != 0 && len(s)-i >= 15 {
				spans = bearer(s, i, spans)
			}
			if run&DetectBasicCredentials != 0 {
				spans = basicCredentials(s, i, spans)
			}
		}
	}
	return spans
}

// findPrivateKeys appends the private key blocks in s.
func findPrivateKeys(s string, spans []span) []span {
	var end, close memo
	for i := strings.Index(s, "-----BEGIN "); i >= 0; i = nextString(s, "-----BEGIN ", i) {
		spans = privateKey(s, i, spans, &end, &close)
	}
	return spans
}

// nextByte returns the index of the next c in s after i, or -1.
func nextByte(s string, c byte, i int) int {
	j := strings.IndexByte(s[i+1:], c)
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// nextString returns the index of the next sub in s after i, or -1.
func nextString(s, sub string, i int) int {
	j := strings.Index(s[i+1:], sub)
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// memo remembers one forward search of a string: the first match at or
// after from is at (len(s) when there is none). A detector that looks ahead
// from each of many anchors asks from increasing positions; a search that
// starts inside [from, at] has the same answer, so it is reused, and every
// byte is searched at most once per memo. This keeps every detector linear
// in its input, however many anchors ("://", "password=", BEGIN lines)
// share one stretch of text. A memo serves one string and one search.
type memo struct {
	from, at int
	set      bool
}

// next returns the first match of search in s at or after q, or len(s).
// search returns an index into its argument, or -1.
func (m *memo) next(s string, q int, search func(string) int) int {
	if m.set && m.from <= q && q <= m.at {
		return m.at
	}
	at := len(s)
	if q < len(s) {
		if k := search(s[q:]); k >= 0 {
			at = q + k
		}
	}
	m.from, m.at, m.set = q, at, true
	return at
}

// indexTable returns the index of the first byte of s in table t, or -1.
func indexTable(s string, t *[256]bool) int {
	for i := 0; i < len(s); i++ {
		if t[s[i]] {
			return i
		}
	}
	return -1
}

func byteSet(chars string) (t [256]bool) {
	for i := 0; i < len(chars); i++ {
		t[chars[i]] = true
	}
	return t
}

func cardByte(c byte) bool { return (c >= '0' && c <= '9') || c == ' ' || c == '-' }

// cardCandidate reports whether one of findCards' probes lies in a run of
// at least 13 card bytes (digits, spaces, dashes): without one, findCards
// finds nothing.
func cardCandidate(s string) bool {
	for i := 12; i < len(s); i += 13 {
		if !cardByte(s[i]) {
			continue
		}
		a, b := i, i+1
		for a > 0 && cardByte(s[a-1]) {
			a--
		}
		for b < len(s) && cardByte(s[b]) {
			b++
		}
		if b-a >= 13 {
			return true
		}
		i = b - 1
	}
	return false
}

// findCards probes every 13th byte: a card number spans at least 13 bytes
// of digits and separators, so it contains a probed byte. Around a probe
// that is a digit or separator, it examines the whole run.
func findCards(s string, spans []span) []span {
	const stride = 13
	for i := stride - 1; i < len(s); i += stride {
		if !cardByte(s[i]) {
			continue
		}
		a, b := i, i+1
		for a > 0 && cardByte(s[a-1]) {
			a--
		}
		for b < len(s) && cardByte(s[b]) {
			b++
		}
		if b-a < 13 {
			i = b - 1
			continue
		}
		for k := a; k < b; {
			if s[k] < '0' || s[k] > '9' {
				k++
				continue
			}
			if k > 0 && isAlnum(s[k-1]) || k == a && a > 0 && s[a-1] == '.' {
				// Glued to a word (or a decimal point): skip this group.
				for k < b && s[k] >= '0' && s[k] <= '9' {
					k++
				}
				continue
			}
			var end int
			spans, end = findCard(s, k, spans)
			k = max(end, k+1)
		}
		i = b - 1
	}
	return spans
}

// findAWSSecrets probes every 40th byte: a 40-character run contains one.
func findAWSSecrets(s string, spans []span) []span {
	const stride = 40
	for i := stride - 1; i < len(s); i += stride {
		if !isB64(s[i]) {
			continue
		}
		a, b := i, i+1
		for a > 0 && isB64(s[a-1]) {
			a--
		}
		for b < len(s) && isB64(s[b]) {
			b++
		}
		if b-a == 40 {
			var cls uint8
			slashes := 0
			for _, c := range []byte(s[a:b]) {
				cls |= byteClass[c]
				if c == '/' {
					slashes++
				}
			}
			spans = awsSecret(s, a, b, cls, slashes, spans)
		}
		i = b - 1
	}
	return spans
}

// mergeSpans sorts spans[first:] and merges overlapping or touching ones.
func mergeSpans(spans []span, first int) []span {
	tail := spans[first:]
	if len(tail) < 2 {
		return spans
	}
	slices.SortFunc(tail, func(a, b span) int { return a.start - b.start })
	out := tail[:1]
	for _, sp := range tail[1:] {
		last := &out[len(out)-1]
		if sp.start <= last.end {
			last.end = max(last.end, sp.end)
			continue
		}
		out = append(out, sp)
	}
	return spans[:first+len(out)]
}

// addSpan appends [start, end) unless it is empty or already just the
// redaction marker (so scrubbing twice changes nothing). A span that
// overlaps or touches the last one extends it instead, so overlapping hits
// (a BEGIN line inside a key block, chained JWT-like segments) keep the
// list short.
func addSpan(s string, start, end int, spans []span) []span {
	if end <= start || s[start:end] == semconv.Redacted {
		return spans
	}
	if n := len(spans); n > 0 && start <= spans[n-1].end && end >= spans[n-1].start {
		last := &spans[n-1]
		last.start, last.end = min(last.start, start), max(last.end, end)
		return spans
	}
	return append(spans, span{start, end})
}

func awsSecret(s string, start, end int, cls uint8, slashes int, spans []span) []span {
	if end-start != 40 || s[start] == '/' || slashes > 3 ||
		cls&(clsUpper|clsLower|clsDigit) != clsUpper|clsLower|clsDigit {
		return spans
	}
	if start > 0 && (s[start-1] == '-' || s[start-1] == '_') {
		return spans
	}
	if end < len(s) && (s[end] == '=' || s[end] == '-' || s[end] == '_') {
		return spans
	}
	return addSpan(s, start, end, spans)
}

func awsKeyID(s string, i int, spans []span) []span {
	if len(s)-i < 20 || (i > 0 && isAlnum(s[i-1])) {
		return spans
	}
	switch s[i : i+4] {
	case "AKIA", "ASIA", "ABIA", "ACCA":
	default:
		return spans
	}
	for j := i + 4; j < i+20; j++ {
		if byteClass[s[j]]&(clsUpper|clsDigit) == 0 {
			return spans
		}
	}
	if i+20 < len(s) && isAlnum(s[i+20]) {
		return spans
	}
	return addSpan(s, i, i+20, spans)
}

func jwt(s string, i int, spans []span) []span {
	j := i
	for part := 0; part < 3; part++ {
		k := j
		for k < len(s) && isB64URL(s[k]) {
			k++
		}
		if part < 2 {
			if k-j < 4 || k >= len(s) || s[k] != '.' {
				return spans
			}
			j = k + 1
			continue
		}
		j = k
	}
	return addSpan(s, i, j, spans)
}

func bearer(s string, i int, spans []span) []span {
	const word = "bearer"
	for k := 0; k < len(word); k++ {
		if s[i+k]|0x20 != word[k] {
			return spans
		}
	}
	j := i + len(word)
	sep := j
	for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
		j++
	}
	if j == sep {
		return spans
	}
	start := j
	var cls uint8
	for j < len(s) {
		c := s[j]
		if isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			cls |= byteClass[c] | clsB64Sym*boolByte(!isAlnum(c))
			j++
			continue
		}
		break
	}
	for j < len(s) && s[j] == '=' {
		j++
	}
	if j-start < 8 || cls&(clsDigit|clsUpper|clsB64Sym) == 0 {
		return spans
	}
	return addSpan(s, start, j, spans)
}

// basicCredentials handles "Basic <base64 of user:password>"; i is the
// 'b' or 'B'. Only the credentials are redacted. They must decode to
// printable text (no control characters) holding a ':', so "basic
// research" and "Basic dXNlcg==" (no colon) survive. Each candidate reads
// its own word only, so the scan is linear.
func basicCredentials(s string, i int, spans []span) []span {
	const word = "basic"
	for k := 0; k < len(word); k++ {
		if s[i+k]|0x20 != word[k] {
			return spans
		}
	}
	j := i + len(word)
	sep := j
	for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
		j++
	}
	if j == sep {
		return spans
	}
	start := j
	for j < len(s) && isB64(s[j]) {
		j++
	}
	n := j - start
	for pad := 0; pad < 2 && j < len(s) && s[j] == '='; pad++ {
		j++
	}
	if n < 8 || n%4 == 1 || (j < len(s) && (isB64URL(s[j]) || isB64(s[j]) || s[j] == '=')) {
		return spans
	}
	if !basicPair(s[start : start+n]) {
		return spans
	}
	return addSpan(s, start, j, spans)
}

// basicPair reports whether b64 (base64 without padding) decodes to
// printable text that holds a ':'.
func basicPair(b64 string) bool {
	colon := false
	var acc uint32
	bits := 0
	for k := 0; k < len(b64); k++ {
		acc = acc<<6 | uint32(b64Value(b64[k]))
		bits += 6
		if bits >= 8 {
			bits -= 8
			c := byte(acc >> bits)
			acc &= 1<<bits - 1
			if c < 0x20 || c == 0x7f {
				return false
			}
			if c == ':' {
				colon = true
			}
		}
	}
	return colon
}

// b64Value is the value of a standard base64 character.
func b64Value(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c - 'A'
	case c >= 'a' && c <= 'z':
		return c - 'a' + 26
	case c >= '0' && c <= '9':
		return c - '0' + 52
	case c == '+':
		return 62
	}
	return 63 // '/'
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// pemBegin opens a PEM (or PGP armour) block.
const pemBegin = "-----BEGIN "

// privateKey handles "-----BEGIN … PRIVATE KEY-----" (PKCS#1/#8, EC,
// OpenSSH, encrypted) and "-----BEGIN PGP PRIVATE KEY BLOCK-----": the block
// through its END line, or to the end of the string; i is the BEGIN. The
// label is read within a bounded window, and endM and closeM memoise the
// searches for the END line and its closing dashes, so any number of BEGIN
// lines costs one pass.
func privateKey(s string, i int, spans []span, endM, closeM *memo) []span {
	const maxLabel = 64
	headStart := i + len(pemBegin)
	head := s[headStart:]
	eol := strings.Index(head[:min(len(head), maxLabel+len("-----"))], "-----")
	if eol < 0 {
		return spans
	}
	if label := head[:eol]; !strings.HasSuffix(label, "PRIVATE KEY") && !strings.HasSuffix(label, "PRIVATE KEY BLOCK") {
		return spans
	}
	end := len(s)
	if e := endM.next(s, headStart+eol+len("-----"), indexPEMEnd); e < len(s) {
		e += len("-----END ")
		if c := closeM.next(s, e, indexDashes); c < len(s) {
			end = c + len("-----")
		}
	}
	return addSpan(s, i, end, spans)
}

func indexPEMEnd(s string) int  { return strings.Index(s, "-----END ") }
func indexDashes(s string) int  { return strings.Index(s, "-----") }
func indexAt(s string) int      { return strings.IndexByte(s, '@') }
func indexSlash(s string) int   { return strings.IndexByte(s, '/') }
func indexURLStop(s string) int { return indexTable(s, &urlTokenStop) }
func indexURLLine(s string) int { return indexTable(s, &urlLineStop) }
func indexNonDigit(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return i
		}
	}
	return -1
}

var (
	// urlTokenStop ends a URL in text.
	urlTokenStop = byteSet(" \t\n\r\"'<>`")
	// urlLineStop ends a URL password that holds spaces.
	urlLineStop = byteSet("\n\r\"'<>`")
	// urlUserStop ends the user of "scheme://user:pass@host" (which may
	// hold '@', as an e-mail address does).
	urlUserStop = byteSet(":/?#" + " \t\n\r\"'<>`")
	// dsnStop and dsnHardStop end the "user:pass" before the '@' of a Go
	// DSN, without and with spaces inside the password.
	dsnStop     = byteSet(" \t\n\r\"'(=,`/")
	dsnHardStop = byteSet("\n\r\"'(=,`/")
)

// urlMemo holds urlPassword's memoised searches over one string.
type urlMemo struct {
	at, tokEnd, slash, nonDigit, lineEnd memo
	// The last password end chosen: for a first '@' in [lastFrom,
	// lastEnd) the password ends at lastAt.
	lastFrom, lastEnd, lastAt int
}

// urlPassword handles "scheme://user:pass@host"; i is the ':' before "//".
// The password runs from the user's colon to the last '@' before the path
// that follows the first '@', so it may hold '@', '#', '?' and '/'
// ("postgres://app:S3cr#t@db", "amqp://u:p@ss@mq/vhost"), while an e-mail
// address in a query stays out of it. With no '@' in the URL, a password
// that holds spaces runs to the first '@' on the line, unless what follows
// the colon is a port or a path. Every look-ahead is memoised in m.
func urlPassword(s string, i int, spans []span, m *urlMemo) []span {
	if i == 0 || !isAlnum(s[i-1]) {
		return spans
	}
	start := i + 3
	// The user stops at the next ':' at the latest, which is before the
	// next "://": user scans never overlap.
	u := indexTable(s[start:], &urlUserStop)
	if u < 0 || s[start+u] != ':' {
		return spans
	}
	pw := start + u + 1
	tokEnd := m.tokEnd.next(s, pw, indexURLStop)
	at := m.at.next(s, pw, indexAt)
	if at < tokEnd {
		if m.lastEnd == 0 || at < m.lastFrom || at >= m.lastEnd {
			end := tokEnd
			if k := strings.IndexByte(s[at:tokEnd], '/'); k >= 0 {
				end = at + k
			}
			m.lastFrom, m.lastEnd = at, end
			m.lastAt = at + strings.LastIndexByte(s[at:end], '@')
		}
		return addSpan(s, pw, m.lastAt, spans)
	}
	// No '@' in the URL: a password with spaces ("S3cr t@db")?
	if tokEnd >= len(s) || (s[tokEnd] != ' ' && s[tokEnd] != '\t') ||
		m.slash.next(s, pw, indexSlash) < tokEnd || // a path
		m.nonDigit.next(s, pw, indexNonDigit) >= tokEnd { // a port, or nothing
		return spans
	}
	if at >= m.lineEnd.next(s, tokEnd, indexURLLine) || at+1 >= len(s) || !(isAlnum(s[at+1]) || s[at+1] == '[') {
		return spans
	}
	return addSpan(s, pw, at, spans)
}

// dsnPassword handles Go SQL DSNs "user:pass@tcp(host)/db" and
// "user:pass@/db"; i is the '@'. The password may hold '#' and '?', and
// spaces when no colon precedes the '@' within its own word. The backward
// scans stop at '(' and '/', which follow every earlier DSN '@', so they
// never overlap.
func dsnPassword(s string, i int, spans []span) []span {
	rest := s[i+1:]
	if !strings.HasPrefix(rest, "/") {
		k := 0
		for k < len(rest) && byteClass[rest[k]]&(clsLower|clsUpper|clsDigit) != 0 {
			k++
		}
		if k == 0 || k >= len(rest) || rest[k] != '(' {
			return spans
		}
	}
	j := i
	for j > 0 && !dsnStop[s[j-1]] {
		j--
	}
	if colon := strings.IndexByte(s[j:i], ':'); colon >= 0 {
		return addSpan(s, j+colon+1, i, spans)
	}
	if j == 0 || (s[j-1] != ' ' && s[j-1] != '\t') {
		return spans
	}
	for j > 0 && !dsnHardStop[s[j-1]] {
		j--
	}
	colon := strings.IndexByte(s[j:i], ':')
	if colon < 0 {
		return spans
	}
	return addSpan(s, j+colon+1, i, spans)
}

// secretWords are normal-form key suffixes that make "key=value" a secret
// assignment. Sorted longest first is not needed: any match counts.
var secretWords = []string{
	"password", "passwd", "pwd", "passcode", "passphrase", "secret", "secretkey", "token",
	"apikey", "accesskey", "privatekey", "credential", "credentials", "auth", "authorization",
	"sessionid", "session", "cookie", "jwt", "bearer", "signature", "sig",
}

// secretWordLast holds the last letter of every secret word, in both
// cases.
var secretWordLast = func() (t [256]bool) {
	for _, w := range secretWords {
		c := w[len(w)-1]
		t[c], t[c-'a'+'A'] = true, true
	}
	return t
}()

// lineValueWords are secret words whose value runs to the end of the line
// (an Authorization header's scheme and credentials, a Cookie list).
func lineValueWord(w string) bool {
	return w == "authorization" || w == "cookie" || w == "auth"
}

// assignMemo holds assignment's memoised searches over one string.
type assignMemo struct {
	plain, line memo
	quote       [2]memo // '"', '\''
	// The line end last trimmed of trailing blanks, and the result.
	trimFrom, trimTo int
	trimSet          bool
}

// plainValueStop ends an unquoted assignment value.
var plainValueStop = byteSet(" \t\n\r&,;\"')]}<>`")

func indexPlainStop(s string) int { return indexTable(s, &plainValueStop) }
func indexLineEnd(s string) int   { return strings.IndexAny(s, "\n\r") }
func closeDouble(s string) int    { return closingQuote(s, '"') }
func closeSingle(s string) int    { return closingQuote(s, '\'') }

// closingQuote returns the index of the first q in s not escaped by a
// backslash, or -1. s starts just after the opening quote.
func closingQuote(s string, q byte) int {
	for k := 0; k < len(s); k++ {
		switch s[k] {
		case '\\':
			k++
		case q:
			return k
		}
	}
	return -1
}

// assignment handles "key=value", "key: value", "\"key\":\"value\"";
// i is the '=' or ':'. The key is read backwards to the previous non-key
// byte (so keys of different separators never overlap); the value's end
// comes from a memo in m, so separators sharing one value ("auth:auth:…",
// "password=password=…") cost one pass.
//
// With screen, a key whose last letter or digit ends no secret word is
// rejected before it is read.
func assignment(s string, i int, spans []span, m *assignMemo, screen bool) []span {
	j := i
	for j > 0 && (s[j-1] == ' ' || s[j-1] == '\t') && i-j < 4 {
		j--
	}
	if j > 0 && (s[j-1] == '"' || s[j-1] == '\'') {
		j--
	}
	keyEnd := j
	// The key's normal form ends with its last letter or digit: unless
	// that ends a secret word, no word can match (the common case, "http:"
	// or "127.0.0.1:8080"), and the key need not be read.
	if screen {
		for j > 0 && byteClass[s[j-1]]&clsKey != 0 && !isAlnum(s[j-1]) {
			j--
		}
		if j == 0 || !secretWordLast[s[j-1]] {
			return spans
		}
		j = keyEnd
	}
	// Normalise the key backwards into a small buffer (reversed).
	var buf [24]byte
	n := 0
	for j > 0 && byteClass[s[j-1]]&clsKey != 0 {
		j--
		c := s[j]
		if byteClass[c]&(clsDigit|clsUpper|clsLower) != 0 && n < len(buf) {
			buf[n] = c | 0x20*boolByte(c >= 'A' && c <= 'Z')
			n++
		}
	}
	if j == keyEnd || n == 0 {
		return spans
	}
	word := ""
	for _, w := range secretWords {
		if len(w) > n {
			continue
		}
		ok := true
		for k := 0; k < len(w); k++ {
			if buf[k] != w[len(w)-1-k] {
				ok = false
				break
			}
		}
		if ok && len(w) > len(word) {
			word = w
		}
	}
	if word == "" {
		return spans
	}
	v := i + 1
	if s[i] == ':' && v < len(s) && s[v] == ':' {
		return spans // "a::b", C++/Rust paths
	}
	for v < len(s) && (s[v] == ' ' || s[v] == '\t') {
		v++
	}
	if v >= len(s) {
		return spans
	}
	if q := s[v]; q == '"' || q == '\'' {
		start := v + 1
		search, qm := closeDouble, &m.quote[0]
		if q == '\'' {
			search, qm = closeSingle, &m.quote[1]
		}
		return addSpan(s, start, qm.next(s, start, search), spans)
	}
	if s[v] == '{' || s[v] == '[' {
		return spans
	}
	start := v
	if lineValueWord(word) {
		end := m.line.next(s, start, indexLineEnd)
		// Trim trailing blanks once per line end.
		if !m.trimSet || m.trimFrom != end {
			t := end
			for t > 0 && (s[t-1] == ' ' || s[t-1] == '\t') {
				t--
			}
			m.trimFrom, m.trimTo, m.trimSet = end, t, true
		}
		return addSpan(s, start, max(start, m.trimTo), spans)
	}
	return addSpan(s, start, m.plain.next(s, start, indexPlainStop), spans)
}

// findCard examines the digit groups starting at i (a digit at a word
// boundary), separated by single spaces or dashes, and appends the span of
// every card number among consecutive groups of at least three digits. A
// card is checked when a group ends (not glued to a following letter),
// against the last few groups, so any number of groups is handled. It
// returns the index after the groups.
func findCard(s string, i int, spans []span) ([]span, int) {
	// A card has at most 19 digits in groups of 3 or more: 6 groups.
	var starts, ends [7]int
	n := 0
	j := i
	for {
		start := j
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j-start < 3 {
			n = 0 // a short group cannot be inside a card
		} else {
			if n == len(starts) {
				copy(starts[:], starts[1:])
				copy(ends[:], ends[1:])
				n--
			}
			starts[n], ends[n] = start, j
			n++
			if j == len(s) || !isAlnum(s[j]) {
				digits := 0
				for a := n - 1; a >= 0; a-- {
					digits += ends[a] - starts[a]
					if digits > 19 {
						break
					}
					if digits >= 13 && cardDigits(s[starts[a]:j]) {
						spans = addSpan(s, starts[a], j, spans)
						n = 0
						break
					}
				}
			}
		}
		if j+1 < len(s) && (s[j] == ' ' || s[j] == '-') && s[j+1] >= '0' && s[j+1] <= '9' {
			j++
			continue
		}
		return spans, j
	}
}

// cardDigits reports whether s (digits, maybe with ' ' or '-') is a
// plausible card number: first digit 2–6 and a valid Luhn checksum.
func cardDigits(s string) bool {
	if s[0] < '2' || s[0] > '6' {
		return false
	}
	sum, double := 0, false
	for k := len(s) - 1; k >= 0; k-- {
		c := s[k]
		if c < '0' || c > '9' {
			continue
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// cardInt reports whether an int64 value looks like a card number.
func cardInt(v int64) bool {
	if v < 1_000_000_000_000 { // fewer than 13 digits
		return false
	}
	var buf [20]byte
	n := len(buf)
	for v > 0 {
		n--
		buf[n] = byte('0' + v%10)
		v /= 10
	}
	return cardDigits(string(buf[n:]))
}

// cardFloat reports whether a float64 value looks like a card number (JSON
// body capture turns 4111111111111111 or 4111111111111111e0 into one). Up
// to 2^53 the value is exact and checked like an int64; beyond, the digits
// a card would have are not all there, but the leading ones an encoder
// writes would still leak, so any integral value of 17 to 19 digits
// starting with 2–6 counts.
func cardFloat(f float64) bool {
	if !(f >= 1e12 && f < 1e19) || f != math.Trunc(f) {
		return false
	}
	if f < 1<<53 {
		return cardInt(int64(f))
	}
	lead := f
	for lead >= 10 {
		lead /= 10
	}
	return lead >= 2 && lead < 7
}
