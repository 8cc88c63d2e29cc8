package guard

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/secaudit/secaudit/internal/sampling"
)

// Store shares the guard's blocks and rate windows between instances:
// detect/redisstate's Store implements it, and setup gives the store that
// SECAUDIT_STATE=redis://… opens to both detection and the guard.
//
// Blocks stay in a local copy on each instance, loaded from the store at
// start and after each reconnection (BlockWatch.Sync) and kept current by
// the store's change feed (BlockWatch.Put, BlockWatch.Delete), so that a
// check ([Guard.CheckAddress], [Guard.CheckLogin]) never waits for the
// store. The rate limit asks the store once per request (RateCount).
type Store interface {
	// HashSecret returns the secret every instance hashes user names
	// under, false until the store knows it; a new slice when the store
	// adopts another secret (compared by the first byte's address).
	HashSecret() ([]byte, bool)
	// PutBlock stores b under id until b.Until and tells the other
	// instances.
	PutBlock(ctx context.Context, id string, b Block) error
	// DeleteBlock removes id's block and tells the other instances.
	DeleteBlock(ctx context.Context, id string) error
	// WatchBlocks starts feeding w with the store's blocks: Sync with the
	// whole set once loaded (at start and after each reconnection), then
	// Put and Delete for each change, from any instance. Called once.
	WatchBlocks(w BlockWatch)
	// RateCount counts one request of id in its fixed window of per (the
	// window begins with its first request) and returns the window's
	// count and the time left until it ends.
	RateCount(ctx context.Context, id string, per time.Duration) (n int64, left time.Duration, err error)
	// Degraded reports whether the store cannot be asked now.
	Degraded() bool
}

// BlockWatch receives a [Store]'s blocks ([Store.WatchBlocks]); ids are
// the guard's own.
type BlockWatch struct {
	Sync   func(all map[string]Block)
	Put    func(id string, b Block)
	Delete func(id string)
}

// WithStore shares blocks and rate windows through s (see [Store]); setup
// passes the store SECAUDIT_STATE opens. User names are hashed under the
// store's shared secret, so every instance computes the same lockout ids;
// until the store knows it, lockouts are not checked (fail-open).
func WithStore(s Store) Option { return optionFunc(func(c *config) { c.store = s }) }

// WithFailClosedPaths names paths (Go regular expressions, matched on the
// URL path) that [Guard.FailClosed] answers 503 while the shared store
// cannot be asked ([Guard.Degraded]): the few routes where serving without
// the instances' shared blocks and rate windows is worse than refusing.
// Every other path fails open. Without a store nothing is refused.
func WithFailClosedPaths(patterns ...string) Option {
	return optionFunc(func(c *config) {
		c.failClosed = c.failClosed[:0]
		for _, p := range patterns {
			re, err := regexp.Compile(p)
			if err != nil {
				c.optionErr = fmt.Errorf("secaudit: WithFailClosedPaths(%q): want Go regular expressions: %v", p, err)
				return
			}
			c.failClosed = append(c.failClosed, re)
		}
	})
}

// Degraded reports whether the guard's shared store cannot be asked now:
// blocks are then served from the local copy as last known, and the rate
// limit fails open. False without a store.
func (g *Guard) Degraded() bool { return g != nil && g.store != nil && g.store.Degraded() }

// FailClosed wraps next so that a request whose path matches
// [WithFailClosedPaths] is answered 503 Service Unavailable (Retry-After: 1)
// while the shared store cannot be asked; every other request, and every
// request while the store works, goes to next. Place it outside (before)
// the audit middleware, or inside it to have the 503 audited.
func (g *Guard) FailClosed(next http.Handler) http.Handler {
	if g == nil || g.store == nil || len(g.failClosed) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.store.Degraded() && g.failClosedPath(r.URL.Path) {
			g.failedClosed.Add(1)
			w.Header().Set("Retry-After", "1")
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (g *Guard) failClosedPath(path string) bool {
	for _, re := range g.failClosed {
		if re.MatchString(path) {
			return true
		}
	}
	return false
}

// hashKey returns the key user names are hashed under: the process's own,
// or with a store the shared one, false while the store does not know it.
func (g *Guard) hashKey() (*sampling.Key, bool) {
	if g.store == nil {
		return &g.hkey.Load().k, true
	}
	secret, ok := g.store.HashSecret()
	if !ok || len(secret) == 0 {
		return nil, false
	}
	if cur := g.hkey.Load(); cur != nil && cur.src == &secret[0] {
		return &cur.k, true
	}
	k := &hashKey{k: sampling.KeyFromSecret(string(secret)), src: &secret[0]}
	g.hkey.Store(k)
	return &k.k, true
}

// hashKey is the key user names are hashed under, and the store's secret
// it was made from (nil for the process's own).
type hashKey struct {
	k   sampling.Key
	src *byte
}

// id is k as the store names it: the address's 16 bytes in hex, then for
// a lockout "-" and the user's keyed hash in hex.
func (k key) id() string {
	s := hex.EncodeToString(k.addr[:])
	if k.user != 0 {
		s += "-" + fmt.Sprintf("%016x", k.user)
	}
	return s
}

// keyFromID parses an id made by key.id.
func keyFromID(id string) (key, bool) {
	a, u, lockout := strings.Cut(id, "-")
	var k key
	if b, err := hex.DecodeString(a); err != nil || len(b) != 16 {
		return key{}, false
	} else {
		copy(k.addr[:], b)
	}
	if lockout {
		b, err := hex.DecodeString(u)
		if err != nil || len(b) != 8 {
			return key{}, false
		}
		for _, c := range b {
			k.user = k.user<<8 | uint64(c)
		}
		if k.user == 0 {
			return key{}, false
		}
	}
	return k, true
}

// watch connects the guard's local copy to the store's feed.
func (g *Guard) watch() {
	g.store.WatchBlocks(BlockWatch{Sync: g.syncBlocks, Put: g.putRemote, Delete: g.deleteRemote})
}

// syncBlocks replaces the local copy with the store's set; blocks applied
// here that the store could not take (pending) are kept and stored again.
func (g *Guard) syncBlocks(all map[string]Block) {
	t := g.now().UnixNano()
	var again []key
	g.mu.Lock()
	m := make(map[key]entry, len(all))
	for id, b := range all {
		k, ok := keyFromID(id)
		if !ok || t >= b.Until.UnixNano() {
			continue
		}
		if old, ok := g.m[k]; ok && !old.remote && old.until == b.Until.UnixNano() {
			old.pending = false
			m[k] = old // applied here: its expiry is reported here
			continue
		}
		m[k] = entry{b: b, until: b.Until.UnixNano(), remote: true}
	}
	for k, e := range g.m {
		if _, ok := m[k]; !ok && e.pending && t < e.until {
			m[k] = e
			again = append(again, k)
		}
	}
	for len(m) > g.max {
		var vk key
		var ve entry
		first := true
		for k2, e := range m {
			if first || e.until < ve.until {
				vk, ve, first = k2, e, false
			}
		}
		delete(m, vk)
		g.evicted.Add(1)
	}
	g.m = m
	g.count.Store(int64(len(m)))
	g.mu.Unlock()
	for _, k := range again {
		g.mu.RLock()
		e, ok := g.m[k]
		g.mu.RUnlock()
		if ok {
			g.storePut(context.Background(), k, e.b)
		}
	}
}

// putRemote takes a block from the store's feed (applied by any instance,
// this one included).
func (g *Guard) putRemote(id string, b Block) {
	k, ok := keyFromID(id)
	if !ok {
		return
	}
	until := b.Until.UnixNano()
	if g.now().UnixNano() >= until {
		return
	}
	g.mu.Lock()
	if old, ok := g.m[k]; ok && !old.remote && old.until == until {
		old.pending = false
		g.m[k] = old
		g.mu.Unlock()
		return
	}
	if _, exists := g.m[k]; !exists && len(g.m) >= g.max {
		var vk key
		var ve entry
		first := true
		for k2, e := range g.m {
			if first || e.until < ve.until {
				vk, ve, first = k2, e, false
			}
		}
		delete(g.m, vk)
		g.evicted.Add(1)
	}
	g.m[k] = entry{b: b, until: until, remote: true}
	g.count.Store(int64(len(g.m)))
	g.mu.Unlock()
}

// deleteRemote drops a block lifted by any instance (the lifting instance
// emitted security.block.lifted).
func (g *Guard) deleteRemote(id string) {
	k, ok := keyFromID(id)
	if !ok {
		return
	}
	g.mu.Lock()
	_, ok = g.m[k]
	if ok {
		g.remove(k)
	}
	g.mu.Unlock()
	if ok {
		g.endRefusals(k, g.now().UnixNano())
	}
}

// storePut writes a block applied here to the store; a failure leaves it
// pending (stored again at the next Sync) and counted.
func (g *Guard) storePut(ctx context.Context, k key, b Block) {
	if err := g.store.PutBlock(ctx, k.id(), b); err != nil {
		g.storeErrors.Add(1)
		g.mu.Lock()
		if e, ok := g.m[k]; ok && !e.remote {
			e.pending = true
			g.m[k] = e
		}
		g.mu.Unlock()
	}
}

// rateShared is the rate limit through the store: one round trip. The
// first refusal of a window across every instance is the one whose count
// is n+1; the later ones are quiet, and each instance reports its own
// quiet refusals in its security.rate_limited summary for the window.
// A store error allows the request (fail-open), counted.
func (g *Guard) rateShared(a netip.Addr) (refused bool, retry time.Duration, quiet bool) {
	l := g.rl
	k := a.As16()
	n, left, err := g.store.RateCount(context.Background(), hex.EncodeToString(k[:]), l.per)
	if err != nil {
		g.storeErrors.Add(1)
		return false, 0, false
	}
	t := g.now().UnixNano()
	var out []rateSummary
	l.mu.Lock()
	w := l.m[k]
	if w != nil && t >= w.end {
		if s, ok := w.summary(k, t); ok {
			out = append(out, s)
		}
		delete(l.m, k)
		w = nil
	}
	if n > int64(l.n) {
		refused, retry = true, left
		l.refused++
		if n > int64(l.n)+1 {
			quiet = true
			l.quiet++
			if w == nil {
				if len(l.m) >= l.max {
					out = l.makeRoom(t, out)
				}
				w = &window{end: t + int64(left)}
				l.m[k] = w
			}
			w.seen = t
			w.quiet++
		}
	}
	l.mu.Unlock()
	for _, s := range out {
		g.emitRateLimited(s)
	}
	return refused, retry, quiet
}
