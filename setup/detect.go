package setup

import (
	"github.com/secaudit/secaudit/detect"
)

// WithDetectOptions passes options to the detection processor (package
// detect: rules, thresholds, state cap); they override its SECAUDIT_DETECT*
// and SECAUDIT_STATE_MAX_BYTES variables. Detection is on by default
// (SECAUDIT_DETECT=false or detect.WithEnabled(false) turns it off).
func WithDetectOptions(opts ...detect.Option) Option {
	return optionFunc(func(c config) config {
		c.detectOptions = append(c.detectOptions, opts...)
		return c
	})
}

// sharedState opens the state store that SECAUDIT_STATE (or
// detect.WithStateURL, detect.WithState among the detect options) selects:
// nil for the memory store. The pipeline gives it to detection and to the
// guard, and closes it at Shutdown when it opened it.
func (c *config) sharedState() (detect.SharedState, bool, error) {
	var opts []detect.Option
	if c.noEnv {
		opts = append(opts, detect.WithoutEnv())
	}
	return detect.OpenState(append(opts, c.detectOptions...)...)
}

// detector builds the detection processor, registered after the processor
// chain, so that the rules read scrubbed and limited records.
func (c *config) detector(responder ...detect.Option) (*detect.Processor, error) {
	var opts []detect.Option
	if c.noEnv {
		opts = append(opts, detect.WithoutEnv())
	}
	if c.meterProvider != nil {
		opts = append(opts, detect.WithMeterProvider(c.meterProvider))
	}
	opts = append(opts, responder...)
	return detect.New(append(opts, c.detectOptions...)...)
}

// Detector returns the pipeline's detection processor (nil when detection
// is off or no exporter is configured): its Stats count rule evaluations,
// alerts by rule and the state's size and evictions.
func (p *Pipeline) Detector() *detect.Processor {
	if p == nil {
		return nil
	}
	return p.detector
}
