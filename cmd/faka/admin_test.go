package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faka-dev/faka/password"
	"github.com/faka-dev/faka/sqlite"
)

func TestAdminCreate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"FAKA_DATA_DIR": dir}
	getenv := func(k string) string { return env[k] }
	admin := func(stdin string, args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"admin"}, args...), getenv, strings.NewReader(stdin), &out, &errOut)
		return code, out.String() + errOut.String()
	}

	if code, out := admin("correct horse battery\n", "create", "--email", "Owner@Example.COM"); code != 2 ||
		!strings.Contains(out, "no shop database at "+filepath.Join(dir, "faka.db")) {
		t.Fatalf("create without a shop: %d %s", code, out)
	}
	if code, out := admin("", "password", "--email", "nobody@example.com"); code != 2 {
		t.Fatalf("password without a shop: %d %s", code, out)
	}
	if code := run(context.Background(), []string{"migrate", "--create"}, getenv, nil, io.Discard, io.Discard); code != 0 {
		t.Fatalf("migrate --create: exit %d", code)
	}
	if code, out := admin("correct horse battery\n", "create", "--email", "Owner@Example.COM"); code != 0 ||
		!strings.Contains(out, "created console account 1 for owner@example.com") {
		t.Fatalf("create from stdin: %d %s", code, out)
	}
	if code, out := admin("another good password\n", "create", "--email", "owner@example.com"); code == 0 ||
		!strings.Contains(out, "already exists") {
		t.Fatalf("create twice: %d %s", code, out)
	}
	if code, out := admin("short\n", "create", "--email", "b@example.com"); code == 0 || !strings.Contains(out, "at least") {
		t.Fatalf("short password: %d %s", code, out)
	}
	if code, out := admin("", "create", "--email", "b@example.com"); code == 0 || !strings.Contains(out, "no password") {
		t.Fatalf("no password: %d %s", code, out)
	}
	if code, out := admin("x", "create", "--email", "not an email"); code == 0 || !strings.Contains(out, "--email") {
		t.Fatalf("bad email: %d %s", code, out)
	}
	if code, out := admin("", "create", "--email", "b@example.com", "--password", "x"); code == 0 || !strings.Contains(out, "password") {
		t.Fatalf("a --password flag must not exist: %d %s", code, out)
	}
	env["FAKA_ADMIN_PASSWORD"] = "from the environment"
	if code, out := admin("", "password", "--email", "nobody@example.com"); code != 1 ||
		!strings.Contains(out, "no console account for nobody@example.com") || strings.Contains(out, "sql:") {
		t.Fatalf("password of an unknown account: %d %s", code, out)
	}
	if code, out := admin("", "password", "--email", "owner@example.com"); code != 0 || !strings.Contains(out, "changed") {
		t.Fatalf("password from the environment: %d %s", code, out)
	}

	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "faka.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, err := st.AdminByEmail(context.Background(), "owner@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := password.Verify("from the environment", a.PasswordHash); err != nil {
		t.Fatalf("stored password: %v", err)
	}
	if !strings.HasPrefix(a.PasswordHash, "$argon2id$v=19$m=47104,t=1,p=1$") {
		t.Fatalf("hash %q", a.PasswordHash)
	}
}
