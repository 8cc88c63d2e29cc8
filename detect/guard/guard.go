package guard

import (
	"context"
	"crypto/rand"
	"errors"
	"net/netip"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/log"

	"github.com/secaudit/secaudit/internal/sampling"
)

// Scope is what a block refuses (audit.block.scope).
type Scope string

// Scopes.
const (
	// ScopeAddress refuses every request of an address.
	ScopeAddress Scope = "address"
	// ScopeUserAddress refuses the logins of one user from one address
	// (a lockout).
	ScopeUserAddress Scope = "user_address"
)

// RuleManual is security_rule.name of a block applied from Go.
const RuleManual = "manual"

// refusalWindow is the window of a blocked address's refusals
// ([Guard.RefuseAddr]): its first refusal is a full event, the rest of the
// window are quiet and counted into one security.rate_limited summary.
const refusalWindow = time.Minute

// StatusTooManyRequests is the HTTP status a refused request is answered
// with (429), with Retry-After: [Decision.RetryAfterSeconds].
const StatusTooManyRequests = 429

// Errors of [Guard.Block].
var (
	ErrDisabled    = errors.New("secaudit: guard: blocking is off (SECAUDIT_BLOCK)")
	ErrAllowlisted = errors.New("secaudit: guard: the address is in an allowlisted network (SECAUDIT_BLOCK_ALLOW_CIDRS)")
	ErrSubject     = errors.New("secaudit: guard: the subject needs an IP address, and a user for a user_address block")
)

// Subject names what a block applies to.
type Subject struct {
	// Address is the client address (client.address): an IP address.
	Address string
	// User is the login name as the application passes it to
	// [Guard.CheckLogin] (ScopeUserAddress only). It is kept as a keyed
	// hash only, never shown.
	User string
	// UserID and UserName are what events and [Guard.List] show of the
	// user (user.id, user.name); set UserName only when usernames may be
	// emitted.
	UserID, UserName string
}

// Block is one block, as [Guard.List] returns it.
type Block struct {
	Scope   Scope
	Subject Subject // User is never returned
	Rule    string  // security_rule.name: the rule that fired, or "manual"
	Reason  string  // given to a manual block
	Since   time.Time
	Until   time.Time // exclusive: from Until on, nothing is refused
}

// Decision is a check's answer. The zero Decision allows.
type Decision struct {
	Blocked    bool
	Scope      Scope
	Rule       string        // the rule of the block, or "manual"
	RetryAfter time.Duration // until the block ends
}

// RetryAfterSeconds is the Retry-After value of a refusal: the seconds
// until the block ends, rounded up (at least 1); 0 when allowed.
func (d Decision) RetryAfterSeconds() int {
	if !d.Blocked {
		return 0
	}
	return max(1, int((d.RetryAfter+time.Second-1)/time.Second))
}

// Stats are the guard's counters.
type Stats struct {
	Enabled bool
	Blocks  int64 // held now (expired ones not yet met included)
	Applied int64 // blocks applied (rules and manual)
	Lifted  int64 // blocks lifted from Go
	Expired int64 // blocks removed after their expiry
	Evicted int64 // blocks evicted before their expiry to stay within the cap
	Refused int64 // checks answered blocked
	// RefusedQuiet: of Refused, the requests of a blocked address that
	// RefuseAddr answered quiet (after the first of their address's
	// minute), reported by a security.rate_limited summary instead of an
	// event each.
	RefusedQuiet int64
	Allowlisted  int64 // blocks not applied because the address is allowlisted
	// RateLimited: requests refused by the rate limit (WithRateLimit);
	// RateQuiet of them after their window's first refusal, reported by
	// its security.rate_limited summary instead of an event each.
	RateLimited, RateQuiet int64
	// RateEvicted: addresses the rate limit forgot before their window
	// ended, to stay within WithMaxRateAddresses.
	RateEvicted int64
	// StoreErrors: operations of the shared store (WithStore) that failed
	// (the guard failed open); StoreDegraded: it cannot be asked now;
	// FailedClosed: requests FailClosed answered 503 meanwhile.
	StoreErrors   int64
	StoreDegraded bool
	FailedClosed  int64
}

// key identifies a block: the address, and for a lockout the keyed hash
// of the user (never 0; 0 for an address block).
type key struct {
	addr [16]byte // As16: IPv4 in its mapped form
	user uint64
}

type entry struct {
	b       Block
	until   int64 // Unix ns
	remote  bool  // applied by another instance (Store): its expiry is reported there
	pending bool  // applied here, not yet in the store (stored again at the next sync)
}

// Guard holds the blocks. It is safe for concurrent use; a nil *Guard
// allows everything.
type Guard struct {
	enabled  bool
	duration time.Duration
	allow    []netip.Prefix
	max      int
	now      func() time.Time
	hkey     atomic.Pointer[hashKey] // the process's own key, or the store's last
	logger   atomic.Pointer[loggerBox]
	rl       *limiter // nil: no rate limit
	br       *limiter // the refusals of blocked addresses by RefuseAddr; nil when blocking is off
	store    Store    // nil: blocks and rate windows in this process only

	failClosed                []*regexp.Regexp
	storeErrors, failedClosed atomic.Int64

	count atomic.Int64 // len(blocks), read without the lock
	mu    sync.RWMutex
	m     map[key]entry

	applied, lifted, expired, evicted, refused, allowlisted atomic.Int64
}

type loggerBox struct{ l log.Logger }

// New returns a guard configured by opts over the environment
// (SECAUDIT_BLOCK, SECAUDIT_BLOCK_DURATION, SECAUDIT_BLOCK_ALLOW_CIDRS). An
// invalid value is an error naming the option or variable.
func New(opts ...Option) (*Guard, error) {
	var c config
	for _, o := range opts {
		o.apply(&c)
	}
	if err := c.resolve(); err != nil {
		return nil, err
	}
	allow, _ := c.allow.Get()
	g := &Guard{
		enabled:  c.enabled.Or(false),
		duration: c.duration.Or(DefaultDuration),
		allow:    allow,
		max:      c.maxBlocks.Or(DefaultMaxBlocks),
		now:      c.now,
		m:        make(map[key]entry),
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.enabled {
		g.br = &limiter{per: refusalWindow, max: g.max, m: make(map[[16]byte]*window)}
	}
	if r := c.rate.Or(rateSpec{}); r.n > 0 {
		g.rl = &limiter{n: r.n, per: r.per, max: c.maxRate.Or(DefaultMaxRateAddresses), m: make(map[[16]byte]*window)}
	}
	g.store, g.failClosed = c.store, c.failClosed
	if g.store == nil {
		var secret [32]byte
		_, _ = rand.Read(secret[:])
		g.hkey.Store(&hashKey{k: sampling.KeyFromSecret(string(secret[:]))})
	}
	if c.logger != nil {
		g.SetLogger(c.logger)
	}
	if c.meter != nil {
		if err := g.registerMetrics(c.meter); err != nil {
			return nil, err
		}
	}
	if g.store != nil && g.enabled {
		g.watch()
	}
	return g, nil
}

// Enabled reports whether blocking is on (SECAUDIT_BLOCK).
func (g *Guard) Enabled() bool { return g != nil && g.enabled }

// Active reports whether g may refuse a request: blocking is on or a rate
// limit is set (SECAUDIT_RATE_LIMIT). Both are fixed when g is built, so
// an inactive Guard refuses nothing, ever; the HTTP middleware does not
// ask one (instrumentation.WithGuard).
func (g *Guard) Active() bool { return g != nil && (g.enabled || g.rl != nil) }

// Duration is the default block duration (SECAUDIT_BLOCK_DURATION).
func (g *Guard) Duration() time.Duration {
	if g == nil {
		return DefaultDuration
	}
	return g.duration
}

// SetLogger sets the logger the security.block.* records go through, once
// the provider exists. Until then blocks apply and lift without records.
func (g *Guard) SetLogger(l log.Logger) {
	if g != nil {
		g.logger.Store(&loggerBox{l})
	}
}

// CheckAddress reports whether a request from addr (client.address) is
// refused: it is when the address is blocked. Unparsable and allowlisted
// addresses are never refused.
func (g *Guard) CheckAddress(addr string) Decision {
	if g == nil || !g.enabled || g.count.Load() == 0 {
		return Decision{}
	}
	a, ok := parse(addr)
	if !ok {
		return Decision{}
	}
	return g.check(key{addr: a.As16()})
}

// CheckLogin reports whether a login of user (the name the client claims)
// from addr is refused, before the application checks the password: it
// is when the address is blocked or the pair is locked out. Other users
// from addr, and user from other addresses, are not refused by the pair's
// lockout.
func (g *Guard) CheckLogin(user, addr string) Decision {
	if g == nil || !g.enabled || g.count.Load() == 0 {
		return Decision{}
	}
	a, ok := parse(addr)
	if !ok {
		return Decision{}
	}
	if d := g.check(key{addr: a.As16()}); d.Blocked {
		return d
	}
	if user == "" {
		return Decision{}
	}
	h, ok := g.userHash(user)
	if !ok {
		return Decision{} // the store's shared key is not known yet: fail open
	}
	return g.check(key{addr: a.As16(), user: h})
}

// check looks k up; an expired block is removed (and its lifted record
// emitted) and allows.
func (g *Guard) check(k key) Decision {
	g.mu.RLock()
	e, ok := g.m[k]
	g.mu.RUnlock()
	if !ok {
		return Decision{}
	}
	now := g.now()
	t := now.UnixNano()
	if t >= e.until {
		g.removeExpired(k, t)
		return Decision{}
	}
	g.refused.Add(1)
	return Decision{Blocked: true, Scope: e.b.Scope, Rule: e.b.Rule, RetryAfter: time.Duration(e.until - t)}
}

// removeExpired removes k if it is still expired at t.
func (g *Guard) removeExpired(k key, t int64) {
	g.mu.Lock()
	e, ok := g.m[k]
	if !ok || t < e.until {
		g.mu.Unlock()
		return
	}
	g.remove(k)
	g.mu.Unlock()
	g.expired.Add(1)
	g.endRefusals(k, t)
	if !e.remote { // another instance's block: its expiry is reported there
		g.emitLifted(context.Background(), e.b, reasonExpired)
	}
}

// endRefusals emits the security.rate_limited summary of k's quiet
// refusals when its address block ends here (expired, lifted, evicted,
// deleted by another instance), before its security.block.lifted, so that
// no count waits for a request that may never come.
func (g *Guard) endRefusals(k key, t int64) {
	if g.br == nil || k.user != 0 {
		return
	}
	if s, ok := g.br.take(k.addr, t); ok {
		g.emitRateLimited(s)
	}
}

// Flush emits now the security.rate_limited summaries of the quiet
// refusals counted so far (the rate limit's and the blocked addresses'),
// whose windows have not been reported yet; a later quiet refusal in the
// same window is counted into the window's next summary. setup's
// Pipeline.Shutdown calls it before the logs are flushed, so that no count
// is lost when traffic stops. A nil guard does nothing.
func (g *Guard) Flush() {
	if g == nil {
		return
	}
	t := g.now().UnixNano()
	var out []rateSummary
	for _, l := range []*limiter{g.rl, g.br} {
		if l != nil {
			out = l.flush(t, out)
		}
	}
	for _, s := range out {
		g.emitRateLimited(s)
	}
}

// remove deletes k; the caller holds the write lock.
func (g *Guard) remove(k key) {
	delete(g.m, k)
	g.count.Store(int64(len(g.m)))
}

// Block blocks subject in scope for d (the default duration when d <= 0),
// as a manual block with reason, and emits security.block.applied. A block
// of the same subject and scope is replaced. It fails when blocking is
// off, the subject is incomplete, or the address is allowlisted.
func (g *Guard) Block(ctx context.Context, scope Scope, s Subject, d time.Duration, reason string) error {
	return g.apply(ctx, scope, s, d, RuleManual, reason)
}

func (g *Guard) apply(ctx context.Context, scope Scope, s Subject, d time.Duration, rule, reason string) error {
	if g == nil || !g.enabled {
		return ErrDisabled
	}
	k, ok := g.keyOf(scope, s)
	if !ok {
		return ErrSubject
	}
	if g.allowed(netip.AddrFrom16(k.addr).Unmap()) {
		g.allowlisted.Add(1)
		return ErrAllowlisted
	}
	if d <= 0 {
		d = g.duration
	}
	now := g.now()
	s.User = ""
	b := Block{Scope: scope, Subject: s, Rule: rule, Reason: reason, Since: now, Until: now.Add(d)}
	t := now.UnixNano()
	var gone []Block // expired and evicted, lifted after the lock
	var goneWhy []string
	var goneK []key
	g.mu.Lock()
	if _, exists := g.m[k]; !exists && len(g.m) >= g.max {
		for k2, e := range g.m {
			if t >= e.until {
				g.remove(k2)
				gone, goneWhy, goneK = append(gone, e.b), append(goneWhy, reasonExpired), append(goneK, k2)
				g.expired.Add(1)
			}
		}
		for len(g.m) >= g.max {
			var vk key
			var ve entry
			first := true
			for k2, e := range g.m {
				if first || e.until < ve.until {
					vk, ve, first = k2, e, false
				}
			}
			g.remove(vk)
			gone, goneWhy, goneK = append(gone, ve.b), append(goneWhy, reasonEvicted), append(goneK, vk)
			g.evicted.Add(1)
		}
	}
	g.m[k] = entry{b: b, until: b.Until.UnixNano()}
	g.count.Store(int64(len(g.m)))
	g.mu.Unlock()
	g.applied.Add(1)
	if g.store != nil {
		g.storePut(ctx, k, b)
	}
	for i, ob := range gone {
		g.endRefusals(goneK[i], t)
		g.emitLifted(ctx, ob, goneWhy[i])
	}
	g.emitApplied(ctx, b)
	return nil
}

// Lift ends the block of subject in scope now and emits
// security.block.lifted; it reports whether there was one. An expired
// block is removed as expired and Lift reports false.
func (g *Guard) Lift(ctx context.Context, scope Scope, s Subject) bool {
	if g == nil {
		return false
	}
	k, ok := g.keyOf(scope, s)
	if !ok {
		return false
	}
	t := g.now().UnixNano()
	g.mu.Lock()
	e, ok := g.m[k]
	if ok {
		g.remove(k)
	}
	g.mu.Unlock()
	if g.store != nil {
		if err := g.store.DeleteBlock(ctx, k.id()); err != nil {
			g.storeErrors.Add(1)
		}
	}
	if !ok {
		return false
	}
	g.endRefusals(k, t)
	if t >= e.until {
		g.expired.Add(1)
		g.emitLifted(ctx, e.b, reasonExpired)
		return false
	}
	g.lifted.Add(1)
	g.emitLifted(ctx, e.b, reasonLifted)
	return true
}

// List returns the blocks in force, soonest to end first; the expired ones
// it meets are removed (security.block.lifted, reason "expired").
func (g *Guard) List() []Block {
	if g == nil {
		return nil
	}
	t := g.now().UnixNano()
	var live, gone []Block
	var ended []key
	g.mu.Lock()
	for k, e := range g.m {
		if t >= e.until {
			g.remove(k)
			ended = append(ended, k)
			if !e.remote {
				gone = append(gone, e.b)
			} else {
				g.expired.Add(1)
			}
			continue
		}
		live = append(live, e.b)
	}
	g.mu.Unlock()
	for _, k := range ended {
		g.endRefusals(k, t)
	}
	for _, b := range gone {
		g.expired.Add(1)
		g.emitLifted(context.Background(), b, reasonExpired)
	}
	slices.SortFunc(live, func(a, b Block) int { return a.Until.Compare(b.Until) })
	return live
}

// Stats returns the guard's counters.
func (g *Guard) Stats() Stats {
	if g == nil {
		return Stats{}
	}
	var rl, rq, re, bq int64
	if l := g.rl; l != nil {
		l.mu.Lock()
		rl, rq, re = l.refused, l.quiet, l.evicted
		l.mu.Unlock()
	}
	if l := g.br; l != nil {
		l.mu.Lock()
		bq = l.quiet
		l.mu.Unlock()
	}
	return Stats{
		RateLimited: rl, RateQuiet: rq, RateEvicted: re,
		Enabled: g.enabled, Blocks: g.count.Load(), Applied: g.applied.Load(), Lifted: g.lifted.Load(),
		Expired: g.expired.Load(), Evicted: g.evicted.Load(), Refused: g.refused.Load(), RefusedQuiet: bq,
		Allowlisted: g.allowlisted.Load(),
		StoreErrors: g.storeErrors.Load(), StoreDegraded: g.Degraded(), FailedClosed: g.failedClosed.Load(),
	}
}

// keyOf is the key of subject in scope, false when it is incomplete.
func (g *Guard) keyOf(scope Scope, s Subject) (key, bool) {
	a, ok := parse(s.Address)
	if !ok {
		return key{}, false
	}
	switch scope {
	case ScopeAddress:
		return key{addr: a.As16()}, true
	case ScopeUserAddress:
		if s.User == "" {
			return key{}, false
		}
		h, ok := g.userHash(s.User)
		if !ok {
			return key{}, false
		}
		return key{addr: a.As16(), user: h}, true
	}
	return key{}, false
}

// userHash is the keyed hash of a user name, never 0; false while a
// store's shared key is not known.
func (g *Guard) userHash(user string) (uint64, bool) {
	k, ok := g.hashKey()
	if !ok {
		return 0, false
	}
	return k.Draw(user) | 1, true
}

// allowed reports whether a is in an allowlisted network.
func (g *Guard) allowed(a netip.Addr) bool {
	for _, p := range g.allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parse reads an IP address, IPv4-mapped IPv6 as IPv4, without its zone.
func parse(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}
