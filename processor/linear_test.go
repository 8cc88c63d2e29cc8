package processor

import (
	"strings"
	"testing"
	"time"

	"github.com/secaudit/secaudit/internal/testsupport"
)

// adversarial are inputs built to make a detector look ahead from many
// anchors at once: each repeats one pattern up to the wanted size. The
// detector named is the one the pattern aims at; all detectors run.
var adversarial = []struct {
	name     string
	detector Detector
	unit     string // repeated
	tail     string // appended once
}{
	{"url_scheme", DetectURLPassword, "a://", "@"},
	{"url_scheme_no_at", DetectURLPassword, "a://", ""},
	{"url_user_colon", DetectURLPassword, "a://b:", " x@y"},
	{"url_spaces", DetectURLPassword, "a://b:c ", "@h"},
	{"dsn_at", DetectURLPassword, "a:b@tcp(", ""},
	{"dsn_spaces", DetectURLPassword, "a b@/", ""},
	{"auth_colon", DetectSecretAssignment, "auth:", ""},
	{"cookie_eq", DetectSecretAssignment, "cookie=", ""},
	{"password_eq", DetectSecretAssignment, "password=", ""},
	{"password_quote", DetectSecretAssignment, `password="`, ""},
	{"auth_blanks", DetectSecretAssignment, "auth: ", "\n"},
	{"pem_begin", DetectPrivateKey, "-----BEGIN RSA PRIVATE KEY-----\n", ""},
	{"pem_begin_end", DetectPrivateKey, "-----BEGIN PRIVATE KEY-----\n-----END ", ""},
	{"bearer", DetectBearerToken, "Bearer ", ""},
	{"jwt", DetectJWT, "eyJhb.", ""},
	{"aws_key_id", DetectAWSAccessKeyID, "AKIA", ""},
	{"base64_run", DetectAWSSecretKey, "aZ3+", ""},
	{"card_groups", DetectCardNumber, "4111 ", ""},
	{"digit_run", DetectCardNumber, "4", ""},
}

// adversarialInput returns unit repeated to size bytes, then tail.
func adversarialInput(unit, tail string, size int) string {
	return strings.Repeat(unit, max(1, size/len(unit))) + tail
}

var linearSizes = []struct {
	name string
	n    int
}{{"1KB", 1 << 10}, {"64KB", 64 << 10}, {"1MB", 1 << 20}}

// nsPerByte returns the least cost per byte of running every detector on
// s over trials runs of at least minDur each: the minimum filters out a
// noisy, shared host. The span buffer is reused, so that the allocator
// and the collector, whose cost per byte grows with the size of what they
// handle, do not blur what the detectors cost.
func nsPerByte(s string, trials int, minDur time.Duration) float64 {
	best := 0.0
	var buf []span
	for range trials {
		reps := 0
		start := time.Now()
		var el time.Duration
		for el < minDur || reps == 0 {
			buf = AllDetectors.find(s, buf[:0])
			reps++
			el = time.Since(start)
		}
		v := float64(el.Nanoseconds()) / float64(reps) / float64(len(s))
		if best == 0 || v < best {
			best = v
		}
	}
	return best
}

// TestDetectorsLinear checks that every detector costs about the same per
// byte at 1 KB and at 1 MB of adversarial input: at most twice as much
// (quadratic code costs a thousand times as much). On a shared host the
// least of several runs is compared, and a failing pattern is measured
// again, up to five times, before the test fails.
func TestDetectorsLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	trials, limit := 5, 2.0
	if testsupport.Race {
		// The race detector's shadow memory makes every access cost more
		// in a larger working set; quadratic code would still be ~1000x.
		trials, limit = 3, 3
	}
	for _, tt := range adversarial {
		t.Run(tt.name, func(t *testing.T) {
			small := adversarialInput(tt.unit, tt.tail, 1<<10)
			large := adversarialInput(tt.unit, tt.tail, 1<<20)
			var ratio, ps, pl float64
			for attempt := 0; attempt < 5; attempt++ {
				ps = nsPerByte(small, trials, 5*time.Millisecond)
				pl = nsPerByte(large, trials, 0)
				if ratio = pl / ps; ratio <= limit {
					break
				}
			}
			t.Logf("%s: %.2f ns/B at 1KB, %.2f ns/B at 1MB (%.2fx)", tt.name, ps, pl, ratio)
			if ratio > limit {
				t.Errorf("%s: %.2f ns/B at 1MB is %.1fx the %.2f ns/B at 1KB", tt.name, pl, ratio, ps)
			}
			// Quadratic code takes minutes on 1 MB; the bound is loose
			// enough for a loaded host under the race detector.
			if pl*float64(len(large)) > float64(10*time.Second) {
				t.Errorf("%s: 1MB took %v", tt.name, time.Duration(pl*float64(len(large))))
			}
		})
	}
}

// BenchmarkDetectorsAdversarial scrubs each adversarial input at 1 KB,
// 64 KB and 1 MB with every detector on; compare ns/B across sizes.
func BenchmarkDetectorsAdversarial(b *testing.B) {
	sc := mustScrubber(b)
	for _, tt := range adversarial {
		for _, sz := range linearSizes {
			s := adversarialInput(tt.unit, tt.tail, sz.n)
			b.Run(tt.name+"/"+sz.name, func(b *testing.B) {
				b.SetBytes(int64(len(s)))
				b.ReportAllocs()
				for b.Loop() {
					sc.scrubString(s, false)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(s)), "ns/B")
			})
		}
	}
}

// FuzzDetectorsLinear repeats a fuzzed pattern n and 4n times (16 KB and
// 64 KB) and fails when scrubbing the longer input costs more than 10x the
// shorter one: linear code costs 4x, quadratic code 16x. Each side is the
// least of several runs; a failure is measured again before it counts.
func FuzzDetectorsLinear(f *testing.F) {
	for _, tt := range adversarial {
		f.Add(tt.unit, tt.tail)
	}
	f.Add("token: \"a\\", "")
	f.Add("x://u:p@", "/")
	f.Add("-----BEGIN PGP PRIVATE KEY BLOCK-----", "")
	f.Fuzz(func(t *testing.T, unit, tail string) {
		if unit == "" || len(unit) > 64 || len(tail) > 64 {
			return
		}
		small := adversarialInput(unit, tail, 16<<10)
		large := adversarialInput(unit, tail, 64<<10)
		// A loaded host only ever adds time: compare the least time seen
		// for each size over the attempts (a quadratic detector costs 16x
		// on 4x the input however often it is measured).
		var ts, tl float64
		for attempt := 0; attempt < 5; attempt++ {
			if v := nsPerByte(small, 3, time.Millisecond) * float64(len(small)); ts == 0 || v < ts {
				ts = v
			}
			if v := nsPerByte(large, 3, time.Millisecond) * float64(len(large)); tl == 0 || v < tl {
				tl = v
			}
			if tl/ts <= 10 {
				return
			}
		}
		t.Errorf("pattern %q + %q: 4x the input cost %.1fx the time", unit, tail, tl/ts)
	})
}

// TestAdversarialInputsStillScrubbed checks that the linear detectors
// still redact what the adversarial inputs hide.
func TestAdversarialInputsStillScrubbed(t *testing.T) {
	sc := mustScrubber(t)
	tests := []struct{ give, want string }{
		{strings.Repeat("a://", 3) + "@h", "a://a:[REDACTED]@h"},
		{strings.Repeat("auth:", 3) + "x", "auth:[REDACTED]"},
		{"password=password=x y", "password=[REDACTED] y"},
		{`password="password="x" y`, `password="[REDACTED]"[REDACTED]" y`},
		{"auth: a  \nauth: b \n", "auth: [REDACTED]  \nauth: [REDACTED] \n"},
	}
	for _, tt := range tests {
		if got, _ := sc.scrubString(tt.give, false); got != tt.want {
			t.Errorf("scrubString(%q)\n got %q\nwant %q", tt.give, got, tt.want)
		}
	}
}
