package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestPostgresShopMustExist checks requireShop on PostgreSQL: in a schema
// without faka's tables, reconcile and migrate say there is no shop and
// create nothing; migrate --create makes one, which reconcile then checks.
func TestPostgresShopMustExist(t *testing.T) {
	base := benchDatabaseURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "faka_cli_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	env := map[string]string{"FAKA_DATABASE_URL": u.String(), "FAKA_DATA_DIR": t.TempDir()}
	tables := func() int {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1`, schema).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, args := range [][]string{{"reconcile"}, {"migrate"}, {"admin", "create", "--email", "a@example.com"}} {
		code, _, errOut := runIn(t, env, "a long enough password\n", args...)
		if code != 2 || !strings.Contains(errOut, "no shop in the database") || strings.Contains(errOut, "postgres@") {
			t.Errorf("%v: exit %d %s", args, code, errOut)
		}
		if n := tables(); n != 0 {
			t.Fatalf("%v created %d tables", args, n)
		}
	}
	if code, out, errOut := runIn(t, env, "", "migrate", "--create"); code != 0 || tables() == 0 {
		t.Fatalf("migrate --create: exit %d %s %s", code, out, errOut)
	}
	if code, out, errOut := runIn(t, env, "", "reconcile"); code != 0 || !strings.Contains(out, "every invariant holds") {
		t.Fatalf("reconcile: exit %d %s %s", code, out, errOut)
	}
}
