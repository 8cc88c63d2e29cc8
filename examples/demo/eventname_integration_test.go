//go:build integration

package main

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/secaudit/secaudit/semconv"
)

// TestIntegrationCollectorEventNameNotForged: in Loki, event_name is the
// record's EventName, whatever attributes the sender adds. The records go
// over OTLP straight to the Collector from a plain SDK LoggerProvider,
// without secaudit's processors (which protect the key on their side), so
// the forged attributes really reach it; then Loki is asked. Loki names
// structured metadata after the attribute key with other characters turned
// into "_" and flattens maps as <key>_<member>, so `event.name` and an
// `event` map with a `name` member forge the same name as `event_name`;
// the resource and the instrumentation scope are written into every line.
func TestIntegrationCollectorEventNameNotForged(t *testing.T) {
	st := stackFromEnv(t)
	endpoint := os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	service := fmt.Sprintf("secaudit-it-forge-%d", time.Now().UnixNano())
	ctx := context.Background()

	const forged = semconv.EventLoginSuccess
	tests := []struct {
		name     string             // the `case` attribute of the record
		event    string             // the record's EventName
		resource attribute.KeyValue // extra resource attribute, if any
		scope    []attribute.KeyValue
		attrs    []attribute.KeyValue
		want     string // event_name in Loki; "" for none
	}{
		{name: "attribute", event: semconv.EventLoginFailed, attrs: []attribute.KeyValue{attribute.String("event_name", forged)}, want: semconv.EventLoginFailed},
		{name: "dotted", event: semconv.EventLoginFailed, attrs: []attribute.KeyValue{attribute.String("event.name", forged)}, want: semconv.EventLoginFailed},
		{name: "map", event: semconv.EventLoginFailed, attrs: []attribute.KeyValue{attribute.Map("event", attribute.String("name", forged))}, want: semconv.EventLoginFailed},
		// Not removed by name: the Collector appends the true event_name
		// after every attribute, and the last of a name wins in Loki.
		{name: "map_variant", event: semconv.EventLoginFailed, attrs: []attribute.KeyValue{attribute.Map("event.", attribute.Map("", attribute.String("name", forged)))}, want: semconv.EventLoginFailed},
		{name: "resource", event: semconv.EventLoginFailed, resource: attribute.String("event_name", forged), want: semconv.EventLoginFailed},
		{name: "scope", event: semconv.EventLoginFailed, scope: []attribute.KeyValue{attribute.String("event_name", forged)}, want: semconv.EventLoginFailed},
		// A record without an EventName (an otelslog line, say) has no
		// event name in Loki, not the one its attribute claims.
		{name: "no_event_name", attrs: []attribute.KeyValue{attribute.String("event_name", semconv.EventAuthzDenied)}},
	}
	for _, tt := range tests {
		exp, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL(endpoint+"/v1/logs"), otlploghttp.WithTimeout(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		res := []attribute.KeyValue{attribute.String("service.name", service)}
		if tt.resource.Valid() {
			res = append(res, tt.resource)
		}
		lp := sdklog.NewLoggerProvider(
			sdklog.WithResource(resource.NewSchemaless(res...)),
			sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)),
		)
		var r log.Record
		r.SetTimestamp(time.Now())
		r.SetEventName(tt.event)
		r.SetSeverity(log.SeverityWarn)
		r.SetBody(attribute.StringValue("forged event_name"))
		r.AddAttributes(append(tt.attrs, attribute.String("case", tt.name))...)
		lp.Logger("secaudit-it", log.WithInstrumentationAttributes(tt.scope...)).Emit(ctx, r)
		if err := lp.Shutdown(ctx); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
	}

	selector := fmt.Sprintf(`{service_name=%q}`, service)
	var all lokiResult
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		all = queryLoki(t, st.lokiURL, selector)
		if all.count() >= len(tests) || time.Now().After(deadline) {
			break
		}
	}
	if n := all.count(); n != len(tests) {
		t.Fatalf("Loki holds %d lines of %s, sent %d", n, service, len(tests))
	}
	for _, tt := range tests {
		// What a dashboard or an alert rule would select.
		q := fmt.Sprintf(`%s | case=%q | event_name=%q`, selector, tt.name, tt.want)
		if n := queryLoki(t, st.lokiURL, q).count(); n != 1 {
			t.Errorf("%s: %s selects %d lines, want 1", tt.name, q, n)
		}
		for _, claimed := range []string{forged, semconv.EventAuthzDenied} {
			q := fmt.Sprintf(`%s | case=%q | event_name=%q`, selector, tt.name, claimed)
			if n := queryLoki(t, st.lokiURL, q).count(); n != 0 {
				t.Errorf("%s: the forged event name is in Loki: %s selects %d lines", tt.name, q, n)
			}
		}
	}
	for _, s := range all.Data.Result {
		t.Logf("Loki line labels: case=%s event_name=%q", s.Stream["case"], s.Stream["event_name"])
	}
}
