package guard

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"

	"github.com/secaudit/secaudit/semconv"
)

// Why a block was lifted (audit.block.reason on security.block.lifted).
const (
	reasonExpired = "expired"
	reasonLifted  = "lifted"
	reasonEvicted = "evicted"
)

func (g *Guard) emitApplied(ctx context.Context, b Block) {
	g.emit(ctx, semconv.EventBlockApplied, semconv.SeverityWarning, b, b.Reason)
}

func (g *Guard) emitLifted(ctx context.Context, b Block, why string) {
	g.emit(ctx, semconv.EventBlockLifted, semconv.SeverityInfo, b, why)
}

// emit sends one security.block.* record through the logger, if any.
func (g *Guard) emit(ctx context.Context, event string, sev log.Severity, b Block, reason string) {
	box := g.logger.Load()
	if box == nil || box.l == nil {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 10)
	add := func(k attribute.Key, s string) {
		if s != "" {
			attrs = append(attrs, k.String(s))
		}
	}
	add(semconv.AuditSchemaVersionKey, semconv.SchemaVersion)
	add(semconv.SecurityRuleNameKey, b.Rule)
	add(semconv.AuditBlockScopeKey, string(b.Scope))
	add(semconv.ClientAddressKey, b.Subject.Address)
	add(semconv.UserIDKey, b.Subject.UserID)
	add(semconv.UserNameKey, b.Subject.UserName)
	add(semconv.AuditBlockExpiresAtKey, b.Until.UTC().Format(time.RFC3339Nano))
	d := b.Until.Sub(b.Since)
	attrs = append(attrs, semconv.AuditBlockDurationKey.Int64(int64((d+time.Second-1)/time.Second)))
	add(semconv.AuditBlockReasonKey, reason)

	var r log.Record
	t := g.now()
	r.SetTimestamp(t)
	r.SetObservedTimestamp(t)
	r.SetEventName(event)
	r.SetSeverity(sev)
	r.SetSeverityText(semconv.SeverityText(sev))
	r.SetBody(attribute.StringValue(event))
	r.AddAttributes(attrs...)
	box.l.Emit(ctx, r)
}
