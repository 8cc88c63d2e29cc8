//go:build race

package delivery_test

// raceEnabled: the race detector makes allocation counts meaningless.
const raceEnabled = true
