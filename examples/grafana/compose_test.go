package grafana

import (
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var rePublishedPort = regexp.MustCompile(`^127\.0\.0\.1:([0-9]+):([0-9]+)(/tcp|/udp)?$`)

// bindMounts returns a service's bind mounts, host path to container path.
func bindMounts(t *testing.T, compose map[string]any, service string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, v := range list(compose, "services", service, "volumes") {
		s, ok := v.(string)
		if !ok {
			t.Fatalf("service %s: volume %v: use the short syntax", service, v)
		}
		parts := strings.Split(s, ":")
		if len(parts) < 2 || len(parts) > 3 {
			t.Fatalf("service %s: volume %q: want host:container[:mode]", service, s)
		}
		out[parts[0]] = parts[1]
	}
	return out
}

// containerPorts returns a service's published container ports.
func containerPorts(t *testing.T, compose map[string]any, service string) []string {
	t.Helper()
	var out []string
	for _, v := range list(compose, "services", service, "ports") {
		if m := rePublishedPort.FindStringSubmatch(str(v)); m != nil {
			out = append(out, m[2])
		}
	}
	return out
}

func hostPort(t *testing.T, rawURL string) (host, port string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("%q: %v", rawURL, err)
	}
	return u.Hostname(), u.Port()
}

func TestComposePortsAndMounts(t *testing.T) {
	compose := readYAML(t, composeFile)
	services, _ := get(compose, "services").(map[string]any)
	for _, name := range []string{"demo", "otelcol", "loki", "tempo", "grafana"} {
		if services[name] == nil {
			t.Errorf("docker-compose has no service %q", name)
		}
	}
	for name, svc := range services {
		if nm := str(svc, "network_mode"); nm == "host" {
			t.Errorf("service %s: network_mode host bypasses the loopback-only ports", name)
		}
		for _, p := range list(svc, "ports") {
			s, ok := p.(string)
			if !ok || !rePublishedPort.MatchString(s) {
				t.Errorf("service %s: port %v is not published as \"127.0.0.1:HOST:CONTAINER\"", name, p)
			}
		}
		for src := range bindMounts(t, compose, name) {
			if !strings.HasPrefix(src, "./") {
				t.Errorf("service %s: mount source %q: want a path inside the repository (./...)", name, src)
				continue
			}
			if _, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(src))); err != nil {
				t.Errorf("service %s: mount source %s: %v", name, src, err)
			}
		}
		if img := str(svc, "image"); img != "" && get(svc, "build") == nil {
			if i := strings.LastIndex(img, ":"); i < 0 || img[i+1:] == "latest" {
				t.Errorf("service %s: image %q is not pinned to a version", name, img)
			}
		}
	}

	// The same Collector and Loki configs as CI, and each service started
	// with the file it mounts.
	for _, c := range []struct{ service, source, flag string }{
		{"otelcol", composeOtelcolMount, "--config="},
		{"loki", composeLokiMount, "-config.file="},
		{"tempo", "./examples/grafana/tempo.yaml", "-config.file="},
	} {
		target := bindMounts(t, compose, c.service)[c.source]
		if target == "" {
			t.Errorf("service %s does not mount %s", c.service, c.source)
			continue
		}
		if !slices.Contains(list(compose, "services", c.service, "command"), any(c.flag+target)) {
			t.Errorf("service %s: command %v does not include %s%s", c.service, list(compose, "services", c.service, "command"), c.flag, target)
		}
	}
	if !slices.Contains(list(compose, "services", "loki", "command"), any("-config.expand-env=true")) {
		t.Error("service loki: the config needs -config.expand-env=true")
	}
}

var (
	reOtelcolEnv = regexp.MustCompile(`\$\{env:([A-Z0-9_]+)`)
	reLokiEnv    = regexp.MustCompile(`\$\{([A-Z0-9_]+)`)
)

// configEnv returns the environment variables a config file reads.
func configEnv(t *testing.T, file string, re *regexp.Regexp) []string {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, m := range re.FindAllStringSubmatch(line, -1) {
			if !slices.Contains(names, m[1]) {
				names = append(names, m[1])
			}
		}
	}
	if len(names) == 0 {
		t.Fatalf("%s reads no environment variables", file)
	}
	return names
}

// TestComposeEnvironment checks that every variable the Collector and Loki
// configs read is set for the container (their defaults are loopback
// addresses and host paths), that nothing else is, and that the addresses
// line up across services.
func TestComposeEnvironment(t *testing.T) {
	compose := readYAML(t, composeFile)
	env := func(service, name string) string {
		return str(compose, "services", service, "environment", name)
	}
	for _, c := range []struct {
		service, config string
		re              *regexp.Regexp
	}{
		{"otelcol", otelcolConfigFile, reOtelcolEnv},
		{"loki", lokiConfigFile, reLokiEnv},
	} {
		want := configEnv(t, c.config, c.re)
		set, _ := get(compose, "services", c.service, "environment").(map[string]any)
		for _, name := range want {
			if str(set, name) == "" {
				t.Errorf("service %s: %s (read by %s) is not set", c.service, name, c.config)
			}
		}
		for name := range set {
			if !slices.Contains(want, name) {
				t.Errorf("service %s: %s is set but %s does not read it", c.service, name, c.config)
			}
		}
	}

	// Collector: listens on all interfaces inside the container, on the
	// published port; the demo sends its logs there.
	listen := env("otelcol", "SECAUDIT_OTELCOL_HTTP_ENDPOINT")
	if h, p, ok := strings.Cut(listen, ":"); !ok || h != "0.0.0.0" || !slices.Contains(containerPorts(t, compose, "otelcol"), p) {
		t.Errorf("otelcol OTLP endpoint %q: want 0.0.0.0 on a published port", listen)
	} else if got := env("demo", "OTEL_EXPORTER_OTLP_ENDPOINT"); got != "http://otelcol:"+p {
		t.Errorf("demo OTEL_EXPORTER_OTLP_ENDPOINT %q, want http://otelcol:%s", got, p)
	}
	for _, name := range []string{"SECAUDIT_OTELCOL_LOGS_FILE", "SECAUDIT_OTELCOL_TRACES_FILE"} {
		if f := env("otelcol", name); !path.IsAbs(f) || !underTmpfs(compose, "otelcol", f) {
			t.Errorf("otelcol %s %q: want an absolute path on the service's tmpfs (the image has no writable working directory)", name, f)
		}
	}

	// Loki: all interfaces, the published HTTP port, data on its tmpfs; the
	// Collector and Grafana reach it by service name.
	lokiPort := env("loki", "SECAUDIT_LOKI_HTTP_PORT")
	if env("loki", "SECAUDIT_LOKI_LISTEN_ADDRESS") != "0.0.0.0" || !slices.Contains(containerPorts(t, compose, "loki"), lokiPort) {
		t.Errorf("loki listens on %q port %q: want 0.0.0.0 on a published port",
			env("loki", "SECAUDIT_LOKI_LISTEN_ADDRESS"), lokiPort)
	}
	if d := env("loki", "SECAUDIT_LOKI_DATA_DIR"); !underTmpfs(compose, "loki", d) {
		t.Errorf("loki data dir %q is not on the service's tmpfs", d)
	}
	if got := env("otelcol", "SECAUDIT_LOKI_OTLP_ENDPOINT"); got != "http://loki:"+lokiPort+"/otlp" {
		t.Errorf("otelcol SECAUDIT_LOKI_OTLP_ENDPOINT %q, want http://loki:%s/otlp", got, lokiPort)
	}
	ds := readYAML(t, datasourcesFile)
	if h, p := hostPort(t, str(datasourceByUID(t, ds, lokiUID), "url")); h != "loki" || p != lokiPort {
		t.Errorf("Loki data source points at %s:%s, want loki:%s", h, p, lokiPort)
	}

	// Tempo: the demo sends spans to its OTLP receiver; Grafana queries it.
	tempo := readYAML(t, tempoConfigFile)
	recv := str(tempo, "distributor", "receivers", "otlp", "protocols", "http", "endpoint")
	h, tracesPort, ok := strings.Cut(recv, ":")
	if !ok || h != "0.0.0.0" {
		t.Errorf("tempo OTLP/HTTP receiver %q: want 0.0.0.0:PORT (Tempo defaults to localhost)", recv)
	}
	if got := env("demo", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); got != "http://tempo:"+tracesPort+"/v1/traces" {
		t.Errorf("demo OTEL_EXPORTER_OTLP_TRACES_ENDPOINT %q, want http://tempo:%s/v1/traces", got, tracesPort)
	}
	tempoHTTP := str(tempo, "server", "http_listen_port")
	if h, p := hostPort(t, str(datasourceByUID(t, ds, tempoUID), "url")); h != "tempo" || p != tempoHTTP {
		t.Errorf("Tempo data source points at %s:%s, want tempo:%s", h, p, tempoHTTP)
	}
	for _, dir := range []string{str(tempo, "storage", "trace", "wal", "path"), str(tempo, "storage", "trace", "local", "path")} {
		if !underTmpfs(compose, "tempo", dir) {
			t.Errorf("tempo storage path %q is not on the service's tmpfs", dir)
		}
	}
}

// underTmpfs reports whether file lies in one of the service's tmpfs mounts.
func underTmpfs(compose map[string]any, service, file string) bool {
	for _, m := range list(compose, "services", service, "tmpfs") {
		dir, _, _ := strings.Cut(str(m), ":")
		if file == dir || strings.HasPrefix(file, strings.TrimSuffix(dir, "/")+"/") {
			return true
		}
	}
	return false
}

// TestComposeVersions pins the Collector and Loki images to the versions CI
// builds from source, and checks the demo and Grafana services.
func TestComposeVersions(t *testing.T) {
	compose := readYAML(t, composeFile)
	tag := func(service string) string {
		img := str(compose, "services", service, "image")
		return img[strings.LastIndex(img, ":")+1:]
	}
	builder := readYAML(t, otelcolBuilderFile)
	if v := str(builder, "dist", "version"); v == "" || tag("otelcol") != v {
		t.Errorf("otelcol image tag %q, want the builder's version %q", tag("otelcol"), v)
	}
	gomod, err := os.ReadFile(lokiGoModFile)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?github\.com/grafana/loki/v3 v([0-9.]+)\b`).FindSubmatch(gomod)
	if m == nil || tag("loki") != string(m[1]) {
		t.Errorf("loki image tag %q, want the version in %s (%q)", tag("loki"), lokiGoModFile, m)
	}

	demo := get(compose, "services", "demo")
	df := str(demo, "build", "dockerfile_inline")
	for _, want := range []string{"FROM golang:1.26", "go build", "./examples/demo"} {
		if !strings.Contains(df, want) {
			t.Errorf("demo dockerfile_inline lacks %q", want)
		}
	}
	if str(demo, "build", "context") != "." {
		t.Errorf("demo build context %q, want the repository root", str(demo, "build", "context"))
	}
	cmd := list(demo, "command")
	if i := slices.Index(cmd, any("-addr")); i < 0 || i+1 >= len(cmd) || str(cmd[i+1]) != "0.0.0.0:8080" {
		t.Errorf("demo command %v: want -addr 0.0.0.0:8080", cmd)
	}
	if !slices.Contains(containerPorts(t, compose, "demo"), "8080") {
		t.Error("demo port 8080 is not published")
	}
	for name, want := range map[string]string{
		"OTEL_LOGS_EXPORTER": "otlp",
		"OTEL_SERVICE_NAME":  "secaudit-demo",
	} {
		if got := str(demo, "environment", name); got != want {
			t.Errorf("demo %s = %q, want %q", name, got, want)
		}
	}
	for name, want := range map[string]string{
		"GF_AUTH_ANONYMOUS_ENABLED":  "true",
		"GF_AUTH_ANONYMOUS_ORG_ROLE": "Admin",
	} {
		if got := str(compose, "services", "grafana", "environment", name); got != want {
			t.Errorf("grafana %s = %q, want %q", name, got, want)
		}
	}
}
