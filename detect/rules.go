package detect

import (
	"slices"
	"time"

	"github.com/secaudit/secaudit/semconv"
)

// Built-in rule names (security_rule.name) and categories.
const (
	RuleBruteForce            = "brute_force"
	RulePasswordSpray         = "password_spray"
	RuleDistributedBruteForce = "distributed_brute_force"
	RuleEnumeration           = "enumeration"
	RuleScanner               = "scanner"
	RuleSensitiveChange       = "sensitive_change"

	CategoryAuthentication = "authentication"
	CategoryReconnaissance = "reconnaissance"
	CategoryChange         = "change"
)

// subject kinds: what a rule counts per, and what its alert names.
const (
	byAddress = iota
	byUser
	byPair
)

// builtin is a built-in rule.
type builtin struct {
	id        uint64 // mixed into every key of the rule
	name      string
	category  string
	threshold int
	window    time.Duration
	high      bool
	subject   int
	// match reports whether v counts, with the extra subject part (hashed
	// into the key) and, for a distinct-value rule, the member.
	match func(p *Processor, v *view) (extra, member uint64, ok bool)
	// distinct: count distinct members rather than events.
	distinct bool
}

// defaults is DESIGN.md's table.
func defaults() []builtin {
	return []builtin{
		{name: RuleBruteForce, category: CategoryAuthentication, threshold: 5, window: 5 * time.Minute, subject: byPair,
			match: func(_ *Processor, v *view) (uint64, uint64, bool) { return 0, 0, v.event == semconv.EventLoginFailed }},
		{name: RulePasswordSpray, category: CategoryAuthentication, threshold: 10, window: 15 * time.Minute, subject: byAddress, high: true, distinct: true,
			match: func(p *Processor, v *view) (uint64, uint64, bool) {
				if v.event != semconv.EventLoginFailed || !v.hasUser() {
					return 0, 0, false
				}
				return 0, p.userHash(v), true
			}},
		{name: RuleDistributedBruteForce, category: CategoryAuthentication, threshold: 10, window: 15 * time.Minute, subject: byUser, high: true, distinct: true,
			match: func(p *Processor, v *view) (uint64, uint64, bool) {
				if v.event != semconv.EventLoginFailed || v.addr == "" {
					return 0, 0, false
				}
				return 0, p.hash(v.addr), true
			}},
		{name: RuleEnumeration, category: CategoryReconnaissance, threshold: 20, window: 5 * time.Minute, subject: byAddress, distinct: true,
			match: func(p *Processor, v *view) (uint64, uint64, bool) {
				ok := v.event == semconv.EventHTTPResponseClientError && v.route != "" && v.path != "" &&
					(v.status == 401 || v.status == 403 || v.status == 404)
				if !ok {
					return 0, 0, false
				}
				return p.hash(v.route), p.hash(v.path), true
			}},
		{name: RuleScanner, category: CategoryReconnaissance, threshold: 10, window: time.Minute, subject: byAddress, distinct: true,
			match: func(p *Processor, v *view) (uint64, uint64, bool) {
				ok := v.event == semconv.EventSuspiciousRequest ||
					(v.event == semconv.EventHTTPResponseClientError && v.status == 404 && v.route == "")
				if !ok {
					return 0, 0, false
				}
				// One request may give a suspicious_request and its 404:
				// requests are counted, by request id.
				if v.requestID != "" {
					return 0, p.hash(v.requestID), true
				}
				return 0, p.seq.Add(1) | 1<<63, true
			}},
		{name: RuleSensitiveChange, category: CategoryChange, threshold: 1, window: time.Minute, subject: byUser, high: true,
			match: func(p *Processor, v *view) (uint64, uint64, bool) {
				return 0, 0, v.event == semconv.EventModelUpdate && p.sensitive(v)
			}},
	}
}

func ruleNames() []string {
	var names []string
	for _, r := range defaults() {
		names = append(names, r.name)
	}
	return names
}

func knownRule(name string) bool { return slices.Contains(ruleNames(), name) }

// interesting reports whether a record of the event can count for a
// built-in rule (the others are not read at all).
func interesting(event string) bool {
	switch event {
	case semconv.EventLoginFailed, semconv.EventLoginSuccess, semconv.EventHTTPResponseClientError,
		semconv.EventSuspiciousRequest, semconv.EventModelUpdate:
		return true
	}
	return false
}
