package redisstate

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/secaudit/secaudit/detect"
)

// A detection key is one hash, PREFIX "d:" hex(key), whose TTL is its
// window: set with the first event (PEXPIRE when the key has none), so the
// window begins at the first event and ends exactly (Redis never returns
// an expired key). Fields: "n" the count, "d" the distinct count, "m<hex>"
// a distinct member (at most limit of them), "!" the fired marker
// (HSETNX: set once per window across every instance).

// countScript: KEYS[1] the key; ARGV window ms, threshold (0: never
// fires). Returns {count, fired now (0/1)}.
var countScript = redis.NewScript(`
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local th = tonumber(ARGV[2])
local f = 0
if th > 0 and n >= th then f = redis.call('HSETNX', KEYS[1], '!', 1) end
return {n, f}`)

// distinctScript: KEYS[1] the key; ARGV window ms, threshold, member,
// limit. Returns {distinct count, fired now}.
var distinctScript = redis.NewScript(`
local d = tonumber(redis.call('HGET', KEYS[1], 'd') or '0')
if d < tonumber(ARGV[4]) and redis.call('HSETNX', KEYS[1], 'm' .. ARGV[3], 1) == 1 then
  d = redis.call('HINCRBY', KEYS[1], 'd', 1)
end
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local th = tonumber(ARGV[2])
local f = 0
if th > 0 and d >= th then f = redis.call('HSETNX', KEYS[1], '!', 1) end
return {d, f}`)

// markScript: KEYS[1] the key; ARGV window ms. Returns 1 when the marker
// was not set in the window.
var markScript = redis.NewScript(`
local f = redis.call('HSETNX', KEYS[1], '!', 1)
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return f`)

func ms(d time.Duration) int64 { return max(1, int64((d+time.Millisecond-1)/time.Millisecond)) }

// run evaluates a script in one round trip (EVALSHA; EVAL once after
// Redis lost its script cache) and reads {n, fired}.
func (s *Store) pair(sc *redis.Script, key string, args ...any) (int, bool, error) {
	var n, f int64
	err := s.do(context.Background(), func(ctx context.Context) error {
		v, err := sc.Run(ctx, s.client, []string{key}, args...).Int64Slice()
		if err != nil {
			return err
		}
		if len(v) == 2 {
			n, f = v[0], v[1]
		}
		return nil
	})
	return int(n), f == 1, err
}

// CountAndFire implements [detect.CountFirer]: one round trip per rule
// evaluation. The window is Redis's clock, not now.
func (s *Store) CountAndFire(k detect.Key, distinct bool, member uint64, limit, threshold int, window time.Duration, _ time.Time) (int, bool, error) {
	if distinct {
		return s.pair(distinctScript, s.detectKey(k), ms(window), threshold, strconv.FormatUint(member, 16), limit)
	}
	return s.pair(countScript, s.detectKey(k), ms(window), threshold)
}

// Count implements [detect.State].
func (s *Store) Count(k detect.Key, window time.Duration, _ time.Time) (int, error) {
	n, _, err := s.pair(countScript, s.detectKey(k), ms(window), 0)
	return n, err
}

// AddDistinct implements [detect.State].
func (s *Store) AddDistinct(k detect.Key, member uint64, limit int, window time.Duration, _ time.Time) (int, error) {
	n, _, err := s.pair(distinctScript, s.detectKey(k), ms(window), 0, strconv.FormatUint(member, 16), limit)
	return n, err
}

// MarkFired implements [detect.State].
func (s *Store) MarkFired(k detect.Key, window time.Duration, _ time.Time) (bool, error) {
	var f int64
	err := s.do(context.Background(), func(ctx context.Context) error {
		var err error
		f, err = markScript.Run(ctx, s.client, []string{s.detectKey(k)}, ms(window)).Int64()
		return err
	})
	return f == 1, err
}

// Forget implements [detect.State].
func (s *Store) Forget(k detect.Key) error {
	return s.do(context.Background(), func(ctx context.Context) error {
		return s.client.Del(ctx, s.detectKey(k)).Err()
	})
}
