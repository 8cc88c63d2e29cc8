package setting

import (
	"fmt"
	"strings"
)

// Value is a setting: its value, whether it was given, and where it came
// from. The zero Value is unset.
type Value[T any] struct {
	v    T
	set  bool
	from string
}

// Put gives the setting v, from the option or variable named from. A later
// Put replaces an earlier one (the last option given wins).
func (s *Value[T]) Put(v T, from string) { s.v, s.set, s.from = v, true, from }

// Get returns the value and whether it was given.
func (s Value[T]) Get() (T, bool) { return s.v, s.set }

// IsSet reports whether the setting was given.
func (s Value[T]) IsSet() bool { return s.set }

// From names where the setting came from ("" when unset).
func (s Value[T]) From() string { return s.from }

// Or returns the value when it was given, else def.
func (s Value[T]) Or(def T) T {
	if s.set {
		return s.v
	}
	return def
}

// Env gives s the value of the environment variable name, read by parse,
// unless s is set already (an option wins) or noEnv is true. parse returns
// the value, whether the variable is set, and an error already in the
// [Invalid] format.
func Env[T any](s *Value[T], name string, noEnv bool, parse func(name string) (T, bool, error)) error {
	if s.set || noEnv {
		return nil
	}
	v, ok, err := parse(name)
	if err != nil {
		return err
	}
	if ok {
		s.Put(v, name)
	}
	return nil
}

// Invalid is the error for a bad setting from source (an environment
// variable's name, or an option's name such as "WithQueueSize"):
//
//	secaudit: SECAUDIT_X="v": want …      (a variable: the value quoted)
//	secaudit: WithX(v): want …            (an option: the value as given)
func Invalid(source string, value any, want string) error {
	if isEnvName(source) {
		return fmt.Errorf("secaudit: %s=%q: want %s", source, fmt.Sprint(value), want)
	}
	return fmt.Errorf("secaudit: %s(%v): want %s", source, value, want)
}

// isEnvName reports whether source is an environment variable's name
// (upper case, digits and underscores) rather than an option's.
func isEnvName(source string) bool {
	return source != "" && strings.ToUpper(source) == source && !strings.ContainsAny(source, "(). ")
}
