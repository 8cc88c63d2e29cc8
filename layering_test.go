package secaudit_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// module is the core module's path.
const module = "github.com/secaudit/secaudit"

// layers ranks the module's packages, bottom up. A pattern is a package
// path relative to the module ("" is the root package), or a folder
// followed by "/..." for every package below it. A new package must be
// given a layer here: the test fails for a package it cannot place.
var layers = []struct {
	pattern string
	rank    int
}{
	{"semconv", 0},         // the contract: nothing of the project
	{"internal/...", 1},    // mechanisms shared by the packages above
	{"", 2},                // the event API (secaudit.Auditor)
	{"integrity", 2},       // the hash chain and checkpoint format, the verifier (files only)
	{"instrumentation", 3}, // the middleware, on the event API
	{"processor", 3},       // sdk/log processors
	{"detect", 3},          // detection rules, fed by an sdk/log processor
	{"detect/guard", 4},    // detection's response (blocks), on detect's alerts
	{"exporter", 3},        // the JSONL exporter
	{"delivery", 4},        // the exporting processor (spills through exporter)
	{"setup", 5},           // wires everything
	{"examples/...", 6},    // programs and documentation
	{"tools/...", 6},
	{"cmd/...", 6},
}

const layerInternal = 1

// sdkSide are the packages that process any record in a LoggerProvider
// (application logs from a bridge as much as audit events): they do not
// depend on the event API, although it is a lower layer.
var sdkSide = []string{"processor", "detect", "detect/guard", "exporter", "delivery"}

// apiOnly are the packages that must reach the OpenTelemetry API only:
// no SDK, no exporter, no contrib instrumentation, nothing of gRPC or
// protobuf, directly or through any dependency.
var apiOnly = []string{"", "instrumentation", "semconv", "integrity"}

// notAPI are the import paths (and the folders below them) that apiOnly
// packages must not reach.
var notAPI = []string{
	"go.opentelemetry.io/otel/sdk",
	"go.opentelemetry.io/otel/exporters",
	"go.opentelemetry.io/otel/log/logtest",
	"go.opentelemetry.io/otel/bridge",
	"go.opentelemetry.io/contrib",
	"go.opentelemetry.io/proto",
	"google.golang.org/grpc",
	"google.golang.org/protobuf",
}

// testOnly are the packages that no non-test code may reach: the test
// support package and what it brings.
var testOnly = []string{module + "/internal/testsupport", "go.uber.org/goleak", "testing"}

type listedPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// listPackages runs go list on the module's packages (non-test files, the
// default build tags).
func listPackages(t *testing.T) []listedPackage {
	t.Helper()
	return goList(t, "./...")
}

// goList runs go list on the patterns (non-test files, the default build
// tags), from the module's root (where the test runs): go.work makes the
// repository's other modules visible by their import paths.
func goList(t *testing.T, patterns ...string) []listedPackage {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to list the packages: %v", err)
	}
	// The test runs in the root package's folder, the module's root.
	cmd := exec.Command(goTool, append([]string{"list", "-json=ImportPath,Imports,Deps"}, patterns...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatalf("go list %v found no package; is it run from the module root?", patterns)
	}
	return pkgs
}

// rel returns path relative to the module ("" for the root package), and
// whether it is one of the module's packages.
func rel(path string) (string, bool) {
	if path == module {
		return "", true
	}
	r, ok := strings.CutPrefix(path, module+"/")
	return r, ok
}

// under reports whether path is prefix or below it.
func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// layerOf returns the rank of a package of the module (relative path), or
// -1 when no layer takes it.
func layerOf(r string) int {
	for _, l := range layers {
		if folder, ok := strings.CutSuffix(l.pattern, "/..."); ok {
			if under(r, folder) {
				return l.rank
			}
		} else if r == l.pattern {
			return l.rank
		}
	}
	return -1
}

func show(r string) string {
	if r == "" {
		return "the root package"
	}
	return r
}

// layeringViolations returns one line per import that breaks the layering.
func layeringViolations(pkgs []listedPackage) []string {
	deps := map[string][]string{}
	for _, p := range pkgs {
		deps[p.ImportPath] = p.Deps
	}
	var bad []string
	for _, p := range pkgs {
		from, ok := rel(p.ImportPath)
		if !ok {
			continue
		}
		rank := layerOf(from)
		if rank < 0 {
			bad = append(bad, fmt.Sprintf("%s has no layer: give it one in layering_test.go (and ARCHITECTURE.md)", show(from)))
			continue
		}
		for _, imp := range p.Imports {
			to, ok := rel(imp)
			if !ok {
				continue
			}
			toRank := layerOf(to)
			switch {
			case toRank < 0:
				// Reported as a package without a layer.
			case to == "" && slices.Contains(sdkSide, from):
				bad = append(bad, fmt.Sprintf("%s imports the root package: the SDK side does not depend on the event API", show(from)))
			case toRank < rank, rank == layerInternal && toRank == layerInternal:
			default:
				bad = append(bad, fmt.Sprintf("%s (layer %d) imports %s (layer %d): a package imports only lower layers",
					show(from), rank, show(to), toRank))
			}
		}
		if slices.Contains(apiOnly, from) {
			apiChecked := func(imp string) bool { r, ok := rel(imp); return ok && slices.Contains(apiOnly, r) }
			if v := reaches(p, deps, notAPI, apiChecked, "it may depend on the OpenTelemetry API only"); v != "" {
				bad = append(bad, v)
			}
		}
		if from != "internal/testsupport" {
			// Every package of the module is checked, so only what p
			// brings in itself is reported here.
			inModule := func(imp string) bool { _, ok := rel(imp); return ok }
			if v := reaches(p, deps, testOnly, inModule, "only tests may"); v != "" {
				bad = append(bad, v)
			}
		}
	}
	return bad
}

// reaches returns a line when p reaches a package under one of the
// forbidden folders through one of its imports, naming what it reaches and
// the imports that lead there. An import that is checked by the same rule
// (checked(import)) is left out: it is reported on its own.
func reaches(p listedPackage, deps map[string][]string, forbidden []string, checked func(string) bool, why string) string {
	in := func(path string) bool {
		return slices.ContainsFunc(forbidden, func(prefix string) bool { return under(path, prefix) })
	}
	var via []string
	for _, imp := range p.Imports {
		if in(imp) || (!checked(imp) && slices.ContainsFunc(deps[imp], in)) {
			via = append(via, imp)
		}
	}
	if len(via) == 0 {
		return ""
	}
	var reached []string
	for _, prefix := range forbidden {
		if i := slices.IndexFunc(p.Deps, func(d string) bool { return under(d, prefix) }); i >= 0 {
			reached = append(reached, p.Deps[i])
		}
	}
	from, _ := rel(p.ImportPath)
	return fmt.Sprintf("%s reaches %s (through %s): %s", show(from), strings.Join(reached, ", "), strings.Join(via, ", "), why)
}

// TestLayering checks the layering of ARCHITECTURE.md on the non-test code
// of every package of the core module (go list ./..., default build tags):
// a package imports only packages of a lower layer (the internal packages
// may also import one another), and processor, exporter and delivery not
// the root package; every package has a layer; the root package,
// instrumentation and semconv reach nothing beyond the OpenTelemetry API;
// and no non-test code reaches the test support package, goleak or
// testing. Tests are free to import anything.
func TestLayering(t *testing.T) {
	pkgs := listPackages(t)
	for _, v := range layeringViolations(pkgs) {
		t.Error(v)
	}
	// The test must see the packages it guards.
	seen := map[string]bool{}
	for _, p := range pkgs {
		if r, ok := rel(p.ImportPath); ok {
			seen[r] = true
		}
	}
	for _, r := range []string{"", "semconv", "instrumentation", "processor", "exporter", "delivery", "setup"} {
		if !seen[r] {
			t.Errorf("go list did not list %s", show(r))
		}
	}
}

// TestLayeringRules runs the rules on made-up import graphs, so that each
// kind of violation is known to be caught.
func TestLayeringRules(t *testing.T) {
	pkg := func(path string, imports ...string) listedPackage {
		return listedPackage{ImportPath: path, Imports: imports, Deps: imports}
	}
	m := func(r string) string {
		if r == "" {
			return module
		}
		return module + "/" + r
	}
	tests := []struct {
		name string
		pkg  listedPackage
		want string // a part of a violation; "" for none
	}{
		{"root on the API", pkg(m(""), "go.opentelemetry.io/otel/log", m("semconv"), m("internal/reqctx")), ""},
		{"instrumentation on the root", pkg(m("instrumentation"), m(""), m("internal/clientip")), ""},
		{"delivery on exporter", pkg(m("delivery"), m("exporter")), ""},
		{"setup on everything", pkg(m("setup"), m("delivery"), m("processor"), m("")), ""},
		{"internal on internal", pkg(m("internal/sampling"), m("internal/envconf")), ""},
		{"example on setup", pkg(m("examples/demo"), m("setup"), m("instrumentation")), ""},
		{"root on the SDK", pkg(m(""), "go.opentelemetry.io/otel/sdk/log"), "OpenTelemetry API only"},
		{"instrumentation on an exporter", pkg(m("instrumentation"), "go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"), "OpenTelemetry API only"},
		{"instrumentation on processor", pkg(m("instrumentation"), m("processor")), "imports only lower layers"},
		{"instrumentation on delivery", pkg(m("instrumentation"), m("delivery")), "imports only lower layers"},
		{"root on instrumentation", pkg(m(""), m("instrumentation")), "imports only lower layers"},
		{"semconv on internal", pkg(m("semconv"), m("internal/envconf")), "imports only lower layers"},
		{"processor on setup", pkg(m("processor"), m("setup")), "imports only lower layers"},
		{"exporter on delivery", pkg(m("exporter"), m("delivery")), "imports only lower layers"},
		{"internal on the root", pkg(m("internal/probe"), m("")), "imports only lower layers"},
		{"processor on the root", pkg(m("processor"), m("")), "SDK side"},
		{"delivery on the root", pkg(m("delivery"), m("")), "SDK side"},
		{"example on example", pkg(m("examples/demo"), m("examples/quickstart")), "imports only lower layers"},
		{"setup on an example", pkg(m("setup"), m("examples/demo")), "imports only lower layers"},
		{"non-test code on testsupport", pkg(m("processor"), m("internal/testsupport")), "only tests may"},
		{"internal on testsupport", pkg(m("internal/probe"), m("internal/testsupport")), "only tests may"},
		{"non-test code on testing", pkg(m("exporter"), "testing"), "only tests may"},
		{"a package without a layer", pkg(m("util")), "has no layer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := layeringViolations([]listedPackage{tt.pkg})
			if tt.want == "" {
				if len(got) > 0 {
					t.Fatalf("violations %q, want none", got)
				}
				return
			}
			if !slices.ContainsFunc(got, func(v string) bool { return strings.Contains(v, tt.want) }) {
				t.Fatalf("violations %q, want one with %q", got, tt.want)
			}
		})
	}
}

// TestAdaptersReachTheAPIOnly: the router, gRPC and ORM adapters (modules
// of their own under instrumentation/, joined by go.work) are middleware
// like instrumentation: an application that adds one pays for no Logs SDK,
// no exporter and none of the pipeline's packages.
func TestAdaptersReachTheAPIOnly(t *testing.T) {
	if len(listPackages(t)) < 10 {
		t.Fatal("go list found too few packages of the core; is it run from the module root?")
	}
	forbidden := []string{
		"go.opentelemetry.io/otel/sdk", "go.opentelemetry.io/otel/exporters",
		module + "/processor", module + "/exporter", module + "/delivery", module + "/setup", module + "/detect",
		module + "/internal/testsupport",
	}
	adapters := 0
	for _, p := range goList(t, module+"/instrumentation/...") {
		r, _ := rel(p.ImportPath)
		if strings.Count(r, "/") < 2 { // instrumentation itself: TestLayering's
			continue
		}
		adapters++
		for _, dep := range p.Deps {
			for _, f := range forbidden {
				if under(dep, f) {
					t.Errorf("%s reaches %s", p.ImportPath, dep)
				}
			}
		}
	}
	if adapters < 7 {
		t.Errorf("found %d adapter packages below instrumentation/, want the 7 of go.work", adapters)
	}
}
