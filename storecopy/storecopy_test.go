package storecopy_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/keyring"
	"github.com/faka-dev/faka/postgres"
	"github.com/faka-dev/faka/sqlite"
	"github.com/faka-dev/faka/storecopy"
)

func databaseURL(t *testing.T) string {
	url := os.Getenv("FAKA_TEST_DATABASE_URL")
	if url == "" {
		if os.Getenv("FAKA_REQUIRE_POSTGRES") == "1" {
			t.Fatal("FAKA_REQUIRE_POSTGRES=1 but FAKA_TEST_DATABASE_URL is not set")
		}
		t.Skip("FAKA_TEST_DATABASE_URL is not set; PostgreSQL tests skipped")
	}
	return url
}

func newEngine(t *testing.T, st faka.Store, kr *keyring.Keyring) *engine.Engine {
	e, err := engine.New(engine.Config{Store: st, Keyring: kr, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestCopySQLiteToPostgres fills a SQLite shop with every kind of row,
// copies it, and checks that the PostgreSQL shop reconciles to the same
// figures, shows the same keys, and keeps selling.
func TestCopySQLiteToPostgres(t *testing.T) {
	url := databaseURL(t)
	ctx := context.Background()
	kr, _ := keyring.New(bytes.Repeat([]byte{9}, keyring.MasterKeySize))
	path := filepath.Join(t.TempDir(), "faka.db")
	src, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, src, kr)
	card := &faka.Product{Name: "card", Price: 100, Currency: "CNY", Active: true, ReservationTTL: time.Hour}
	reusable := &faka.Product{Name: "shared", Price: 50, Currency: "USD", Active: true, Delivery: faka.DeliveryReusable,
		ReusableKey: "SHARED"}
	manual := &faka.Product{Name: "manual", Price: 70, Currency: "CNY", Active: false, Delivery: faka.DeliveryManual}
	for _, p := range []*faka.Product{card, reusable, manual} {
		if err := e.CreateProduct(ctx, p, map[bool]int64{true: 5}[p.Delivery.Counted()]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.ImportKeys(ctx, card.ID, strings.NewReader("A\nB\nC\nD\nE\n")); err != nil {
		t.Fatal(err)
	}
	buy := func(pid int64, idem string) *engine.Reservation {
		r, err := e.Reserve(ctx, engine.ReserveRequest{ProductID: pid, Quantity: 1, Email: "b@example.com",
			Gateway: "sandbox", IdempotencyKey: idem, RequestHash: []byte(idem), QueryPassword: "pw"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	pay := func(e *engine.Engine, o *faka.Order, trade string) {
		if _, err := e.ConfirmPayment(ctx, faka.Notification{Gateway: "sandbox", OrderNo: o.OrderNo, TradeNo: trade,
			Amount: o.Amount, Currency: o.Currency}); err != nil {
			t.Fatal(err)
		}
	}
	delivered := buy(card.ID, "k1")
	pay(e, delivered.Order, "T1")
	refunded := buy(card.ID, "")
	pay(e, refunded.Order, "T2")
	if _, err := e.RefundOrder(ctx, refunded.Order.OrderNo); err != nil {
		t.Fatal(err)
	}
	pending := buy(card.ID, "k2")
	cancelled := buy(card.ID, "")
	if _, err := e.CancelOrder(ctx, cancelled.Order.OrderNo); err != nil {
		t.Fatal(err)
	}
	shared := buy(reusable.ID, "")
	pay(e, shared.Order, "T3")
	before, err := e.Reconcile(ctx)
	if err != nil || !before.OK {
		t.Fatalf("source: %+v %v", before, err)
	}
	src.Close()

	b := make([]byte, 6)
	rand.Read(b)
	schema := "faka_copy_" + hex.EncodeToString(b)
	dst, err := postgres.Open(ctx, url, postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dst.Close()
		conn, err := pgx.Connect(context.Background(), url)
		if err == nil {
			conn.Exec(context.Background(), `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
			conn.Close(context.Background())
		}
	})
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rep, err := storecopy.Copy(ctx, raw, dst.Pool())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows["products"] != 3 || rep.Rows["card_keys"] != 5 || rep.Rows["payments"] != 3 || rep.Rows["idempotency_keys"] != 2 {
		t.Fatalf("copied %v", rep.Rows)
	}
	// A second copy into the same database is refused and changes nothing.
	if _, err := storecopy.Copy(ctx, raw, dst.Pool()); faka.ErrorCode(err) != faka.EConflict {
		t.Fatalf("second copy: %v", err)
	}

	pe := newEngine(t, dst, kr)
	after, err := pe.Reconcile(ctx)
	if err != nil || !after.OK {
		t.Fatalf("target: %+v %v", after, err)
	}
	if !reflect.DeepEqual(before.Products, after.Products) || !reflect.DeepEqual(before.Ledger, after.Ledger) {
		t.Fatalf("figures differ:\nsqlite   %+v\npostgres %+v", before.Products, after.Products)
	}
	o, err := pe.OrderForBuyer(ctx, delivered.Order.OrderNo, delivered.Token)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := pe.OrderKeys(ctx, o)
	if err != nil || len(keys) != 1 || keys[0] != "A" {
		t.Fatalf("keys on postgres: %v %v", keys, err)
	}
	if !pe.CheckQueryPassword(o, "pw") {
		t.Fatal("query password lost")
	}
	// The copied shop keeps working: the pending order is paid, a replayed
	// Idempotency-Key returns the copied order, a new order gets a new id.
	pay(pe, pending.Order, "T4")
	if o, _ := pe.Order(ctx, pending.Order.OrderNo); o.Status != faka.StatusDelivered {
		t.Fatalf("pending order after copy: %s", o.Status)
	}
	r, err := pe.Reserve(ctx, engine.ReserveRequest{ProductID: card.ID, Quantity: 1, Email: "b@example.com",
		Gateway: "sandbox", IdempotencyKey: "k1", RequestHash: []byte("k1")})
	if err != nil || !r.Replayed || r.Order.OrderNo != delivered.Order.OrderNo || r.Token != delivered.Token {
		t.Fatalf("replay after copy: %+v %v", r, err)
	}
	fresh, err := pe.Reserve(ctx, engine.ReserveRequest{ProductID: card.ID, Quantity: 1, Email: "n@example.com", Gateway: "sandbox"})
	if err != nil || fresh.Order.ID <= pending.Order.ID {
		t.Fatalf("new order after copy: %+v %v", fresh, err)
	}
	if rep, _ := pe.Reconcile(ctx); !rep.OK {
		t.Fatalf("after new activity: %+v", rep.Violations)
	}
}
