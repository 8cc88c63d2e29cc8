// Package redisstate keeps detection's state and the guard's blocks in Redis, so that every instance counts, alerts and blocks together.
//
// # Wiring
//
// Import the package for its effect, and set SECAUDIT_STATE:
//
//	import _ "github.com/secaudit/secaudit/detect/redisstate"
//
//	SECAUDIT_STATE=redis://[user:password@]host:6379/0   (rediss:// for TLS)
//
// The import registers the redis and rediss schemes with detect
// (detect.RegisterStore); setup then opens one [Store] and gives it to
// both the detection processor (detect.WithState) and the guard
// (guard.WithStore), and closes it at Shutdown. Without the import, a
// redis:// SECAUDIT_STATE stops setup.New with an error that names the
// variable and this import. The URL takes go-redis's parameters
// (pool_size, …) and two of the store's: prefix (default "secaudit:") and
// timeout (default 100ms). In code, build the store with [New] or
// [NewWithClient] and pass it with detect.WithState (setup picks it up for
// the guard too).
//
// The core module does not require go-redis: only this module does.
//
// # Keys
//
// Every key starts with the prefix and expires, except the secret:
//
//	PREFIX secret       the hash secret (hex), created once with SET NX GET by the first instance
//	PREFIX d:<hex key>  one detection counter: a hash with n (count), d (distinct count),
//	                    m<hex> (distinct members, at most the rule's threshold), ! (fired);
//	                    its TTL is the window, set with the first event
//	PREFIX b:<id>       one block (JSON: scope, address, user.id/user.name as the events show
//	                    them, rule, reason, since, until), TTL until its end
//	PREFIX r:<address>  one address's rate window: a counter, TTL the window
//	PREFIX blocks       the pub/sub channel of block changes
//
// Subjects are SipHash-2-4 values under the shared secret, the same on
// every instance (a per-process key, as the memory store uses, would give
// each instance different keys); claimed user names never reach Redis in
// clear, only inside these hashes. [WithSecret] gives the secret from
// configuration instead, so that Redis holds no key to the hashes. When
// Redis loses its data, the first instance to reconnect stores its
// secret again and the others adopt it.
//
// # Round trips
//
// A record costs detection one round trip at most, however many rules
// count it: the processor gathers the operations of every rule that reads
// the record and the store sends them as one pipeline
// ([Store.CountAndFireBatch], detect.BatchCountFirer). For each counting
// rule one Lua script (EVALSHA) counts (or adds the distinct member) and,
// at the threshold, sets the fired marker with HSETNX — atomic on its
// key, so one alert per rule, subject and window across every instance.
// A failed login is one round trip for its three rules (brute_force,
// password_spray, distributed_brute_force); a successful login one (DEL:
// it resets brute_force for the pair); a record no rule counts none.
// After Redis lost its script cache (a restart), the scripts go again
// with EVAL: one more round trip, once. With a cluster client
// ([NewWithClient]) the pipeline goes to each node that holds one of the
// record's keys, in parallel (every key names its own slot). A rule that fires adds what its
// response costs (the guard storing a block: see below). Custom rules
// call the state themselves, one round trip per operation. A guard check (CheckAddress,
// CheckLogin) costs none: each instance keeps a local copy of the blocks,
// loaded with SCAN and MGET when the store (re)connects and kept current
// through the channel, so a block applied on one instance refuses on the
// others within the pub/sub delay. With the rate limit on, a request costs
// one round trip (a script: INCR, and PEXPIRE with the window's first
// request). Applying or lifting a block is one MULTI/EXEC (SET PX or DEL,
// and PUBLISH). The integration tests count these with a go-redis hook.
//
// # Failure
//
// Each operation has a deadline ([WithTimeout], 100ms) and is not retried
// (a record's pipeline is one operation). A failure fails open: detection
// skips the record's rules (each counted in the processor's StateErrors), the rate limit allows the request, blocks
// already known keep refusing from the local copy. After a failure the
// store does not ask Redis for [WithRetryInterval] (1s): meanwhile every
// operation returns detect.ErrUnavailable at once, without a round trip.
// Failures are counted ([Store.StoreStats]) and reported through the
// OpenTelemetry error handler at most once per [WithReportInterval] (1m),
// with the number since the last report. [Store.Degraded] (the health
// report's detection.state_degraded) is true from a failure until an
// operation succeeds, while the block feed is disconnected, and until the
// secret is known. The guard's FailClosed answers the paths configured
// with guard.WithFailClosedPaths 503 meanwhile. When Redis returns, the
// feed subscribes again and reloads the block set, and detection and the
// rate limit resume with the next operation.
//
// Windows are measured by Redis's clock; blocks end at their Until by the
// clock of each instance.
package redisstate
