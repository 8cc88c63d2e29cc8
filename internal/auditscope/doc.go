// Package auditscope owns the settings that decide which requests and
// records are audited at all, which both the middleware (instrumentation)
// and the processor chain (processor) apply, so that the two always agree:
//
//	SECAUDIT_SAMPLE_RATE          the share of OK responses kept (0..1, default 1)
//	SECAUDIT_SAMPLE_KEY           the secret the sampling decision is keyed with
//	SECAUDIT_IGNORE_PATHS         path patterns whose responses are not audited
//	SECAUDIT_IGNORE_STATUS_CODES  statuses whose responses are not audited
//
// It is the one package that reads these variables and the one place that
// checks the options standing for them (WithSampleRate, WithIgnorePaths,
// WithIgnoreStatusCodes of both packages): each resolver takes the option's
// [setting.Value] and returns option > environment > default, with errors in
// the one format of [setting.Invalid].
package auditscope
