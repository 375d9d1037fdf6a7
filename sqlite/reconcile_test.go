package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/keyring"
	"github.com/faka-dev/faka/sqlite"
)

// fixture is a store with one card product (3 keys, one pending order of 1
// and one delivered order of 1) and one reusable product with a pending
// order, plus a raw handle for corrupting it on purpose.
type fixture struct {
	st                 *sqlite.Store
	raw                *sql.DB
	card, reusable     int64
	pending, delivered string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "faka.db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	kr, _ := keyring.New(bytes.Repeat([]byte{3}, keyring.MasterKeySize))

	card := &faka.Product{Name: "c", Price: 100, Currency: "CNY", Delivery: faka.DeliveryCard,
		ReservationTTL: time.Minute, MinQuantity: 1, MaxQuantity: 5, Active: true}
	if err := st.ProductCreate(ctx, card, nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	var keys []faka.SealedKey
	for _, k := range []string{"K1", "K2", "K3"} {
		keys = append(keys, kr.SealCard(card.ID, k))
	}
	if _, err := (engine.Rules{Store: st}).KeysImport(ctx, card.ID, keys); err != nil {
		t.Fatal(err)
	}
	sk := kr.SealReusable("R")
	reusable := &faka.Product{Name: "r", Price: 100, Currency: "CNY", Delivery: faka.DeliveryReusable,
		ReservationTTL: time.Minute, MinQuantity: 1, MaxQuantity: 5, Active: true}
	if err := st.ProductCreate(ctx, reusable, &sk, 10, nil); err != nil {
		t.Fatal(err)
	}
	reserve := func(pid int64, no string) *faka.Order {
		outs, err := (engine.Rules{Store: st}).ReserveBatch(ctx, pid, []faka.ReserveParams{{OrderNo: no, TokenHash: []byte("h"), Quantity: 1,
			UnitPrice: 100, Amount: 100, Currency: "CNY", Email: "a@example.com", Gateway: "sandbox", TTL: time.Minute}})
		if err != nil || outs[0].Err != nil {
			t.Fatalf("reserve: %v %v", err, outs)
		}
		return outs[0].Order
	}
	reserve(card.ID, "P1")
	d := reserve(card.ID, "D1")
	if _, err := (engine.Rules{Store: st}).PaymentConfirm(ctx, faka.Notification{Gateway: "sandbox", OrderNo: d.OrderNo, TradeNo: "T",
		Amount: 100, Currency: "CNY"}); err != nil {
		t.Fatal(err)
	}
	reserve(reusable.ID, "RP")
	f := fixture{st: st, raw: raw, card: card.ID, reusable: reusable.ID, pending: "P1", delivered: "D1"}
	if rep := f.reconcile(t); !rep.OK {
		t.Fatalf("healthy fixture reported %+v", rep.Violations)
	}
	return f
}

func (f fixture) reconcile(t *testing.T) *faka.ReconcileReport {
	t.Helper()
	rep, err := f.st.Reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestReconcileFindsCorruption breaks each invariant behind the store's
// back and checks that reconciliation names it.
func TestReconcileFindsCorruption(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, stmt, code string
	}{
		{"reserved key sold without payment", `UPDATE card_keys SET state = 2 WHERE state = 1`, "sold_key_not_delivered"},
		{"delivered order lost a key", `UPDATE card_keys SET state = 3 WHERE state = 2`, "delivered_wrong_count"},
		{"pending order marked delivered", `UPDATE orders SET status = 'delivered' WHERE order_no = 'P1'`, "paid_without_payment"},
		{"key moved to another order", `UPDATE card_keys SET order_id = (SELECT id FROM orders WHERE order_no = 'D1') WHERE state = 1`, "pending_wrong_count"},
		{"ledger entry without a movement", `INSERT INTO ledger (product_id, event, d_available, d_reserved, d_sold, d_void, created_at)
			SELECT id, 'import', 1, 0, 0, 0, 0 FROM products WHERE delivery = 'card'`, "ledger_mismatch"},
		{"counted units reserved twice", `UPDATE products SET stock_reserved = stock_reserved + 1, stock_available = stock_available - 1
			WHERE delivery = 'reusable'`, "counted_reserved_mismatch"},
		{"reservation never swept", `UPDATE orders SET reserved_until = 0 WHERE order_no = 'P1'`, "reservation_overdue"},
		{"payment for an unpaid order", `INSERT INTO payments (gateway, trade_no, order_id, amount, currency, outcome, created_at)
			SELECT 'sandbox', 'X', id, 100, 'CNY', 'delivered', 0 FROM orders WHERE order_no = 'P1'`, "unpaid_with_payment"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			if _, err := f.raw.Exec(tc.stmt); err != nil {
				t.Fatal(err)
			}
			rep := f.reconcile(t)
			if rep.OK {
				t.Fatal("reconcile reported OK")
			}
			var codes []string
			for _, v := range rep.Violations {
				codes = append(codes, v.Code)
			}
			if !strings.Contains(strings.Join(codes, ","), tc.code) {
				t.Fatalf("violations %v do not include %s", codes, tc.code)
			}
		})
	}
}

// TestSchemaRefusesImpossibleStates checks the constraints that back the
// invariants even against a buggy writer.
func TestSchemaRefusesImpossibleStates(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	refused := map[string]string{
		"available key with an order": `UPDATE card_keys SET state = 0 WHERE state = 2`,
		"sold key without an order":   `UPDATE card_keys SET order_id = NULL WHERE state = 2`,
		"ledger rewritten":            `UPDATE ledger SET d_available = 0`,
		"ledger deleted":              `DELETE FROM ledger`,
		"second applied payment": `INSERT INTO payments (gateway, trade_no, order_id, amount, currency, outcome, created_at)
			SELECT 'other', 'Y', id, 100, 'CNY', 'delivered', 0 FROM orders WHERE order_no = 'D1'`,
		"same trade twice": `INSERT INTO payments (gateway, trade_no, order_id, amount, currency, outcome, created_at)
			SELECT 'sandbox', 'T', id, 100, 'CNY', 'extra', 0 FROM orders WHERE order_no = 'P1'`,
		"duplicate key": `INSERT INTO card_keys (product_id, hash, ciphertext, created_at)
			SELECT product_id, hash, ciphertext, 0 FROM card_keys LIMIT 1`,
		"negative counted stock": `UPDATE products SET stock_available = -1 WHERE delivery = 'reusable'`,
		"unbalanced ledger entry": `INSERT INTO ledger (product_id, event, d_available, d_reserved, d_sold, d_void, created_at)
			SELECT id, 'sell', 0, 0, 1, 0, 0 FROM products LIMIT 1`,
	}
	for name, stmt := range refused {
		if _, err := f.raw.Exec(stmt); err == nil {
			t.Errorf("%s: the schema allowed it", name)
		}
	}
	if rep := f.reconcile(t); !rep.OK {
		t.Fatalf("a refused statement changed something: %+v", rep.Violations)
	}
}
