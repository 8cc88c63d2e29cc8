package testsupport

import (
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// settle is how long goroutines get to end before one that remains counts
// as leaked. goleak.Find alone retries for about 0.4 s; under -race on a
// loaded machine a goroutine that has been told to stop can take longer to
// be scheduled, so Find runs again until settle has passed. Only a failing
// check waits that long.
var settle = 5 * time.Second

// findLeaks returns an error listing the goroutines that goleak does not
// ignore (with opts) and that are still running after settle. The idle
// keep-alive connections of http.DefaultTransport (two goroutines each,
// kept for 90 s) are closed first: they are the process's pool, which a
// test using http.Get or http.DefaultClient fills, not a leak of the test;
// connections of any other transport still count.
func findLeaks(opts ...goleak.Option) error {
	if tr, ok := http.DefaultTransport.(*http.Transport); ok {
		tr.CloseIdleConnections()
	}
	deadline := time.Now().Add(settle)
	for {
		err := goleak.Find(opts...)
		if err == nil || time.Now().After(deadline) {
			return err
		}
	}
}

// Goroutines is the set of goroutines running at one moment.
type Goroutines struct {
	ignore goleak.Option
}

// Snapshot records the goroutines running now, for [Goroutines.Check].
func Snapshot() Goroutines {
	return Goroutines{ignore: goleak.IgnoreCurrent()}
}

// reporter is the part of testing.TB that Check uses.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// Check fails t, listing their stacks, if goroutines started since the
// snapshot are still running once they have had time to end (up to 5 s;
// goroutines that end sooner are not reported, so a check never fails
// because a stopped goroutine has not been scheduled yet). It does not
// work with parallel tests, whose goroutines it would count.
func (g Goroutines) Check(t testing.TB) { g.check(t) }

func (g Goroutines) check(t reporter) {
	t.Helper()
	if err := findLeaks(g.ignore); err != nil {
		t.Errorf("goroutines started since the snapshot are still running: %v", err)
	}
}

// CheckGoroutines fails t if goroutines started during t (from this call
// on) are still running when t ends, after its other cleanups (which run
// first) and once they have had time to end; see [Goroutines.Check].
func CheckGoroutines(t testing.TB) {
	t.Helper()
	g := Snapshot()
	t.Cleanup(func() { g.Check(t) })
}
