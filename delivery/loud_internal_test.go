package delivery

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestLossReportRateLimited: the first failure or loss is reported at once,
// later ones at most once per interval, each report counting what happened
// since the one before; Shutdown (force) says what is pending at once.
func TestLossReportRateLimited(t *testing.T) {
	r := lossReport{name: "otlp", interval: 10 * time.Second}
	t0 := time.Unix(1_800_000_000, 0)
	refused := errors.New("connection refused")
	steps := []struct {
		at               time.Duration
		err              error
		dropped, spilled uint64
		force            bool
		want             []string // substrings of the report; nil: no report
	}{
		{at: 0, dropped: 0, want: nil}, // nothing happened
		{at: time.Second, err: refused, want: []string{"otlp", "export failed", "connection refused", "at most every 10s"}},
		{at: 2 * time.Second, err: refused, dropped: 5, want: nil},
		{at: 9 * time.Second, err: refused, dropped: 40, spilled: 3, want: nil},
		{at: 11 * time.Second, err: refused, dropped: 50, spilled: 3, want: []string{"3 exports failed", "50 records dropped and 3 spilled since then"}},
		{at: 12 * time.Second, dropped: 50, spilled: 3, want: nil}, // nothing new
		{at: 13 * time.Second, dropped: 70, spilled: 3, want: nil},
		{at: 22 * time.Second, dropped: 70, spilled: 3, want: []string{"20 records dropped and 0 spilled since the last report (70 and 3 in all)"}},
		{at: 23 * time.Second, dropped: 71, spilled: 3, force: true, want: []string{"1 records dropped"}},
	}
	for i, s := range steps {
		got := r.observe(t0.Add(s.at), s.err, s.dropped, s.spilled, s.force)
		if s.want == nil {
			if got != nil {
				t.Fatalf("step %d: unexpected report %q", i, got)
			}
			continue
		}
		if got == nil {
			t.Fatalf("step %d: no report, want %q", i, s.want)
		}
		for _, w := range s.want {
			if !strings.Contains(got.Error(), w) {
				t.Errorf("step %d: report %q lacks %q", i, got, w)
			}
		}
		if s.err != nil && !errors.Is(got, s.err) {
			t.Errorf("step %d: report does not wrap the export error", i)
		}
	}
}
