package auditscope

import (
	"fmt"
	"math"
	"regexp"

	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/internal/httpstatus"
	"github.com/secaudit/secaudit/internal/sampling"
	"github.com/secaudit/secaudit/internal/setting"
)

// SampleRate resolves the share of OK responses kept: opt when an option
// gave it, else SECAUDIT_SAMPLE_RATE unless noEnv, else 1. An explicit 0 is
// a rate like any other.
func SampleRate(opt setting.Value[float64], noEnv bool) (float64, error) {
	if r, ok := opt.Get(); ok && (math.IsNaN(r) || r < 0 || r > 1) {
		return 0, setting.Invalid(opt.From(), r, "a number from 0 to 1")
	}
	if err := setting.Env(&opt, envconf.SampleRate, noEnv, envconf.Rate); err != nil {
		return 0, err
	}
	return opt.Or(1), nil
}

// IgnorePaths resolves the path patterns whose responses are not audited:
// opt's (compiled) when an option gave them, an empty list included, else
// SECAUDIT_IGNORE_PATHS unless noEnv, else none.
func IgnorePaths(opt setting.Value[[]string], noEnv bool) ([]*regexp.Regexp, error) {
	return setting.Regexps(opt, envconf.IgnorePaths, noEnv, envconf.Regexps)
}

// IgnoreStatusCodes resolves the statuses whose responses are not audited:
// opt's when an option gave them, an empty list included, else
// SECAUDIT_IGNORE_STATUS_CODES unless noEnv, else none.
func IgnoreStatusCodes(opt setting.Value[[]int], noEnv bool) (httpstatus.Set, error) {
	var set httpstatus.Set
	if codes, ok := opt.Get(); ok {
		for _, code := range codes {
			if code < 100 || code > 599 {
				return set, setting.Invalid(opt.From(), code, "HTTP status codes from 100 to 599")
			}
		}
	}
	if err := setting.Env(&opt, envconf.IgnoreStatusCodes, noEnv, envconf.StatusCodes); err != nil {
		return set, err
	}
	for _, code := range opt.Or(nil) {
		set.Add(code)
	}
	return set, nil
}

// SampleKey resolves the key the sampling decision is keyed with: the one
// derived from SECAUDIT_SAMPLE_KEY (a secret of at least
// [sampling.MinSecretLen] bytes, the same for every instance that must
// sample alike) unless noEnv, else the process's random key. The error
// names the variable, never its value.
func SampleKey(noEnv bool) (sampling.Key, error) {
	if noEnv {
		return sampling.ProcessKey(), nil
	}
	v, ok := envconf.String(envconf.SampleKey)
	if !ok {
		return sampling.ProcessKey(), nil
	}
	if len(v) < sampling.MinSecretLen {
		return sampling.Key{}, fmt.Errorf("secaudit: %s=(%d characters, not shown): want a secret of at least %d characters",
			envconf.SampleKey, len(v), sampling.MinSecretLen)
	}
	return sampling.KeyFromSecret(v), nil
}
