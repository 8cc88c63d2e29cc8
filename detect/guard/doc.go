// Package guard is detection's response, in memory: it blocks client
// addresses and locks out user-and-address pairs for a while, and answers
// whether a request or a login may go on (DESIGN.md, "Detection and
// response").
//
// A [Guard] is consulted before the work it protects: [Guard.CheckAddress]
// before a request's handler (a blocked address is answered 429 with
// Retry-After, [Decision.RetryAfterSeconds]), [Guard.CheckLogin] by the
// application before it checks a password, so that a locked-out pair is
// refused even with the right password while other users from that address
// and that user from other addresses are not. Blocks come from detection
// ([Guard.Responder], given to detect.WithResponder) or from Go
// ([Guard.Block], [Guard.Lift], [Guard.List]); each beginning and end is one
// security.block.applied (WARNING) or security.block.lifted (INFO) record
// through the logger given with [WithLogger] or [Guard.SetLogger].
//
// # Responses
//
// With blocking on, the responder applies the DESIGN response of each
// built-in rule for the block duration:
//
//	brute_force                            block the user and address pair (lockout)
//	password_spray, enumeration, scanner   block the address
//	distributed_brute_force                alert only (a user block is a denial of service)
//	sensitive_change, custom rules         alert only
//
// # Expiry, allowlist, bounds
//
// A block ends exactly at its expiry, read from the guard's clock
// ([WithClock]): from then on it refuses nothing, and it is removed, with
// its security.block.lifted, lazily by the next check that meets it or by
// [Guard.List]; there is no goroutine. Addresses in the allowlisted networks
// are never blocked (their alerts still fire). The guard holds at most
// [WithMaxBlocks] blocks (default 10 000): a new block beyond it first
// drops the expired ones, then evicts the block that would end soonest
// (counted, [Stats].Evicted, and lifted with reason "evicted").
//
// User names given to [Guard.CheckLogin] and [Subject].User are kept only
// as keyed hashes (SipHash-2-4 under a random per-process key); events and
// [Guard.List] name a user by [Subject].UserID and [Subject].UserName only,
// which the caller sets when usernames may be shown.
//
// # Refusals do not flood the log
//
// Per address and window, the first refusal is a full event and the rest
// are quiet ([Guard.RefuseAddressQuiet], [Guard.RefuseAddr]: the audit
// middleware emits nothing for them) and counted into one
// security.rate_limited summary (audit.detect.count, client.address,
// security_rule.name, audit.block.scope address, audit.block.expires_at
// the end of the counted period), so every refused request is in exactly
// one event or summary. The rate limit's window is its own
// ([WithRateLimit]; security_rule.name rate_limit). A blocked address's
// window is one minute from its first refusal, whatever the rate limit:
// at most one event and one summary per blocked address and minute, and
// an ongoing attack reported within a minute; its summary names the
// block's rule (scanner, manual, …), which tells it from the rate
// limit's, and a block replaced by one of another rule starts a new
// window. A summary is emitted lazily, with no goroutine: at the
// address's first refusal after its window; when a window is swept or
// evicted (the windows are bounded like the blocks); for a blocked
// address, when its block ends here — expired, lifted, evicted, or
// deleted by another instance — just before its security.block.lifted;
// and at [Guard.Flush], which setup's Pipeline.Shutdown calls before the
// logs close, so that no count waits for a request that never comes.
// [Guard.CheckAddress] and [Guard.CheckLogin] (the lockout, which the
// application asks) count nothing: their caller decides what to emit.
//
// A check of an address or pair that is not blocked takes a read lock and
// a map lookup, with no allocation, and nothing but an atomic load when no
// block exists or blocking is off.
//
// # Configuration
//
// Options over the environment, validated by [New]: SECAUDIT_BLOCK
// ([WithEnabled], default false: nothing is blocked, every check allows),
// SECAUDIT_BLOCK_DURATION ([WithDuration], default 15m),
// SECAUDIT_BLOCK_ALLOW_CIDRS ([WithAllowCIDRs], CIDRs or addresses).
// [WithoutEnv] ignores them.
//
// # Many instances
//
// With a [Store] ([WithStore]; setup passes the one SECAUDIT_STATE=redis://…
// opens, package detect/redisstate) the blocks and the rate windows are
// shared: a block applied or lifted on one instance is written to the
// store, which feeds every instance's local copy (loaded whole at start
// and after each reconnection), so checks still read local memory only —
// no round trip — and only the applying instance emits the block's
// records. User names are hashed under the store's shared secret. The rate
// limit asks the store once per request; the first refusal of a window
// across all instances is the full event, and each instance sums its own
// quiet refusals in its security.rate_limited summary. A blocked address's
// refusals are counted per instance (its blocks are local copies): each
// instance emits the first refusal of a minute and its own summary. A store that fails
// fails open (the rate limit allows, counted in [Stats].StoreErrors; a
// block the store could not take holds here and is written again at the
// next sync), except on the paths of [WithFailClosedPaths], which
// [Guard.FailClosed] answers 503 while [Guard.Degraded].
//
// # Self-telemetry
//
// [Guard.Stats] and, with [WithMeterProvider] (setup passes its own), the
// OTel metrics secaudit.guard.blocks (held now), secaudit.guard.blocks.applied,
// .lifted, .expired, .evicted and .allowlisted, secaudit.guard.refused and
// secaudit.guard.rate_limited (attribute quiet: true for the refusals
// counted into a security.rate_limited summary),
// secaudit.guard.rate_limit.evicted, secaudit.guard.store.errors,
// secaudit.guard.store.degraded and secaudit.guard.failed_closed. They are
// asynchronous instruments read from Stats at collection time, so a check
// pays nothing for them; no attribute names an address or a user.
package guard
