package processor

import (
	"strings"
)

// Provider tokens ([DetectProviderTokens]): one table of formats, each
// recognised by a distinctive prefix (or an infix marker) and then checked
// for its alphabet, its length and, where the format has one, its
// structure. One pass finds them all: the string is probed for runs of
// token characters at least as long as the shortest format, skipping
// tokenStride bytes at a time (nextTokenRun); inside such a run each word
// start is looked up in a table of the first two bytes of every prefix, and
// only a candidate that passes is compared with the prefixes starting with
// that byte. A clean string of ordinary words costs one short backward read
// per tokenStride bytes.

// alphabet names a set of token characters.
type alphabet uint8

const (
	aAlnum         alphabet = iota // A–Z a–z 0–9
	aWord                          // A–Z a–z 0–9 _
	aWordDash                      // A–Z a–z 0–9 _ -
	aWordDashDot                   // A–Z a–z 0–9 _ - .
	aWordDashEq                    // A–Z a–z 0–9 _ - =
	aAlnumDash                     // A–Z a–z 0–9 -
	aLetters                       // A–Z a–z
	aLowerDigit                    // a–z 0–9
	aUpperDigit                    // A–Z 0–9
	aUpperDigitDot                 // A–Z 0–9 .
	aHexLower                      // 0–9 a–f
	aHex                           // 0–9 a–f A–F
	aHexDash                       // 0–9 a–f -
	aHexUnderscore                 // 0–9 a–f _
	aDigit                         // 0–9
	aBase64                        // A–Z a–z 0–9 + / =
	aBase64Any                     // A–Z a–z 0–9 + / = _ -
	aURLPath                       // A–Z a–z 0–9 _ - /
	aTeams                         // A–Z a–z 0–9 - / @
	aTelegram                      // A–Z a–z 0–9 _ - :
	aBraintree                     // a–z 0–9 $
	aBech32Upper                   // the bech32 alphabet, upper case
	nAlphabets
)

var alphabetChars = [nAlphabets]string{
	aAlnum:         "A-Za-z0-9",
	aWord:          "A-Za-z0-9_",
	aWordDash:      "A-Za-z0-9_-",
	aWordDashDot:   "A-Za-z0-9_.-",
	aWordDashEq:    "A-Za-z0-9_=-",
	aAlnumDash:     "A-Za-z0-9-",
	aLetters:       "A-Za-z",
	aLowerDigit:    "a-z0-9",
	aUpperDigit:    "A-Z0-9",
	aUpperDigitDot: "A-Z0-9.",
	aHexLower:      "0-9a-f",
	aHex:           "0-9a-fA-F",
	aHexDash:       "0-9a-f-",
	aHexUnderscore: "0-9a-f_",
	aDigit:         "0-9",
	aBase64:        "A-Za-z0-9+/=",
	aBase64Any:     "A-Za-z0-9+/=_-",
	aURLPath:       "A-Za-z0-9_/-",
	aTeams:         "A-Za-z0-9/@-",
	aTelegram:      "A-Za-z0-9_:-",
	aBraintree:     "a-z0-9$",
	aBech32Upper:   "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L",
}

// tokenFormat is one provider's token format. The token is
// s[start-back : end]: back bytes of backAlpha (for an infix marker), the
// prefix, then a body of min to max bytes of alpha that is not followed by
// a letter or digit. It starts at a word boundary (no letter or digit just
// before it). With keep, only the body is redacted (a webhook URL keeps its
// host, "AccountKey=" its name).
type tokenFormat struct {
	provider  string
	prefix    string
	alpha     alphabet
	min, max  int
	back      int
	backAlpha alphabet
	keep      bool
	check     func(body string) bool // the structure inside the body, or nil
}

// tokenFormats are the formats of DetectProviderTokens. Publishable keys
// (Stripe pk_live_, Mapbox pk.) are public by design and left out, and so
// are formats with no distinctive prefix (Datadog, Heroku's legacy UUID
// keys, Twilio, Postmark), which no detector can tell from an id.
var tokenFormats = []tokenFormat{
	// Source forges.
	{provider: "GitHub", prefix: "ghp_", alpha: aAlnum, min: 36, max: 36},
	{provider: "GitHub", prefix: "gho_", alpha: aAlnum, min: 36, max: 36},
	{provider: "GitHub", prefix: "ghu_", alpha: aAlnum, min: 36, max: 36},
	{provider: "GitHub", prefix: "ghs_", alpha: aAlnum, min: 36, max: 36},
	{provider: "GitHub", prefix: "ghr_", alpha: aAlnum, min: 36, max: 76},
	{provider: "GitHub", prefix: "github_pat_", alpha: aWord, min: 82, max: 82, check: charAt(22, '_')},
	{provider: "GitLab", prefix: "glpat-", alpha: aWordDashDot, min: 20, max: 100},
	{provider: "GitLab", prefix: "gldt-", alpha: aWordDashDot, min: 20, max: 100},
	{provider: "GitLab", prefix: "glrt-", alpha: aWordDashDot, min: 20, max: 100},
	{provider: "GitLab", prefix: "glft-", alpha: aWordDashDot, min: 20, max: 100},
	{provider: "GitLab", prefix: "gloas-", alpha: aWordDashDot, min: 20, max: 100},
	{provider: "GitLab", prefix: "glsoat-", alpha: aWordDashDot, min: 20, max: 100},
	{provider: "GitLab", prefix: "glcbt-", alpha: aWordDashDot, min: 20, max: 100},
	{provider: "GitLab", prefix: "glptt-", alpha: aHexLower, min: 40, max: 40},
	{provider: "Bitbucket", prefix: "ATBB", alpha: aAlnum, min: 28, max: 64},
	{provider: "Atlassian", prefix: "ATATT3", alpha: aWordDashEq, min: 100, max: 300},

	// Chat and webhook URLs.
	{provider: "Slack", prefix: "xoxb-", alpha: aAlnumDash, min: 20, max: 255},
	{provider: "Slack", prefix: "xoxp-", alpha: aAlnumDash, min: 20, max: 255},
	{provider: "Slack", prefix: "xoxa-", alpha: aAlnumDash, min: 20, max: 255},
	{provider: "Slack", prefix: "xoxr-", alpha: aAlnumDash, min: 20, max: 255},
	{provider: "Slack", prefix: "xoxs-", alpha: aAlnumDash, min: 20, max: 255},
	{provider: "Slack", prefix: "xoxe-", alpha: aAlnumDash, min: 20, max: 255},
	{provider: "Slack", prefix: "xoxe.xoxp-", alpha: aAlnumDash, min: 20, max: 255},
	{provider: "Slack", prefix: "xapp-", alpha: aAlnumDash, min: 20, max: 255},
	{provider: "Slack", prefix: "hooks.slack.com/services/", alpha: aURLPath, min: 30, max: 120, keep: true, check: slackHook},
	{provider: "Discord", prefix: "discord.com/api/webhooks/", alpha: aURLPath, min: 60, max: 130, keep: true, check: discordHook},
	{provider: "Discord", prefix: "discordapp.com/api/webhooks/", alpha: aURLPath, min: 60, max: 130, keep: true, check: discordHook},
	{provider: "Microsoft Teams", prefix: "webhook.office.com/webhookb2/", alpha: aTeams, min: 80, max: 250, keep: true, check: teamsHook},
	{provider: "Telegram", prefix: "api.telegram.org/bot", alpha: aTelegram, min: 43, max: 48, keep: true, check: telegramBot},

	// Payment.
	{provider: "Stripe", prefix: "sk_live_", alpha: aAlnum, min: 24, max: 247},
	{provider: "Stripe", prefix: "sk_test_", alpha: aAlnum, min: 24, max: 247},
	{provider: "Stripe", prefix: "rk_live_", alpha: aAlnum, min: 24, max: 247},
	{provider: "Stripe", prefix: "rk_test_", alpha: aAlnum, min: 24, max: 247},
	{provider: "Stripe", prefix: "whsec_", alpha: aAlnum, min: 32, max: 64},
	{provider: "Square", prefix: "sq0atp-", alpha: aWordDash, min: 22, max: 22},
	{provider: "Square", prefix: "sq0csp-", alpha: aWordDash, min: 43, max: 43},
	{provider: "Square", prefix: "EAAA", alpha: aWordDash, min: 60, max: 60},
	{provider: "Braintree", prefix: "access_token$production$", alpha: aBraintree, min: 49, max: 49, check: braintree},
	{provider: "Braintree", prefix: "access_token$sandbox$", alpha: aBraintree, min: 49, max: 49, check: braintree},
	{provider: "Shopify", prefix: "shpat_", alpha: aHex, min: 32, max: 32},
	{provider: "Shopify", prefix: "shpca_", alpha: aHex, min: 32, max: 32},
	{provider: "Shopify", prefix: "shppa_", alpha: aHex, min: 32, max: 32},
	{provider: "Shopify", prefix: "shpss_", alpha: aHex, min: 32, max: 32},
	{provider: "Plaid", prefix: "access-production-", alpha: aHexDash, min: 36, max: 36, check: uuidShape},
	{provider: "Shippo", prefix: "shippo_live_", alpha: aHexLower, min: 40, max: 40},
	{provider: "Shippo", prefix: "shippo_test_", alpha: aHexLower, min: 40, max: 40},
	{provider: "EasyPost", prefix: "EZAK", alpha: aAlnum, min: 54, max: 54},
	{provider: "Duffel", prefix: "duffel_live_", alpha: aWordDash, min: 43, max: 43},

	// Cloud (AWS has its own detectors).
	{provider: "Google Cloud", prefix: "AIza", alpha: aWordDash, min: 35, max: 35},
	{provider: "Google Cloud", prefix: "GOCSPX-", alpha: aWordDash, min: 28, max: 28},
	{provider: "Azure Storage", prefix: "AccountKey=", alpha: aBase64, min: 88, max: 88, keep: true, check: suffix("==")},
	{provider: "DigitalOcean", prefix: "dop_v1_", alpha: aHexLower, min: 64, max: 64},
	{provider: "DigitalOcean", prefix: "doo_v1_", alpha: aHexLower, min: 64, max: 64},
	{provider: "DigitalOcean", prefix: "dor_v1_", alpha: aHexLower, min: 64, max: 64},
	{provider: "Heroku", prefix: "HRKU-", alpha: aWordDash, min: 40, max: 80},
	{provider: "Alibaba Cloud", prefix: "LTAI", alpha: aAlnum, min: 20, max: 20},
	{provider: "Tencent Cloud", prefix: "AKID", alpha: aAlnum, min: 32, max: 32},
	{provider: "Fly.io", prefix: "fo1_", alpha: aWordDash, min: 43, max: 43},
	{provider: "Netlify", prefix: "nfp_", alpha: aAlnum, min: 36, max: 36},
	{provider: "Supabase", prefix: "sbp_", alpha: aHexLower, min: 40, max: 40},
	{provider: "PlanetScale", prefix: "pscale_tkn_", alpha: aWordDashDot, min: 32, max: 64},
	{provider: "PlanetScale", prefix: "pscale_pw_", alpha: aWordDashDot, min: 32, max: 64},
	{provider: "Databricks", prefix: "dapi", alpha: aHexLower, min: 32, max: 32},

	// AI.
	{provider: "OpenAI", prefix: "sk-proj-", alpha: aWordDash, min: 40, max: 300},
	{provider: "OpenAI", prefix: "sk-svcacct-", alpha: aWordDash, min: 40, max: 300},
	{provider: "OpenAI", prefix: "sk-admin-", alpha: aWordDash, min: 40, max: 300},
	{provider: "OpenAI", prefix: "sk-", alpha: aAlnum, min: 48, max: 48, check: openAILegacy},
	{provider: "Anthropic", prefix: "sk-ant-api03-", alpha: aWordDash, min: 95, max: 95, check: suffix("AA")},
	{provider: "Anthropic", prefix: "sk-ant-admin01-", alpha: aWordDash, min: 95, max: 95, check: suffix("AA")},
	{provider: "Hugging Face", prefix: "hf_", alpha: aLetters, min: 34, max: 34},
	{provider: "Hugging Face", prefix: "api_org_", alpha: aLetters, min: 34, max: 34},
	{provider: "Replicate", prefix: "r8_", alpha: aAlnum, min: 37, max: 37},
	{provider: "Groq", prefix: "gsk_", alpha: aAlnum, min: 52, max: 52},
	{provider: "Perplexity", prefix: "pplx-", alpha: aAlnum, min: 48, max: 48},
	{provider: "xAI", prefix: "xai-", alpha: aAlnum, min: 80, max: 80},
	{provider: "LangSmith", prefix: "lsv2_pt_", alpha: aHexUnderscore, min: 43, max: 43, check: charAt(32, '_')},
	{provider: "LangSmith", prefix: "lsv2_sk_", alpha: aHexUnderscore, min: 43, max: 43, check: charAt(32, '_')},

	// Package registries.
	{provider: "npm", prefix: "npm_", alpha: aAlnum, min: 36, max: 36},
	{provider: "PyPI", prefix: "pypi-AgEIcHlwaS5vcmc", alpha: aWordDash, min: 50, max: 500},
	{provider: "PyPI", prefix: "pypi-AgENdGVzdC5weXBpLm9yZw", alpha: aWordDash, min: 50, max: 500},
	{provider: "RubyGems", prefix: "rubygems_", alpha: aHexLower, min: 48, max: 48},
	{provider: "NuGet", prefix: "oy2", alpha: aLowerDigit, min: 43, max: 43},
	{provider: "Docker Hub", prefix: "dckr_pat_", alpha: aWordDash, min: 27, max: 36},
	{provider: "Docker Hub", prefix: "dckr_oat_", alpha: aWordDash, min: 27, max: 36},
	{provider: "JFrog Artifactory", prefix: "AKCp", alpha: aAlnum, min: 69, max: 69},
	{provider: "Clojars", prefix: "CLOJARS_", alpha: aLowerDigit, min: 60, max: 60},
	{provider: "crates.io", prefix: "cio", alpha: aAlnum, min: 32, max: 32},

	// Mail.
	{provider: "SendGrid", prefix: "SG.", alpha: aWordDashDot, min: 66, max: 66, check: charAt(22, '.')},
	{provider: "Mailgun", prefix: "key-", alpha: aHexLower, min: 32, max: 32},
	{provider: "Mailchimp", prefix: "-us", alpha: aDigit, min: 1, max: 2, back: 32, backAlpha: aHexLower},
	{provider: "Brevo", prefix: "xkeysib-", alpha: aAlnumDash, min: 81, max: 81, check: charAt(64, '-')},

	// Observability.
	{provider: "Grafana", prefix: "glc_", alpha: aBase64, min: 32, max: 400},
	{provider: "Grafana", prefix: "glsa_", alpha: aWord, min: 41, max: 41, check: charAt(32, '_')},
	{provider: "New Relic", prefix: "NRAK-", alpha: aUpperDigit, min: 27, max: 27},
	{provider: "New Relic", prefix: "NRII-", alpha: aWordDash, min: 32, max: 32},
	{provider: "Sentry", prefix: "sntrys_", alpha: aBase64Any, min: 80, max: 500, check: prefix("eyJ")},
	{provider: "Sentry", prefix: "sntryu_", alpha: aHexLower, min: 64, max: 64},
	{provider: "Dynatrace", prefix: "dt0c01.", alpha: aUpperDigitDot, min: 89, max: 89, check: charAt(24, '.')},
	{provider: "Honeycomb", prefix: "hcaik_", alpha: aLowerDigit, min: 40, max: 80},
	{provider: "Honeycomb", prefix: "hcxik_", alpha: aLowerDigit, min: 40, max: 80},

	// Secret managers and infrastructure as code.
	{provider: "HashiCorp Vault", prefix: "hvs.", alpha: aWordDash, min: 24, max: 300},
	{provider: "HashiCorp Vault", prefix: "hvb.", alpha: aWordDash, min: 100, max: 300},
	{provider: "HashiCorp Vault", prefix: "hvr.", alpha: aWordDash, min: 24, max: 300},
	{provider: "Terraform Cloud", prefix: ".atlasv1.", alpha: aWordDashEq, min: 60, max: 70, back: 14, backAlpha: aAlnum},
	{provider: "Doppler", prefix: "dp.pt.", alpha: aAlnum, min: 43, max: 43},
	{provider: "Doppler", prefix: "dp.st.", alpha: aAlnum, min: 43, max: 43},
	{provider: "Doppler", prefix: "dp.sa.", alpha: aAlnum, min: 43, max: 43},
	{provider: "Doppler", prefix: "dp.ct.", alpha: aAlnum, min: 43, max: 43},
	{provider: "1Password", prefix: "ops_eyJ", alpha: aBase64, min: 100, max: 1000},
	{provider: "Pulumi", prefix: "pul-", alpha: aHexLower, min: 40, max: 40},
	{provider: "age", prefix: "AGE-SECRET-KEY-1", alpha: aBech32Upper, min: 58, max: 58},

	// Other SaaS.
	{provider: "Linear", prefix: "lin_api_", alpha: aAlnum, min: 40, max: 40},
	{provider: "Notion", prefix: "secret_", alpha: aAlnum, min: 43, max: 43},
	{provider: "Notion", prefix: "ntn_", alpha: aAlnum, min: 46, max: 46},
	{provider: "Figma", prefix: "figd_", alpha: aWordDash, min: 40, max: 44},
	{provider: "Postman", prefix: "PMAK-", alpha: aHexDash, min: 59, max: 59, check: charAt(24, '-')},
	{provider: "Mapbox", prefix: "sk.eyJ", alpha: aWordDashDot, min: 60, max: 300},
	{provider: "Typeform", prefix: "tfp_", alpha: aWordDashDot, min: 59, max: 59},
	{provider: "Contentful", prefix: "CFPAT-", alpha: aWordDash, min: 43, max: 43},
	{provider: "Buildkite", prefix: "bkua_", alpha: aHexLower, min: 40, max: 40},
	{provider: "Prefect", prefix: "pnu_", alpha: aAlnum, min: 36, max: 36},
	{provider: "Frame.io", prefix: "fio-u-", alpha: aWordDashEq, min: 64, max: 64},
}

func charAt(i int, c byte) func(string) bool {
	return func(b string) bool { return len(b) > i && b[i] == c }
}

func suffix(x string) func(string) bool {
	return func(b string) bool { return strings.HasSuffix(b, x) }
}

func prefix(x string) func(string) bool {
	return func(b string) bool { return strings.HasPrefix(b, x) }
}

// slackHook: T…/B…/secret.
func slackHook(b string) bool {
	return b[0] == 'T' && strings.Count(b, "/") == 2 && strings.Contains(b, "/B")
}

// discordHook: a numeric id, '/', a token of at least 60 characters.
func discordHook(b string) bool {
	k := strings.IndexByte(b, '/')
	return k >= 17 && k <= 20 && indexNonDigit(b[:k]) < 0 && len(b)-k-1 >= 60 && strings.IndexByte(b[k+1:], '/') < 0
}

func teamsHook(b string) bool {
	return strings.IndexByte(b, '@') > 0 && strings.Contains(b, "/IncomingWebhook/")
}

// telegramBot: a numeric bot id, ':', 35 characters.
func telegramBot(b string) bool {
	k := strings.IndexByte(b, ':')
	return k >= 8 && k <= 12 && indexNonDigit(b[:k]) < 0 && len(b)-k-1 == 35
}

// braintree: 16 of a–z0–9, '$', 32 hex.
func braintree(b string) bool {
	return b[16] == '$' && strings.IndexByte(b[:16], '$') < 0 && indexTable(b[17:], &alphaStop[aHexLower]) < 0
}

func uuidShape(b string) bool {
	return b[8] == '-' && b[13] == '-' && b[18] == '-' && b[23] == '-' && strings.Count(b, "-") == 4
}

// openAILegacy: 20 characters, "T3BlbkFJ" (base64 of "OpenAI"), 20 more.
func openAILegacy(b string) bool { return b[20:28] == "T3BlbkFJ" }

var (
	// alphaBits[c] has bit a set when c is in alphabet a.
	alphaBits [256]uint32
	// alphaStop[a] holds the bytes outside alphabet a.
	alphaStop [nAlphabets][256]bool
	// tokenRunByte holds every byte of every format; a token is a run of
	// them.
	tokenRunByte [256]bool
	// tokenPair is the set of the first two bytes of every prefix.
	tokenPair [256][4]uint64
	// tokenByFirst[c] is the range of sortedFormats whose prefix starts
	// with c, longest prefix first.
	tokenByFirst [256]struct{ from, to uint8 }
	// sortedFormats is tokenFormats sorted by first byte, longest prefix
	// first.
	sortedFormats []tokenFormat
	// tokenStride is the length of the shortest token, the step of
	// nextTokenRun's probes.
	tokenStride int
	// maxPrefixLen is the length of the longest prefix.
	maxPrefixLen int
	// alphaSearch[a] finds the first byte outside alphabet a.
	alphaSearch [nAlphabets]func(string) int
	// tokenGroup[c] holds the bit of each run group c belongs to.
	tokenGroup [256]uint8
	// groupMin[g] is the length of the shortest token of a format whose
	// bytes all lie in group g (and not in a smaller one).
	groupMin [nGroups]int
)

// Run groups: nested byte sets a token lies in, each with the length of
// its shortest token. Every token of a format is a run of its group's
// bytes at least that long, so a run of token bytes holding no such run
// of any group holds no token, and is not examined: a URL
// ("http://127.0.0.1:8080/api/v1/items/42") is one long run of token
// bytes, but its runs of word bytes are short.
const (
	groupWord = iota // A–Z a–z 0–9 _ - .
	groupB64         // groupWord and + / =
	groupAny         // every token byte
	nGroups
)

func init() {
	for a := range nAlphabets {
		spec := alphabetChars[a]
		for i := 0; i < len(spec); i++ {
			if i+2 < len(spec) && spec[i+1] == '-' {
				for c := spec[i]; c <= spec[i+2]; c++ {
					alphaBits[c] |= 1 << a
				}
				i += 2
				continue
			}
			alphaBits[spec[i]] |= 1 << a
		}
		for c := range 256 {
			alphaStop[a][c] = alphaBits[c]&(1<<a) == 0
			if !alphaStop[a][c] {
				tokenRunByte[c] = true
			}
		}
		stop := &alphaStop[a]
		alphaSearch[a] = func(s string) int { return indexTable(s, stop) }
	}
	sortedFormats = append([]tokenFormat(nil), tokenFormats...)
	// Sort by first byte, then longest prefix first (a stable insertion
	// sort keeps init free of extra imports and is run once).
	for i := 1; i < len(sortedFormats); i++ {
		for j := i; j > 0 && formatLess(&sortedFormats[j], &sortedFormats[j-1]); j-- {
			sortedFormats[j], sortedFormats[j-1] = sortedFormats[j-1], sortedFormats[j]
		}
	}
	tokenStride = 1 << 30
	maxPrefixLen = 0
	for i, f := range sortedFormats {
		p := f.prefix
		for k := 0; k < len(p); k++ {
			tokenRunByte[p[k]] = true
		}
		c0, c1 := p[0], p[1]
		tokenPair[c0][c1>>6] |= 1 << (c1 & 63)
		r := &tokenByFirst[c0]
		if r.to == 0 {
			r.from = uint8(i)
		}
		r.to = uint8(i + 1)
		tokenStride = min(tokenStride, f.back+len(p)+f.min)
		maxPrefixLen = max(maxPrefixLen, len(p))
	}
	initGroups()
}

// initGroups sets tokenGroup and groupMin from the formats.
func initGroups() {
	for c := range 256 {
		if tokenRunByte[c] {
			tokenGroup[c] |= 1 << groupAny
		}
	}
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.") {
		tokenGroup[c] |= 1<<groupWord | 1<<groupB64
	}
	for _, c := range []byte("+/=") {
		tokenGroup[c] |= 1 << groupB64
	}
	for g := range groupMin {
		groupMin[g] = 1 << 30
	}
	for _, f := range tokenFormats {
		in := uint8(1<<nGroups - 1)
		for k := 0; k < len(f.prefix); k++ {
			in &= tokenGroup[f.prefix[k]]
		}
		for c := range 256 {
			if inAlpha(byte(c), f.alpha) || (f.back > 0 && inAlpha(byte(c), f.backAlpha)) {
				in &= tokenGroup[c]
			}
		}
		for g := range nGroups {
			if in&(1<<g) != 0 {
				groupMin[g] = min(groupMin[g], f.back+len(f.prefix)+f.min)
				break
			}
		}
	}
}

func formatLess(a, b *tokenFormat) bool {
	if a.prefix[0] != b.prefix[0] {
		return a.prefix[0] < b.prefix[0]
	}
	return len(a.prefix) > len(b.prefix)
}

func inAlpha(c byte, a alphabet) bool { return alphaBits[c]&(1<<a) != 0 }

// findProviderTokens appends the spans of provider tokens in s. Only a run
// of token bytes at least tokenStride long is examined, by scanTokenRuns,
// so a string of ordinary words costs a few probes and sets up no memo.
func findProviderTokens(s string, spans []span, screen bool) []span {
	if a, b := nextTokenRun(s, tokenStride-1); a >= 0 {
		return scanTokenRuns(s, a, b, spans, screen)
	}
	return spans
}

// mayHoldToken reports whether the run of token bytes run holds, for some
// group, a run of the group's bytes as long as its shortest token: a
// token can only lie in such a run. The groups' runs are found like
// nextTokenRun's, so a run that holds none costs a few probes.
func mayHoldToken(run string) bool {
	if len(run) >= groupMin[groupAny] {
		return true
	}
	// The common case, a short string broken in both cores, without a
	// call.
	if w, b := groupMin[groupWord], groupMin[groupB64]; len(run) < 2*w && len(run) < 2*b &&
		(len(run) < w || coreBroken(run, 1<<groupWord, w)) && (len(run) < b || coreBroken(run, 1<<groupB64, b)) {
		return false
	}
	return hasRun(run, 1<<groupWord, groupMin[groupWord]) || hasRun(run, 1<<groupB64, groupMin[groupB64])
}

// coreBroken reports whether s, shorter than 2n, has a byte outside the
// groups in mask in its core s[len(s)-n:n], which every run of n bytes in
// s covers: then s holds no such run.
func coreBroken(s string, mask uint8, n int) bool {
	for i := len(s) - n; i < n; i++ {
		if tokenGroup[s[i]]&mask == 0 {
			return true
		}
	}
	return false
}

// hasRun reports whether s holds a run of at least n bytes of the groups
// in mask. Every such run in a string shorter than 2n covers its core
// s[len(s)-n:n], so a byte outside the groups there settles it (a URL's
// ':' or '/'); otherwise nextRun looks.
func hasRun(s string, mask uint8, n int) bool {
	if len(s) < n {
		return false
	}
	if len(s) < 2*n && coreBroken(s, mask, n) {
		return false
	}
	a, _ := nextRun(s, n-1, mask, n)
	return a >= 0
}

// nextTokenRun returns the first run [a, b) of at least tokenStride token
// bytes that starts after i-tokenStride, or -1, -1. It skips like
// Horspool's search: from the probe i it reads backwards only, to the byte
// that ends the run (the start of a word in ordinary text); a long run
// must start after that byte, so the next probe is tokenStride bytes past
// it. The bytes two probes read never overlap, and a string of words costs
// about one short backward read per tokenStride bytes.
func nextTokenRun(s string, i int) (a, b int) {
	return nextRun(s, i, 1<<groupAny, tokenStride)
}

// nextRun returns the first run [a, b) of at least n bytes of the groups
// in mask that starts after i-n, or -1, -1, as nextTokenRun does for
// token bytes.
func nextRun(s string, i int, mask uint8, n int) (a, b int) {
	t := &tokenGroup
	for uint(i) < uint(len(s)) {
		// Every long run starting after i-n holds i, if it starts at or
		// before i.
		lo := max(i-n+1, 0)
		w := s[lo : i+1]
		k := len(w) - 1
		for k >= 0 && t[w[k]]&mask != 0 {
			k--
		}
		if k >= 0 || lo > i-n+1 {
			if k >= 0 {
				i = lo + k + n // s[lo+k] ends any run through i
			} else {
				i = lo + n - 1 // the run from the start is too short
			}
			continue
		}
		a, b = lo, i+1
		for a > 0 && t[s[a-1]]&mask != 0 {
			a--
		}
		for b < len(s) && t[s[b]]&mask != 0 {
			b++
		}
		return a, b
	}
	return -1, -1
}

// scanTokenRuns examines the run [a, b) and every later long run. The
// end of each alphabet's run after a prefix is memoised (one memo per
// alphabet, searches from increasing positions), so any number of
// prefixes sharing one stretch of text costs one pass.
//
// With screen, a run that cannot hold a token (mayHoldToken) is skipped.
func scanTokenRuns(s string, a, b int, spans []span, screen bool) []span {
	var ends [nAlphabets]memo
	for a >= 0 {
		if !screen || mayHoldToken(s[a:b]) {
			spans = scanTokenRun(s, a, b, spans, &ends)
		}
		a, b = nextTokenRun(s, b+tokenStride)
	}
	return spans
}

// scanTokenRun finds the tokens in the run of token bytes [a, b).
func scanTokenRun(s string, a, b int, spans []span, ends *[nAlphabets]memo) []span {
	for k := a; k+1 < b; k++ {
		c0, c1 := s[k], s[k+1]
		// A prefix starting with a letter or digit starts a word; an
		// infix marker starts with punctuation.
		if k > a && isAlnum(c0) && isAlnum(s[k-1]) || tokenPair[c0][c1>>6]&(1<<(c1&63)) == 0 {
			continue
		}
		r := tokenByFirst[c0]
		for fi := r.from; fi < r.to; fi++ {
			f := &sortedFormats[fi]
			if end, start, ok := f.match(s, k, ends); ok {
				spans = addSpan(s, start, end, spans)
				k = end - 1
				break
			}
		}
	}
	return spans
}

// match reports whether format f's prefix at s[k:] starts a token, and
// the span to redact.
func (f *tokenFormat) match(s string, k int, ends *[nAlphabets]memo) (end, start int, ok bool) {
	if !strings.HasPrefix(s[k:], f.prefix) {
		return 0, 0, false
	}
	t := k - f.back
	if t < 0 || (t > 0 && isAlnum(s[t-1])) {
		return 0, 0, false
	}
	q := k + len(f.prefix)
	e := alphaEnd(&ends[f.alpha], s, q, f.alpha)
	if e > q && s[e-1] == '.' && (f.alpha == aWordDashDot || f.alpha == aUpperDigitDot) {
		e-- // a sentence's full stop
	}
	if n := e - q; n < f.min || n > f.max || (e < len(s) && isAlnum(s[e])) {
		return 0, 0, false
	}
	for j := t; j < k; j++ {
		if !inAlpha(s[j], f.backAlpha) {
			return 0, 0, false
		}
	}
	if f.check != nil && !f.check(s[q:e]) {
		return 0, 0, false
	}
	if f.keep {
		t = q
	}
	return e, t, true
}

// alphaEnd returns the index of the first byte at or after q that is not
// in alphabet a, through m. A query a few bytes before the memo's start
// (a shorter prefix found just after a longer one) is answered from the
// memo after checking the bytes in between, so m never rescans a run.
func alphaEnd(m *memo, s string, q int, a alphabet) int {
	if m.set && q < m.from && m.from-q <= maxPrefixLen {
		j := q
		for j < m.from && inAlpha(s[j], a) {
			j++
		}
		if j == m.from {
			return m.at
		}
		return j
	}
	return m.next(s, q, alphaSearch[a])
}
