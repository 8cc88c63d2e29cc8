package setup

import (
	"github.com/secaudit/secaudit/detect"
	"github.com/secaudit/secaudit/detect/guard"
)

// WithGuardOptions passes options to the pipeline's guard (package
// detect/guard: blocking on or off, block duration, allowlist, cap, clock);
// they override its SECAUDIT_BLOCK, SECAUDIT_BLOCK_DURATION and
// SECAUDIT_BLOCK_ALLOW_CIDRS variables. Blocking is off by default.
func WithGuardOptions(opts ...guard.Option) Option {
	return optionFunc(func(c config) config {
		c.guardOptions = append(c.guardOptions, opts...)
		return c
	})
}

// guard builds the pipeline's guard; WithoutEnv applies to it too.
func (c *config) guard(shared detect.SharedState) (*guard.Guard, error) {
	var opts []guard.Option
	if c.noEnv {
		opts = append(opts, guard.WithoutEnv())
	}
	if st, ok := shared.(guard.Store); ok {
		// Blocks and rate windows shared by every instance.
		opts = append(opts, guard.WithStore(st))
	}
	if c.meterProvider != nil {
		opts = append(opts, guard.WithMeterProvider(c.meterProvider))
	}
	return guard.New(append(opts, c.guardOptions...)...)
}

// Guard returns the pipeline's guard (nil for a nil Pipeline): detection's
// response, which blocks addresses and locks out user-and-address pairs
// when blocking is on (SECAUDIT_BLOCK=true). Give it to the audit
// middleware (instrumentation.WithGuard) so that a blocked address is
// answered 429 before the handler, and ask Guard().CheckLogin before
// checking a password. Its security.block.* records go through the
// pipeline's provider.
func (p *Pipeline) Guard() *guard.Guard {
	if p == nil {
		return nil
	}
	return p.guard
}
