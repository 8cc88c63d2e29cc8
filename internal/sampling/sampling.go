package sampling

import (
	"encoding/binary"
	"hash/maphash"

	"go.opentelemetry.io/otel/trace"
)

// seed is drawn once per process, so that which request ids are kept
// cannot be worked out from outside.
var seed = maphash.MakeSeed()

// Draw returns the uniform number a record without a trace id is decided
// by: a hash of its request id (audit.request_id), so that the middleware
// and the sampling processor, deciding one after the other on the same
// request, draw the same number and agree, as they do on a trace id.
func Draw(requestID string) uint64 { return maphash.String(seed, requestID) }

// Keep reports whether a record of the trace id should be kept at rate
// (0..1). Rate ≥ 1 keeps everything and rate ≤ 0 nothing. The decision uses
// the trace id's low 8 bytes (random in W3C trace ids) as a uniform number,
// like OpenTelemetry's TraceIDRatioBased sampler. An invalid (zero) trace id
// is decided by fallback: [Draw] of the request id when there is one, else
// a random number.
func Keep(id trace.TraceID, rate float64, fallback uint64) bool {
	if rate >= 1 {
		return true
	}
	if !(rate > 0) {
		return false
	}
	x := fallback
	if id.IsValid() {
		x = binary.BigEndian.Uint64(id[8:16])
	}
	// Compare the top 63 bits with rate·2^63: exact enough, no float of x.
	bound := uint64(rate * (1 << 63))
	return x>>1 < bound
}
