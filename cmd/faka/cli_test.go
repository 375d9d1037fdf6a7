package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runIn runs the faka command line with env and returns the exit status,
// stdout and stderr.
func runIn(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestHelpAtEveryLevel checks that help exits 0 on every level, that the
// top level lists every command, and that each command shows only its own
// flags.
func TestHelpAtEveryLevel(t *testing.T) {
	t.Parallel()
	env := map[string]string{}
	for _, args := range [][]string{{"--help"}, {"help"}, {"-h"}} {
		code, out, _ := runIn(t, env, "", args...)
		if code != 0 {
			t.Fatalf("%v: exit %d", args, code)
		}
		for _, cmd := range []string{"serve", "migrate", "keys import", "reconcile", "admin create", "admin password", "backup", "restore", "healthcheck", "bench", "version"} {
			if !strings.Contains(out, "faka "+cmd) {
				t.Errorf("%v does not list faka %s:\n%s", args, cmd, out)
			}
		}
	}
	for _, tc := range []struct {
		args        []string
		want, avoid []string
	}{
		{[]string{"keys", "--help"}, []string{"faka keys import --product ID FILE"}, nil},
		{[]string{"admin", "--help"}, []string{"faka admin create", "faka admin password"}, nil},
		{[]string{"admin", "help"}, []string{"faka admin create"}, nil},
		{[]string{"serve", "-h"}, []string{"-addr", "-demo", "-poll-interval", "-data-dir", "-order-rate"}, nil},
		{[]string{"reconcile", "-h"}, []string{"-gateways", "-data-dir"}, []string{"-addr", "-order-rate", "-redis-url", "-public-url"}},
		{[]string{"migrate", "--help"}, []string{"-create", "-from"}, []string{"-addr", "-trusted-proxies"}},
		{[]string{"keys", "import", "-h"}, []string{"-product"}, []string{"-addr"}},
		{[]string{"admin", "create", "-h"}, []string{"-email"}, []string{"-addr", "-public-url"}},
		{[]string{"admin", "password", "-h"}, []string{"-email", "ends its sessions"}, []string{"-addr"}},
		{[]string{"backup", "-h"}, []string{"master key", "-data-dir"}, []string{"-addr"}},
		{[]string{"restore", "-h"}, []string{"empty"}, []string{"-addr"}},
	} {
		code, out, _ := runIn(t, env, "", tc.args...)
		if code != 0 {
			t.Errorf("%v: exit %d", tc.args, code)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v lacks %q:\n%s", tc.args, w, out)
			}
		}
		for _, a := range tc.avoid {
			if strings.Contains(out, a+" ") {
				t.Errorf("%v shows %q, another command's flag:\n%s", tc.args, a, out)
			}
		}
	}
	if code, _, errOut := runIn(t, env, "", "keys"); code != 2 || !strings.Contains(errOut, "keys import") {
		t.Errorf("faka keys: exit %d %s", code, errOut)
	}
	if code, _, errOut := runIn(t, env, "", "reconcile", "-nosuchflag"); code != 2 || !strings.Contains(errOut, "nosuchflag") {
		t.Errorf("a wrong flag: exit %d %s", code, errOut)
	}
}

// TestBenchHelpSaysEachDefaultOnce checks that no flag of faka bench shows
// two defaults.
func TestBenchHelpSaysEachDefaultOnce(t *testing.T) {
	t.Parallel()
	code, _, errOut := runIn(t, map[string]string{}, "", "bench", "-h")
	if code != 0 || !strings.Contains(errOut, "-upload") {
		t.Fatalf("bench -h: exit %d\n%s", code, errOut)
	}
	for _, line := range strings.Split(errOut, "\n") {
		if strings.Count(line, "default") > 1 {
			t.Errorf("doubled default: %s", line)
		}
	}
}

// TestVersion checks faka version and --version.
func TestVersion(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"version", "--version"} {
		code, out, _ := runIn(t, map[string]string{}, "", arg)
		if code != 0 || !regexp.MustCompile(`^faka \S+ .*\(go1\.\d+`).MatchString(out) {
			t.Errorf("%s: exit %d %q", arg, code, out)
		}
	}
}

// TestCommandsRefuseToCreateAShop checks that the commands that read a
// shop, run where there is none, say where they looked, exit 2 and create
// nothing — no database, no master key.
func TestCommandsRefuseToCreateAShop(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"FAKA_DATA_DIR": dir, "FAKA_ADMIN_PASSWORD": "a long enough password"}
	keys := filepath.Join(t.TempDir(), "keys.txt")
	if err := os.WriteFile(keys, []byte("K1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"reconcile"},
		{"reconcile", "-gateways"},
		{"migrate"},
		{"keys", "import", "--product", "1", keys},
		{"admin", "create", "--email", "a@example.com"},
		{"admin", "password", "--email", "a@example.com"},
		{"backup", filepath.Join(t.TempDir(), "out.db")},
	} {
		code, out, errOut := runIn(t, env, "", args...)
		if code != 2 || !strings.Contains(errOut, filepath.Join(dir, "faka.db")) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("%v created %s (%v)", args, dir, err)
		}
	}
	code, out, errOut := runIn(t, env, "", "migrate", "--create")
	if code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate --create: exit %d %s %s", code, out, errOut)
	}
	for _, name := range []string{"faka.db", "master.key"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("migrate --create made no %s: %v", name, err)
		}
	}
	if code, out, errOut := runIn(t, env, "", "reconcile"); code != 0 || !strings.Contains(out, "ok: every invariant holds") {
		t.Fatalf("reconcile of the new shop: exit %d %s %s", code, out, errOut)
	}
	if code, out, errOut := runIn(t, env, "", "migrate"); code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate of an existing shop: exit %d %s %s", code, out, errOut)
	}
}

// TestKeysImportReportsEachRejectedLine checks that faka keys import names
// each rejected line by number and reason and never echoes it, accepts a
// flag after the file, and exits 1 when nothing was imported.
func TestKeysImportReportsEachRejectedLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := testServer(t, dir)
	c := &client{t: t, base: m.URL(), http: http.DefaultClient}
	if status, b := c.do("POST", "/api/v1/products", []byte(`{"name":"P","price":100,"currency":"CNY"}`), c.admin()); status != 201 {
		t.Fatalf("%d %s", status, b)
	}
	m.Close()
	env := map[string]string{"FAKA_DATA_DIR": dir}
	file := func(content string) string {
		p := filepath.Join(t.TempDir(), "keys.txt")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	secretLong := "SECRET-" + strings.Repeat("x", 5000)
	mixed := file("GOOD-1\n" + secretLong + "\nBAD\x01CTRL\n\nGOOD-2\nGOOD-1\n\xff\xfe\n")
	code, out, errOut := runIn(t, env, "", "keys", "import", mixed, "--product", "1")
	if code != 0 || !strings.Contains(out, "imported 2, duplicates 1, rejected 3") {
		t.Fatalf("mixed file, flag after it: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"line 2 rejected: longer than 4096 bytes", "line 3 rejected: holds a control character", "line 7 rejected: not valid UTF-8"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut+out, "SECRET") || strings.Contains(errOut+out, "CTRL") {
		t.Errorf("a rejected line was echoed:\n%s%s", out, errOut)
	}
	code, out, errOut = runIn(t, env, "", "keys", "import", "--product", "1", file("BAD\x02\n"))
	if code != 1 || !strings.Contains(errOut, "line 1 rejected") || !strings.Contains(errOut, "no key imported") {
		t.Fatalf("nothing imported: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runIn(t, env, "GOOD-3\n", "keys", "import", "-", "--product", "1", "extra"); code != 2 || !strings.Contains(errOut, "usage") {
		t.Fatalf("two files: exit %d %s", code, errOut)
	}
	if code, out, errOut := runIn(t, env, "GOOD-3\n", "keys", "import", "-", "-product=1"); code != 0 || !strings.Contains(out, "imported 1") {
		t.Fatalf("stdin: exit %d %s %s", code, out, errOut)
	}
}

// TestHealthcheck checks faka healthcheck against a running server and a
// port where none listens.
func TestHealthcheck(t *testing.T) {
	t.Parallel()
	m := testServer(t, t.TempDir())
	defer m.Close()
	env := map[string]string{"FAKA_ADDR": strings.TrimPrefix(m.URL(), "http://")}
	if code, out, errOut := runIn(t, env, "", "healthcheck"); code != 0 || !strings.Contains(out, `"status":"ready"`) {
		t.Fatalf("a ready server: exit %d %s %s", code, out, errOut)
	}
	m.Close()
	if code, _, errOut := runIn(t, env, "", "healthcheck"); code != 1 || !strings.Contains(errOut, "healthcheck") {
		t.Fatalf("no server: exit %d %s", code, errOut)
	}
	for addr, want := range map[string]string{
		"0.0.0.0:8080": "http://127.0.0.1:8080/readyz", ":9000": "http://127.0.0.1:9000/readyz",
		"[::]:80": "http://127.0.0.1:80/readyz", "10.0.0.5:8080": "http://10.0.0.5:8080/readyz", "": "http://127.0.0.1:8080/readyz",
	} {
		if got := readyURL(addr); got != want {
			t.Errorf("readyURL(%q) = %q, want %q", addr, got, want)
		}
	}
}
