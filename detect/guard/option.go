package guard

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"

	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/internal/setting"
)

// Defaults.
const (
	DefaultDuration  = 15 * time.Minute // SECAUDIT_BLOCK_DURATION
	DefaultMaxBlocks = 10000            // WithMaxBlocks
)

// Option configures [New].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	noEnv      bool
	enabled    setting.Value[bool]
	duration   setting.Value[time.Duration]
	allow      setting.Value[[]netip.Prefix]
	maxBlocks  setting.Value[int]
	rate       setting.Value[rateSpec]
	maxRate    setting.Value[int]
	logger     log.Logger
	now        func() time.Time
	store      Store
	failClosed []*regexp.Regexp
	meter      metric.MeterProvider
	optionErr  error
}

// WithoutEnv makes [New] ignore the SECAUDIT_* variables.
func WithoutEnv() Option { return optionFunc(func(c *config) { c.noEnv = true }) }

// WithEnabled turns blocking on or off (SECAUDIT_BLOCK, default false).
// Off, every check allows and nothing can be blocked.
func WithEnabled(on bool) Option {
	return optionFunc(func(c *config) { c.enabled.Put(on, fmt.Sprintf("WithEnabled(%v)", on)) })
}

// WithDuration sets how long a block lasts when none is given
// (SECAUDIT_BLOCK_DURATION, default 15m): the responder's blocks, and
// [Guard.Block] with a duration <= 0. It must be positive.
func WithDuration(d time.Duration) Option {
	return optionFunc(func(c *config) { c.duration.Put(d, "WithDuration") })
}

// WithAllowCIDRs names networks (CIDRs such as 10.0.0.0/8, or single
// addresses) that are never blocked (SECAUDIT_BLOCK_ALLOW_CIDRS).
func WithAllowCIDRs(cidrs ...string) Option {
	return optionFunc(func(c *config) {
		from := fmt.Sprintf("WithAllowCIDRs(%s)", strings.Join(cidrs, ", "))
		out := make([]netip.Prefix, 0, len(cidrs))
		for _, s := range cidrs {
			p, err := envconf.ParsePrefix(strings.TrimSpace(s))
			if err != nil {
				c.optionErr = setting.Invalid("WithAllowCIDRs", fmt.Sprintf("%q", s), "CIDRs such as 10.0.0.0/8 or IP addresses")
				return
			}
			out = append(out, p)
		}
		c.allow.Put(out, from)
	})
}

// WithMaxBlocks caps the blocks held (default 10 000, at least 1).
func WithMaxBlocks(n int) Option {
	return optionFunc(func(c *config) { c.maxBlocks.Put(n, "WithMaxBlocks") })
}

// WithLogger sets the logger the security.block.* records are emitted
// through: a logger of the application's audit provider, so that they are
// scrubbed and delivered like every record. See also [Guard.SetLogger].
func WithLogger(l log.Logger) Option { return optionFunc(func(c *config) { c.logger = l }) }

// WithMeterProvider reports the guard's counters ([Guard.Stats]) as OTel
// metrics through mp (secaudit.guard.*: blocks held, applied, lifted,
// expired, evicted; refusals and rate-limited requests by quiet; store
// errors; fail-closed answers), read at collection time, at no cost to a
// check. None by default; setup passes its WithMeterProvider's. No metric
// attribute names an address or a user.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.meter = mp })
}

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return optionFunc(func(c *config) { c.now = now }) }

func (c *config) resolve() error {
	if c.optionErr != nil {
		return c.optionErr
	}
	if err := setting.Env(&c.enabled, envconf.Block, c.noEnv, envconf.Bool); err != nil {
		return err
	}
	if err := setting.Env(&c.duration, envconf.BlockDuration, c.noEnv, func(name string) (time.Duration, bool, error) {
		return envconf.Duration(name, time.Nanosecond, "a Go duration > 0, such as 15m")
	}); err != nil {
		return err
	}
	if d := c.duration.Or(DefaultDuration); d <= 0 {
		return setting.Invalid(c.duration.From(), d, "a duration > 0")
	}
	if err := setting.Env(&c.allow, envconf.BlockAllowCIDRs, c.noEnv, envconf.Prefixes); err != nil {
		return err
	}
	if err := setting.Env(&c.rate, envconf.RateLimit, c.noEnv, parseRate); err != nil {
		return err
	}
	if r := c.rate.Or(rateSpec{}); r.n > 0 && r.per <= 0 {
		return setting.Invalid(c.rate.From(), r.per, "a window > 0")
	}
	if n := c.maxRate.Or(DefaultMaxRateAddresses); n < 1 {
		return setting.Invalid(c.maxRate.From(), n, "at least 1")
	}
	if n := c.maxBlocks.Or(DefaultMaxBlocks); n < 1 {
		return setting.Invalid(c.maxBlocks.From(), n, "at least 1")
	}
	return nil
}
