package processor

import (
	"strings"
	"testing"
)

func TestDetectors(t *testing.T) {
	const jwtTok = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	const awsSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	const pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7V\nq2b3c\n-----END RSA PRIVATE KEY-----"
	tests := []struct {
		name string
		det  Detector
		give string
		want string // "" means unchanged
	}{
		// Bearer tokens.
		{"bearer header", DetectBearerToken, "Authorization: Bearer abc123DEF456ghi", "Authorization: Bearer [REDACTED]"},
		{"bearer lowercase", DetectBearerToken, "sent bearer Zm9vYmFyYmF6cXV4 upstream", "sent bearer [REDACTED] upstream"},
		{"bearer opaque with dots", DetectBearerToken, "BEARER gho_16C7e42F292c6912E7710c838347Ae178B4a", "BEARER [REDACTED]"},
		{"near miss: bearer of news", DetectBearerToken, "the bearer of bad news", ""},
		{"near miss: plain word", DetectBearerToken, "bearer certificate renewed", ""},
		{"near miss: short", DetectBearerToken, "Bearer abc.def", ""},
		{"near miss: glued word", DetectBearerToken, "forbearer Zm9vYmFyYmF6cXV4", ""},

		// JWTs.
		{"jwt alone", DetectJWT, jwtTok, "[REDACTED]"},
		{"jwt in text", DetectJWT, "token " + jwtTok + " rejected", "token [REDACTED] rejected"},
		{"jwt unsigned", DetectJWT, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "[REDACTED]"},
		{"near miss: header only", DetectJWT, "eyJhbGciOiJIUzI1NiJ9", ""},
		{"near miss: one dot", DetectJWT, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0", ""},

		// AWS access key ids.
		{"aws key id", DetectAWSAccessKeyID, "key AKIAIOSFODNN7EXAMPLE used", "key [REDACTED] used"},
		{"aws temp key id", DetectAWSAccessKeyID, "ASIAY34FZKBOKMUTVV7A", "[REDACTED]"},
		{"near miss: too short", DetectAWSAccessKeyID, "AKIAIOSFODNN7EXAMP", ""},
		{"near miss: too long", DetectAWSAccessKeyID, "AKIAIOSFODNN7EXAMPLEX", ""},
		{"near miss: lowercase", DetectAWSAccessKeyID, "akiaiosfodnn7example", ""},
		{"near miss: glued", DetectAWSAccessKeyID, "XAKIAIOSFODNN7EXAMPLE", ""},

		// AWS secret keys.
		{"aws secret", DetectAWSSecretKey, "secret is " + awsSecret + ".", "secret is [REDACTED]."},
		{"near miss: git sha", DetectAWSSecretKey, "commit 3f786850e387550fdab836ed7e6dc881de23001b", ""},
		{"near miss: url path", DetectAWSSecretKey, "/api/v1/Accounts/12345/transactions/Recent", ""},
		{"near miss: 41 chars", DetectAWSSecretKey, awsSecret + "Z", ""},
		{"near miss: part of base64url", DetectAWSSecretKey, "x-" + awsSecret, ""},

		// PEM private keys.
		{"pem private key", DetectPrivateKey, "cfg: " + pem + "\nnext", "cfg: [REDACTED]\nnext"},
		{"pem unterminated", DetectPrivateKey, "-----BEGIN PRIVATE KEY-----\nMIIEv", "[REDACTED]"},
		{"pem openssh", DetectPrivateKey, "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----", "[REDACTED]"},
		{"near miss: certificate", DetectPrivateKey, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", ""},
		{"near miss: public key", DetectPrivateKey, "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----", ""},

		// Card numbers.
		{"visa", DetectCardNumber, "4111111111111111", "[REDACTED]"},
		{"visa spaced", DetectCardNumber, "card 4111 1111 1111 1111 charged", "card [REDACTED] charged"},
		{"mastercard dashed", DetectCardNumber, "5555-5555-5555-4444", "[REDACTED]"},
		{"amex 4-6-5", DetectCardNumber, "3782 822463 10005", "[REDACTED]"},
		{"card before a glued group", DetectCardNumber, "x 4710 4372 0535 2971 000A", "x [REDACTED] 000A"},
		{"card after many short groups", DetectCardNumber, "0 0 0 0 0 0 0 0 0 4433-1695-2634-1849 x", "0 0 0 0 0 0 0 0 0 [REDACTED] x"},
		{"card after many groups", DetectCardNumber, "777 888 999 111 777 888 999 111 4111 1111 1111 1111", "777 888 999 111 777 888 999 111 [REDACTED]"},
		{"two cards", DetectCardNumber, "4111111111111111 5555555555554444", "[REDACTED] [REDACTED]"},
		{"card after other digits", DetectCardNumber, "order 12345 4111 1111 1111 1111", "order 12345 [REDACTED]"},
		{"card in json", DetectCardNumber, `{"pan":"4012888888881881"}`, `{"pan":"[REDACTED]"}`},
		{"near miss: order number fails luhn", DetectCardNumber, "order 4111111111111112 shipped", ""},
		{"near miss: luhn ok but starts with 1", DetectCardNumber, "ts 1700000000000000008", ""},
		{"near miss: 12 digits", DetectCardNumber, "411111111113", ""},
		{"near miss: 20 digits", DetectCardNumber, "41111111111111111113", ""},
		{"near miss: glued to word", DetectCardNumber, "id4111111111111111", ""},
		{"near miss: single digits", DetectCardNumber, "4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1", ""},
		{"near miss: decimal fraction", DetectCardNumber, "pi=3.4111111111111111", ""},

		// URL and DSN passwords.
		{"postgres dsn", DetectURLPassword, "dial postgres://app:s3cr3t@db:5432/shop failed", "dial postgres://app:[REDACTED]@db:5432/shop failed"},
		{"redis no user", DetectURLPassword, "redis://:hunter2@cache:6379/0", "redis://:[REDACTED]@cache:6379/0"},
		{"password with @", DetectURLPassword, "amqp://u:p@ss@mq/vhost", "amqp://u:[REDACTED]@mq/vhost"},
		{"query holds email", DetectURLPassword, "https://u:pw@h/x?mail=a@b.c", "https://u:[REDACTED]@h/x?mail=a@b.c"},
		{"mysql go dsn", DetectURLPassword, "open app:t0ps3cret@tcp(127.0.0.1:3306)/shop", "open app:[REDACTED]@tcp(127.0.0.1:3306)/shop"},
		{"mysql go dsn no host", DetectURLPassword, "root:pw@/db", "root:[REDACTED]@/db"},
		{"near miss: user only", DetectURLPassword, "ssh://git@github.com/org/repo", ""},
		{"near miss: no userinfo", DetectURLPassword, "https://example.com:8443/a", ""},
		{"near miss: email", DetectURLPassword, "contact: alice@example.com", ""},

		// Secret assignments.
		{"password=", DetectSecretAssignment, "login password=hunter2 user=bob", "login password=[REDACTED] user=bob"},
		{"db_password", DetectSecretAssignment, "DB_PASSWORD=Sup3r&next=1", "DB_PASSWORD=[REDACTED]&next=1"},
		{"token colon", DetectSecretAssignment, "token: abc123", "token: [REDACTED]"},
		{"json quoted", DetectSecretAssignment, `{"user":"bob","password":"p\"w d"}`, `{"user":"bob","password":"[REDACTED]"}`},
		{"access_token query", DetectSecretAssignment, "GET /cb?code=1&access_token=xyz&x=2", "GET /cb?code=1&access_token=[REDACTED]&x=2"},
		{"api key header", DetectSecretAssignment, "X-Api-Key: k-123", "X-Api-Key: [REDACTED]"},
		{"authorization line", DetectSecretAssignment, "Authorization: Basic dXNlcjpwYXNz\nHost: x", "Authorization: [REDACTED]\nHost: x"},
		{"cookie line", DetectSecretAssignment, "Cookie: session=abc; theme=dark", "Cookie: [REDACTED]"},
		{"keyword dsn", DetectSecretAssignment, "host=db password=pw dbname=shop", "host=db password=[REDACTED] dbname=shop"},
		{"near miss: tokenizer", DetectSecretAssignment, "model tokenizer=bpe loaded", ""},
		{"near miss: secret_count", DetectSecretAssignment, "secret_count=3", ""},
		{"near miss: passwords plural", DetectSecretAssignment, "passwords: 3 rotated", ""},
		{"near miss: empty value", DetectSecretAssignment, "password= ", ""},
		{"near miss: cpp path", DetectSecretAssignment, "token::Kind", ""},
		{"near miss: author", DetectSecretAssignment, "author=Tolkien", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == "" {
				want = tt.give
			}
			for _, det := range []Detector{tt.det, AllDetectors} {
				s := mustScrubber(t, WithDetectors(det))
				got, hit := s.scrubString(tt.give, false)
				if det == tt.det && got != want {
					t.Fatalf("%v: scrubString(%q)\n got %q\nwant %q", det, tt.give, got, want)
				}
				if det == AllDetectors && tt.want != "" && got != want && strings.Contains(got, secretPart(tt.give, want)) {
					t.Fatalf("all detectors: %q leaks in %q", secretPart(tt.give, want), got)
				}
				if det == tt.det && hit != (tt.want != "") {
					t.Fatalf("%v: hit = %v", det, hit)
				}
				// Scrubbing is idempotent.
				if again, hit := s.scrubString(got, false); again != got || (det == tt.det && hit) {
					t.Fatalf("%v: second pass changed %q to %q", det, got, again)
				}
			}
			// Switched off, the detector leaves the string alone.
			off := mustScrubber(t, WithDetectors(AllDetectors&^tt.det))
			if tt.want != "" {
				got, _ := off.scrubString(tt.give, false)
				if got == want && AllDetectors&^tt.det != 0 && !coveredByOthers(tt.name) {
					t.Fatalf("with %v off the result still equals %q", tt.det, want)
				}
			}
		})
	}
}

// coveredByOthers names positives another detector also catches.
func coveredByOthers(name string) bool {
	switch name {
	case "card in json", "bearer header", "api key header", "access_token query",
		"bearer opaque with dots": // a GitHub OAuth token: DetectProviderTokens
		return true
	}
	return false
}

// secretPart returns the text of give that want replaced.
func secretPart(give, want string) string {
	i := strings.Index(want, "[REDACTED]")
	if i < 0 {
		return ""
	}
	rest := want[i+len("[REDACTED]"):]
	return strings.TrimSuffix(give[i:], rest)
}

func TestLuhn(t *testing.T) {
	tests := []struct {
		give string
		want bool
	}{
		{"4111111111111111", true},
		{"4111111111111112", false},
		{"5555555555554444", true},
		{"378282246310005", true},
		{"6011111111111117", true},
		{"79927398713", false}, // valid Luhn, but starts with 7
	}
	for _, tt := range tests {
		if got := cardDigits(tt.give); got != tt.want {
			t.Errorf("cardDigits(%q) = %v", tt.give, got)
		}
	}
	if !cardInt(4111111111111111) || cardInt(4111111111111112) || cardInt(1234) {
		t.Error("cardInt")
	}
}

func TestNormalizeKey(t *testing.T) {
	tests := map[string]string{
		"api_key": "apikey", "API-Key": "apikey", "apiKey": "apikey",
		"Über_Token": "bertoken", "pässword": "pssword", "пароль": "", "PASSWORD_ü": "password",
		"session.id": "sessionid", "İd": "id", "\u212Aey": "key",
	}
	for give, want := range tests {
		if got := NormalizeKey(give); got != want {
			t.Errorf("NormalizeKey(%q) = %q, want %q", give, got, want)
		}
	}
}

func TestDetectorString(t *testing.T) {
	if got := (DetectJWT | DetectCardNumber).String(); got != "JWT|CardNumber" {
		t.Errorf("String = %q", got)
	}
	if got := Detector(0).String(); got != "none" {
		t.Errorf("String = %q", got)
	}
	if _, err := NewScrubber(WithDetectors(1 << 12)); err == nil || !strings.Contains(err.Error(), "WithDetectors") {
		t.Errorf("unknown detector bits accepted: %v", err)
	}
}
