package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/delivery"
	"github.com/secaudit/secaudit/semconv"
)

// numbers returns the audit.stream.id and audit.sequence of the records,
// in order ("" and 0 for a record without them).
func numbers(records []sdklog.Record) (ids []string, seqs []int64) {
	for i := range records {
		var id string
		var seq int64
		records[i].WalkAttributes(func(kv attribute.KeyValue) bool {
			switch kv.Key {
			case semconv.AuditStreamIDKey:
				id = kv.Value.AsString()
			case semconv.AuditSequenceKey:
				seq = kv.Value.AsInt64()
			}
			return true
		})
		ids, seqs = append(ids, id), append(seqs, seq)
	}
	return ids, seqs
}

func emitN(t *testing.T, p *delivery.Processor, n int) {
	t.Helper()
	for i := range n {
		rec := sdkRecord(t, semconv.EventLoginFailed)
		rec.SetBody(attribute.StringValue(fmt.Sprint(i)))
		if err := p.OnEmit(context.Background(), &rec); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStreamNumbers: with WithStream, the records reach the exporter
// numbered 1, 2, … in one stream; a retried batch keeps its numbers (no
// number is given twice, none skipped).
func TestStreamNumbers(t *testing.T) {
	exp := &memExporter{keep: true, fail: func(n int) error {
		if n <= 2 {
			return errors.New("collector down")
		}
		return nil
	}}
	p := newProcessor(t, exp, delivery.WithStream("s1"), delivery.WithBatchSize(4), delivery.WithLinger(0),
		delivery.WithRetry(time.Millisecond, time.Millisecond, time.Minute))
	emitN(t, p, 10)
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ids, seqs := numbers(exp.records)
	if len(seqs) != 10 {
		t.Fatalf("%d records exported, want 10", len(seqs))
	}
	for i := range seqs {
		if ids[i] != "s1" || seqs[i] != int64(i+1) {
			t.Errorf("record %d: stream %q sequence %d, want s1 %d", i, ids[i], seqs[i], i+1)
		}
	}
}

// TestStreamQueueDropsTakeNoNumber: records the full queue gives up were
// never numbered, so the stream has no gap; the loss is in the summary,
// which is numbered like any record.
func TestStreamQueueDropsTakeNoNumber(t *testing.T) {
	exp := &memExporter{keep: true}
	exp.setStall(true)
	p := newProcessor(t, exp, delivery.WithStream("s2"), delivery.WithQueueSize(3), delivery.WithBatchSize(1), delivery.WithLinger(0))
	emitN(t, p, 1)
	<-exp.entered   // the first record is in the exporter's hands
	emitN(t, p, 10) // 3 fit, 7 are dropped
	exp.setStall(false)
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Dropped != 7 {
		t.Fatalf("stats %+v, want 7 dropped", st)
	}
	_, seqs := numbers(exp.records)
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("sequences %v: want 1…%d without a gap", seqs, len(seqs))
		}
	}
	if names, _ := exp.counts(); names[delivery.EventPipelineDropped] != 1 || len(seqs) != 5 {
		t.Errorf("exported %v (%d numbered), want 4 records and 1 summary", names, len(seqs))
	}
}

// TestStreamFailedExportLeavesGap: a numbered batch whose export fails for
// good is lost after numbering: the gap shows in the stream, and the loss
// is counted.
func TestStreamFailedExportLeavesGap(t *testing.T) {
	// The second pair's exports fail for good, however the worker batches
	// them (one export of two records, or two of one).
	var failing atomic.Bool
	exp := &memExporter{keep: true, fail: func(int) error {
		if failing.Load() {
			return fmt.Errorf("gone: %w", sdklog.ErrExporterShutdown)
		}
		return nil
	}}
	p := newProcessor(t, exp, delivery.WithStream("s3"), delivery.WithBatchSize(2), delivery.WithLinger(0), delivery.WithSummaryInterval(0))
	for i := range 3 {
		failing.Store(i == 1)
		emitN(t, p, 2)
		if err := p.ForceFlush(context.Background()); err != nil && i != 1 {
			t.Fatal(err)
		}
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, seqs := numbers(exp.records)
	want := []int64{1, 2, 5, 6, 7} // 3 and 4 lost; 7 is the drop summary
	if fmt.Sprint(seqs) != fmt.Sprint(want) {
		t.Errorf("sequences %v, want %v", seqs, want)
	}
	if st := p.Stats(); st.Dropped != 2 {
		t.Errorf("stats %+v, want the 2 lost records counted", st)
	}
}

// TestNoStreamByDefault: without WithStream, records are not numbered.
func TestNoStreamByDefault(t *testing.T) {
	exp := &memExporter{keep: true}
	p := newProcessor(t, exp)
	emitN(t, p, 2)
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ids, seqs := numbers(exp.records); ids[0] != "" || seqs[1] != 0 {
		t.Errorf("numbered without WithStream: %v %v", ids, seqs)
	}
}
