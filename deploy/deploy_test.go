// Package deploy holds the files that run faka outside `go run`: the
// systemd unit, nginx's configuration for compose.yaml. Its tests check
// them, the Dockerfile and compose.yaml at the repository's root, and the
// static release build.
package deploy

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// goTool is the go command that runs this test.
func goTool(t *testing.T) string {
	t.Helper()
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("no go command to build the release binary with")
	}
	return p
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestReleaseBinaryIsStatic builds faka as make release and the Dockerfile
// do (CGO_ENABLED=0, -trimpath, version by -ldflags), checks with
// debug/elf that it needs no dynamic loader or library, and runs its
// version command.
func TestReleaseBinaryIsStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary: not in -short mode")
	}
	bin := filepath.Join(t.TempDir(), "faka")
	cmd := exec.Command(goTool(t), "build", "-trimpath", "-tags", "timetzdata", "-ldflags", "-s -w -X main.version=v9.9.9-test -X main.commit=abc123 -X main.date=2026-01-02T03:04:05Z",
		"-o", bin, "../cmd/faka")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has a %v program header: it is not static", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs %v", libs)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "faka v9.9.9-test commit abc123 built 2026-01-02T03:04:05Z") {
		t.Fatalf("faka version: %v %q", err, out)
	}
	if info, err := os.Stat(bin); err == nil {
		t.Logf("static binary: %.1f MB", float64(info.Size())/1e6)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(readFile(t, bin)), root+string(filepath.Separator)) {
		t.Errorf("the binary holds the build path %s: -trimpath did not apply", root)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestComposeFile checks compose.yaml: PostgreSQL, Redis, two faka
// instances sharing one database, one Redis and one master key, and nginx
// in front of both.
func TestComposeFile(t *testing.T) {
	t.Parallel()
	var c struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       any               `yaml:"build"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
			Ports       []string          `yaml:"ports"`
			DependsOn   map[string]any    `yaml:"depends_on"`
			Healthcheck map[string]any    `yaml:"healthcheck"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(readFile(t, "../compose.yaml"), &c); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"postgres", "redis", "faka1", "faka2", "nginx"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("compose.yaml has no service %s", name)
		}
	}
	if !strings.HasPrefix(c.Services["postgres"].Image, "postgres:") || !strings.HasPrefix(c.Services["redis"].Image, "redis:") ||
		!strings.HasPrefix(c.Services["nginx"].Image, "nginx:") {
		t.Errorf("images: %s %s %s", c.Services["postgres"].Image, c.Services["redis"].Image, c.Services["nginx"].Image)
	}
	f1, f2 := c.Services["faka1"], c.Services["faka2"]
	for _, f := range []struct {
		name string
		env  map[string]string
	}{{"faka1", f1.Environment}, {"faka2", f2.Environment}} {
		if !strings.HasPrefix(f.env["FAKA_DATABASE_URL"], "postgres://") || !strings.Contains(f.env["FAKA_DATABASE_URL"], "@postgres:5432/") {
			t.Errorf("%s FAKA_DATABASE_URL = %q", f.name, f.env["FAKA_DATABASE_URL"])
		}
		if !strings.HasPrefix(f.env["FAKA_REDIS_URL"], "redis://redis:") || f.env["FAKA_MASTER_KEY_FILE"] == "" ||
			!strings.HasPrefix(f.env["FAKA_ADDR"], "0.0.0.0:") || f.env["FAKA_TRUSTED_PROXIES"] == "" {
			t.Errorf("%s environment %v", f.name, f.env)
		}
	}
	if f1.Environment["FAKA_DATABASE_URL"] != f2.Environment["FAKA_DATABASE_URL"] ||
		f1.Environment["FAKA_MASTER_KEY_FILE"] != f2.Environment["FAKA_MASTER_KEY_FILE"] || !slices.Equal(f1.Volumes, f2.Volumes) {
		t.Error("the two instances do not share the database and the master key")
	}
	if f1.Build == nil || !slices.Equal(f1.Command, []string{"serve"}) {
		t.Errorf("faka1 build %v command %v", f1.Build, f1.Command)
	}
	for _, dep := range []string{"postgres", "redis"} {
		if _, ok := f1.DependsOn[dep]; !ok {
			t.Errorf("faka1 does not wait for %s", dep)
		}
	}
	ng := c.Services["nginx"]
	if len(ng.Ports) == 0 || !slices.ContainsFunc(ng.Volumes, func(v string) bool { return strings.HasPrefix(v, "./deploy/nginx.conf:") }) {
		t.Errorf("nginx ports %v volumes %v", ng.Ports, ng.Volumes)
	}
	conf := string(readFile(t, "nginx.conf"))
	for _, want := range []string{"server faka1:8080", "server faka2:8080", "proxy_pass http://faka", "X-Request-Id"} {
		if !strings.Contains(conf, want) {
			t.Errorf("deploy/nginx.conf lacks %q", want)
		}
	}
}

// unit reads a systemd unit file: section → key → values, in order.
func unit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", path, n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

// TestSystemdUnit checks deploy/faka.service: it runs faka serve without
// privileges, keeps the shop in its state directory, and hardens the
// service.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	u := unit(t, "faka.service")
	for _, s := range []string{"Unit", "Service", "Install"} {
		if u[s] == nil {
			t.Fatalf("no [%s] section", s)
		}
	}
	svc := u["Service"]
	one := func(k string) string {
		if len(svc[k]) != 1 {
			t.Errorf("[Service] %s = %v, want one value", k, svc[k])
			return ""
		}
		return svc[k][0]
	}
	if !strings.HasSuffix(one("ExecStart"), "/faka serve") || !strings.HasPrefix(one("ExecStart"), "/") {
		t.Errorf("ExecStart = %q", one("ExecStart"))
	}
	env := map[string]string{}
	for _, e := range svc["Environment"] {
		k, v, _ := strings.Cut(e, "=")
		env[k] = v
	}
	if env["FAKA_DATA_DIR"] != "/var/lib/"+one("StateDirectory") || env["FAKA_BACKUP_DIR"] == "" {
		t.Errorf("FAKA_DATA_DIR %q, StateDirectory %q, FAKA_BACKUP_DIR %q", env["FAKA_DATA_DIR"], one("StateDirectory"), env["FAKA_BACKUP_DIR"])
	}
	for k, want := range map[string]string{
		"DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
		"PrivateTmp": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": "", "RestrictSUIDSGID": "yes",
		"MemoryDenyWriteExecute": "yes", "UMask": "0077", "StateDirectoryMode": "0700", "Restart": "on-failure",
		"KillSignal": "SIGTERM",
	} {
		if got := one(k); got != want {
			t.Errorf("[Service] %s = %q, want %q", k, got, want)
		}
	}
	if !slices.Contains(svc["SystemCallFilter"], "@system-service") {
		t.Errorf("SystemCallFilter = %v", svc["SystemCallFilter"])
	}
	if got := u["Install"]["WantedBy"]; !slices.Equal(got, []string{"multi-user.target"}) {
		t.Errorf("WantedBy = %v", got)
	}
	// Where systemd is installed, it checks the unit too (with an
	// ExecStart that exists here).
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze is not installed: the unit was checked by this test only")
		return
	}
	copyPath := filepath.Join(t.TempDir(), "faka.service")
	text := strings.Replace(string(readFile(t, "faka.service")), "ExecStart=/usr/local/bin/faka serve", "ExecStart=/bin/true serve", 1)
	if err := os.WriteFile(copyPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", copyPath).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestDockerfile checks the Dockerfile's shape: a build stage that makes
// the static, trimmed binary, and a final stage that runs it as a
// non-root user with /data as a volume and faka's own health check.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	var froms []string
	var final []string // the instructions of the last stage
	for _, line := range strings.Split(string(readFile(t, "../Dockerfile")), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "FROM ") {
			froms = append(froms, line)
			final = nil
		}
		final = append(final, line)
	}
	if len(froms) < 2 {
		t.Fatalf("not a multi-stage build: %v", froms)
	}
	all := string(readFile(t, "../Dockerfile"))
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version="} {
		if !strings.Contains(all, want) {
			t.Errorf("the build does not use %s", want)
		}
	}
	has := func(prefix string) string {
		for _, l := range final {
			if strings.HasPrefix(l, prefix) {
				return l
			}
		}
		t.Errorf("the final stage has no %s", prefix)
		return ""
	}
	if user := strings.Fields(has("USER ")); len(user) < 2 || strings.HasPrefix(user[1], "0") || strings.HasPrefix(user[1], "root") {
		t.Errorf("USER %v runs as root", user)
	}
	if v := has("VOLUME "); !strings.Contains(v, "/data") {
		t.Errorf("%s", v)
	}
	if h := has("HEALTHCHECK "); !strings.Contains(h, `"/faka", "healthcheck"`) {
		t.Errorf("%s", h)
	}
	if e := has("ENV "); !strings.Contains(all, "FAKA_DATA_DIR=/data") {
		t.Errorf("%s", e)
	}
}
