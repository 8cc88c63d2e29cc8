//go:build race

package respwriter

const raceEnabled = true
