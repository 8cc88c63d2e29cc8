package redisstate

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/secaudit/secaudit/detect/guard"
)

// Blocks: one string key per block, PREFIX "b:" id, holding the block as
// JSON with a TTL until its end; each change is published on the channel
// PREFIX "blocks" for the other instances' copies.

// stored is a block as Redis holds it: what the events show of it (the
// user's login name never, only its keyed hash inside the id).
type stored struct {
	Scope    string    `json:"scope"`
	Address  string    `json:"addr"`
	UserID   string    `json:"uid,omitempty"`
	UserName string    `json:"uname,omitempty"`
	Rule     string    `json:"rule"`
	Reason   string    `json:"reason,omitempty"`
	Since    time.Time `json:"since"`
	Until    time.Time `json:"until"`
}

// change is a message on the channel.
type change struct {
	Op    string  `json:"op"` // "put" or "del"
	ID    string  `json:"id"`
	Block *stored `json:"block,omitempty"`
}

func toStored(b guard.Block) *stored {
	return &stored{Scope: string(b.Scope), Address: b.Subject.Address, UserID: b.Subject.UserID, UserName: b.Subject.UserName,
		Rule: b.Rule, Reason: b.Reason, Since: b.Since, Until: b.Until}
}

func (st *stored) block() guard.Block {
	return guard.Block{Scope: guard.Scope(st.Scope), Subject: guard.Subject{Address: st.Address, UserID: st.UserID, UserName: st.UserName},
		Rule: st.Rule, Reason: st.Reason, Since: st.Since, Until: st.Until}
}

// PutBlock implements [guard.Store]: SET with PX until the block's end and
// PUBLISH, in one round trip (MULTI/EXEC).
func (s *Store) PutBlock(ctx context.Context, id string, b guard.Block) error {
	ttl := time.Until(b.Until)
	if ttl <= 0 {
		return nil
	}
	st := toStored(b)
	val, err := json.Marshal(st)
	if err != nil {
		return err
	}
	msg, _ := json.Marshal(change{Op: "put", ID: id, Block: st})
	return s.do(ctx, func(ctx context.Context) error {
		_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, s.blockKey(id), val, ttl)
			p.Publish(ctx, s.channel(), msg)
			return nil
		})
		return err
	})
}

// DeleteBlock implements [guard.Store]: DEL and PUBLISH in one round trip.
func (s *Store) DeleteBlock(ctx context.Context, id string) error {
	msg, _ := json.Marshal(change{Op: "del", ID: id})
	return s.do(ctx, func(ctx context.Context) error {
		_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Del(ctx, s.blockKey(id))
			p.Publish(ctx, s.channel(), msg)
			return nil
		})
		return err
	})
}

// WatchBlocks implements [guard.Store]: the store's goroutine subscribes
// to the channel, loads every block (SCAN and MGET), gives the set to
// w.Sync, then each change to w.Put or w.Delete; after a disconnection it
// subscribes and loads again. Only the first call counts.
func (s *Store) WatchBlocks(w guard.BlockWatch) {
	if s.watching.CompareAndSwap(false, true) {
		s.watchDown.Store(true) // until the first load
		s.watchC <- w
	}
}

// rateScript: KEYS[1] the address's window; ARGV the window in ms.
// Returns {count, ms left}.
var rateScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local t = redis.call('PTTL', KEYS[1])
if t < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) t = tonumber(ARGV[1]) end
return {n, t}`)

// RateCount implements [guard.Store]: INCR, and PEXPIRE with the first
// request of the window, in one round trip (one script).
func (s *Store) RateCount(ctx context.Context, id string, per time.Duration) (int64, time.Duration, error) {
	var n, left int64
	err := s.do(ctx, func(ctx context.Context) error {
		v, err := rateScript.Run(ctx, s.client, []string{s.rateKey(id)}, ms(per)).Int64Slice()
		if err != nil {
			return err
		}
		if len(v) == 2 {
			n, left = v[0], v[1]
		}
		return nil
	})
	return n, time.Duration(left) * time.Millisecond, err
}

// watch subscribes, loads the blocks, and follows the channel until the
// connection fails or the store closes.
func (s *Store) watch(w guard.BlockWatch) {
	ps := s.client.Subscribe(s.ctx, s.channel())
	s.psMu.Lock()
	if s.closed.Load() {
		s.psMu.Unlock()
		_ = ps.Close()
		return
	}
	s.ps = ps
	s.psMu.Unlock()
	defer func() {
		s.psMu.Lock()
		s.ps = nil
		s.psMu.Unlock()
		_ = ps.Close()
	}()
	down := func(err error) {
		if !s.closed.Load() && err != nil {
			s.watchDown.Store(true)
			s.errors.Add(1)
			s.report(err)
		}
	}
	// The subscription's confirmation: the connection works.
	if _, err := ps.ReceiveTimeout(s.ctx, s.timeout*10); err != nil {
		down(err)
		return
	}
	all, err := s.loadBlocks()
	if err != nil {
		down(err)
		return
	}
	w.Sync(all)
	s.reloads.Add(1)
	s.watchDown.Store(false)
	ping := max(time.Second, s.timeout*10)
	last := time.Now()
	for {
		msg, err := ps.ReceiveTimeout(s.ctx, ping)
		if err != nil {
			if !isTimeout(err) || time.Since(last) > 3*ping {
				down(err)
				return
			}
			if err := ps.Ping(s.ctx); err != nil {
				down(err)
				return
			}
			continue
		}
		last = time.Now()
		switch m := msg.(type) {
		case *redis.Message:
			var c change
			if json.Unmarshal([]byte(m.Payload), &c) != nil {
				continue
			}
			switch {
			case c.Op == "put" && c.Block != nil:
				w.Put(c.ID, c.Block.block())
			case c.Op == "del":
				w.Delete(c.ID)
			}
		case *redis.Subscription:
			// Re-subscribed after go-redis reconnected: messages may
			// have been missed, load the set again.
			if all, err := s.loadBlocks(); err == nil {
				w.Sync(all)
				s.reloads.Add(1)
			}
		}
	}
}

// loadBlocks reads every block (SCAN MATCH PREFIX b:*, then MGET), each
// batch with the store's deadline.
func (s *Store) loadBlocks() (map[string]guard.Block, error) {
	all := map[string]guard.Block{}
	var cursor uint64
	for {
		var keys []string
		var vals []any
		err := s.do(s.ctx, func(ctx context.Context) error {
			var err error
			keys, cursor, err = s.client.Scan(ctx, cursor, s.blockKey("*"), 1000).Result()
			if err != nil || len(keys) == 0 {
				return err
			}
			vals, err = s.client.MGet(ctx, keys...).Result()
			return err
		})
		if err != nil {
			return nil, err
		}
		for i, v := range vals {
			str, ok := v.(string)
			if !ok {
				continue // expired meanwhile
			}
			var st stored
			if json.Unmarshal([]byte(str), &st) != nil {
				continue
			}
			all[strings.TrimPrefix(keys[i], s.blockKey(""))] = st.block()
		}
		if cursor == 0 {
			return all, nil
		}
	}
}
