//go:build race

package testsupport

// Race reports whether the race detector is on (go test -race). Tests of
// allocation counts and timing budgets consult it: the detector changes
// both.
const Race = true
