//go:build integration

package grafana

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/semconv"
)

// losingExporter passes records on, except the one numbered lose: a record
// lost after delivery gave it its number (the exporter, the network, the
// Collector), which the gap query must find.
type losingExporter struct {
	sdklog.Exporter
	lose int64
}

func (e losingExporter) Export(ctx context.Context, records []sdklog.Record) error {
	kept := make([]sdklog.Record, 0, len(records))
	for _, r := range records {
		lost := false
		r.WalkAttributes(func(kv attribute.KeyValue) bool {
			lost = lost || (kv.Key == semconv.AuditSequenceKey && kv.Value.AsInt64() == e.lose)
			return true
		})
		if !lost {
			kept = append(kept, r)
		}
	}
	return e.Exporter.Export(ctx, kept)
}

// sendStream emits n login failures of service through a delivery
// processor numbering them as stream, over OTLP to the stack's Collector;
// the record numbered lose (0: none) is lost after numbering.
func sendStream(t *testing.T, service, stream string, n int, lose int64) {
	t.Helper()
	ctx := context.Background()
	otlp, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL(os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")+"/v1/logs"),
		otlploghttp.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	p, err := delivery.New(losingExporter{otlp, lose}, delivery.WithoutEnv(), delivery.WithStream(stream), delivery.WithBatchSize(3))
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(
		sdklog.WithResource(resource.NewSchemaless(semconv.ServiceNameKey.String(service))),
		sdklog.WithProcessor(p),
	)
	logger := lp.Logger("secaudit-it-gap")
	for i := range n {
		var r log.Record
		r.SetTimestamp(time.Now())
		r.SetEventName(semconv.EventLoginFailed)
		r.SetSeverity(log.SeverityWarn)
		r.SetBody(attribute.StringValue(semconv.EventLoginFailed))
		r.AddAttributes(semconv.AuditRequestIDKey.String(fmt.Sprintf("%s-%d", stream, i)))
		logger.Emit(ctx, r)
	}
	if err := lp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// gapQuery returns the gap query of examples/logql.md, verbatim.
func gapQuery(t *testing.T) string {
	t.Helper()
	for _, q := range docQueries(t) {
		if strings.Contains(q, "unwrap audit_sequence") {
			return q
		}
	}
	t.Fatal("examples/logql.md has no gap query")
	return ""
}

// lokiVector runs an instant query and returns each series' value by the
// label given.
func lokiVector(t *testing.T, base, query, label string) map[string]string {
	t.Helper()
	resp, err := http.Get(base + "/loki/api/v1/query?" + url.Values{"query": {query}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r struct {
		Data struct {
			Result []struct {
				Metric map[string]string
				Value  []any
			}
		}
	}
	if err := json.Unmarshal(body, &r); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("Loki %s: %d %v %s", query, resp.StatusCode, err, body)
	}
	out := map[string]string{}
	for _, s := range r.Data.Result {
		if len(s.Value) == 2 {
			out[s.Metric[label]] = fmt.Sprint(s.Value[1])
		}
	}
	return out
}

// TestIntegrationLokiGapQuery: two streams of one service go through the
// real delivery numbering, Collector and Loki; one record of the first is
// lost after numbering. The documented gap query names that stream with
// one missing record, and not the intact one.
func TestIntegrationLokiGapQuery(t *testing.T) {
	lokiURL := os.Getenv("SECAUDIT_LOKI_URL")
	if lokiURL == "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" {
		t.Fatal("the integration tests need a running stack: tools/stack start, then source its stack.env")
	}
	stamp := time.Now().UnixNano()
	service := fmt.Sprintf("secaudit-it-gap-%d", stamp)
	lossy, intact := fmt.Sprintf("%032x", stamp), fmt.Sprintf("%032x", stamp+1)
	const n = 12
	sendStream(t, service, lossy, n, 5)
	sendStream(t, service, intact, n, 0)

	total := fmt.Sprintf(`sum(count_over_time({service_name=%q} [1h]))`, service)
	deadline := time.Now().Add(60 * time.Second)
	for lokiInstant(t, lokiURL, total) != 2*n-1 {
		if time.Now().After(deadline) {
			t.Fatalf("Loki holds %d records of %s, want %d", lokiInstant(t, lokiURL, total), service, 2*n-1)
		}
		time.Sleep(200 * time.Millisecond)
	}
	q := strings.NewReplacer("$service", service, "$__range", "1h").Replace(gapQuery(t))
	got := lokiVector(t, lokiURL, q, "audit_stream_id")
	t.Logf("%s\n→ %v", q, got)
	if len(got) != 1 || got[lossy] != "1" {
		t.Errorf("gap query found %v, want stream %s with 1 missing record and nothing for %s", got, lossy, intact)
	}
}
