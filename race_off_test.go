//go:build !race

package secaudit_test

const raceEnabled = false
