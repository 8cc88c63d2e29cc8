package detect

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"

	"github.com/secaudit/secaudit/semconv"
)

// emit sends one security.alert through the logger, with ctx (the
// triggering record's context: its trace and span) and v's request facts.
// withUser names v's user (user.id, and user.name only when the record
// carried it, that is when usernames are on; never the claimed name).
func (p *Processor) emit(ctx context.Context, rule string, idx int, a Alert, v *view, withUser bool) {
	p.alerts[idx].Add(1)
	if p.respond != nil {
		p.respondTo(ctx, rule, a, v, withUser)
	}
	box := p.logger.Load()
	if box == nil || box.l == nil {
		p.noLogger.Add(1)
		return
	}
	sev := semconv.SeverityWarning
	if a.High {
		sev = semconv.SeverityError
	}
	attrs := make([]attribute.KeyValue, 0, 16)
	add := func(k attribute.Key, s string) {
		if s != "" {
			attrs = append(attrs, k.String(s))
		}
	}
	add(semconv.AuditSchemaVersionKey, semconv.SchemaVersion)
	add(semconv.AuditOutcomeKey, semconv.OutcomeFailure)
	add(semconv.SecurityRuleNameKey, rule)
	add(semconv.SecurityRuleCategoryKey, a.Category)
	attrs = append(attrs,
		semconv.AuditDetectCountKey.Int(a.Count),
		semconv.AuditDetectWindowKey.Int64(int64(a.Window/time.Second)))
	add(semconv.ClientAddressKey, a.Address)
	if withUser {
		add(semconv.UserIDKey, v.userID)
		add(semconv.UserNameKey, v.userName)
	} else {
		add(semconv.UserIDKey, a.UserID)
	}
	add(semconv.AuditRequestIDKey, v.requestID)
	add(semconv.NetworkPeerAddressKey, v.peer)
	add(semconv.HTTPRequestMethodKey, v.method)
	add(semconv.URLPathKey, v.path)
	add(semconv.HTTPRouteKey, v.route)
	add(semconv.SessionIDKey, v.session)

	var r log.Record
	t := p.now()
	r.SetTimestamp(t)
	r.SetObservedTimestamp(t)
	r.SetEventName(semconv.EventAlert)
	r.SetSeverity(sev)
	r.SetSeverityText(semconv.SeverityText(sev))
	r.SetBody(attribute.StringValue(semconv.EventAlert))
	r.AddAttributes(attrs...)
	box.l.Emit(ctx, r)
}

// respondTo calls the responder with the fired rule; its panic is
// recovered and counted, and the alert is still emitted.
func (p *Processor) respondTo(ctx context.Context, rule string, a Alert, v *view, withUser bool) {
	defer func() {
		if recover() != nil {
			p.panics.Add(1)
		}
	}()
	f := Fired{Rule: rule, Alert: a}
	if withUser {
		f.Alert.UserID = v.userID
		f.UserName = v.userName
		f.User = v.claimed
		if f.User == "" {
			f.User = v.userName
		}
	}
	p.respond(ctx, f)
}
