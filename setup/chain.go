package setup

import (
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/processor"
)

// WithProcessorOptions passes options to the processor chain (scrubbing,
// limits, filtering, sampling, enrichment); they override the chain's
// SECAUDIT_* variables.
func WithProcessorOptions(opts ...processor.Option) Option {
	return optionFunc(func(c config) config {
		c.processorOptions = append(c.processorOptions, opts...)
		return c
	})
}

// chain builds the processor chain in front of the exporting processors.
func (c *config) chain(next sdklog.Processor) (*processor.Chain, error) {
	opts := c.processorOptions
	if c.noEnv {
		opts = append([]processor.Option{processor.WithoutEnv()}, opts...)
	}
	return processor.NewChain(next, opts...)
}
