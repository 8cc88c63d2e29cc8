package panicattr

import (
	"errors"
	"strings"
	"testing"

	"github.com/secaudit/secaudit/semconv"
)

type errorPanicsAgain struct{}

func (errorPanicsAgain) Error() string { panic(errorPanicsAgain{}) }

func TestAppend(t *testing.T) {
	tests := []struct {
		name, wantType, wantMessage string
		p                           any
	}{
		{"string", "string", "boom", "boom"},
		{"error", "*errors.errorString", "bad", errors.New("bad")},
		{"formatting panics again", "panicattr.errorPanicsAgain", "(panic while formatting the panic value)", errorPanicsAgain{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]string{}
			for _, kv := range Append(nil, tt.p) {
				got[string(kv.Key)] = kv.Value.AsString()
			}
			if got[string(semconv.ExceptionTypeKey)] != tt.wantType || got[string(semconv.ExceptionMessageKey)] != tt.wantMessage {
				t.Errorf("got %v, want type %q message %q", got, tt.wantType, tt.wantMessage)
			}
			if st := got[string(semconv.ExceptionStacktraceKey)]; !strings.Contains(st, "TestAppend") {
				t.Errorf("stack trace does not show the caller:\n%s", st)
			}
		})
	}
}
