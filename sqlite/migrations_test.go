package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"
)

// TestMigrationsDownAndUp checks that every migration can be undone and
// applied again on a database that holds data.
func TestMigrationsDownAndUp(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "faka.db")
	st, err := Open(ctx, path, Options{Synchronous: "OFF"})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectSQLite3, db, migrationsFS())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO products (name, price, currency, delivery, reservation_ttl_ms,
		min_quantity, max_quantity, created_at) VALUES ('p', 1, 'CNY', 'card', 1000, 1, 1, 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 1); err != nil {
		t.Fatalf("down to 1: %v", err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	var display string
	if err := db.QueryRowContext(ctx, `SELECT stock_display FROM products`).Scan(&display); err != nil || display != "exact" {
		t.Fatalf("stock_display after up: %q %v", display, err)
	}
}
