// Package processor holds secaudit's safety core: go.opentelemetry.io/otel/sdk/log
// processors that make every record in a LoggerProvider safe before it
// leaves the process — audit events and ordinary application logs (for
// example from the otelslog bridge) alike.
//
// The entry point is [NewChain], one processor that runs
//
//	enrich → scrub → limit → filter → sample → next
//
// in front of the exporting processor next (a batch or simple processor).
// The stages are exported too, for users who compose their own pipeline:
//
//   - [Scrubber] redacts secrets in place: a key denylist (normalised,
//     substring match, with an exact allowlist that wins), built-in value
//     detectors ([Detector]: bearer tokens, JWTs, AWS keys, PEM private
//     keys, Luhn-checked card numbers, passwords in URLs and DSNs,
//     "password=…" assignments, the tokens of more than 60 providers,
//     Basic credentials), your own RE2 patterns, optional keyed
//     HMAC pseudonyms, recursion into maps and slices, the body,
//     exception.message/stacktrace and url.query. It sets
//     audit.redacted_count (see Redaction below). A processor cannot
//     change a record's resource or scope; [Scrubber.ScrubAttributes]
//     applies the same rules to attributes outside records (the setup
//     package scrubs the resource with it once, and each logger's scope
//     attributes when the logger is created).
//   - [Limiter] bounds depth, map entries, slice length, string length (in
//     runes), attribute count and the whole record's size, with
//     "[TRUNCATED]" markers; it never renames a key.
//   - [Filter] drops ignored paths and status codes of http.response.*
//     events and whatever your [FilterFunc]s reject; a panicking filter
//     keeps the record.
//   - [Sampler] keeps a share of http.response.success/.redirect events,
//     decided per trace id; security events are never sampled.
//   - [Enricher] adds the attributes your [EnrichFunc]s return; protected
//     contract keys cannot be set, and a panicking or invalid enricher is
//     skipped alone.
//
// # Redaction
//
// A value under a sensitive key is replaced whole. In a string, every
// secret a built-in detector finds and every match of your patterns is
// replaced by "[REDACTED]" on its own span, so the rest of the text
// survives: "dial postgres://app:[REDACTED]@db failed", "key [REDACTED]".
// audit.redacted_count counts values, not spans: each attribute value, map
// entry or slice element the Scrubber changed counts once, however many
// spans it redacted in it; so does a renamed key (a key holding a secret)
// and url.full rewritten to match a redacted url.path. A value already
// "[REDACTED]" is left alone and not counted again.
//
// # How it composes with the SDK
//
// The SDK runs processors in registration order on the same *Record, and no
// processor can stop the ones after it. So the mutating stages (Enricher,
// Scrubber, Limiter) must be registered before the exporting processor
// (the batch processor clones the record), and Filter and Sampler wrap the
// processor they guard instead of sitting beside it. Rewrites use
// Record.SetAttributes, never AddAttributes-overwrites, so they also work
// with sdklog.WithAllowKeyDuplication; every duplicate of a key is
// scrubbed. The SDK turns Record.Err into exception.message and
// exception.type before processors run; the Scrubber scrubs them like any
// other string. A clean record costs one walk over its attributes and no
// allocation; only a record with something to replace is rewritten.
//
// The mutating stages report false from Enabled (they do not export
// anything themselves), and Filter and Sampler ask the processor they wrap,
// so a provider's Logger.Enabled reflects the exporter and the sampler.
//
// The provider's own limits apply first: set
// sdklog.WithAttributeCountLimit(-1) (and leave the value length limit
// unlimited) when the Limiter is in the chain, so that the SDK does not drop
// attributes — audit.redacted_count among them — before the Limiter can
// account for them.
//
// # Configuration
//
// Every setting is a functional option, validated at construction; the
// operator-facing ones also read the environment, with precedence option >
// environment > default:
//
//	SECAUDIT_SENSITIVE_KEYS            WithSensitiveKeys (replaces DefaultSensitiveKeys)
//	SECAUDIT_SENSITIVE_KEY_ALLOWLIST   WithSensitiveKeyAllowlist
//	SECAUDIT_SENSITIVE_VALUE_PATTERNS  WithSensitiveValuePatterns (list of RE2)
//	SECAUDIT_IGNORE_PATHS              WithIgnorePaths (list of RE2)
//	SECAUDIT_IGNORE_STATUS_CODES       WithIgnoreStatusCodes
//	SECAUDIT_SAMPLE_RATE               WithSampleRate (0..1, default 1)
//	SECAUDIT_SAMPLE_KEY                the sampling key (a secret, ≥ 16 characters;
//	                                   default random per process)
//
// A list of RE2 regular expressions is a JSON array of strings when the
// value starts with "[" (["^/a,b$", "x{2,}"]); otherwise it is split at the
// commas outside {…}, […] and (…) and not escaped by a backslash, so
// sk_live_[A-Za-z0-9]{20,},internal-[0-9]{4} is two patterns and a\,b is
// one that matches "a,b". Each pattern must compile alone.
//
// An invalid value stops construction with an error naming the variable or
// option. [WithoutEnv] ignores the environment.
//
// # Safety semantics
//
// Behaviour follows the reference (django-sec-audit) with these deliberate
// differences: session.id and the other [ProtectedKeys] are exempt from
// key rules; filters and enrichers are plain funcs that cannot drop a record
// by panicking; limits never rename keys; regular expressions are RE2;
// string limits count runes; well-known secrets are detected out of the box.
// Every loss is counted: see [Stats].
package processor
