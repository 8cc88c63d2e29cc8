//go:build race

package exporter_test

// raceEnabled: the race detector makes allocation counts meaningless.
const raceEnabled = true
