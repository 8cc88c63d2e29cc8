package detect

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/internal/setting"
)

// ErrUnavailable is what a shared store returns (wrapped) when it cannot
// be asked now: down, slow past its deadline, or not ready yet. Detection
// fails open on it (the record is delivered, the error counted).
var ErrUnavailable = errors.New("secaudit: state store unavailable")

// SharedState is a [State] shared by several instances (a Redis store):
// what SECAUDIT_STATE=redis://… opens. Every instance must hash subjects
// under the same key, or they would count different keys: HashSecret
// returns the secret every instance shares, false until the store knows
// it (the processor then skips the rules that need the state, counted as
// state errors). A store that also implements detect/guard's Store shares
// the guard's blocks and rate windows.
type SharedState interface {
	State
	// HashSecret returns the secret subjects are hashed under (SipHash
	// keyed by it), the same for every instance of the store. A store
	// that adopts another secret returns a new slice (the processor
	// compares the first byte's address, so the slice must not change in
	// place).
	HashSecret() ([]byte, bool)
	// StoreStats returns the store's health and counters.
	StoreStats() StoreStats
	// Close stops the store's goroutines and connections.
	Close() error
}

// StoreStats are a shared store's health and counters, as the health
// report and Stats show them.
type StoreStats struct {
	Kind     string // "redis"
	Degraded bool   // the store cannot be asked now (fail-open)
	Errors   int64  // operations that failed (timeouts included)
	Skipped  int64  // operations not tried while the store was known down
	Reloads  int64  // times the block set was (re)loaded after (re)connecting
}

// CountFirer is an optional [State] method for shared stores: one
// operation (one round trip) that counts an event — distinct (member into
// a set kept to at most limit members) or not — and, when the count
// reaches threshold, marks the key fired, reporting whether this call was
// the first to do so in the key's window. The processor uses it when the
// state has it (and no [BatchCountFirer]), so a rule evaluation costs one
// round trip.
type CountFirer interface {
	CountAndFire(key Key, distinct bool, member uint64, limit, threshold int, window time.Duration, now time.Time) (n int, fired bool, err error)
}

// StateOp is one built-in rule's operation on the state for one record,
// gathered with the other rules' operations on the same record into one
// [BatchCountFirer] call. Either Forget (drop Key: a successful login
// resets brute_force), or what [CountFirer.CountAndFire] does with the
// same arguments. The store sets the results.
type StateOp struct {
	Key       Key
	Forget    bool // drop Key; the fields below are then unused
	Distinct  bool
	Member    uint64
	Limit     int
	Threshold int
	Window    time.Duration

	// Results: the count in the key's window, whether this operation was
	// the first to mark the key fired in it, and the operation's error
	// (detection skips that rule: fail-open, counted in Stats.StateErrors).
	N     int
	Fired bool
	Err   error
}

// BatchCountFirer is an optional [State] method for shared stores: the
// operations of every built-in rule that reads one record (three for a
// failed login: brute_force, password_spray, distributed_brute_force) in
// one call — one round trip for Redis (a pipeline). Each operation is
// atomic on its key as [CountFirer.CountAndFire] and [State.Forget] are;
// the batch is not a transaction (the keys are independent). The
// processor uses it, when the state has it, in preference to
// [CountFirer]; the memory store has none (it needs no round trip). ops
// is only valid during the call.
type BatchCountFirer interface {
	CountAndFireBatch(ops []StateOp, now time.Time)
}

// StoreOpener opens a shared store from its SECAUDIT_STATE URL.
type StoreOpener func(rawURL string) (SharedState, error)

var (
	openersMu sync.RWMutex
	openers   = map[string]StoreOpener{}
)

// storePackages names the package to import for a URL scheme, for the
// error when it is not registered.
var storePackages = map[string]string{
	"redis":  "github.com/secaudit/secaudit/detect/redisstate",
	"rediss": "github.com/secaudit/secaudit/detect/redisstate",
}

// RegisterStore makes SECAUDIT_STATE URLs of scheme (such as "redis")
// open with open, as database/sql drivers register: a store's package
// calls it from its init, and the application imports that package (for
// Redis: import _ "github.com/secaudit/secaudit/detect/redisstate"). It
// panics when scheme is registered twice or open is nil.
func RegisterStore(scheme string, open StoreOpener) {
	openersMu.Lock()
	defer openersMu.Unlock()
	scheme = strings.ToLower(scheme)
	if open == nil {
		panic("secaudit: detect.RegisterStore: nil opener for " + scheme)
	}
	if _, dup := openers[scheme]; dup {
		panic("secaudit: detect.RegisterStore: scheme registered twice: " + scheme)
	}
	openers[scheme] = open
}

func opener(scheme string) (StoreOpener, bool) {
	openersMu.RLock()
	defer openersMu.RUnlock()
	o, ok := openers[strings.ToLower(scheme)]
	return o, ok
}

func registeredSchemes() []string {
	openersMu.RLock()
	defer openersMu.RUnlock()
	var s []string
	for k := range openers {
		s = append(s, k+"://")
	}
	sort.Strings(s)
	return s
}

// WithStateURL selects the state store like SECAUDIT_STATE, which it
// overrides: "memory" (the default) or a URL whose scheme a store package
// registered ([RegisterStore]), such as redis://host:6379/0 once
// github.com/secaudit/secaudit/detect/redisstate is imported. Ignored with
// [WithState].
func WithStateURL(u string) Option {
	return optionFunc(func(c *config) { c.stateURL.Put(u, "WithStateURL") })
}

// OpenState returns the shared store that opts and SECAUDIT_STATE select:
// the [SharedState] given with [WithState] (opened false), else the one
// the URL opens (opened true: the caller closes it), else nil (the memory
// store, which [New] makes itself). setup calls it once and gives the
// store to both detection ([WithState]) and the guard. An unknown scheme,
// or a redis:// URL whose store package is not imported, is an error
// naming the option or variable and the import to add.
func OpenState(opts ...Option) (s SharedState, opened bool, err error) {
	var c config
	for _, o := range opts {
		o.apply(&c)
	}
	if c.optionErr != nil {
		return nil, false, c.optionErr
	}
	if c.state != nil {
		s, _ := c.state.(SharedState)
		return s, false, nil
	}
	s, err = c.openState()
	return s, s != nil, err
}

// openState resolves SECAUDIT_STATE under WithStateURL and opens it.
func (c *config) openState() (SharedState, error) {
	if err := setting.Env(&c.stateURL, envconf.State, c.noEnv, func(name string) (string, bool, error) {
		v, ok := envconf.String(name)
		return v, ok, nil
	}); err != nil {
		return nil, err
	}
	raw, ok := c.stateURL.Get()
	if !ok || strings.EqualFold(raw, "memory") {
		return nil, nil
	}
	from := c.stateURL.From()
	shown := redactURL(raw)
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return nil, setting.Invalid(from, shown, `"memory" or a store URL such as redis://host:6379/0`)
	}
	open, ok := opener(u.Scheme)
	if !ok {
		if pkg, known := storePackages[strings.ToLower(u.Scheme)]; known {
			return nil, setting.Invalid(from, shown, fmt.Sprintf(`"memory", or add import _ %q to the application so that %s:// URLs open`, pkg, u.Scheme))
		}
		want := `"memory"`
		if s := registeredSchemes(); len(s) > 0 {
			want += " or a URL of " + strings.Join(s, ", ")
		}
		return nil, setting.Invalid(from, shown, want)
	}
	s, err := open(raw)
	if err != nil {
		return nil, setting.Invalid(from, shown, "a store URL that opens ("+err.Error()+")")
	}
	return s, nil
}

// redactURL hides a URL's password (redis://:secret@host → redis://:xxxxx@host).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}
