package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// TestStartSummary checks that faka serve logs the configuration in effect
// and, on an empty shop, the next step; and no next step once the shop has
// an account and a product.
func TestStartSummary(t *testing.T) {
	dir := t.TempDir()
	start := func(demo bool) string {
		env := map[string]string{"FAKA_ADDR": "127.0.0.1:0", "FAKA_DATA_DIR": dir, "FAKA_SANDBOX_SECRET": "s"}
		c, _, err := parse("serve", nil, func(k string) string { return env[k] }, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Demo = demo
		var logs bytes.Buffer
		m := &Main{Config: *c, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Out: &bytes.Buffer{}}
		if err := m.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		return logs.String()
	}
	logs := start(false)
	for _, want := range []string{"database=sqlite", "gate=local", "gateways=sandbox", "sandbox=true", "email=off", "backup=off", "next step: create a console account with `faka admin create"} {
		if !strings.Contains(logs, want) {
			t.Errorf("start-up log lacks %q:\n%s", want, logs)
		}
	}
	start(true) // the demo fills the shop
	if logs := start(false); strings.Contains(logs, "next step") {
		t.Errorf("a next step on a shop with an account and products:\n%s", logs)
	}
}
