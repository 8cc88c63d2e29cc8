package redisstate

import (
	"context"
	"fmt"
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
// evaluation (detection uses [Store.CountAndFireBatch] instead: one per
// record). The window is Redis's clock, not now.
func (s *Store) CountAndFire(k detect.Key, distinct bool, member uint64, limit, threshold int, window time.Duration, _ time.Time) (int, bool, error) {
	if distinct {
		return s.pair(distinctScript, s.detectKey(k), ms(window), threshold, strconv.FormatUint(member, 16), limit)
	}
	return s.pair(countScript, s.detectKey(k), ms(window), threshold)
}

// CountAndFireBatch implements [detect.BatchCountFirer]: the operations
// of every rule that reads a record in one pipeline, one round trip —
// for each counting rule the EVALSHA of the script CountAndFire runs
// (atomic on its key: count or distinct add, and the fired marker once
// per window), for a reset a DEL. The pipeline has the store's deadline
// and fails open as one operation: down or slow, every operation of the
// batch gets the error (detect.ErrUnavailable), counted once in
// [Store.StoreStats]. After Redis lost its script cache (a restart), the
// scripts it no longer knows are sent again with EVAL in a second round
// trip, once.
func (s *Store) CountAndFireBatch(ops []detect.StateOp, _ time.Time) {
	if len(ops) == 0 {
		return
	}
	cmds := make([]redis.Cmder, len(ops))
	err := s.do(context.Background(), func(ctx context.Context) error {
		pipe := s.client.Pipeline()
		for i := range ops {
			cmds[i] = s.queue(ctx, pipe, &ops[i], false)
		}
		if _, err := pipe.Exec(ctx); err == nil {
			return nil
		}
		var again redis.Pipeliner
		for i, c := range cmds {
			if err := c.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
				if again == nil {
					again = s.client.Pipeline()
				}
				cmds[i] = s.queue(ctx, again, &ops[i], true)
			}
		}
		if again != nil {
			_, _ = again.Exec(ctx)
		}
		for _, c := range cmds {
			if err := c.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	for i := range ops {
		op, c := &ops[i], cmds[i]
		if c == nil || c.Err() != nil {
			op.Err = err
			if op.Err == nil { // not expected: do failed without an error
				op.Err = detect.ErrUnavailable
			}
			continue
		}
		if op.Forget {
			continue
		}
		v, rerr := c.(*redis.Cmd).Int64Slice()
		if rerr != nil || len(v) != 2 {
			op.Err = fmt.Errorf("%w: unexpected reply %v", detect.ErrUnavailable, c)
			continue
		}
		op.N, op.Fired = int(v[0]), v[1] == 1
	}
}

// queue adds op to pipe: DEL for Forget, else the count or distinct
// script (EVALSHA, or EVAL with eval).
func (s *Store) queue(ctx context.Context, pipe redis.Pipeliner, op *detect.StateOp, eval bool) redis.Cmder {
	key := s.detectKey(op.Key)
	if op.Forget {
		return pipe.Del(ctx, key)
	}
	sc, args := countScript, []any{ms(op.Window), op.Threshold}
	if op.Distinct {
		sc, args = distinctScript, []any{ms(op.Window), op.Threshold, strconv.FormatUint(op.Member, 16), op.Limit}
	}
	if eval {
		return sc.Eval(ctx, pipe, []string{key}, args...)
	}
	return sc.EvalSha(ctx, pipe, []string{key}, args...)
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
