// Package setting is secaudit's one way to hold a configuration value.
//
// Every option and every environment variable a constructor reads becomes
// a [Value]: the value, whether it was given, and by whom (the option's or
// the variable's name). Precedence is the same everywhere — an option
// beats the environment, which beats the default — and an explicit zero
// given by an option or a variable is a value like any other, never
// mistaken for "unset". Errors about a setting name its source in one
// format ([Invalid]): `secaudit: SECAUDIT_X="v": want …` for a variable,
// `secaudit: WithX(v): want …` for an option.
//
// Each environment variable has exactly one owner package, which resolves
// it with [Env] and one parser (internal/envconf).
package setting
