package main

import (
	"context"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// open starts the real program with env (plus a fresh data directory and
// a free port) and returns what Open said; a started server is closed.
func open(t *testing.T, env map[string]string) error {
	t.Helper()
	full := map[string]string{"FAKA_ADDR": "127.0.0.1:0", "FAKA_DATA_DIR": t.TempDir()}
	for k, v := range env {
		full[k] = v
	}
	c, _, err := parse("serve", nil, func(k string) string { return full[k] }, nil)
	if err != nil {
		return err
	}
	m := &Main{Config: *c, Logger: slog.New(slog.DiscardHandler), Out: io.Discard}
	err = m.Open(context.Background())
	m.Close()
	return err
}

// M1: a public (https) shop with the sandbox on does not start unless the
// merchant says it is only for testing.
func TestSandboxRefusedOnHTTPS(t *testing.T) {
	t.Parallel()
	env := map[string]string{"FAKA_SANDBOX_SECRET": "a-sandbox-secret", "FAKA_PUBLIC_URL": "https://shop.example"}
	err := open(t, env)
	if err == nil || !strings.Contains(err.Error(), "FAKA_SANDBOX_ALLOW_HTTPS=1") || !strings.Contains(err.Error(), "sandbox") {
		t.Fatalf("sandbox on an https shop: %v, want a refusal naming FAKA_SANDBOX_ALLOW_HTTPS", err)
	}
	env["FAKA_SANDBOX_ALLOW_HTTPS"] = "1"
	if err := open(t, env); err != nil {
		t.Fatalf("sandbox allowed on https: %v", err)
	}
	if err := open(t, map[string]string{"FAKA_SANDBOX_SECRET": "a-sandbox-secret"}); err != nil {
		t.Fatalf("sandbox on the http demo URL: %v", err)
	}
	if err := open(t, map[string]string{"FAKA_PUBLIC_URL": "https://shop.example"}); err != nil {
		t.Fatalf("https without the sandbox: %v", err)
	}
}

// L5: a short admin token is refused at start, naming the variable.
func TestShortAdminTokenRefused(t *testing.T) {
	t.Parallel()
	err := open(t, map[string]string{"FAKA_ADMIN_TOKEN": "short-tok"})
	if err == nil || !strings.Contains(err.Error(), "FAKA_ADMIN_TOKEN") || !strings.Contains(err.Error(), "at least 32") {
		t.Fatalf("a 9-character admin token: %v, want a refusal", err)
	}
	if err := open(t, map[string]string{"FAKA_ADMIN_TOKEN": strings.Repeat("k", 32)}); err != nil {
		t.Fatalf("a 32-character admin token: %v", err)
	}
}

// One master key per database: two instances on one PostgreSQL, each
// with its own data directory (so each generates its own master key). The
// second refuses to start, naming the mismatch; the first starts again.
func TestMasterKeyMismatchOnPostgres(t *testing.T) {
	t.Parallel()
	s, err := createBenchSchema(t.Context(), benchDatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.drop(context.Background(), nil); err != nil {
			t.Error(err)
		}
	})
	first := map[string]string{"FAKA_DATABASE_URL": s.ServerURL, "FAKA_DATA_DIR": t.TempDir()}
	if err := open(t, first); err != nil {
		t.Fatalf("first instance: %v", err)
	}
	second := map[string]string{"FAKA_DATABASE_URL": s.ServerURL, "FAKA_DATA_DIR": t.TempDir()}
	err = open(t, second)
	if err == nil || !strings.Contains(err.Error(), "master key mismatch") || !strings.Contains(err.Error(), "copy the master key file") {
		t.Fatalf("second instance with another master key: %v, want a refusal naming the mismatch", err)
	}
	if err := open(t, first); err != nil {
		t.Fatalf("first instance again: %v", err)
	}
}

// The same on the embedded database: a replaced master.key is refused.
func TestMasterKeyMismatchOnSQLite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"FAKA_DATA_DIR": dir}
	if err := open(t, env); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "master.key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := open(t, env); err == nil || !strings.Contains(err.Error(), "master key mismatch") {
		t.Fatalf("a replaced master key: %v, want a refusal", err)
	}
}

// H1: serve sets a soft memory limit unless GOMEMLIMIT chose one.
func TestDefaultMemoryLimit(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	debug.SetMemoryLimit(math.MaxInt64)
	setMemoryLimit(func(string) string { return "" }, slog.New(slog.DiscardHandler))
	if got := debug.SetMemoryLimit(-1); got != defaultMemoryLimit {
		t.Fatalf("memory limit %d without GOMEMLIMIT, want %d", got, defaultMemoryLimit)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	setMemoryLimit(func(k string) string { return map[string]string{"GOMEMLIMIT": "1GiB"}[k] }, slog.New(slog.DiscardHandler))
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("memory limit %d with GOMEMLIMIT set, want the runtime's own", got)
	}
}
