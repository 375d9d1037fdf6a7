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
	"slices"
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

// openTarget opens a PostgreSQL store in a fresh schema, dropped when the
// test ends.
func openTarget(t *testing.T, url string) *postgres.Store {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "faka_copy_" + hex.EncodeToString(b)
	dst, err := postgres.Open(context.Background(), url, postgres.Options{Schema: schema})
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
	return dst
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
		if err := e.CreateProduct(ctx, p, map[bool]int64{true: 5}[p.Delivery.Counted()], nil); err != nil {
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

	// The storefront's and the console's rows (migration 00002).
	cat := &faka.Category{Name: "Games", Sort: 3}
	if err := src.CategoryCreate(ctx, cat); err != nil {
		t.Fatal(err)
	}
	presentation := faka.ProductShop{ProductID: card.ID, CategoryID: cat.ID, StockDisplay: faka.StockLevel, LowStock: 2}
	if err := src.ProductShopSet(ctx, presentation); err != nil {
		t.Fatal(err)
	}
	admin := &faka.Admin{Email: "Owner@Example.com", PasswordHash: "$argon2id$copied"}
	if err := src.AdminCreate(ctx, admin); err != nil {
		t.Fatal(err)
	}
	session := &faka.AdminSession{TokenHash: []byte("session-token-hash"), AdminID: admin.ID,
		ExpiresAt: time.Now().Add(time.Hour), IP: "192.0.2.9"}
	if err := src.SessionCreate(ctx, session); err != nil {
		t.Fatal(err)
	}
	lookup := []byte("lookup-token-hash")
	if err := src.LookupTokenAdd(ctx, lookup, delivered.Order.ID, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	srcKeys, err := src.KeyList(ctx, faka.KeyFilter{OrderID: delivered.Order.ID})
	if err != nil || len(srcKeys) != 1 {
		t.Fatalf("keys of the delivered order: %v %v", srcKeys, err)
	}
	audit := &faka.KeyAudit{ProductID: card.ID, KeyID: srcKeys[0].ID, AdminID: admin.ID, Action: faka.AuditReveal,
		Count: 1, IP: "192.0.2.9"}
	if err := src.KeyAuditAdd(ctx, audit); err != nil {
		t.Fatal(err)
	}
	// The payment poller's work list (migration 00004): the pending order
	// is claimed (the cancelled one's reservation still runs) and its
	// check failed.
	claimed, err := src.PaymentChecksClaim(ctx, faka.PaymentCheckClaim{Gateways: []string{"sandbox"},
		MaxAge: time.Hour, Lease: time.Minute, Limit: 10})
	if err != nil || len(claimed) != 1 || claimed[0].Order.ID != pending.Order.ID {
		t.Fatalf("claimed %d orders: %v", len(claimed), err)
	}
	if err := src.PaymentCheckSave(ctx, faka.PaymentCheckResult{OrderID: pending.Order.ID, After: time.Hour, Error: "gateway down"}); err != nil {
		t.Fatal(err)
	}
	var srcChecks []*faka.PaymentCheckState
	for _, id := range []int64{pending.Order.ID} {
		st, err := src.PaymentCheckGet(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		srcChecks = append(srcChecks, st)
	}
	src.Close()

	dst := openTarget(t, url)
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rep, err := storecopy.Copy(ctx, raw, dst.Pool())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows["products"] != 3 || rep.Rows["card_keys"] != 5 || rep.Rows["payments"] != 3 || rep.Rows["idempotency_keys"] != 2 ||
		rep.Rows["categories"] != 1 || rep.Rows["admins"] != 1 || rep.Rows["admin_sessions"] != 1 ||
		rep.Rows["lookup_tokens"] != 1 || rep.Rows["key_audit"] != 1 || rep.Rows["payment_checks"] != 1 {
		t.Fatalf("copied %v", rep.Rows)
	}
	// A second copy into the same database is refused and changes nothing.
	if _, err := storecopy.Copy(ctx, raw, dst.Pool()); faka.ErrorCode(err) != faka.EConflict {
		t.Fatalf("second copy: %v", err)
	}

	checkShopCopied(t, dst, shopRows{cat, presentation, admin, session, lookup, delivered.Order.ID, audit})
	for _, want := range srcChecks {
		got, err := dst.PaymentCheckGet(ctx, want.OrderID)
		if err != nil || got.Checks != want.Checks || got.SeenStatus != want.SeenStatus || got.LastError != want.LastError ||
			!got.NextCheckAt.Equal(want.NextCheckAt) || !got.ClosedAt.Equal(want.ClosedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
			t.Fatalf("payment check copied as %+v (%v), want %+v", got, err, want)
		}
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

// shopRows are the rows of migration 00002 made in the SQLite shop.
type shopRows struct {
	cat          *faka.Category
	presentation faka.ProductShop
	admin        *faka.Admin
	session      *faka.AdminSession
	lookup       []byte
	lookupOrder  int64
	audit        *faka.KeyAudit
}

// checkShopCopied reads the rows back through the PostgreSQL store, then
// adds one more of each kind to check that the identity sequences moved.
func checkShopCopied(t *testing.T, dst *postgres.Store, want shopRows) {
	t.Helper()
	ctx := context.Background()
	cats, err := dst.CategoryList(ctx)
	if err != nil || len(cats) != 1 || cats[0].ID != want.cat.ID || cats[0].Name != want.cat.Name ||
		cats[0].Sort != want.cat.Sort || !cats[0].CreatedAt.Equal(want.cat.CreatedAt) {
		t.Fatalf("categories on postgres: %v %+v, want %+v", err, cats, want.cat)
	}
	shops, err := dst.ProductShopList(ctx)
	if err != nil || !slices.Contains(shops, want.presentation) {
		t.Fatalf("presentation on postgres: %v %+v, want %+v", err, shops, want.presentation)
	}
	a, err := dst.AdminByEmail(ctx, "OWNER@example.com")
	if err != nil || a.ID != want.admin.ID || a.Email != "owner@example.com" || a.PasswordHash != want.admin.PasswordHash ||
		!a.CreatedAt.Equal(want.admin.CreatedAt) {
		t.Fatalf("account on postgres: %v %+v, want %+v", err, a, want.admin)
	}
	sess, err := dst.SessionGet(ctx, want.session.TokenHash)
	if err != nil || sess.AdminID != want.admin.ID || sess.IP != want.session.IP ||
		sess.ExpiresAt.UnixMilli() != want.session.ExpiresAt.UnixMilli() || !sess.CreatedAt.Equal(want.session.CreatedAt) {
		t.Fatalf("session on postgres: %v %+v, want %+v", err, sess, want.session)
	}
	orders, err := dst.LookupTokenOrders(ctx, want.lookup, 10)
	if err != nil || len(orders) != 1 || orders[0].ID != want.lookupOrder {
		t.Fatalf("remembered orders on postgres: %v %+v", err, orders)
	}
	audits, err := dst.KeyAuditList(ctx, 0, 10)
	if err != nil || len(audits) != 1 {
		t.Fatalf("key audit on postgres: %v %+v", err, audits)
	}
	if got := audits[0]; got.ID != want.audit.ID || got.ProductID != want.audit.ProductID || got.KeyID != want.audit.KeyID ||
		got.AdminID != want.audit.AdminID || got.Action != want.audit.Action || got.Count != want.audit.Count ||
		got.IP != want.audit.IP || !got.CreatedAt.Equal(want.audit.CreatedAt) {
		t.Fatalf("key audit on postgres: %+v, want %+v", got, *want.audit)
	}

	// New rows get ids past the copied ones, and the copied email is
	// still taken.
	cat := &faka.Category{Name: "New"}
	if err := dst.CategoryCreate(ctx, cat); err != nil || cat.ID <= want.cat.ID {
		t.Fatalf("new category after copy: %v %+v", err, cat)
	}
	if err := dst.AdminCreate(ctx, &faka.Admin{Email: "owner@EXAMPLE.com", PasswordHash: "x"}); faka.ErrorCode(err) != faka.EConflict {
		t.Fatalf("copied email taken again: %v", err)
	}
	admin := &faka.Admin{Email: "second@example.com", PasswordHash: "x"}
	if err := dst.AdminCreate(ctx, admin); err != nil || admin.ID <= want.admin.ID {
		t.Fatalf("new account after copy: %v %+v", err, admin)
	}
	audit := &faka.KeyAudit{ProductID: want.audit.ProductID, AdminID: admin.ID, Action: faka.AuditExport}
	if err := dst.KeyAuditAdd(ctx, audit); err != nil || audit.ID <= want.audit.ID {
		t.Fatalf("new audit entry after copy: %v %+v", err, audit)
	}
}

// TestCopyRefusesUsedTarget checks that a target with any copied table in
// use, not just products, is refused before a row is written.
func TestCopyRefusesUsedTarget(t *testing.T) {
	url := databaseURL(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "faka.db")
	src, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.AdminCreate(ctx, &faka.Admin{Email: "old@example.com", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	src.Close()
	dst := openTarget(t, url)
	if err := dst.AdminCreate(ctx, &faka.Admin{Email: "new@example.com", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := storecopy.Copy(ctx, raw, dst.Pool()); faka.ErrorCode(err) != faka.EConflict ||
		!strings.Contains(err.Error(), "admins") {
		t.Fatalf("copy into a database with an account: %v, want a conflict naming admins", err)
	}
	if n, err := dst.AdminCount(ctx); err != nil || n != 1 {
		t.Fatalf("accounts after the refused copy: %d %v", n, err)
	}
}
