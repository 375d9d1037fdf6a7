package bench

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestBaselinesSellExactlyTheirStock drops on each baseline through HTTP
// and checks that it sells every unit once and no more: a baseline that
// oversold would make every ratio meaningless. The Redis baseline runs
// only where a Redis answers on 127.0.0.1:6379.
func TestBaselinesSellExactlyTheirStock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "baselines.db")
	var bls []baseline
	for _, name := range []string{"pessimistic", "pessimistic-pool", "rowlock"} {
		conns := 1
		if name == "pessimistic-pool" {
			conns = 4
		}
		db, err := openBaselineDB(ctx, path, conns)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		bls = append(bls, &sqlBaseline{db: db, label: name, counter: name != "rowlock", conns: conns})
	}
	if rb, err := openRedisBaseline(ctx, "127.0.0.1:6379", 8); err == nil {
		t.Cleanup(func() { rb.close() })
		bls = append(bls, rb)
	} else {
		t.Logf("Redis baseline not tested: %v", err)
	}
	const keys, attempts, c = 40, 200, 8
	for _, b := range bls {
		d, over, err := runBaseline(ctx, b, keys, attempts, c, nil, io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", b.name(), err)
		}
		if d.Accepted != keys || d.SoldOut != attempts-keys || d.Failed != 0 || over != 0 || len(d.Errors) != 0 {
			t.Errorf("%s: %d accepted, %d sold out, %d failed, %d oversold, errors %v; want %d, %d, 0, 0",
				b.name(), d.Accepted, d.SoldOut, d.Failed, over, d.Errors, keys, attempts-keys)
		}
		seen := map[string]bool{}
		for _, o := range d.Orders {
			if seen[o.OrderNo] || o.Quantity != 1 || o.Status != "pending" {
				t.Errorf("%s: order %+v repeated or malformed", b.name(), o)
			}
			seen[o.OrderNo] = true
		}
	}
	d, _, err := runBaseline(ctx, floorBaseline{}, keys, 50, c, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if d.SoldOut != 50 || d.Accepted != 0 {
		t.Errorf("floor: %d sold out, %d accepted; want 50, 0", d.SoldOut, d.Accepted)
	}
}

// TestPostgresBaselinesSellExactlyTheirStock is the same check for
// baselines (a) and (b) on PostgreSQL, which then drop their schema. It
// runs where FAKA_TEST_DATABASE_URL names a database (FAKA_REQUIRE_POSTGRES=1
// makes its absence a failure).
func TestPostgresBaselinesSellExactlyTheirStock(t *testing.T) {
	t.Parallel()
	url := os.Getenv("FAKA_TEST_DATABASE_URL")
	if url == "" {
		if os.Getenv("FAKA_REQUIRE_POSTGRES") == "1" {
			t.Fatal("FAKA_REQUIRE_POSTGRES=1 but FAKA_TEST_DATABASE_URL is not set")
		}
		t.Skip("FAKA_TEST_DATABASE_URL is not set")
	}
	ctx := context.Background()
	db, err := openPGBaselines(ctx, url, 4)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			db.close()
		}
	})
	const keys, attempts, c = 40, 200, 8
	for _, b := range []baseline{&pgBaseline{db: db, label: "pessimistic", counter: true}, &pgBaseline{db: db, label: "rowlock"}} {
		d, over, err := runBaseline(ctx, b, keys, attempts, c, nil, io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", b.name(), err)
		}
		if d.Accepted != keys || d.SoldOut != attempts-keys || d.Failed != 0 || over != 0 || len(d.Errors) != 0 {
			t.Errorf("%s: %d accepted, %d sold out, %d failed, %d oversold, errors %v; want %d, %d, 0, 0",
				b.name(), d.Accepted, d.SoldOut, d.Failed, over, d.Errors, keys, attempts-keys)
		}
	}
	if err := db.close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, db.schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("schema %s is still there after close", db.schema)
	}
}
