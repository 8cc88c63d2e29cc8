package setting

import (
	"fmt"
	"regexp"
)

// Regexps resolves a setting that lists RE2 regular expressions: the
// patterns an option gave (s), compiled, an empty list included; else, unless
// noEnv, what parse reads from the variable name (envconf.Regexps); else
// none. A pattern that does not compile is an [Invalid] error naming the
// option and the pattern.
func Regexps(s Value[[]string], name string, noEnv bool, parse func(string) ([]*regexp.Regexp, bool, error)) ([]*regexp.Regexp, error) {
	if patterns, ok := s.Get(); ok {
		res := make([]*regexp.Regexp, 0, len(patterns))
		for _, p := range patterns {
			re, err := regexp.Compile(p)
			if err != nil {
				return nil, Invalid(s.From(), fmt.Sprintf("%q", p), "RE2 regular expressions: "+err.Error())
			}
			res = append(res, re)
		}
		return res, nil
	}
	var env Value[[]*regexp.Regexp]
	err := Env(&env, name, noEnv, parse)
	return env.Or(nil), err
}
