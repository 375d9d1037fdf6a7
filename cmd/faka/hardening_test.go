package main

import (
	"context"
	"io"
	"log/slog"
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
