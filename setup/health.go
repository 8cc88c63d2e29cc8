package setup

import (
	"net/http"

	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/detect"
	"github.com/secaudit/secaudit/detect/guard"
)

// healthReport is the body of [Pipeline.HealthHandler]: the delivery
// processors' report (delivery.HealthReport: ready, pipelines) and the
// detection processor's counters.
type healthReport struct {
	delivery.HealthReport
	Detection detectionHealth `json:"detection"`
}

// detectionHealth is detection's self-telemetry as the health report shows
// it: counters and rule names only (custom rules' names as the application
// gave them), never a subject, an address or an endpoint. The state fields
// are the memory store's; they stay zero with detect.WithState.
type detectionHealth struct {
	Enabled         bool             `json:"enabled"`
	Evaluations     int64            `json:"evaluations"`
	Alerts          map[string]int64 `json:"alerts,omitempty"` // rules that fired, by name
	AlertsUnemitted int64            `json:"alerts_unemitted,omitempty"`
	StateKeys       int64            `json:"state_keys"`
	StateBytes      int64            `json:"state_bytes"`
	StateMaxBytes   int64            `json:"state_max_bytes"`
	StateEvictions  int64            `json:"state_evictions"`
	StateErrors     int64            `json:"state_errors"`
	RulePanics      int64            `json:"rule_panics"`
	// State is the state store: "memory", or a shared store's kind
	// ("redis", SECAUDIT_STATE); StateDegraded is true while a shared
	// store cannot be asked (detection and the rate limit fail open, blocks
	// are served from each instance's copy); StoreErrors counts its failed
	// operations.
	State         string `json:"state"`
	StateDegraded bool   `json:"state_degraded"`
	StoreErrors   int64  `json:"store_errors"`
	// Blocking is the guard's counters (detect/guard.Stats), shown whether
	// or not detection is on.
	Blocking blockingHealth `json:"blocking"`
}

// blockingHealth is the guard's counters: never an address or a user.
type blockingHealth struct {
	Enabled bool  `json:"enabled"`
	Blocks  int64 `json:"blocks"`
	Applied int64 `json:"applied"`
	Lifted  int64 `json:"lifted"`
	Expired int64 `json:"expired"`
	Evicted int64 `json:"evicted"`
	Refused int64 `json:"refused"`
	// RefusedQuiet: of Refused, the refusals after the first of their
	// address's minute, counted into security.rate_limited summaries.
	RefusedQuiet int64 `json:"refused_quiet"`
	Allowlisted  int64 `json:"allowlisted"`
	// The rate limit's (guard.WithRateLimit, SECAUDIT_RATE_LIMIT).
	RateLimited int64 `json:"rate_limited"`
	RateQuiet   int64 `json:"rate_quiet"`
	RateEvicted int64 `json:"rate_evicted"`
	// The shared store's, seen from the guard: failed operations (failed
	// open) and requests answered 503 on fail-closed paths meanwhile.
	StoreErrors  int64 `json:"store_errors"`
	FailedClosed int64 `json:"failed_closed"`
}

func blockingHealthOf(g *guard.Guard) blockingHealth {
	if g == nil {
		return blockingHealth{}
	}
	s := g.Stats()
	return blockingHealth{
		Enabled: s.Enabled, Blocks: s.Blocks, Applied: s.Applied, Lifted: s.Lifted,
		Expired: s.Expired, Evicted: s.Evicted, Refused: s.Refused, RefusedQuiet: s.RefusedQuiet, Allowlisted: s.Allowlisted,
		RateLimited: s.RateLimited, RateQuiet: s.RateQuiet, RateEvicted: s.RateEvicted,
		StoreErrors: s.StoreErrors, FailedClosed: s.FailedClosed,
	}
}

// detectionHealthOf reports d's counters; enabled false, and nothing else,
// when detection is off (d nil).
func detectionHealthOf(d *detect.Processor) detectionHealth {
	if d == nil {
		return detectionHealth{}
	}
	s := d.Stats()
	var alerts map[string]int64
	for rule, n := range s.Alerts {
		if n > 0 {
			if alerts == nil {
				alerts = map[string]int64{}
			}
			alerts[rule] = n
		}
	}
	return detectionHealth{
		Enabled:         true,
		Evaluations:     s.Evaluations,
		Alerts:          alerts,
		AlertsUnemitted: s.Unemitted,
		StateKeys:       s.State.Keys,
		StateBytes:      s.State.Bytes,
		StateMaxBytes:   s.State.MaxBytes,
		StateEvictions:  s.State.Evictions,
		StateErrors:     s.StateErrors,
		RulePanics:      s.Panics,
	}
}

// HealthHandler reports the pipeline's state as JSON: the delivery
// processors' as delivery.HealthHandler does (ready, pipelines), and the
// detection processor's counters under "detection" (enabled, evaluations,
// alerts by rule, the state's keys, bytes, cap and evictions, state errors,
// rule panics) and, under "detection"."blocking", the guard's (enabled,
// blocks held, applied, lifted, expired, evicted, refused checks,
// allowlisted). The status is 200 while every delivery pipeline works, 503
// otherwise: use it as a readiness check. Detection does not change the
// status or readiness (a state error fails open: the request is still
// audited, only not counted by the rules). Only GET and HEAD are allowed.
//
// Serve it on an internal port, not the public listener: it tells a reader
// when the audit trail loses records and what the rules have seen.
func (p *Pipeline) HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep := healthReport{
			HealthReport: delivery.Report(p.delivery...),
			Detection:    detectionHealthOf(p.detector),
		}
		rep.Detection.Blocking = blockingHealthOf(p.guard)
		rep.Detection.State = "memory"
		if p.state != nil {
			st := p.state.StoreStats()
			rep.Detection.State, rep.Detection.StateDegraded, rep.Detection.StoreErrors = st.Kind, st.Degraded, st.Errors
		}
		delivery.WriteHealth(w, r, rep.Ready, rep)
	})
}
