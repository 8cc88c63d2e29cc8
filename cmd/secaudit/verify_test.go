package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
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

// chainClock is the fake clock of a generated set.
type chainClock struct{ t time.Time }

func (c *chainClock) now() time.Time { return c.t }

// chainSet is a chained, signed file set generated through the real
// exporter: rotated files, a clean restart, and a restart after a crash
// that left a torn line.
type chainSet struct {
	dir, path, key, pub string
	files               []string // chain order: oldest first
	lines               int
}

const setInterval = 10 * time.Second

func auditRecord(clock *chainClock, id string) sdklog.Record {
	return logtest.RecordFactory{
		EventName:         semconv.EventLoginFailed,
		Timestamp:         clock.now(),
		ObservedTimestamp: clock.now(),
		Severity:          semconv.SeverityWarning,
		Body:              attribute.StringValue(semconv.EventLoginFailed),
		Attributes: []attribute.KeyValue{
			semconv.AuditRequestIDKey.String(id),
			semconv.ClientAddressKey.String("203.0.113.7"),
		},
	}.NewRecord()
}

// writeRun runs one exporter over n records, one Export per record, 3 s
// apart on the fake clock. With crash, the files are put back as they
// were before Shutdown and a torn half line is appended, as a crash during
// a write leaves them.
func writeRun(t *testing.T, s *chainSet, clock *chainClock, run string, n int, crash bool) {
	t.Helper()
	key, err := os.ReadFile(s.key)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := exporter.NewJSONL(exporter.WithFile(s.path), exporter.WithRotation(1500, 50),
		exporter.WithSigningKey(strings.TrimSpace(string(key))), exporter.WithClock(clock.now),
		exporter.WithCheckpointInterval(setInterval))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range n {
		clock.t = clock.t.Add(3 * time.Second)
		if err := exp.Export(ctx, []sdklog.Record{auditRecord(clock, fmt.Sprintf("%s-%d", run, i))}); err != nil {
			t.Fatal(err)
		}
	}
	var saved map[string][]byte
	if crash {
		saved = map[string][]byte{}
		for _, name := range []string{s.path, s.path + integrity.CheckpointSuffix} {
			saved[name], _ = os.ReadFile(name)
		}
	}
	if err := exp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for name, data := range saved {
		if name == s.path {
			data = append(data, `{"timestamp":`+strconv.FormatInt(clock.now().UnixNano(), 10)+`,"observed_timestamp":1,"sev`...)
		}
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	clock.t = clock.t.Add(time.Second)
}

// newChainSet generates the set in a temporary folder, the key pair with
// the keygen command.
func newChainSet(t *testing.T) *chainSet {
	t.Helper()
	dir := t.TempDir()
	s := &chainSet{dir: dir, path: filepath.Join(dir, "audit.jsonl"), key: filepath.Join(dir, "signing.key")}
	s.pub = s.key + ".pub"
	if code, _, stderr := runCommand(t, nil, "keygen", s.key); code != exitOK {
		t.Fatalf("keygen: exit %d: %s", code, stderr)
	}
	clock := &chainClock{t: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}
	writeRun(t, s, clock, "a", 14, false)
	writeRun(t, s, clock, "b", 10, true)  // restart 1 (clean), then a crash
	writeRun(t, s, clock, "c", 12, false) // restart 2: after the torn line
	for i := 50; i >= 1; i-- {
		name := s.path + "." + strconv.Itoa(i)
		if _, err := os.Stat(name); err == nil {
			s.files = append(s.files, name)
		}
	}
	s.files = append(s.files, s.path)
	for _, f := range s.files {
		s.lines += len(readSetLines(t, f))
	}
	if len(s.files) < 4 {
		t.Fatalf("%d files: want several rotations", len(s.files))
	}
	return s
}

// copyTo copies the set (files, checkpoints, keys) into a new folder.
func (s *chainSet) copyTo(t *testing.T) *chainSet {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(s.dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := *s
	c.dir, c.path, c.key, c.pub = dir, filepath.Join(dir, "audit.jsonl"), filepath.Join(dir, "signing.key"), filepath.Join(dir, "signing.key.pub")
	c.files = nil
	for _, f := range s.files {
		c.files = append(c.files, filepath.Join(dir, filepath.Base(f)))
	}
	return &c
}

func readSetLines(t *testing.T, name string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(data, []byte{'\n'})[:bytes.Count(data, []byte{'\n'})]
}

func writeSetLines(t *testing.T, name string, lines [][]byte) {
	t.Helper()
	if err := os.WriteFile(name, bytes.Join(lines, nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

// locate returns "file:line" of the line with chain seq seq.
func (s *chainSet) locate(t *testing.T, seq uint64) string {
	t.Helper()
	for _, f := range s.files {
		for i, line := range readSetLines(t, f) {
			if fl, ok := integrity.ParseFields(line); ok && fl.Seq == seq {
				return fmt.Sprintf("%s:%d:", f, i+1)
			}
		}
	}
	t.Fatalf("seq %d not in the set", seq)
	return ""
}

// checkpointNotes returns the sidecar's notes and the line each starts at.
func checkpointNotes(t *testing.T, path string) (notes [][]byte, starts []int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	line := 1
	header := []byte(integrity.CheckpointHeader + "\n")
	for i, n := range bytes.Split(data, header) {
		if i == 0 {
			continue
		}
		n = append(slices.Clone(header), n...)
		notes, starts = append(notes, n), append(starts, line)
		line += bytes.Count(n, []byte{'\n'})
	}
	return notes, starts
}

// verifyArgs is the command line for the set, files in a scrambled order.
func (s *chainSet) verifyArgs(extra ...string) []string {
	files := slices.Clone(s.files)
	slices.Reverse(files)
	files[0], files[len(files)/2] = files[len(files)/2], files[0]
	return append(append([]string{"verify", "-pubkey", s.pub}, extra...), files...)
}

func TestVerifyIntactSet(t *testing.T) {
	s := newChainSet(t)
	code, stdout, stderr := runCommand(t, nil, s.verifyArgs()...)
	if code != exitOK || !strings.HasPrefix(stdout, fmt.Sprintf("OK %d lines", s.lines-1)) {
		// s.lines counts the torn line, which is not a chain line.
		t.Fatalf("exit %d, stdout %q, stderr %q; want OK %d lines", code, stdout, stderr, s.lines-1)
	}
	if !strings.Contains(stdout, "1 restarts") || !strings.Contains(stderr, "chain restarted after") {
		t.Errorf("the restart after the torn line is not named: %q %q", stdout, stderr)
	}
	// A shell glob (audit.jsonl*) also names the checkpoints file: it is
	// the sidecar, not a log.
	code, stdout, stderr = runCommand(t, nil, append(s.verifyArgs(), s.path+integrity.CheckpointSuffix)...)
	if code != exitOK || !strings.HasPrefix(stdout, "OK") {
		t.Errorf("with the checkpoints file among the files: exit %d %q %q", code, stdout, stderr)
	}
	// Without the key, the chain alone is checked.
	code, stdout, _ = runCommand(t, nil, slices.Delete(s.verifyArgs(), 1, 3)...)
	if code != exitOK || !strings.HasPrefix(stdout, "OK") {
		t.Errorf("without -pubkey: exit %d %q", code, stdout)
	}
}

// TestVerifyMutations: each change an attacker (without the key) or an
// accident can make to the set is found, at the right file and line.
func TestVerifyMutations(t *testing.T) {
	base := newChainSet(t)
	attackerKey, _, err := note.GenerateKey(rand.Reader, "secaudit")
	if err != nil {
		t.Fatal(err)
	}
	attacker, err := note.NewSigner(attackerKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(t *testing.T, s *chainSet) (want string) // returns "file:line:"
		msg    string
	}{
		{"changed line", func(t *testing.T, s *chainSet) string {
			f := s.files[1]
			lines := readSetLines(t, f)
			lines[1] = bytes.Replace(lines[1], []byte("203.0.113.7"), []byte("203.0.113.8"), 1)
			writeSetLines(t, f, lines)
			return f + ":2:"
		}, "line was changed"},
		{"inserted line", func(t *testing.T, s *chainSet) string {
			f := s.files[2]
			lines := readSetLines(t, f)
			extra := readSetLines(t, s.files[0])[0]
			writeSetLines(t, f, slices.Insert(lines, 1, extra))
			return f + ":2:"
		}, "deleted, inserted or moved"},
		{"deleted line", func(t *testing.T, s *chainSet) string {
			f := s.files[1]
			lines := readSetLines(t, f)
			writeSetLines(t, f, slices.Delete(lines, 1, 2))
			return f + ":2:"
		}, "deleted, inserted or moved"},
		{"reordered lines", func(t *testing.T, s *chainSet) string {
			f := s.files[2]
			lines := readSetLines(t, f)
			lines[1], lines[2] = lines[2], lines[1]
			writeSetLines(t, f, lines)
			return f + ":2:"
		}, "deleted, inserted or moved"},
		{"cut tail", func(t *testing.T, s *chainSet) string {
			lines := readSetLines(t, s.path)
			writeSetLines(t, s.path, lines[:len(lines)-2])
			return fmt.Sprintf("%s:%d:", s.path, len(lines)-1)
		}, "the tail was cut"},
		{"missing rotated file", func(t *testing.T, s *chainSet) string {
			if err := os.Remove(s.files[2]); err != nil {
				t.Fatal(err)
			}
			s.files = slices.Delete(s.files, 2, 3)
			return s.files[2] + ":1:"
		}, "rotated file between them is missing"},
		{"missing oldest file", func(t *testing.T, s *chainSet) string {
			if err := os.Remove(s.files[0]); err != nil {
				t.Fatal(err)
			}
			s.files = s.files[1:]
			return s.files[0] + ":1:"
		}, "earlier files are missing"},
		{"forged checkpoint", func(t *testing.T, s *chainSet) string {
			// The attacker cuts the tail and signs a checkpoint for the
			// shorter file with a key of the same name.
			side := s.path + integrity.CheckpointSuffix
			notes, starts := checkpointNotes(t, side)
			last := len(notes) - 1
			text := string(notes[last][:bytes.Index(notes[last], []byte("\n\n"))+1])
			forged, err := note.Sign(&note.Note{Text: strings.Replace(text, "reason shutdown", "reason rotation", 1)}, attacker)
			if err != nil {
				t.Fatal(err)
			}
			notes[last] = append(forged, '\n')
			if err := os.WriteFile(side, bytes.Join(notes, nil), 0o600); err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf("%s:%d:", side, starts[last])
		}, "signature does not verify"},
		{"altered checkpoint", func(t *testing.T, s *chainSet) string {
			side := s.path + integrity.CheckpointSuffix
			notes, starts := checkpointNotes(t, side)
			notes[1] = regexp.MustCompile(`lines (\d)`).ReplaceAll(notes[1], []byte("lines 9$1"))
			if err := os.WriteFile(side, bytes.Join(notes, nil), 0o600); err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf("%s:%d:", side, starts[1])
		}, "signature does not verify"},
		{"stale checkpoint replayed", func(t *testing.T, s *chainSet) string {
			side := s.path + integrity.CheckpointSuffix
			notes, starts := checkpointNotes(t, side)
			at := len(notes) - 1
			notes = slices.Insert(notes, at, notes[0])
			if err := os.WriteFile(side, bytes.Join(notes, nil), 0o600); err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf("%s:%d:", side, starts[at])
		}, "stale checkpoint"},
		{"stale checkpoints: newer ones removed", func(t *testing.T, s *chainSet) string {
			// Cut the tail and the sidecar back to the checkpoints of the
			// first run: the lines after them were written long after.
			side := s.path + integrity.CheckpointSuffix
			notes, _ := checkpointNotes(t, side)
			keep := 3
			if err := os.WriteFile(side, bytes.Join(notes[:keep], nil), 0o600); err != nil {
				t.Fatal(err)
			}
			seq, _ := strconv.ParseUint(regexp.MustCompile(`\nseq (\d+)`).FindStringSubmatch(string(notes[keep-1]))[1], 10, 64)
			ts, _ := strconv.ParseInt(regexp.MustCompile(`\ntime (\d+)`).FindStringSubmatch(string(notes[keep-1]))[1], 10, 64)
			// The first line written more than two intervals later.
			for _, f := range s.files {
				for i, line := range readSetLines(t, f) {
					fl, ok := integrity.ParseFields(line)
					m := regexp.MustCompile(`^\{"timestamp":(\d+)`).FindSubmatch(line)
					if !ok || fl.Seq <= seq || m == nil {
						continue
					}
					if lt, _ := strconv.ParseInt(string(m[1]), 10, 64); lt > ts+2*int64(setInterval) {
						return fmt.Sprintf("%s:%d:", f, i+1)
					}
				}
			}
			t.Fatal("no late line")
			return ""
		}, "stale checkpoint"},
		{"chain recomputed without the key", func(t *testing.T, s *chainSet) string {
			// Change a line of the oldest file and recompute every seq
			// and prev_hash after it: the chain is consistent again, but
			// the signed heads no longer match.
			lines := readSetLines(t, s.files[0])
			lines[2] = bytes.Replace(lines[2], []byte("203.0.113.7"), []byte("198.51.100.1"), 1)
			writeSetLines(t, s.files[0], lines)
			changed, _ := integrity.ParseFields(lines[2])
			prev := integrity.Genesis
			for _, f := range s.files {
				lines := readSetLines(t, f)
				for i, line := range lines {
					if fl, ok := integrity.ParseFields(line); ok {
						body := line[:len(line)-integrityFieldsLen(line)]
						line = append(integrity.AppendFields(slices.Clone(body), fl.Seq, prev), "}\n"...)
						lines[i] = line
					}
					prev = integrity.HashLine(line)
				}
				writeSetLines(t, f, lines)
			}
			// The first checkpoint at or after the changed line.
			notes, _ := checkpointNotes(t, s.path+integrity.CheckpointSuffix)
			for _, n := range notes {
				seq, _ := strconv.ParseUint(regexp.MustCompile(`\nseq (\d+)`).FindStringSubmatch(string(n))[1], 10, 64)
				if seq >= changed.Seq {
					return s.locate(t, seq)
				}
			}
			t.Fatal("no checkpoint after the change")
			return ""
		}, "differs from the signed checkpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base.copyTo(t)
			want := tt.mutate(t, s)
			code, stdout, stderr := runCommand(t, nil, s.verifyArgs()...)
			if code != exitFinding || !strings.Contains(stdout, "FAIL") {
				t.Fatalf("exit %d, stdout %q, stderr %q: the mutation went unseen", code, stdout, stderr)
			}
			if !strings.Contains(stderr, "secaudit verify: "+want) || !strings.Contains(stderr, tt.msg) {
				t.Errorf("stderr %q\nwant it to name %s and say %q", stderr, want, tt.msg)
			}
		})
	}
}

// integrityFieldsLen is the length of a chained line's chain members,
// closing brace and newline.
func integrityFieldsLen(line []byte) int {
	i := bytes.LastIndex(line, []byte(`,"seq":`))
	return len(line) - i
}

// TestVerifyPruned: with -pruned, a set whose oldest files retention
// deleted is accepted.
func TestVerifyPruned(t *testing.T) {
	s := newChainSet(t)
	if err := os.Remove(s.files[0]); err != nil {
		t.Fatal(err)
	}
	s.files = s.files[1:]
	code, stdout, stderr := runCommand(t, nil, s.verifyArgs("-pruned")...)
	if code != exitOK || !strings.Contains(stderr, "older files pruned") {
		t.Errorf("exit %d %q %q", code, stdout, stderr)
	}
}

func TestVerifyUsage(t *testing.T) {
	dir := t.TempDir()
	notKey := filepath.Join(dir, "not.pub")
	if err := os.WriteFile(notKey, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "a.jsonl")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	checkpoints := file + integrity.CheckpointSuffix
	if err := os.WriteFile(checkpoints, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no file", []string{"verify"}, "usage: secaudit verify"},
		{"bad flag", []string{"verify", "-frob", file}, "flag provided but not defined"},
		{"missing pubkey", []string{"verify", "-pubkey", filepath.Join(dir, "none"), file}, "-pubkey"},
		{"not a key", []string{"verify", "-pubkey", notKey, file}, "not a verifier key"},
		{"missing file", []string{"verify", filepath.Join(dir, "none.jsonl")}, "no such file"},
		{"checkpoints only", []string{"verify", checkpoints}, "no JSONL file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCommand(t, nil, tt.args...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitUsage, tt.want)
			}
		})
	}
}

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k")
	code, stdout, stderr := runCommand(t, nil, "keygen", "-name", "audit.example", key)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	info, err := os.Stat(key)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("private key file: %v %v, want mode 0600", info, err)
	}
	skey, _ := os.ReadFile(key)
	vkey, _ := os.ReadFile(key + ".pub")
	if strings.Contains(stdout, strings.TrimSpace(string(skey))) {
		t.Error("keygen printed the private key")
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil || verifier.Name() != "audit.example" || verifier.KeyHash() != signer.KeyHash() {
		t.Fatalf("public key %q does not match: %v", vkey, err)
	}
	// Never overwrites, neither file.
	if code, _, stderr := runCommand(t, nil, "keygen", key); code != exitFinding || !strings.Contains(stderr, "exists") {
		t.Errorf("second keygen: exit %d %q", code, stderr)
	}
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := runCommand(t, nil, "keygen", key); code != exitFinding {
		t.Errorf("keygen over an existing .pub: exit %d", code)
	}
	if after, _ := os.ReadFile(key + ".pub"); !bytes.Equal(after, vkey) {
		t.Error("keygen overwrote the public key")
	}
	for _, args := range [][]string{{"keygen"}, {"keygen", "a", "b"}} {
		if code, _, _ := runCommand(t, nil, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}
