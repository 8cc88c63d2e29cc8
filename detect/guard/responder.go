package guard

import (
	"context"

	"github.com/secaudit/secaudit/detect"
)

// Responder returns the hook to give detect.WithResponder: with blocking
// on, it applies each built-in rule's response (see the package
// documentation) for the guard's duration, with the rule as
// security_rule.name; rules without a blocking response, allowlisted
// addresses (counted, [Stats].Allowlisted) and a guard that is off change
// nothing. A rule firing again for a blocked subject renews its block.
func (g *Guard) Responder() func(context.Context, detect.Fired) {
	return func(ctx context.Context, f detect.Fired) {
		if !g.Enabled() {
			return
		}
		s := Subject{Address: f.Alert.Address}
		var scope Scope
		switch f.Rule {
		case detect.RuleBruteForce:
			scope = ScopeUserAddress
			s.User, s.UserID, s.UserName = f.User, f.Alert.UserID, f.UserName
		case detect.RulePasswordSpray, detect.RuleEnumeration, detect.RuleScanner:
			scope = ScopeAddress
		default:
			return
		}
		_ = g.apply(ctx, scope, s, g.duration, f.Rule, "")
	}
}
