package integrity_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/log/logtest"
	"golang.org/x/mod/sumdb/note"

	"github.com/secaudit/secaudit/exporter"
	"github.com/secaudit/secaudit/integrity"
	"github.com/secaudit/secaudit/semconv"
)

// fixture is a chained, signed file written through the real exporter:
// three records, a crash that tore the last line, a restart (marker) and
// three more records, with a checkpoint at shutdown.
type fixture struct {
	data     []byte // the JSONL file
	sidecar  []byte
	verifier note.Verifier
}

var (
	fixtureOnce sync.Once
	theFixture  fixture
	fixtureErr  error
)

func record(now time.Time, i int) sdklog.Record {
	return logtest.RecordFactory{
		EventName: semconv.EventLoginFailed, Timestamp: now, ObservedTimestamp: now,
		Severity: semconv.SeverityWarning, Body: attribute.StringValue(semconv.EventLoginFailed),
		Attributes: []attribute.KeyValue{semconv.AuditRequestIDKey.String("r-" + strconv.Itoa(i)), semconv.UserIDKey.String("42")},
	}.NewRecord()
}

func makeFixture() (fixture, error) {
	var fx fixture
	skey, vkey, err := note.GenerateKey(rand.Reader, "fuzz")
	if err != nil {
		return fx, err
	}
	if fx.verifier, err = note.NewVerifier(vkey); err != nil {
		return fx, err
	}
	dir, err := os.MkdirTemp("", "integrity-fixture")
	if err != nil {
		return fx, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "a.jsonl")
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	for run := range 2 {
		exp, err := exporter.NewJSONL(exporter.WithFile(path), exporter.WithSigningKey(skey), exporter.WithClock(clock))
		if err != nil {
			return fx, err
		}
		for i := range 3 {
			now = now.Add(time.Second)
			if err := exp.Export(context.Background(), []sdklog.Record{record(now, run*3+i)}); err != nil {
				return fx, err
			}
		}
		if err := exp.Shutdown(context.Background()); err != nil {
			return fx, err
		}
		if run == 0 { // the crash: a torn line, and no shutdown checkpoint
			data, _ := os.ReadFile(path)
			if err := os.WriteFile(path, append(data, `{"timestamp":1,"obs`...), 0o600); err != nil {
				return fx, err
			}
			notes, _ := os.ReadFile(path + integrity.CheckpointSuffix)
			i := bytes.LastIndex(notes, []byte(integrity.CheckpointHeader))
			if err := os.WriteFile(path+integrity.CheckpointSuffix, notes[:max(i, 0)], 0o600); err != nil {
				return fx, err
			}
		}
	}
	if fx.data, err = os.ReadFile(path); err != nil {
		return fx, err
	}
	fx.sidecar, err = os.ReadFile(path + integrity.CheckpointSuffix)
	return fx, err
}

func getFixture(t testing.TB) fixture {
	fixtureOnce.Do(func() { theFixture, fixtureErr = makeFixture() })
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return theFixture
}

// verifyData writes data and the fixture's sidecar to a folder and
// verifies them.
func verifyData(t testing.TB, fx fixture, data []byte) (integrity.Result, error) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.jsonl")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+integrity.CheckpointSuffix, fx.sidecar, 0o600); err != nil {
		t.Fatal(err)
	}
	return integrity.Verify([]string{path}, integrity.Options{Verifier: fx.verifier})
}

func TestFixtureVerifies(t *testing.T) {
	fx := getFixture(t)
	res, err := verifyData(t, fx, fx.data)
	if err != nil {
		t.Fatal(err)
	}
	if res.Lines != 7 || res.Restarts != 1 || res.Checkpoints != 2 {
		t.Errorf("result %+v, want 7 lines (3, marker, 3), 1 restart, checkpoints at the restart and shutdown", res)
	}
}

// FuzzVerifyEdits: any edit of the chained file — bytes overwritten,
// inserted or deleted anywhere, its newlines included — is found. The
// input is a list of edits, three bytes each: position (two bytes, modulo
// the length), operation and byte.
func FuzzVerifyEdits(f *testing.F) {
	f.Add([]byte{0, 0, 0, 'x'})
	f.Add([]byte{0xff, 0xff, 1, '\n'})
	f.Add([]byte{0x02, 0x00, 2, 0, 0x05, 0x10, 0, '}'})
	f.Fuzz(func(t *testing.T, edits []byte) {
		fx := getFixture(t)
		data := bytes.Clone(fx.data)
		for len(edits) >= 4 {
			pos := (int(edits[0])<<8 | int(edits[1])) % (len(data) + 1)
			op, b := edits[2]%3, edits[3]
			edits = edits[4:]
			switch {
			case op == 0 && pos < len(data):
				data[pos] = b
			case op == 1:
				data = append(data[:pos], append([]byte{b}, data[pos:]...)...)
			case op == 2 && pos < len(data):
				data = append(data[:pos], data[pos+1:]...)
			}
		}
		if bytes.Equal(data, fx.data) {
			return
		}
		if res, err := verifyData(t, fx, data); err == nil {
			t.Fatalf("edited file verified: %+v\n%s", res, data)
		}
	})
}

// chainedFile writes a chained file of about size bytes directly (the
// lines of a real exporter are no different to the verifier).
func chainedFile(t testing.TB, dir string, size int) string {
	path := filepath.Join(dir, fmt.Sprintf("big-%d.jsonl", size))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	body := `{"timestamp":1767225600000000000,"observed_timestamp":1767225600000000000,"severity_text":"WARNING","severity_number":13,"body":"auth.login.failed","resource":{"service.name":"shop"},"instrumentation_scope":{"name":"github.com/secaudit/secaudit"},"attributes":{"event_type":"auth.login.failed","schema_version":"1.0","audit.request_id":"` + strings.Repeat("7", 32) + `","client.address":"203.0.113.7","user.name":"carol"},"event_name":"auth.login.failed"`
	var buf []byte
	prev := integrity.Genesis
	for seq, written := uint64(1), 0; written < size; seq++ {
		start := len(buf)
		buf = append(buf, body...)
		buf = integrity.AppendFields(buf, seq, prev)
		buf = append(buf, "}\n"...)
		prev = integrity.HashLine(buf[start:])
		if len(buf) > 1<<20 {
			if _, err := f.Write(buf); err != nil {
				t.Fatal(err)
			}
			written += len(buf)
			buf = buf[:0]
		}
	}
	if _, err := f.Write(buf); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestVerifyConstantMemory: verifying a file ten times larger allocates
// no more: lines stream past, hashed, never held.
func TestVerifyConstantMemory(t *testing.T) {
	dir := t.TempDir()
	alloc := func(size int) uint64 {
		path := chainedFile(t, dir, size)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		res, err := integrity.Verify([]string{path}, integrity.Options{})
		runtime.ReadMemStats(&after)
		if err != nil || res.Lines == 0 {
			t.Fatalf("%+v %v", res, err)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	small, large := alloc(2<<20), alloc(20<<20)
	t.Logf("allocated %d bytes for 2 MiB, %d bytes for 20 MiB", small, large)
	if large > 1<<20 || large > small+64<<10 {
		t.Errorf("verifying 20 MiB allocated %d bytes, 2 MiB %d: memory grows with the file", large, small)
	}
}

func BenchmarkVerify(b *testing.B) {
	dir := b.TempDir()
	for _, size := range []int{1 << 20, 16 << 20} {
		path := chainedFile(b, dir, size)
		info, _ := os.Stat(path)
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			b.SetBytes(info.Size())
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				if _, err := integrity.Verify([]string{path}, integrity.Options{}); err != nil {
					b.Fatal(err)
				}
			}
			// Throughput per CPU second: on a shared machine, MB/s
			// also counts the time other processes held the core.
			b.ReportMetric(float64(info.Size())*float64(b.N)/1e6/(float64(cpuTime()-cpu)/1e9), "MB/cpu-s")
		})
	}
}

// BenchmarkChainLine is the chain's cost per line: the two members and the
// hash of a typical 600-byte line.
func BenchmarkChainLine(b *testing.B) {
	line := []byte(`{"timestamp":1767225600000000000,"observed_timestamp":1767225600000000000,"severity_text":"WARNING","severity_number":13,"body":"http.response","resource":{"service.name":"shop","service.version":"1.4.2","deployment.environment.name":"production"},"instrumentation_scope":{"name":"github.com/secaudit/secaudit","version":"0.1.0"},"attributes":{"event_type":"http.response.client_error","schema_version":"1.0","audit.request_id":"8f14e45fceea167a5a36dedd4bea2543","audit.outcome":"failure","http.request.method":"GET","http.response.status_code":404,"http.route":"/api/accounts/{id}","client.address":"203.0.113.7"},"event_name":"http.response.client_error","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","trace_flags":1`)
	buf := make([]byte, 0, 1024)
	var prev integrity.Hash
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	cpu := cpuTime()
	for b.Loop() {
		buf = append(buf[:0], line...)
		buf = integrity.AppendFields(buf, 123456, prev)
		buf = append(buf, "}\n"...)
		prev = integrity.HashLine(buf)
	}
	// CPU time per line: on a shared machine, wall time also counts the
	// time other processes held the core.
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user and system CPU time, in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkCheckpointSign is the cost of one signed checkpoint.
func BenchmarkCheckpointSign(b *testing.B) {
	skey, _, err := note.GenerateKey(rand.Reader, "bench")
	if err != nil {
		b.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		b.Fatal(err)
	}
	cp := integrity.Checkpoint{File: "audit.jsonl", Lines: 1000, Seq: 123456, Reason: integrity.CheckpointInterval, Time: time.Unix(1767225600, 0), Interval: time.Minute}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cp.Sign(s); err != nil {
			b.Fatal(err)
		}
	}
}

// TestVerifyEditBeforeBreak: the line before a torn line is covered by
// the restart marker's resume_hash (the fuzzer found it uncovered when
// the marker linked only to the torn line).
func TestVerifyEditBeforeBreak(t *testing.T) {
	fx := getFixture(t)
	lines := bytes.SplitAfter(fx.data, []byte{'\n'})
	lines[2] = bytes.Replace(lines[2], []byte(`"user.id":"42"`), []byte(`"user.id":"43"`), 1)
	_, err := verifyData(t, fx, bytes.Join(lines, nil))
	if err == nil || !strings.Contains(err.Error(), "a.jsonl:5: the restart marker's resume_hash does not match the line before the break (") {
		t.Fatalf("error %v, want the marker at line 5 naming the changed line", err)
	}
}
