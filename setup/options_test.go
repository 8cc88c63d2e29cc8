package setup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/processor"
	"github.com/secaudit/secaudit/setup"
)

// jsonlLines parses every line of out.
func jsonlLines(t *testing.T, out []byte) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("%v: %q", err, l)
		}
		lines = append(lines, m)
	}
	return lines
}

func attrOf(line map[string]any, key string) any {
	attrs, _ := line["attributes"].(map[string]any)
	return attrs[key]
}

// TestOptions checks that each option of New reaches the part it configures.
func TestOptions(t *testing.T) {
	ctx := context.Background()
	alice := secaudit.User{ID: "1", Name: "alice"}
	tests := []struct {
		name  string
		opts  func(t *testing.T) ([]setup.Option, func(t *testing.T, p *setup.Pipeline))
		event func(a *secaudit.Auditor)
	}{
		{
			name: "WithJSONLPath appends to the file",
			opts: func(t *testing.T) ([]setup.Option, func(*testing.T, *setup.Pipeline)) {
				path := filepath.Join(t.TempDir(), "audit.jsonl")
				return []setup.Option{setup.WithJSONLPath(path)}, func(t *testing.T, _ *setup.Pipeline) {
					out, err := os.ReadFile(path)
					if err != nil {
						t.Fatal(err)
					}
					if lines := jsonlLines(t, out); len(lines) != 1 || lines[0]["event_name"] != "auth.login.success" {
						t.Fatalf("file holds %v", lines)
					}
				}
			},
		},
		{
			name: "WithJSONLRotation rotates and keeps N old files",
			opts: func(t *testing.T) ([]setup.Option, func(*testing.T, *setup.Pipeline)) {
				path := filepath.Join(t.TempDir(), "audit.jsonl")
				return []setup.Option{setup.WithJSONLPath(path), setup.WithJSONLRotation(1024, 2),
						setup.WithJSONLFsync(exporter.FsyncAlways),
						setup.WithDeliveryOptions(delivery.WithLinger(0), delivery.WithBatchSize(1))},
					func(t *testing.T, _ *setup.Pipeline) {
						total := 0
						for _, name := range []string{path, path + ".1", path + ".2"} {
							out, err := os.ReadFile(name)
							if err != nil {
								t.Fatalf("%s: %v", filepath.Base(name), err)
							}
							if len(out) > 1024 {
								t.Errorf("%s holds %d bytes, limit 1024", filepath.Base(name), len(out))
							}
							total += len(jsonlLines(t, out))
						}
						if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
							t.Errorf("a third old file exists (keep 2): %v", err)
						}
						if total == 0 || total >= 20 {
							t.Errorf("%d lines kept of 20, want some but not all", total)
						}
					}
			},
			event: func(a *secaudit.Auditor) {
				for range 20 {
					a.LoginSucceeded(ctx, alice)
				}
			},
		},
		{
			name: "WithAuditorOptions reaches the Auditor",
			opts: func(t *testing.T) ([]setup.Option, func(*testing.T, *setup.Pipeline)) {
				var buf bytes.Buffer
				return []setup.Option{setup.WithJSONLWriter(&buf), setup.WithAuditorOptions(secaudit.WithUsernames(true))},
					func(t *testing.T, p *setup.Pipeline) {
						if !p.Auditor().UsernamesEnabled() {
							t.Error("usernames not enabled")
						}
						if got := attrOf(jsonlLines(t, buf.Bytes())[0], "user.name"); got != "alice" {
							t.Errorf("user.name %v, want alice", got)
						}
					}
			},
		},
		{
			name: "WithProcessorOptions reaches the chain; WithProcessor sees scrubbed records",
			opts: func(t *testing.T) ([]setup.Option, func(*testing.T, *setup.Pipeline)) {
				seen := &testsupport.Capture{}
				return []setup.Option{setup.WithExporters(setup.ExporterNone), setup.WithProcessor(seen),
						setup.WithProcessorOptions(processor.WithSensitiveKeys("favourite_colour"))},
					func(t *testing.T, p *setup.Pipeline) {
						if p.Processors() == nil || p.LoggerProvider() == nil {
							t.Fatal("no chain or provider")
						}
						if seen.Len() != 1 {
							t.Fatalf("the extra processor saw %d records, want 1", seen.Len())
						}
						first := seen.Records()[0]
						if got := testsupport.AttrMap(&first)["favourite_colour"].String(); got != "[REDACTED]" {
							t.Errorf("favourite_colour %q, want [REDACTED]", got)
						}
					}
			},
			event: func(a *secaudit.Auditor) {
				a.LoginSucceeded(ctx, alice, attribute.String("favourite_colour", "teal"))
			},
		},
		{
			name: "WithOTLPOptions and WithMeterProvider",
			opts: func(t *testing.T) ([]setup.Option, func(*testing.T, *setup.Pipeline)) {
				sink := &otlpSink{}
				srv := httptest.NewServer(sink)
				t.Cleanup(srv.Close)
				reader := sdkmetric.NewManualReader()
				mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
				t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
				return []setup.Option{setup.WithExporters(setup.ExporterOTLP), setup.WithMeterProvider(mp),
						setup.WithOTLPOptions(otlploghttp.WithEndpointURL(srv.URL + "/v1/logs"))},
					func(t *testing.T, p *setup.Pipeline) {
						sink.mu.Lock()
						records := sink.records
						sink.mu.Unlock()
						if records != 1 {
							t.Errorf("the OTLP endpoint got %d records, want 1", records)
						}
						var rm metricdata.ResourceMetrics
						if err := reader.Collect(context.Background(), &rm); err != nil {
							t.Fatal(err)
						}
						if got := sumOf(rm, delivery.MetricExported); got != 1 {
							t.Errorf("%s = %d, want 1", delivery.MetricExported, got)
						}
					}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			opts, check := tt.opts(t)
			p, err := setup.New(ctx, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if tt.event != nil {
				tt.event(p.Auditor())
			} else {
				p.Auditor().LoginSucceeded(ctx, alice)
			}
			if err := p.ForceFlush(ctx); err != nil {
				t.Fatal(err)
			}
			check(t, p)
			if err := p.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// sumOf returns the value of the int64 sum named name, over its data points.
func sumOf(rm metricdata.ResourceMetrics, name string) int64 {
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			if s, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, dp := range s.DataPoints {
					n += dp.Value
				}
			}
		}
	}
	return n
}

// TestOptionsAreCheckedAtNew: a bad option passed through New is New's
// error, naming it.
func TestOptionsAreCheckedAtNew(t *testing.T) {
	clearEnv(t)
	tests := []struct {
		name string
		opt  setup.Option
		want string
	}{
		{"delivery", setup.WithDeliveryOptions(delivery.WithQueueSize(0)), "WithQueueSize"},
		{"processor", setup.WithProcessorOptions(processor.WithSampleRate(2)), "WithSampleRate"},
		{"exporters", setup.WithExporters("kafka"), "kafka"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := setup.New(context.Background(), setup.WithJSONLWriter(&bytes.Buffer{}), tt.opt)
			if err == nil {
				_ = p.Shutdown(context.Background())
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not name %s", err, tt.want)
			}
		})
	}
}
