package instrumentation

import (
	"context"
	"net/http"
	"strings"

	"github.com/secaudit/secaudit/internal/envconf"
	"github.com/secaudit/secaudit/internal/setting"
)

// EnvStrictRoutes names the environment variable that lists strict routes
// (RE2 regexes of URL paths, a list in the package's format) when
// [WithStrictRoutes] is not given.
const EnvStrictRoutes = envconf.DeliveryStrictRoutes

// Gate says whether the audit pipeline can record a request's events now.
// The delivery package's processors (and setup.Pipeline.Gate) implement it.
// Admit must return promptly: within the pipeline's own deadline.
type Gate interface {
	Admit(ctx context.Context) error
}

// WithGate sets the gate asked before serving a strict route (see
// [WithStrictRoutes]). A nil gate is ignored.
func WithGate(g Gate) Option {
	return optionFunc(func(c *config) {
		if g != nil {
			c.gate = g
		}
	})
}

// WithStrictRoutes makes the requests whose URL path matches one of the RE2
// patterns fail closed, the way an audit device does in Vault: before the
// handler runs, the middleware asks the gate ([WithGate]); when the
// pipeline cannot record events, the request is answered 503 Service
// Unavailable (with Retry-After) instead of being served unaudited, and the
// 503 itself is audited as a server error. Other routes are never refused.
// It overrides SECAUDIT_DELIVERY_STRICT_ROUTES (an empty list too); the
// default is none. Strict routes without a gate are a configuration error.
func WithStrictRoutes(patterns ...string) Option {
	patterns = append([]string{}, patterns...)
	return optionFunc(func(c *config) { c.strictRoutes.Put(patterns, "WithStrictRoutes") })
}

// resolveStrict: WithStrictRoutes > SECAUDIT_DELIVERY_STRICT_ROUTES > none.
func resolveStrict(c config, m *Middleware) error {
	routes, err := setting.Regexps(c.strictRoutes, EnvStrictRoutes, c.noEnv, envconf.Regexps)
	if err != nil {
		return err
	}
	if len(routes) > 0 && c.gate == nil {
		source := c.strictRoutes.From()
		if source == "" {
			source = EnvStrictRoutes
		}
		given := make([]string, len(routes))
		for i, re := range routes {
			given[i] = re.String()
		}
		return setting.Invalid(source, strings.Join(given, ","), "a gate as well (WithGate, e.g. setup.Pipeline.Gate())")
	}
	m.strictRoutes, m.gate = routes, c.gate
	return nil
}

// refuse answers 503 when r is on a strict route and the gate does not admit
// it; it reports whether it did.
func (m *Middleware) refuse(w http.ResponseWriter, r *http.Request) bool {
	if m.gate == nil {
		return false
	}
	strict := false
	for _, re := range m.strictRoutes {
		if re.MatchString(r.URL.Path) {
			strict = true
			break
		}
	}
	if !strict {
		return false
	}
	if err := m.gate.Admit(r.Context()); err != nil {
		m.stats.strictRefused.Add(1)
		w.Header().Set("Retry-After", "1")
		http.Error(w, "audit pipeline unavailable", http.StatusServiceUnavailable)
		return true
	}
	return false
}
