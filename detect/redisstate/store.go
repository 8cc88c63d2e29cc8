package redisstate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.opentelemetry.io/otel"

	"github.com/secaudit/secaudit/detect"
	"github.com/secaudit/secaudit/detect/guard"
)

func init() {
	open := func(raw string) (detect.SharedState, error) { return New(raw) }
	detect.RegisterStore("redis", open)
	detect.RegisterStore("rediss", open)
}

// Defaults.
const (
	DefaultPrefix         = "secaudit:"
	DefaultTimeout        = 100 * time.Millisecond
	DefaultRetryInterval  = time.Second
	DefaultReportInterval = time.Minute
)

// Store keeps detection's counters and the guard's blocks and rate
// windows in Redis: a [detect.SharedState] (with [detect.CountFirer] and
// [detect.BatchCountFirer]) and a [guard.Store]. See the package documentation for its keys, round
// trips and failure behaviour. It is safe for concurrent use.
type Store struct {
	client   redis.UniversalClient
	ownsConn bool
	prefix   string
	timeout  time.Duration
	retry    time.Duration
	interval time.Duration
	handle   func(error)
	now      func() time.Time

	secret atomic.Pointer[[]byte]
	fixed  bool // WithSecret: nothing in Redis

	downUntil  atomic.Int64 // Unix ns: operations are not tried before
	opsDown    atomic.Bool
	watchDown  atomic.Bool
	watching   atomic.Bool
	errors     atomic.Int64
	skipped    atomic.Int64
	reloads    atomic.Int64
	lastReport atomic.Int64 // Unix ns
	unreported atomic.Int64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	watchC chan guard.BlockWatch
	psMu   sync.Mutex
	ps     *redis.PubSub
	closed atomic.Bool
}

// New opens a store on the Redis at rawURL: redis://[user:password@]host:port/db
// (rediss:// for TLS), with go-redis's own URL parameters and these of the
// store, which options given here override: prefix (the key prefix,
// default "secaudit:") and timeout (each operation's deadline, default
// 100ms). It does not fail when Redis is down: the store starts degraded
// and connects when Redis answers.
func New(rawURL string, opts ...Option) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("not a URL")
	}
	q := u.Query()
	var pre []Option
	if p, ok := q["prefix"]; ok {
		pre = append(pre, WithPrefix(p[0]))
		q.Del("prefix")
	}
	if t := q.Get("timeout"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil {
			return nil, fmt.Errorf("timeout=%q: want a Go duration such as 100ms", t)
		}
		pre = append(pre, WithTimeout(d))
		q.Del("timeout")
	}
	u.RawQuery = q.Encode()
	c, err := resolve(append(pre, opts...))
	if err != nil {
		return nil, err
	}
	ro, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, err
	}
	ro.DialTimeout, ro.ReadTimeout, ro.WriteTimeout, ro.PoolTimeout = c.timeout, c.timeout, c.timeout, c.timeout
	ro.ContextTimeoutEnabled = true
	ro.MaxRetries = -1   // no retry: a failure fails open at once
	ro.DialerRetries = 1 // one dial per attempt, no backoff inside the deadline
	ro.DisableIdentity = true
	ro.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return start(redis.NewClient(ro), true, c), nil
}

// NewWithClient makes a store on a client the application configured
// (a *redis.Client, or a cluster or failover client: every key of the
// store names one slot). Its timeouts apply besides the store's
// ([WithTimeout]); give it ContextTimeoutEnabled and MaxRetries -1 so that
// a slow or down Redis fails open within the store's deadline. Close does
// not close the client.
func NewWithClient(client redis.UniversalClient, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, errors.New("secaudit: redisstate.NewWithClient(nil): want a client")
	}
	c, err := resolve(opts)
	if err != nil {
		return nil, err
	}
	return start(client, false, c), nil
}

func start(client redis.UniversalClient, owns bool, c config) *Store {
	s := &Store{
		client: client, ownsConn: owns, prefix: c.prefix, timeout: c.timeout, retry: c.retry,
		interval: c.interval, handle: c.handle, now: time.Now, watchC: make(chan guard.BlockWatch, 1),
	}
	if s.handle == nil {
		s.handle = otel.Handle
	}
	if c.secret != nil {
		b := append([]byte(nil), c.secret...)
		s.secret.Store(&b)
		s.fixed = true
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	// The first try, synchronous, so that a reachable Redis is ready when
	// New returns.
	_ = s.loadSecret()
	s.wg.Add(1)
	go s.run()
	return s
}

// Client returns the store's Redis client (to add a hook, or to read the
// keys in tests).
func (s *Store) Client() redis.UniversalClient { return s.client }

// Prefix returns the key prefix.
func (s *Store) Prefix() string { return s.prefix }

// Close stops the store's goroutine and, when New opened it, the client.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.cancel()
	s.psMu.Lock()
	if s.ps != nil {
		_ = s.ps.Close()
	}
	s.psMu.Unlock()
	s.wg.Wait()
	if s.ownsConn {
		return s.client.Close()
	}
	return nil
}

// HashSecret implements [detect.SharedState] and [guard.Store]: the
// secret subjects are hashed under, created once in Redis (SET NX under
// PREFIX+"secret") and read by every instance, or given with [WithSecret].
func (s *Store) HashSecret() ([]byte, bool) {
	if p := s.secret.Load(); p != nil {
		return *p, true
	}
	return nil, false
}

// loadSecret stores the secret this instance knows (a new random one
// when none) unless Redis holds one, and adopts what Redis holds, in one
// round trip (SET NX GET). After Redis lost its data, the first instance
// to ask stores its secret again and the others adopt it.
func (s *Store) loadSecret() error {
	if s.fixed {
		return nil
	}
	var mine []byte
	if p := s.secret.Load(); p != nil {
		mine = *p
	} else {
		mine = make([]byte, 32)
		_, _ = rand.Read(mine)
	}
	return s.do(s.ctx, func(ctx context.Context) error {
		old, err := s.client.SetArgs(ctx, s.prefix+"secret", hex.EncodeToString(mine), redis.SetArgs{Mode: "NX", Get: true}).Result()
		secret := mine
		switch {
		case errors.Is(err, redis.Nil):
			// ours is stored
		case err != nil:
			return err
		default:
			if secret, err = hex.DecodeString(old); err != nil || len(secret) < 16 {
				return fmt.Errorf("the secret under %ssecret is not what the store wrote", s.prefix)
			}
		}
		if p := s.secret.Load(); p == nil || string(*p) != string(secret) {
			s.secret.Store(&secret) // a new slice: users compare its address
		}
		return nil
	})
}

// StoreStats implements [detect.SharedState].
func (s *Store) StoreStats() detect.StoreStats {
	return detect.StoreStats{
		Kind: "redis", Degraded: s.Degraded(), Errors: s.errors.Load(),
		Skipped: s.skipped.Load(), Reloads: s.reloads.Load(),
	}
}

// Degraded implements [guard.Store]: true while the last operation
// failed (until one succeeds), while the block feed is disconnected, or
// while the shared secret is not known.
func (s *Store) Degraded() bool {
	return s.opsDown.Load() || (s.watching.Load() && s.watchDown.Load()) || s.secret.Load() == nil
}

// do runs op with the store's deadline. While Redis is known down (for
// the retry interval after a failure) it does not try: it returns
// detect.ErrUnavailable at once, so that a down Redis costs a request
// nothing. A failure is counted and reported (at most once per report
// interval).
func (s *Store) do(ctx context.Context, op func(ctx context.Context) error) error {
	if now := s.now().UnixNano(); now < s.downUntil.Load() {
		s.skipped.Add(1)
		return detect.ErrUnavailable
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	err := op(ctx)
	cancel()
	if err != nil {
		s.fail(err)
		return fmt.Errorf("%w: %w", detect.ErrUnavailable, err)
	}
	if s.opsDown.Load() {
		s.opsDown.Store(false)
	}
	return nil
}

// fail counts err, marks Redis down for the retry interval, and reports.
func (s *Store) fail(err error) {
	if s.closed.Load() {
		return
	}
	s.errors.Add(1)
	s.opsDown.Store(true)
	s.downUntil.Store(s.now().Add(s.retry).UnixNano())
	s.report(err)
}

// report passes err to the error handler at most once per interval,
// with the number of errors since the last report.
func (s *Store) report(err error) {
	n := s.unreported.Add(1)
	now := s.now().UnixNano()
	last := s.lastReport.Load()
	if last != 0 && now-last < int64(s.interval) {
		return
	}
	if !s.lastReport.CompareAndSwap(last, now) {
		return
	}
	s.unreported.Add(-n)
	s.handle(fmt.Errorf("secaudit: redis state: %d error(s) since the last report, detection and the rate limit fail open: %w", n, err))
}

// secretCheck is how often the store makes sure Redis still holds its
// secret when no block feed tells it of a reconnection.
const secretCheck = 10 * time.Second

// run keeps the shared secret in Redis (at start, after each
// reconnection of the block feed, and every secretCheck), and feeds the
// guard's block watch when there is one, until Close.
func (s *Store) run() {
	defer s.wg.Done()
	var w *guard.BlockWatch
	for {
		err := s.loadSecret()
		if w != nil {
			if err == nil {
				s.watch(*w)
			}
			if !s.sleep(s.retry) {
				return
			}
			continue
		}
		wait := secretCheck
		if s.secret.Load() == nil {
			wait = s.retry
		}
		t := time.NewTimer(wait)
		select {
		case ww := <-s.watchC:
			w = &ww
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return
		}
		t.Stop()
	}
}

// sleep waits d, false when the store is closed meanwhile.
func (s *Store) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// key names.
func (s *Store) detectKey(k detect.Key) string {
	return s.prefix + "d:" + strconv.FormatUint(uint64(k), 16)
}
func (s *Store) blockKey(id string) string { return s.prefix + "b:" + id }
func (s *Store) rateKey(id string) string  { return s.prefix + "r:" + id }
func (s *Store) channel() string           { return s.prefix + "blocks" }

// isTimeout reports a network timeout (a slow Redis).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
