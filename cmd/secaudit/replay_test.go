package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestReplayCommand replays a spill file through secaudit replay to an
// OTLP/HTTP endpoint (a test server counting what it is sent). The
// replay itself is tested in internal/spillreplay.
func TestReplayCommand(t *testing.T) {
	var posts atomic.Int32
	var body atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/logs" {
			http.NotFound(w, r)
			return
		}
		n, _ := io.Copy(io.Discard, r.Body)
		body.Add(n)
		posts.Add(1)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)

	data, err := os.ReadFile("testdata/tail.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var good []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "{") {
			good = append(good, l)
		}
	}
	dir := t.TempDir()
	spill := filepath.Join(dir, "otlp.spill.jsonl")
	if err := os.WriteFile(spill, []byte(strings.Join(good, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCommand(t, nil, "replay", "-batch", "3", "-file", spill)
	if code != exitOK || !strings.Contains(stderr, "8 lines read, 8 records sent, 0 lines not records") {
		t.Errorf("exit %d, stderr %q; want 0 and 8 records sent", code, stderr)
	}
	if posts.Load() != 3 || body.Load() == 0 {
		t.Errorf("%d exports (%d bytes), want 3 batches of at most 3", posts.Load(), body.Load())
	}

	// The file as the argument; a line that is not a record is a finding.
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte(good[0]+"\nnot json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCommand(t, nil, "replay", bad)
	if code != exitFinding || !strings.Contains(stderr, "lines that are not records (first 20): [2]") {
		t.Errorf("exit %d, stderr %q; want 1 naming line 2", code, stderr)
	}
}

func TestReplayUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want int
	}{
		{nil, exitUsage},
		{[]string{"a", "b"}, exitUsage},
		{[]string{"-from", "0", "x"}, exitUsage},
		{[]string{"-nope"}, exitUsage},
		{[]string{"-h"}, exitOK},
		{[]string{"/nonexistent/spill.jsonl"}, exitFinding},
	} {
		if code, _, _ := runCommand(t, nil, append([]string{"replay"}, tt.args...)...); code != tt.want {
			t.Errorf("replay %v: exit %d, want %d", tt.args, code, tt.want)
		}
	}
}
