package delivery

import (
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/semconv"
)

// Priority ranks records for eviction when the queue is full: a record
// only ever displaces one of a lower priority, and the lowest go first.
type Priority uint8

const (
	// PriorityLow: sampled OK responses (http.response.success) and
	// application logs below WARN without an event name. The first to go.
	PriorityLow Priority = iota
	// PriorityRedirect: http.response.redirect.
	PriorityRedirect
	// PriorityAudit: the audit trail that is not a security signal:
	// successful logins, logouts, model changes and reads, custom events.
	PriorityAudit
	// PrioritySecurity: security events (4xx and 5xx responses, failed
	// logins, authz.*, security.*), the pipeline's own audit.* events, and
	// any record at WARN or above. Lost only when the queue is full of
	// records at least as valuable.
	PrioritySecurity
)

// numPriorities counts the Priority values; strict records rank above
// them all in one more class.
const (
	numPriorities = int(PrioritySecurity) + 1
	classStrict   = numPriorities
	numClasses    = numPriorities + 1
)

// String returns "low", "redirect", "audit" or "security".
func (p Priority) String() string {
	switch p {
	case PriorityLow:
		return "low"
	case PriorityRedirect:
		return "redirect"
	case PriorityAudit:
		return "audit"
	case PrioritySecurity:
		return "security"
	}
	return fmt.Sprintf("Priority(%d)", uint8(p))
}

// DefaultPriority ranks a record by its event name and severity: OK
// responses lowest, then redirects, then the audit trail, then security
// events (see the Priority values).
func DefaultPriority(r *sdklog.Record) Priority {
	name := r.EventName()
	switch name {
	case semconv.EventHTTPResponseSuccess:
		return PriorityLow
	case semconv.EventHTTPResponseRedirect:
		return PriorityRedirect
	}
	if semconv.IsSecurityEvent(name) || r.Severity() >= log.SeverityWarn1 || strings.HasPrefix(name, "audit.") {
		return PrioritySecurity
	}
	if name == "" {
		return PriorityLow
	}
	return PriorityAudit
}

// patterns matches event names: exact names, prefixes ("model.*") and "*".
type patterns struct {
	all      bool
	exact    []string
	prefixes []string
}

func compilePatterns(items []string) (patterns, error) {
	var p patterns
	for _, it := range items {
		it = strings.TrimSpace(it)
		switch {
		case it == "":
			return patterns{}, errors.New("empty event pattern")
		case it == "*":
			p.all = true
		case strings.HasSuffix(it, "*"):
			prefix := strings.TrimSuffix(it, "*")
			if strings.Contains(prefix, "*") {
				return patterns{}, fmt.Errorf("event pattern %q: only a trailing * is supported", it)
			}
			p.prefixes = append(p.prefixes, prefix)
		case strings.Contains(it, "*"):
			return patterns{}, fmt.Errorf("event pattern %q: only a trailing * is supported", it)
		default:
			p.exact = append(p.exact, it)
		}
	}
	return p, nil
}

func (p *patterns) match(name string) bool {
	if p.all {
		return true
	}
	for _, e := range p.exact {
		if e == name {
			return true
		}
	}
	for _, pre := range p.prefixes {
		if strings.HasPrefix(name, pre) {
			return true
		}
	}
	return false
}
