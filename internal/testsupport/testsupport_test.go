package testsupport

import (
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secaudit/secaudit/internal/envconf"
)

func TestMainClearsStrayVariables(t *testing.T) {
	for name, kept := range mainProbes {
		if _, ok := os.LookupEnv(name); ok != kept {
			t.Errorf("after Main, %s set = %v, want %v", name, ok, kept)
		}
	}
}

func TestStray(t *testing.T) {
	tests := []struct {
		give                   string
		wantUnit, wantIntegrat bool
	}{
		{"SECAUDIT_SAMPLE_RATE", true, true},
		{"SECAUDIT_DELIVERY_STRICT_ROUTES", true, true},
		{"SECAUDIT_TYPO_OF_A_SETTING", true, true},
		{"OTEL_SERVICE_NAME", true, true},
		{"OTEL_BLRP_MAX_QUEUE_SIZE", true, true},
		{"OTEL_GO_X_RESOURCE", true, true},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", true, false},
		{"OTEL_EXPORTER_OTLP_PROTOCOL", true, false},
		{"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", true, true},
		{"SECAUDIT_TEST_REDIS_URL", true, false},
		{"SECAUDIT_TEST_REDIS_SERVER", true, false},
		{"SECAUDIT_TEST_POSTGRES_DSN", true, false},
		{"SECAUDIT_TEST_MYSQL_DSN", true, true},
		{"SECAUDIT_STACK_DIR", false, false},
		{"SECAUDIT_OTELCOL_LOGS_FILE", false, false},
		{"SECAUDIT_LOKI_URL", false, false},
		{"SECAUDIT", false, false},
		{"PATH", false, false},
		{"secaudit_sample_rate", false, false},
	}
	for _, tt := range tests {
		if got := stray(tt.give, false); got != tt.wantUnit {
			t.Errorf("stray(%q) = %v, want %v", tt.give, got, tt.wantUnit)
		}
		if got := stray(tt.give, true); got != tt.wantIntegrat {
			t.Errorf("stray(%q) in an integration build = %v, want %v", tt.give, got, tt.wantIntegrat)
		}
	}
}

// TestKeptPrefixesAreNotSettings: what the clearing keeps is exactly what
// envconf says the library does not read (its reserved prefixes), so no
// setting of the library can survive it.
func TestKeptPrefixesAreNotSettings(t *testing.T) {
	for _, p := range keptPrefixes {
		if got := envconf.Unknown([]string{p + "X=1"}); len(got) != 0 {
			t.Errorf("envconf reports %v: %s is not reserved there, so a test may not keep it", got, p)
		}
	}
	if got := envconf.Unknown([]string{"SECAUDIT_NOT_A_SETTING=1"}); len(got) != 1 {
		t.Fatalf("envconf.Unknown no longer reports unknown SECAUDIT_ names (%v); revisit this test", got)
	}
}

func TestClearEnv(t *testing.T) {
	t.Setenv("SECAUDIT_SAMPLE_RATE", "0")
	t.Setenv("OTEL_SERVICE_NAME", "stray")
	t.Setenv("SECAUDIT_OTELCOL_LOGS_FILE", "/tmp/x")
	t.Run("cleared", func(t *testing.T) {
		ClearEnv(t)
		for name, want := range map[string]bool{"SECAUDIT_SAMPLE_RATE": false, "OTEL_SERVICE_NAME": false, "SECAUDIT_OTELCOL_LOGS_FILE": true} {
			if _, ok := os.LookupEnv(name); ok != want {
				t.Errorf("%s set = %v, want %v (unset, not empty)", name, ok, want)
			}
		}
		t.Setenv("SECAUDIT_SAMPLE_RATE", "0.5") // a test's own setting still works
		if v, _ := envconf.String(envconf.SampleRate); v != "0.5" {
			t.Errorf("t.Setenv after ClearEnv: %q", v)
		}
	})
	if v := os.Getenv("SECAUDIT_SAMPLE_RATE"); v != "0" {
		t.Errorf("after the test, SECAUDIT_SAMPLE_RATE = %q, want restored to 0", v)
	}
	if v := os.Getenv("OTEL_SERVICE_NAME"); v != "stray" {
		t.Errorf("after the test, OTEL_SERVICE_NAME = %q, want restored", v)
	}
}

// fakeT records what Check reports.
type fakeT struct{ errs []string }

func (f *fakeT) Helper() {}
func (f *fakeT) Errorf(format string, args ...any) {
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func lingerFor(d time.Duration, done chan struct{}) {
	time.Sleep(d)
	close(done)
}

func blockUntil(release, done chan struct{}) {
	<-release
	close(done)
}

// TestCheckWaitsForGoroutinesToEnd: a goroutine that ends shortly after
// the check starts (as one told to stop by Shutdown does) is not a leak; a
// hand-written count taken at once, as the tests had, reported one.
func TestCheckWaitsForGoroutinesToEnd(t *testing.T) {
	g := Snapshot()
	done := make(chan struct{})
	go lingerFor(100*time.Millisecond, done)
	var f fakeT
	g.check(&f)
	if len(f.errs) != 0 {
		t.Errorf("a goroutine that ended 100 ms later was reported: %v", f.errs)
	}
	<-done
}

func TestCheckReportsGoroutinesThatStay(t *testing.T) {
	defer func(d time.Duration) { settle = d }(settle)
	settle = 200 * time.Millisecond
	g := Snapshot()
	release, done := make(chan struct{}), make(chan struct{})
	go blockUntil(release, done)
	var f fakeT
	start := time.Now()
	g.check(&f)
	waited := time.Since(start)
	close(release)
	<-done
	if len(f.errs) != 1 || !strings.Contains(f.errs[0], "testsupport.blockUntil") {
		t.Fatalf("a goroutine still running was not reported with its stack: %q", f.errs)
	}
	if waited < settle {
		t.Errorf("reported after %v, before the %v settling time", waited, settle)
	}
	// Goroutines that ran before the snapshot are not reported.
	g = Snapshot()
	f = fakeT{}
	g.check(&f)
	if len(f.errs) != 0 {
		t.Errorf("goroutines from before the snapshot reported: %v", f.errs)
	}
}

func TestCheckGoroutines(t *testing.T) {
	t.Run("inner", func(t *testing.T) {
		CheckGoroutines(t)
		done := make(chan struct{})
		go lingerFor(20*time.Millisecond, done)
		// No wait: the check, a cleanup, waits for the goroutine to end.
	})
}

// TestCheckIgnoresDefaultTransportPool: an idle keep-alive connection of
// http.DefaultClient (two goroutines, kept 90 s) is the process's pool, not
// a leak of the test that used it.
func TestCheckIgnoresDefaultTransportPool(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	g := Snapshot()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close() // the connection goes back to the pool, idle
	var f fakeT
	g.check(&f)
	if len(f.errs) != 0 {
		t.Errorf("an idle connection of the default transport was reported: %v", f.errs)
	}
}

// TestEveryPackageUsesMain: every directory of the module with test files
// has a TestMain that calls Main, so no package's tests see the machine's
// variables or leak goroutines unnoticed.
func TestEveryPackageUsesMain(t *testing.T) {
	root := moduleRoot(t)
	hasTests, hasMain := map[string]bool{}, map[string]bool{}
	walkModule(t, root, func(path string) {
		if !strings.HasSuffix(path, "_test.go") {
			return
		}
		dir := filepath.Dir(path)
		hasTests[dir] = true
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// A TestMain behind a build constraint (an integration-only file)
		// leaves the package's ordinary tests without it.
		if strings.Contains(string(src), "func TestMain(m *testing.M) { testsupport.Main(m) }") && !strings.Contains(string(src), "//go:build") {
			hasMain[dir] = true
		}
	})
	if len(hasTests) < 10 {
		t.Fatalf("only %d directories with tests found; is the walk broken?", len(hasTests))
	}
	for dir := range hasTests {
		if !hasMain[dir] && dir != filepath.Join(root, "internal", "testsupport") {
			rel, _ := filepath.Rel(root, dir)
			t.Errorf("%s has tests but no main_test.go with func TestMain(m *testing.M) { testsupport.Main(m) }", rel)
		}
	}
}

// TestNotImportedByNonTestCode: testsupport (and with it testing and
// goleak) never reaches a user's binary.
func TestNotImportedByNonTestCode(t *testing.T) {
	const self = "github.com/secaudit/secaudit/internal/testsupport"
	root := moduleRoot(t)
	checked := 0
	walkModule(t, root, func(path string) {
		if strings.HasSuffix(path, "_test.go") || filepath.Dir(path) == filepath.Join(root, "internal", "testsupport") {
			return
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == self || p == "go.uber.org/goleak" {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s imports %s: test support is for _test.go files only", rel, p)
			}
		}
	})
	if checked < 20 {
		t.Fatalf("only %d non-test files checked; is the walk broken?", checked)
	}
}

// moduleRoot is the directory of the module's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	return root
}

// walkModule calls fn with every .go file of the module at root: not in
// another module (tools/otelcol, tools/loki), testdata or a hidden
// directory.
func walkModule(t *testing.T, root string, fn func(path string)) {
	t.Helper()
	workspace := workspaceModules(t, root)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == root {
				return nil
			}
			if name := d.Name(); strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && !workspace[path] {
				return filepath.SkipDir // a module outside go.work (tools/otelcol, tools/loki)
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") {
			fn(path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// workspaceModules returns the directories of the modules that root's
// go.work joins (the core, the demo, the adapters and stores): their
// tests are the repository's tests too, and follow the same rules.
func workspaceModules(t *testing.T, root string) map[string]bool {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "go.work"))
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]bool{}
	for _, line := range strings.Split(string(src), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "use ") {
			line = strings.TrimSpace(strings.TrimPrefix(line, "use "))
		}
		if strings.HasPrefix(line, "./") {
			dirs[filepath.Join(root, line)] = true
		}
	}
	if len(dirs) < 2 {
		t.Fatalf("go.work names %d modules below the root; is the parse broken?", len(dirs))
	}
	return dirs
}
