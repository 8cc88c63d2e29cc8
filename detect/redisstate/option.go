package redisstate

import (
	"fmt"
	"strings"
	"time"
)

// Option configures [New] and [NewWithClient].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	prefix   string
	timeout  time.Duration
	retry    time.Duration
	interval time.Duration
	secret   []byte
	handle   func(error)
	err      error
}

// WithPrefix sets the prefix of every key and of the channel the store
// uses (default "secaudit:"): instances that share state use the same
// prefix, and different applications on one Redis use different ones.
func WithPrefix(p string) Option {
	return optionFunc(func(c *config) {
		if p == "" || strings.ContainsAny(p, " \t\r\n*?[]") {
			c.err = fmt.Errorf("secaudit: WithPrefix(%q): want a non-empty prefix without spaces or glob characters", p)
			return
		}
		c.prefix = p
	})
}

// WithTimeout sets each operation's deadline (default 100ms): a Redis
// that does not answer within it fails open.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 || d > time.Minute {
			c.err = fmt.Errorf("secaudit: WithTimeout(%v): want a duration > 0 and <= 1m", d)
			return
		}
		c.timeout = d
	})
}

// WithRetryInterval sets how long the store does not ask a Redis that
// failed before it tries again (default 1s): meanwhile every operation
// fails open at once, without a round trip.
func WithRetryInterval(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			c.err = fmt.Errorf("secaudit: WithRetryInterval(%v): want a duration > 0", d)
			return
		}
		c.retry = d
	})
}

// WithReportInterval sets how often at most a failure is reported through
// the OpenTelemetry error handler (default 1m); every failure is counted
// ([Store.StoreStats]).
func WithReportInterval(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			c.err = fmt.Errorf("secaudit: WithReportInterval(%v): want a duration > 0", d)
			return
		}
		c.interval = d
	})
}

// WithSecret gives the secret subjects are hashed under (at least 16
// bytes), the same on every instance, instead of the one the store creates
// in Redis: then Redis holds no key to the hashes.
func WithSecret(secret []byte) Option {
	return optionFunc(func(c *config) {
		if len(secret) < 16 {
			c.err = fmt.Errorf("secaudit: WithSecret(%d bytes): want at least 16 bytes", len(secret))
			return
		}
		c.secret = append([]byte(nil), secret...)
	})
}

// WithErrorHandler replaces otel.Handle as the receiver of the store's
// failure reports.
func WithErrorHandler(h func(error)) Option {
	return optionFunc(func(c *config) { c.handle = h })
}

func resolve(opts []Option) (config, error) {
	c := config{prefix: DefaultPrefix, timeout: DefaultTimeout, retry: DefaultRetryInterval, interval: DefaultReportInterval}
	for _, o := range opts {
		o.apply(&c)
		if c.err != nil {
			return c, c.err
		}
	}
	return c, nil
}
