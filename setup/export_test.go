package setup

import "go.opentelemetry.io/otel/log"

// SDKLogger returns the SDK provider's own logger behind p's
// LoggerProvider, to compare the two.
func SDKLogger(p *Pipeline, name string) log.Logger { return p.logs.sdk.Logger(name) }
