package postgres_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/postgres"
	"github.com/faka-dev/faka/storetest"
)

func openShop(t *testing.T) *postgres.Store { return openPostgres(t).(*postgres.Store) }

func TestShopConformance(t *testing.T) {
	storetest.RunShop(t, func(t *testing.T) storetest.ShopDriver { return openShop(t) })
}

// TestKeyAuditAppendOnly checks the trigger that keeps the audit log from
// being rewritten, even by SQL that bypasses the store.
func TestKeyAuditAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := openShop(t)
	p := &faka.Product{Name: "audited", Price: 1, Currency: "CNY", Delivery: faka.DeliveryCard,
		ReservationTTL: time.Minute, MinQuantity: 1, MaxQuantity: 1}
	if err := st.ProductCreate(ctx, p, nil, 0); err != nil {
		t.Fatal(err)
	}
	a := &faka.KeyAudit{ProductID: p.ID, Action: faka.AuditExport}
	if err := st.KeyAuditAdd(ctx, a); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`UPDATE key_audit SET keys_shown = 5`, `DELETE FROM key_audit`} {
		if _, err := st.Pool().Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want the append-only error", q, err)
		}
	}
	if list, err := st.KeyAuditList(ctx, p.ID, 10); err != nil || len(list) != 1 || list[0].Count != 0 {
		t.Fatalf("audit after the attempts: %v %+v", err, list)
	}
}

// TestMigrationsDownAndUp checks that every migration can be undone and
// applied again on a database that holds data.
func TestMigrationsDownAndUp(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := openShop(t)
	p := &faka.Product{Name: "kept", Price: 1, Currency: "CNY", Delivery: faka.DeliveryCard,
		ReservationTTL: time.Minute, MinQuantity: 1, MaxQuantity: 1}
	if err := st.ProductCreate(ctx, p, nil, 0); err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDBFromPool(st.Pool())
	defer db.Close()
	prov, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS("migrations"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prov.DownTo(ctx, 1); err != nil {
		t.Fatalf("down to 1: %v", err)
	}
	if _, err := prov.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	shops, err := st.ProductShopList(ctx)
	if err != nil || len(shops) != 1 || shops[0].StockDisplay != faka.StockExact || shops[0].LowStock != faka.DefaultLowStock {
		t.Fatalf("presentation after up: %v %+v", err, shops)
	}
}
