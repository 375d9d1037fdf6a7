package postgres_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
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
	if err := st.ProductCreate(ctx, p, nil, 0, nil); err != nil {
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
	if err := st.ProductCreate(ctx, p, nil, 0, nil); err != nil {
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

// TestSalesByDayBoundaries pins the day arithmetic where the two stores'
// clocks differ: PostgreSQL keeps microseconds, SQLite milliseconds. A
// day starts at `from` cut to the millisecond and includes that instant.
func TestSalesByDayBoundaries(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := openShop(t)
	p := &faka.Product{Name: "counted", Price: 100, Currency: "CNY", Delivery: faka.DeliveryManual,
		ReservationTTL: time.Hour, MinQuantity: 1, MaxQuantity: 1, Active: true}
	if err := st.ProductCreate(ctx, p, nil, 10, nil); err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(1500 * time.Microsecond) // cut to …001ms
	cut := from.Truncate(time.Millisecond)
	// created, paid (zero: unpaid), currency
	placed := []struct {
		created, paid time.Time
		currency      string
	}{
		{cut.Add(-time.Microsecond), time.Time{}, "CNY"},             // before the first day
		{cut, cut.Add(time.Minute), "CNY"},                           // first instant of day 0
		{cut.Add(day - time.Microsecond), cut.Add(day), "CNY"},       // last instant of day 0, paid on day 1
		{cut.Add(day), time.Time{}, "USD"},                           // first instant of day 1
		{cut.Add(2*day - time.Microsecond), cut.Add(2 * day), "USD"}, // last instant of day 1, paid after it
	}
	params := make([]faka.ReserveParams, len(placed))
	for i, o := range placed {
		params[i] = faka.ReserveParams{OrderNo: fmt.Sprintf("B%d", i), TokenHash: []byte{byte(i)}, Quantity: 1,
			UnitPrice: 100, Amount: 100, Currency: o.currency, Email: "b@example.com", Gateway: "sandbox", TTL: time.Hour}
	}
	outs, err := (engine.Rules{Store: st}).ReserveBatch(ctx, p.ID, params)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range placed {
		if outs[i].Err != nil {
			t.Fatal(outs[i].Err)
		}
		var paid *time.Time
		status := faka.StatusPending
		if !o.paid.IsZero() {
			paid, status = &o.paid, faka.StatusPaid
		}
		if _, err := st.Pool().Exec(ctx, `UPDATE orders SET created_at = $1, paid_at = $2, status = $3 WHERE id = $4`,
			o.created, paid, status, outs[i].Order.ID); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.SalesByDay(ctx, from, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []faka.SalesDay{
		{Start: cut, Currency: "CNY", Created: 2, CreatedPaid: 2, Paid: 1, Revenue: 100},
		{Start: cut.Add(day), Currency: "CNY", Paid: 1, Revenue: 100},
		{Start: cut.Add(day), Currency: "USD", Created: 2, CreatedPaid: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("SalesByDay: %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.Start.Equal(w.Start) || g.Currency != w.Currency || g.Created != w.Created || g.CreatedPaid != w.CreatedPaid ||
			g.Paid != w.Paid || g.Revenue != w.Revenue {
			t.Errorf("day %d: %+v, want %+v", i, g, w)
		}
	}
}

const day = 24 * time.Hour
