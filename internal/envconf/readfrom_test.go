package envconf

import (
	"testing"
)

func TestReadFrom(t *testing.T) {
	t.Setenv(Detect, "true")
	env := map[string]string{Detect: "off", SampleRate: "2"}
	var detect, detectSet bool
	var rateErr error
	ReadFrom(func(name string) string { return env[name] }, func() {
		detect, detectSet, _ = Bool(Detect)
		_, _, rateErr = Rate(SampleRate)
	})
	if detect || !detectSet {
		t.Errorf("Bool(%s) inside ReadFrom = %v, %v; want false from the given environment", Detect, detect, detectSet)
	}
	if rateErr == nil || rateErr.Error() != `secaudit: SECAUDIT_SAMPLE_RATE="2": want a number from 0 to 1` {
		t.Errorf("Rate error %v, want the one format naming the variable", rateErr)
	}
	// Afterwards the process's environment is read again.
	if v, ok, _ := Bool(Detect); !v || !ok {
		t.Errorf("Bool(%s) after ReadFrom = %v, %v; want true from the process", Detect, v, ok)
	}
}
