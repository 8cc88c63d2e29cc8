// Package panicattr describes a recovered panic as the exception.*
// attributes of the event that audits it, the same for every middleware
// (HTTP and gRPC).
package panicattr

import (
	"fmt"
	"runtime/debug"

	"go.opentelemetry.io/otel/attribute"

	"github.com/secaudit/secaudit/semconv"
)

// Append appends exception.type, exception.message and
// exception.stacktrace (the panicking goroutine's stack, taken here, so
// call it from the deferred function that recovered p) for the panic
// value p.
func Append(attrs []attribute.KeyValue, p any) []attribute.KeyValue {
	return append(attrs,
		semconv.ExceptionTypeKey.String(fmt.Sprintf("%T", p)),
		semconv.ExceptionMessageKey.String(Message(p)),
		semconv.ExceptionStacktraceKey.String(string(debug.Stack())),
	)
}

// Message formats a panic value. fmt recovers a panicking Error or String
// method, but panics again when formatting that panic's own value panics
// too; then the message says so, and the event is still emitted.
func Message(p any) (msg string) {
	defer func() {
		if recover() != nil {
			msg = "(panic while formatting the panic value)"
		}
	}()
	return fmt.Sprint(p)
}
