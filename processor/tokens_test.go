package processor

import (
	"encoding/base64"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// Alphabets of the fake tokens, written out independently of tokens.go.
const (
	fkAlnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	fkWord   = fkAlnum + "_-"
	fkLetter = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	fkLowDig = "abcdefghijklmnopqrstuvwxyz0123456789"
	fkUpDig  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	fkHex    = "0123456789abcdef"
	fkDigit  = "0123456789"
	fkB64    = fkAlnum + "+/"
	fkBech32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"
)

// fake returns n pseudo-random characters of alphabet, the same for the
// same seed: realistic in shape, never a real credential (they are made
// at run time, so no token-shaped literal sits in the source).
func fake(seed, alphabet string, n int) string {
	h := fnv.New64a()
	h.Write([]byte(seed))
	rnd := rand.New(rand.NewPCG(h.Sum64(), uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rnd.IntN(len(alphabet))]
	}
	return string(b)
}

func fakeUUID(seed string) string {
	x := fake(seed, fkHex, 32)
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

// providerCase is one provider token: token is what a leak looks like,
// keep the part of it that stays (a webhook URL's host and path, a
// connection string's "AccountKey="), and near are look-alikes of the wrong
// length or alphabet that DetectProviderTokens leaves alone.
type providerCase struct {
	provider string
	token    string
	keep     string // a prefix of token that survives
	near     []string
}

// providerFamilies are the families the issue lists, with at least one
// realistic fake token per provider.
func providerFamilies() map[string][]providerCase {
	f := fake
	return map[string][]providerCase{
		"source forges": {
			{provider: "GitHub classic PAT", token: "ghp_" + f("ghp", fkAlnum, 36),
				near: []string{"ghp_" + f("ghp", fkAlnum, 35), "ghp_" + f("ghp", fkAlnum, 37), "ghp_" + f("ghp", fkAlnum, 20) + "-" + f("x", fkAlnum, 15)}},
			{provider: "GitHub OAuth", token: "gho_" + f("gho", fkAlnum, 36)},
			{provider: "GitHub user-to-server", token: "ghu_" + f("ghu", fkAlnum, 36)},
			{provider: "GitHub server-to-server", token: "ghs_" + f("ghs", fkAlnum, 36)},
			{provider: "GitHub refresh", token: "ghr_" + f("ghr", fkAlnum, 76)},
			{provider: "GitHub fine-grained PAT", token: "github_pat_" + f("gpat1", fkAlnum, 22) + "_" + f("gpat2", fkAlnum, 59),
				near: []string{"github_pat_" + f("gpat1", fkAlnum, 22) + "_" + f("gpat2", fkAlnum, 58)}},
			{provider: "GitLab PAT", token: "glpat-" + f("glpat", fkWord, 20),
				near: []string{"glpat-" + f("glpat", fkWord, 19)}},
			{provider: "GitLab deploy token", token: "gldt-" + f("gldt", fkWord, 20)},
			{provider: "GitLab runner token", token: "glrt-" + f("glrt", fkWord, 28)},
			{provider: "GitLab trigger token", token: "glptt-" + f("glptt", fkHex, 40),
				near: []string{"glptt-" + f("glptt", fkHex, 39), "glptt-" + f("glptt", fkHex, 39) + "G"}},
			{provider: "Bitbucket app password", token: "ATBB" + f("atbb", fkAlnum, 32),
				near: []string{"ATBB" + f("atbb", fkAlnum, 20)}},
			{provider: "Atlassian API token", token: "ATATT3" + f("atatt", fkWord+"=", 186)},
		},
		"chat and webhooks": {
			{provider: "Slack bot", token: "xoxb-" + f("s1", fkDigit, 10) + "-" + f("s2", fkDigit, 13) + "-" + f("s3", fkAlnum, 24),
				near: []string{"xoxb-" + f("s1", fkDigit, 10), "xoxc-" + f("s1", fkDigit, 10) + "-" + f("s2", fkDigit, 13) + "-" + f("s3", fkAlnum, 24)}},
			{provider: "Slack user", token: "xoxp-" + f("s4", fkDigit, 10) + "-" + f("s5", fkDigit, 12) + "-" + f("s6", fkHex, 32)},
			{provider: "Slack app", token: "xapp-1-A" + f("s7", fkUpDig, 10) + "-" + f("s8", fkDigit, 13) + "-" + f("s9", fkHex, 64)},
			{provider: "Slack webhook", keep: "https://hooks.slack.com/services/",
				token: "https://hooks.slack.com/services/T" + f("sw1", fkUpDig, 8) + "/B" + f("sw2", fkUpDig, 10) + "/" + f("sw3", fkAlnum, 24),
				near:  []string{"https://hooks.slack.com/services/T" + f("sw1", fkUpDig, 8), "https://hooks.slack.com/services/"}},
			{provider: "Discord webhook", keep: "https://discord.com/api/webhooks/",
				token: "https://discord.com/api/webhooks/" + f("dw1", fkDigit, 18) + "/" + f("dw2", fkWord, 68),
				near:  []string{"https://discord.com/api/webhooks/" + f("dw1", fkDigit, 18) + "/" + f("dw2", fkWord, 20)}},
			{provider: "Teams webhook", keep: "https://contoso.webhook.office.com/webhookb2/",
				token: "https://contoso.webhook.office.com/webhookb2/" + fakeUUID("tw1") + "@" + fakeUUID("tw2") +
					"/IncomingWebhook/" + f("tw3", fkHex, 32) + "/" + fakeUUID("tw4"),
				near: []string{"https://contoso.webhook.office.com/webhookb2/" + fakeUUID("tw1") + "@" + fakeUUID("tw2") + "/" + fakeUUID("tw4")}},
			{provider: "Telegram bot", keep: "https://api.telegram.org/bot",
				token: "https://api.telegram.org/bot" + f("tg1", fkDigit, 10) + ":" + f("tg2", fkWord, 35),
				near:  []string{"https://api.telegram.org/bot" + f("tg1", fkDigit, 10) + ":" + f("tg2", fkWord, 34)}},
		},
		"payment": {
			{provider: "Stripe secret", token: "sk_live_" + f("stripe", fkAlnum, 24),
				near: []string{"sk_live_" + f("stripe", fkAlnum, 23),
					// Publishable keys are public by design.
					"pk_live_" + f("stripe", fkAlnum, 24)}},
			{provider: "Stripe restricted", token: "rk_live_" + f("rk", fkAlnum, 99)},
			{provider: "Stripe test", token: "sk_test_" + f("sktest", fkAlnum, 99)},
			{provider: "Stripe webhook secret", token: "whsec_" + f("whsec", fkAlnum, 32)},
			{provider: "Square", token: "sq0atp-" + f("sq", fkWord, 22),
				near: []string{"sq0atp-" + f("sq", fkWord, 21)}},
			{provider: "Square OAuth secret", token: "sq0csp-" + f("sqc", fkWord, 43)},
			{provider: "Square access token", token: "EAAA" + f("eaaa", fkWord, 60)},
			{provider: "Braintree", token: "access_token$production$" + f("bt1", fkLowDig, 16) + "$" + f("bt2", fkHex, 32),
				near: []string{"access_token$production$" + f("bt1", fkLowDig, 16) + "$" + f("bt2", fkHex, 31)}},
			{provider: "Shopify", token: "shpat_" + f("shp", fkHex, 32),
				near: []string{"shpat_" + f("shp", fkHex, 31)}},
			{provider: "Plaid", token: "access-production-" + fakeUUID("plaid"),
				near: []string{"access-production-" + f("plaid", fkHex, 36)}},
			{provider: "Shippo", token: "shippo_live_" + f("shippo", fkHex, 40)},
			{provider: "EasyPost", token: "EZAK" + f("ezak", fkAlnum, 54)},
			{provider: "Duffel", token: "duffel_live_" + f("duffel", fkWord, 43)},
		},
		"cloud": {
			{provider: "AWS access key id", token: "AKIA" + f("aws", fkUpDig, 16)},
			{provider: "Google API key", token: "AIza" + f("gcp", fkWord, 35),
				near: []string{"AIza" + f("gcp", fkWord, 34), "AIza" + f("gcp", fkWord, 36)}},
			{provider: "Google OAuth secret", token: "GOCSPX-" + f("gocspx", fkWord, 28)},
			{provider: "Azure Storage", keep: "DefaultEndpointsProtocol=https;AccountName=shop;AccountKey=",
				token: "DefaultEndpointsProtocol=https;AccountName=shop;AccountKey=" + f("az", fkB64, 86) + "==",
				near:  []string{"AccountKey=" + f("az", fkB64, 40) + "=="}},
			{provider: "DigitalOcean", token: "dop_v1_" + f("do", fkHex, 64),
				near: []string{"dop_v1_" + f("do", fkHex, 63)}},
			{provider: "Heroku", token: "HRKU-" + f("heroku", fkWord, 60)},
			{provider: "Alibaba Cloud", token: "LTAI" + f("ali", fkAlnum, 20),
				near: []string{"LTAI" + f("ali", fkAlnum, 19)}},
			{provider: "Tencent Cloud", token: "AKID" + f("tc", fkAlnum, 32)},
			{provider: "Fly.io", token: "fo1_" + f("fly", fkWord, 43)},
			{provider: "Netlify", token: "nfp_" + f("nfp", fkAlnum, 36)},
			{provider: "Supabase", token: "sbp_" + f("sbp", fkHex, 40)},
			{provider: "PlanetScale", token: "pscale_tkn_" + f("pscale", fkWord, 43)},
			{provider: "Databricks", token: "dapi" + f("dapi", fkHex, 32)},
		},
		"AI": {
			{provider: "OpenAI project key", token: "sk-proj-" + f("oaip", fkWord, 156),
				near: []string{"sk-proj-" + f("oaip", fkWord, 20)}},
			{provider: "OpenAI legacy key", token: "sk-" + f("oai1", fkAlnum, 20) + "T3BlbkFJ" + f("oai2", fkAlnum, 20),
				near: []string{"sk-" + f("oai1", fkAlnum, 48)}},
			{provider: "OpenAI service account", token: "sk-svcacct-" + f("oais", fkWord, 120)},
			{provider: "Anthropic", token: "sk-ant-api03-" + f("ant", fkWord, 93) + "AA",
				near: []string{"sk-ant-api03-" + f("ant", fkWord, 92) + "AA"}},
			{provider: "Hugging Face", token: "hf_" + f("hf", fkLetter, 34),
				near: []string{"hf_" + f("hf", fkLetter, 33), "hf_" + f("hf", fkLetter, 33) + "7"}},
			{provider: "Replicate", token: "r8_" + f("r8", fkAlnum, 37)},
			{provider: "Groq", token: "gsk_" + f("groq", fkAlnum, 52)},
			{provider: "Perplexity", token: "pplx-" + f("pplx", fkAlnum, 48)},
			{provider: "xAI", token: "xai-" + f("xai", fkAlnum, 80)},
			{provider: "LangSmith", token: "lsv2_pt_" + f("ls1", fkHex, 32) + "_" + f("ls2", fkHex, 10)},
		},
		"package registries": {
			{provider: "npm", token: "npm_" + f("npm", fkAlnum, 36),
				near: []string{"npm_" + f("npm", fkAlnum, 35)}},
			{provider: "PyPI", token: "pypi-AgEIcHlwaS5vcmc" + f("pypi", fkWord, 150)},
			{provider: "RubyGems", token: "rubygems_" + f("gems", fkHex, 48)},
			{provider: "NuGet", token: "oy2" + f("nuget", fkLowDig, 43),
				near: []string{"oy2" + f("nuget", fkLowDig, 42)}},
			{provider: "Docker Hub", token: "dckr_pat_" + f("docker", fkWord, 27)},
			{provider: "JFrog Artifactory", token: "AKCp" + f("jfrog", fkAlnum, 69)},
			{provider: "Clojars", token: "CLOJARS_" + f("clojars", fkLowDig, 60)},
			{provider: "crates.io", token: "cio" + f("crates", fkAlnum, 32)},
		},
		"mail": {
			{provider: "SendGrid", token: "SG." + f("sg1", fkWord, 22) + "." + f("sg2", fkWord, 43),
				near: []string{"SG." + f("sg1", fkWord, 21) + "." + f("sg2", fkWord, 44)}},
			{provider: "Mailgun", token: "key-" + f("mailgun", fkHex, 32),
				near: []string{"key-" + f("mailgun", fkHex, 31)}},
			{provider: "Mailchimp", token: f("mailchimp", fkHex, 32) + "-us12",
				near: []string{f("mailchimp", fkHex, 31) + "-us12", f("mailchimp", fkHex, 32) + "-us123"}},
			{provider: "Brevo", token: "xkeysib-" + f("brevo1", fkHex, 64) + "-" + f("brevo2", fkAlnum, 16)},
		},
		"observability": {
			{provider: "Grafana Cloud", token: "glc_" + f("glc", fkB64, 120) + "=="},
			{provider: "Grafana service account", token: "glsa_" + f("glsa1", fkAlnum, 32) + "_" + f("glsa2", fkHex, 8)},
			{provider: "New Relic", token: "NRAK-" + f("nr", fkUpDig, 27),
				near: []string{"NRAK-" + f("nr", fkUpDig, 26)}},
			{provider: "Sentry org token", token: "sntrys_eyJ" + f("sentry1", fkB64, 150) + "_" + f("sentry2", fkB64, 43)},
			{provider: "Sentry user token", token: "sntryu_" + f("sentryu", fkHex, 64)},
			{provider: "Dynatrace", token: "dt0c01." + f("dt1", fkUpDig, 24) + "." + f("dt2", fkUpDig, 64)},
			{provider: "Honeycomb", token: "hcaik_" + f("honey", fkLowDig, 58)},
		},
		"secret managers": {
			{provider: "HashiCorp Vault", token: "hvs." + f("vault", fkWord, 90),
				near: []string{"hvs." + f("vault", fkWord, 20)}},
			{provider: "HashiCorp Vault batch", token: "hvb." + f("vaultb", fkWord, 138)},
			{provider: "Terraform Cloud", token: f("tf1", fkAlnum, 14) + ".atlasv1." + f("tf2", fkWord+"=", 67),
				near: []string{f("tf1", fkAlnum, 13) + ".atlasv1." + f("tf2", fkWord+"=", 67)}},
			{provider: "Doppler", token: "dp.pt." + f("doppler", fkAlnum, 43),
				near: []string{"dp.pt." + f("doppler", fkAlnum, 42)}},
			{provider: "1Password", token: "ops_eyJ" + f("1p", fkB64, 300)},
			{provider: "Pulumi", token: "pul-" + f("pulumi", fkHex, 40),
				near: []string{"pul-" + f("pulumi", fkHex, 39)}},
			{provider: "age", token: "AGE-SECRET-KEY-1" + f("age", fkBech32, 58)},
		},
		"other SaaS": {
			{provider: "Linear", token: "lin_api_" + f("linear", fkAlnum, 40)},
			{provider: "Notion", token: "ntn_" + f("notion", fkAlnum, 46)},
			{provider: "Figma", token: "figd_" + f("figma", fkWord, 40)},
			{provider: "Postman", token: "PMAK-" + f("pm1", fkHex, 24) + "-" + f("pm2", fkHex, 34)},
			{provider: "Mapbox", token: "sk.eyJ" + f("mapbox", fkWord, 100),
				near: []string{"pk.eyJ" + f("mapbox", fkWord, 100)}},
			{provider: "Typeform", token: "tfp_" + f("typeform", fkWord, 59)},
			{provider: "Contentful", token: "CFPAT-" + f("contentful", fkWord, 43)},
			{provider: "Buildkite", token: "bkua_" + f("buildkite", fkHex, 40)},
			{provider: "Prefect", token: "pnu_" + f("prefect", fkAlnum, 36)},
			{provider: "Frame.io", token: "fio-u-" + f("frameio", fkWord, 64)},
		},
	}
}

// redactedForm is token with its secret replaced.
func (c providerCase) redactedForm() string { return c.keep + semconv.Redacted }

// TestProviderTokens: with the default scrubber, each provider's token is
// redacted in a body map value, in a User-Agent and in text, and only its
// span: the surrounding text survives. Near misses are left alone by
// DetectProviderTokens.
func TestProviderTokens(t *testing.T) {
	def := mustScrubber(t)
	only := mustScrubber(t, WithDetectors(DetectProviderTokens))
	for family, cases := range providerFamilies() {
		t.Run(family, func(t *testing.T) {
			for _, c := range cases {
				red := c.redactedForm()
				secret := strings.TrimPrefix(c.token, c.keep)

				// A body map value.
				rec := capture(t, apiRecord(semconv.EventLoginFailed,
					attribute.MapValue(attribute.String("note", c.token), attribute.String("ok", "fine"))), def)
				body := map[string]string{}
				for _, kv := range rec.Body().AsMap() {
					body[string(kv.Key)] = kv.Value.AsString()
				}
				if body["note"] != red || body["ok"] != "fine" {
					t.Errorf("%s: body map %v, want note=%q", c.provider, body, red)
				}
				if redactedCount(&rec) != 1 {
					t.Errorf("%s: audit.redacted_count = %d, want 1", c.provider, redactedCount(&rec))
				}

				// A User-Agent and a message: only the span goes.
				ua := "Mozilla/5.0 (X11; Linux x86_64) " + c.token + " Safari/537.36"
				msg := "deploy failed: key " + c.token + ", retrying"
				rec = capture(t, apiRecord(semconv.EventLoginFailed, attribute.StringValue(msg),
					semconv.UserAgentOriginalKey.String(ua)), def)
				if got, want := testsupport.AttrMap(&rec)[string(semconv.UserAgentOriginalKey)].AsString(),
					"Mozilla/5.0 (X11; Linux x86_64) "+red+" Safari/537.36"; got != want {
					t.Errorf("%s: user agent\n got %q\nwant %q", c.provider, got, want)
				}
				if got, want := rec.Body().AsString(), "deploy failed: key "+red+", retrying"; got != want {
					t.Errorf("%s: message\n got %q\nwant %q", c.provider, got, want)
				}
				if strings.Contains(allText(&rec), secret) {
					t.Errorf("%s: the secret survived:\n%s", c.provider, allText(&rec))
				}

				// The provider detector alone finds it, standing alone only.
				if c.provider != "AWS access key id" {
					if got, _ := only.scrubString(msg, false); got != "deploy failed: key "+red+", retrying" {
						t.Errorf("%s: DetectProviderTokens alone gave %q", c.provider, got)
					}
					if glued := "x" + c.token; c.keep == "" {
						if got, _ := only.scrubString(glued, false); got != glued {
							t.Errorf("%s: glued to a word %q became %q", c.provider, glued, got)
						}
					}
				}
				for _, n := range c.near {
					for _, give := range []string{n, "key " + n + " end"} {
						if got, hit := only.scrubString(give, false); hit {
							t.Errorf("%s: near miss %q became %q", c.provider, give, got)
						}
					}
				}
			}
		})
	}
}

// TestProviderTokensSwitch: the four leaks (GitHub, Slack, Stripe,
// Google in a body field and a User-Agent) are redacted by default and
// written out when DetectProviderTokens is switched off.
func TestProviderTokensSwitch(t *testing.T) {
	tokens := []string{
		"ghp_" + fake("sw-gh", fkAlnum, 36),
		"xoxb-" + fake("sw-sl1", fkDigit, 11) + "-" + fake("sw-sl2", fkDigit, 13) + "-" + fake("sw-sl3", fkAlnum, 24),
		"sk_live_" + fake("sw-st", fkAlnum, 24),
		"AIza" + fake("sw-g", fkWord, 35),
	}
	on, off := mustScrubber(t), mustScrubber(t, WithoutDetectors(DetectProviderTokens))
	for _, tok := range tokens {
		rec := apiRecord(semconv.EventLoginFailed, attribute.MapValue(attribute.String("comment", tok)),
			semconv.UserAgentOriginalKey.String("deploy-bot/2.1 ("+tok+")"))
		got := capture(t, rec, on)
		if strings.Contains(allText(&got), tok) {
			t.Errorf("default scrubber leaked %q:\n%s", tok, allText(&got))
		}
		if redactedCount(&got) != 2 {
			t.Errorf("%q: audit.redacted_count = %d, want 2", tok, redactedCount(&got))
		}
		got = capture(t, rec, off)
		if !strings.Contains(allText(&got), tok) {
			t.Errorf("with DetectProviderTokens off, %q was still redacted", tok)
		}
	}
	if !strings.Contains(AllDetectors.String(), "ProviderTokens|BasicCredentials") {
		t.Errorf("AllDetectors = %v", AllDetectors)
	}
}

// TestTokenFormatTable checks the table itself: at least 40 providers,
// every prefix distinct, and each format without a structure check
// detected on a synthetic token of its minimum and maximum length (and
// not one byte shorter), so no entry is shadowed by the dispatch.
func TestTokenFormatTable(t *testing.T) {
	providers := map[string]bool{}
	prefixes := map[string]bool{}
	for _, f := range tokenFormats {
		providers[f.provider] = true
		if prefixes[f.prefix] {
			t.Errorf("prefix %q twice", f.prefix)
		}
		prefixes[f.prefix] = true
		if f.min > f.max || f.min < 1 || len(f.prefix) < 3 {
			t.Errorf("%s %q: bad bounds", f.provider, f.prefix)
		}
	}
	if len(providers) < 40 {
		t.Errorf("%d providers, want at least 40", len(providers))
	}
	t.Logf("%d formats of %d providers; probe stride %d", len(tokenFormats), len(providers), tokenStride)
	if tokenStride < 16 {
		t.Errorf("tokenStride %d: a short format makes every clean string cost more", tokenStride)
	}
	only := mustScrubber(t, WithDetectors(DetectProviderTokens))
	for _, f := range tokenFormats {
		if f.check != nil {
			continue // structured: see TestProviderTokens
		}
		// The first character of the alphabet, then varied ones.
		var chars []byte
		for c := 0; c < 256; c++ {
			if inAlpha(byte(c), f.alpha) && isAlnum(byte(c)) {
				chars = append(chars, byte(c))
			}
		}
		body := func(n int) string {
			b := make([]byte, n)
			for i := range b {
				b[i] = chars[(i*7+3)%len(chars)]
			}
			return string(b)
		}
		back := ""
		if f.back > 0 {
			back = strings.Repeat("a", f.back)
		}
		for _, n := range []int{f.min, f.max} {
			tok := back + f.prefix + body(n)
			want := "see " + semconv.Redacted + " here"
			if f.keep {
				want = "see " + back + f.prefix + semconv.Redacted + " here"
			}
			if got, _ := only.scrubString("see "+tok+" here", false); got != want {
				t.Errorf("%s %q, body %d: got %q", f.provider, f.prefix, n, got)
			}
		}
		for _, n := range []int{f.min - 1, f.max + 1} {
			if n < 1 {
				continue
			}
			give := "see " + back + f.prefix + body(n) + " here"
			if got, hit := only.scrubString(give, false); hit {
				t.Errorf("%s %q, body %d (out of bounds): got %q", f.provider, f.prefix, n, got)
			}
		}
	}
}

func basicOf(userPass string) string { return base64.StdEncoding.EncodeToString([]byte(userPass)) }

// TestBasicCredentials: "Basic <base64 of user:password>" anywhere in a
// string, only the credentials redacted.
func TestBasicCredentials(t *testing.T) {
	cred := basicOf("admin:" + fake("basic", fkAlnum, 14))
	only := mustScrubber(t, WithDetectors(DetectBasicCredentials))
	tests := []struct{ give, want string }{
		{"Basic " + cred, "Basic [REDACTED]"},
		{"sent basic " + cred + " upstream", "sent basic [REDACTED] upstream"},
		{"probe/1.0 (Basic " + cred + ")", "probe/1.0 (Basic [REDACTED])"},
		{"BASIC\t" + strings.TrimRight(cred, "=") + ";", "BASIC\t[REDACTED];"},
		{"Basic " + basicOf("a:b") + basicOf("c:d"), "Basic [REDACTED]"},
		// Near misses.
		{"basic research", ""},
		{"Basic " + basicOf("username"), ""}, // no colon
		{"Basic " + basicOf("a:b"), ""},      // fewer than 8 characters
		{"Basic " + basicOf("user\x00:pw\x01xy"), ""},
		{"xBasic " + cred, ""},
		{"Basic " + cred + "-x", ""},
		{"Basic  research and basic math", ""},
	}
	for _, tt := range tests {
		want := tt.want
		if want == "" {
			want = tt.give
		}
		if got, _ := only.scrubString(tt.give, false); got != want {
			t.Errorf("scrubString(%q)\n got %q\nwant %q", tt.give, got, want)
		}
	}
	// The default scrubber in a User-Agent.
	got := capture(t, apiRecord(semconv.EventLoginFailed, attribute.Value{},
		semconv.UserAgentOriginalKey.String("probe/1.0 (Basic "+cred+")")), mustScrubber(t))
	if ua := testsupport.AttrMap(&got)[string(semconv.UserAgentOriginalKey)].AsString(); ua != "probe/1.0 (Basic [REDACTED])" {
		t.Errorf("user agent %q", ua)
	}
}

func init() {
	// The provider tokens' own adversarial inputs for TestDetectorsLinear,
	// FuzzDetectorsLinear and BenchmarkDetectorsAdversarial: prefixes
	// repeated so that every one starts a look-ahead over the same text.
	adversarial = append(adversarial, []struct {
		name     string
		detector Detector
		unit     string
		tail     string
	}{
		{"provider_glpat", DetectProviderTokens, "glpat-", ""},
		{"provider_sk_proj", DetectProviderTokens, "sk-proj-", ""},
		{"provider_sk_mixed", DetectProviderTokens, "sk-proj-_AIza_sk-", ""},
		{"provider_xoxe", DetectProviderTokens, "xoxe.xoxp-", ""},
		{"provider_pypi", DetectProviderTokens, "pypi-AgEIcHlwaS5vcmc", ""},
		{"provider_slack_hook", DetectProviderTokens, "hooks.slack.com/services/T", ""},
		{"provider_account_key", DetectProviderTokens, "AccountKey=", ""},
		{"provider_mailchimp", DetectProviderTokens, "0123456789abcdef0123456789abcdef-us1", ""},
		{"provider_atlas", DetectProviderTokens, "abcdefghijklmn.atlasv1.", ""},
		{"provider_ghp_alnum", DetectProviderTokens, "ghp_aB3", ""},
		{"basic", DetectBasicCredentials, "Basic ", "YTpiYzpk"},
		{"basic_glued", DetectBasicCredentials, "basic x/", ""},
	}...)
}

// TestBenignCorpus: the default scrubber, every detector on, leaves each
// value of testdata/benign.txt alone — UUIDs, trace and span ids, git
// SHAs, digests, timestamps, versions, URLs without credentials, e-mail
// addresses, numbers that fail the Luhn check, user agents and more — as a
// body, an attribute and a User-Agent: zero redactions.
func TestBenignCorpus(t *testing.T) {
	data, err := os.ReadFile("testdata/benign.txt")
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	for line := range strings.SplitSeq(string(data), "\n") {
		if line != "" && !strings.HasPrefix(line, "# ") {
			values = append(values, line)
		}
	}
	if len(values) < 200 {
		t.Fatalf("%d values in the corpus, want at least 200", len(values))
	}
	s := mustScrubber(t)
	redacted := 0
	for _, v := range values {
		rec := capture(t, apiRecord(semconv.EventHTTPResponseSuccess,
			attribute.MapValue(attribute.String("note", v)),
			attribute.String("detail", v),
			semconv.UserAgentOriginalKey.String(v),
			attribute.StringSlice("list", []string{v})), s)
		if n := redactedCount(&rec); n > 0 || strings.Contains(allText(&rec), semconv.Redacted) {
			redacted++
			t.Errorf("%q was redacted (audit.redacted_count %d):\n%s", v, n, allText(&rec))
		}
	}
	t.Logf("%d benign values, %d redacted", len(values), redacted)
}
