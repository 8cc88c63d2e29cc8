package detect

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/secaudit/secaudit/semconv"
)

// Stats are the processor's counters (self-telemetry).
type Stats struct {
	Evaluations int64            // records a rule counted (rule evaluations)
	Alerts      map[string]int64 // alerts fired, by rule
	Panics      int64            // panics recovered (custom rules, the processor)
	StateErrors int64            // state store errors (detection failed open)
	Unemitted   int64            // alerts fired before a logger was set
	State       StateStats       // the memory store's (zero with WithState)
	Store       StoreStats       // a shared store's (SECAUDIT_STATE=redis://…); zero with the memory store
}

// Stats returns the processor's counters.
func (p *Processor) Stats() Stats {
	s := Stats{
		Evaluations: p.evaluations.Load(), Panics: p.panics.Load(),
		StateErrors: p.stateErrors.Load(), Unemitted: p.noLogger.Load(),
		Alerts: map[string]int64{},
	}
	for i := range p.alerts {
		s.Alerts[p.ruleName(i)] = p.alerts[i].Load()
	}
	if p.memory != nil {
		s.State = p.memory.Stats()
	}
	if p.shared != nil {
		s.Store = p.shared.StoreStats()
	}
	return s
}

func (p *Processor) ruleName(i int) string {
	if i < len(p.rules) {
		return p.rules[i].name
	}
	return p.custom[i-len(p.rules)].Name()
}

// registerMetrics reports the counters as asynchronous instruments:
// secaudit.detect.evaluations, .alerts (by security_rule.name),
// .state.bytes, .state.keys, .state.evictions, and .state.errors (the
// operations of the state store that failed: detection failed open).
func (p *Processor) registerMetrics(mp metric.MeterProvider) error {
	m := mp.Meter("github.com/secaudit/secaudit/detect")
	evals, err := m.Int64ObservableCounter("secaudit.detect.evaluations", metric.WithDescription("Records a detection rule counted."))
	if err != nil {
		return err
	}
	alerts, err := m.Int64ObservableCounter("secaudit.detect.alerts", metric.WithDescription("security.alert records fired, by rule."))
	if err != nil {
		return err
	}
	bytes, err := m.Int64ObservableGauge("secaudit.detect.state.bytes", metric.WithUnit("By"), metric.WithDescription("Bytes the memory state accounts for."))
	if err != nil {
		return err
	}
	keys, err := m.Int64ObservableGauge("secaudit.detect.state.keys", metric.WithDescription("Subjects' counters in the memory state."))
	if err != nil {
		return err
	}
	evictions, err := m.Int64ObservableCounter("secaudit.detect.state.evictions", metric.WithDescription("Live counters forgotten to stay within the cap."))
	if err != nil {
		return err
	}
	stateErrors, err := m.Int64ObservableCounter("secaudit.detect.state.errors", metric.WithDescription("State store operations that failed (detection failed open)."))
	if err != nil {
		return err
	}
	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := p.Stats()
		o.ObserveInt64(evals, s.Evaluations)
		for name, n := range s.Alerts {
			o.ObserveInt64(alerts, n, metric.WithAttributes(attribute.String(string(semconv.SecurityRuleNameKey), name)))
		}
		o.ObserveInt64(bytes, s.State.Bytes)
		o.ObserveInt64(keys, s.State.Keys)
		o.ObserveInt64(evictions, s.State.Evictions)
		o.ObserveInt64(stateErrors, s.StateErrors)
		return nil
	}, evals, alerts, bytes, keys, evictions, stateErrors)
	return err
}
