// Package detect notices attacks: rules fed by a log processor turn the
// provider's records into security.alert records (DESIGN.md, "Detection
// and response").
//
// [Processor] is an sdk/log processor registered after the processor chain
// (setup does this when detection is on, the default), so the rules read
// every record as it is delivered — scrubbed and limited — including the
// events the application emits itself. A fired rule emits one
// security.alert through a logger of the same provider ([WithLogger],
// [Processor.SetLogger]), so the alert is scrubbed and delivered like a
// security event, emitted with the triggering record's context (its trace
// and span) and its request facts. Alerts are never fed to the rules.
//
// # Rules
//
// The built-in rules and their defaults (threshold / window):
//
//	brute_force              auth.login.failed per user and address      5 / 5m   (a success of the pair resets it)
//	password_spray           distinct user names failing per address    10 / 15m  ERROR
//	distributed_brute_force  distinct addresses failing per user        10 / 15m  ERROR
//	enumeration              distinct url.path under one http.route
//	                         answered 401/403/404, per address          20 / 5m
//	scanner                  security.suspicious_request and 404s with
//	                         no http.route, per address (requests)      10 / 1m
//	sensitive_change         model.update touching a configured field,
//	                         per user                                    1 / 1m   ERROR, off until fields are named
//
// A rule fires once per subject and window, at the event that reaches its
// threshold, with the count it saw (audit.detect.count) — never again for
// the later events of that window; it fires again in the next window. A
// window begins with the subject's first event and ends exactly after its
// length: the count then restarts.
//
// The user of a login event is the claimed user name, which the Auditor
// passes in the context (internal/claim) even when usernames are not
// emitted; the rules keep only keyed hashes (SipHash-2-4 under a random
// per-process key) of names and addresses, and an alert names the user
// only by what the record itself carried (user.id, and user.name when
// usernames are on).
//
// Custom rules are plain Go ([Rule], [WithCustomRule]); their panics are
// recovered and counted.
//
// A responder ([WithResponder]) is called with every fired rule ([Fired]),
// including the claimed login name that the alert never shows: the hook
// through which package detect/guard applies the rule's response (a block)
// when blocking is on.
//
// # State
//
// Counters live behind [State], three atomic operations (count in window,
// distinct add in window, fired-once-per-window marker) that a shared store
// such as Redis can implement. The default, [MemoryState], is bounded by
// SECAUDIT_STATE_MAX_BYTES (64 MiB) whatever the number of subjects: each
// key is charged a conservative, fixed size (the map slot with the swiss
// table's load factor and growth) plus 8 bytes per member kept, and a
// distinct count keeps at most threshold members (it needs no more). There
// is no goroutine: an expired window is restarted or evicted when met.
//
// Eviction is sampled least-active, as in Redis's approximated LFU: to make
// room, a shard looks at a few keys (8) and forgets an expired one if it
// meets one, else the one with the lowest count, the oldest among equal
// counts. A sample rather than an exact ordered structure keeps every
// operation O(1) with no per-key links (which would double the cost of a
// key, halving what the cap holds); the exact counts are kept (no
// space-saving over-estimate, which would fire alerts on innocent subjects
// under a flood). Under a flood of new addresses, each seen once, the
// sample almost always holds a key with a count of one, so a subject with
// repeated events — a heavy hitter — is kept while the flood replaces
// itself; among the once-seen, the oldest go first, so the recent first
// event of an attacker survives a flood of the store's size.
//
// # Configuration
//
// Options over the environment, validated by [New]: SECAUDIT_DETECT
// ([WithEnabled], default true), SECAUDIT_DETECT_RULES
// ("brute_force:3/10m,scanner:off"; [WithRule]),
// SECAUDIT_DETECT_SENSITIVE_FIELDS ("user.is_admin,account.email";
// [WithSensitiveFields]), SECAUDIT_STATE_MAX_BYTES ([WithStateMaxBytes]),
// SECAUDIT_STATE ([WithStateURL]). [WithoutEnv] ignores them.
//
// # Shared state
//
// SECAUDIT_STATE is "memory" (the default) or a URL whose scheme a store
// package registered ([RegisterStore], as database/sql drivers do): with
// import _ "github.com/secaudit/secaudit/detect/redisstate", redis:// and
// rediss:// open a Redis store shared by every instance; without the
// import such a URL is an error that names the variable and the import.
// [OpenState] opens it (setup does, once, for detection and the guard);
// [New] opens it itself when used alone, and its Shutdown closes it. A
// [SharedState] gives the secret subjects are hashed under, the same on
// every instance, instead of the per-process key. With [BatchCountFirer]
// the operations of every built-in rule that reads a record (three for a
// failed login) are one call, one round trip (Redis: one pipeline); else,
// with [CountFirer], a rule evaluation is one operation (one round trip);
// else the [State] methods are called one by one. The memory store has
// neither and its path allocates nothing. A store that cannot be asked
// returns [ErrUnavailable]: the rule is skipped (fail-open), counted in
// [Stats].StateErrors, and [Stats].Store shows the store's health.
//
// Self-telemetry: [Processor.Stats] and, with [WithMeterProvider], the
// metrics secaudit.detect.evaluations, secaudit.detect.alerts (by
// security_rule.name), secaudit.detect.state.bytes, .state.keys and
// .state.evictions.
package detect
