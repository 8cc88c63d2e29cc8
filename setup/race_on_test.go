//go:build race

package setup_test

// raceEnabled: the race detector makes allocation counts meaningless.
const raceEnabled = true
