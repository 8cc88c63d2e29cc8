package secaudit_test

import (
	"context"

	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/log/embedded"
)

// discardProvider's loggers accept every record and keep none.
type discardProvider struct{ embedded.LoggerProvider }

func (discardProvider) Logger(string, ...log.LoggerOption) log.Logger { return discardLogger{} }

type discardLogger struct{ embedded.Logger }

func (discardLogger) Enabled(context.Context, log.EnabledParameters) bool { return true }
func (discardLogger) Emit(context.Context, log.Record)                    {}
