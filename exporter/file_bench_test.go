package exporter_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/secaudit/secaudit/exporter"
)

// BenchmarkExportFile writes batches of 32 realistic records to a real
// file, with each fsync policy and with rotation, and reports the cost per
// record.
func BenchmarkExportFile(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []exporter.Option
	}{
		{"fsync-never", nil},
		{"fsync-never-rotate-8MiB", []exporter.Option{exporter.WithRotation(8<<20, 2)}},
		{"fsync-never-rotate-8MiB-keep-all", []exporter.Option{exporter.WithRotation(8<<20, 1000)}},
		{"fsync-interval-1s", []exporter.Option{exporter.WithFsync(exporter.FsyncInterval(1e9))}},
		{"fsync-always", []exporter.Option{exporter.WithFsync(exporter.FsyncAlways)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "audit.jsonl")
			e, err := exporter.NewJSONL(append([]exporter.Option{exporter.WithFile(path)}, bc.opts...)...)
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = e.Shutdown(context.Background()) }()
			records := batchOf(benchBatchSize)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := e.Export(ctx, records); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(records)), "ns/record")
			b.ReportMetric(float64(e.Stats().Rotations)/float64(b.N), "rotations/op")
		})
	}
}
