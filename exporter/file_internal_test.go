package exporter

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestFileSinkCutsTornLine: after a write that failed part-way, the file is
// cut back to its last complete line.
func TestFileSinkCutsTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s, err := openFileSink(config{path: path, pathSet: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.close() }()
	write := func(p string) int {
		n, err := s.f.Write([]byte(p))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	s.wrote(write("{\"a\":1}\n"), nil)
	s.wrote(write("{\"b\":"), errors.New("no space left on device")) // torn
	s.wrote(write("{\"c\":3}\n"), nil)

	out, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\"a\":1}\n{\"c\":3}\n"; string(out) != want {
		t.Errorf("file = %q, want %q", out, want)
	}
	if s.size != int64(len(out)) {
		t.Errorf("tracked size %d, file size %d", s.size, len(out))
	}
}
