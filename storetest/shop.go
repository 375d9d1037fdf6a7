package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/keyring"
)

// ShopDriver is a store that also keeps the storefront's and the console's
// data.
type ShopDriver interface {
	faka.Store
	faka.ShopStore
	faka.AccountStore
}

// RunShop runs the conformance suite of faka.ShopStore and
// faka.AccountStore against the stores that open returns (fresh and empty
// for every call, closed with t.Cleanup):
//
//	func TestShopConformance(t *testing.T) { storetest.RunShop(t, openShopStore) }
func RunShop(t *testing.T, open func(t *testing.T) ShopDriver) {
	tests := []struct {
		name string
		fn   func(t *testing.T, f *shopFixture)
	}{
		{"Categories", testCategories},
		{"ProductShop", testProductShop},
		{"ProductCreateWithShop", testProductCreateWithShop},
		{"LookupTokens", testLookupTokens},
		{"KeyListAndSealed", testKeyList},
		{"KeyAudit", testKeyAudit},
		{"OrderSearch", testOrderSearch},
		{"LedgerByOrder", testLedgerByOrder},
		{"SalesByDay", testSalesByDay},
		{"Admins", testAdmins},
		{"Sessions", testSessions},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			tc.fn(t, &shopFixture{t: t, ctx: t.Context(), st: st, rules: engine.Rules{Store: st}, kr: shopKeyring(t)})
		})
	}
}

type shopFixture struct {
	t     *testing.T
	ctx   context.Context
	st    ShopDriver
	rules engine.Rules
	kr    *keyring.Keyring
	seq   int
}

func shopKeyring(t *testing.T) *keyring.Keyring {
	t.Helper()
	kr, err := keyring.New(bytes.Repeat([]byte{5}, keyring.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// product creates an active card product with n keys.
func (f *shopFixture) product(n int) *faka.Product {
	f.t.Helper()
	f.seq++
	p := &faka.Product{Name: fmt.Sprintf("shop product %d", f.seq), Price: 990, Currency: "CNY",
		Delivery: faka.DeliveryCard, ReservationTTL: time.Hour, MinQuantity: 1, MaxQuantity: 10, Active: true}
	if err := f.st.ProductCreate(f.ctx, p, nil, 0, nil); err != nil {
		f.t.Fatalf("ProductCreate: %v", err)
	}
	keys := make([]faka.SealedKey, n)
	for i := range keys {
		keys[i] = f.kr.SealCard(p.ID, fmt.Sprintf("SHOP-%d-%d", p.ID, i))
	}
	if n > 0 {
		if _, err := f.rules.KeysImport(f.ctx, p.ID, keys); err != nil {
			f.t.Fatalf("KeysImport: %v", err)
		}
	}
	return p
}

// order reserves qty units of p for email; paid pays it.
func (f *shopFixture) order(p *faka.Product, qty int, email string, paid bool) *faka.Order {
	f.t.Helper()
	f.seq++
	no := fmt.Sprintf("SHOP%06d", f.seq)
	th := sha256.Sum256([]byte(no))
	out, err := f.rules.ReserveBatch(f.ctx, p.ID, []faka.ReserveParams{{
		OrderNo: no, TokenHash: th[:], Quantity: qty, UnitPrice: p.Price, Amount: p.Price * int64(qty),
		Currency: p.Currency, Email: email, Gateway: "sandbox", TTL: time.Hour,
	}})
	if err != nil || out[0].Err != nil {
		f.t.Fatalf("ReserveBatch: %v %v", err, out)
	}
	o := out[0].Order
	if paid {
		res, err := f.rules.PaymentConfirm(f.ctx, faka.Notification{Gateway: "sandbox", OrderNo: no,
			TradeNo: "T" + no, Amount: o.Amount, Currency: o.Currency})
		if err != nil {
			f.t.Fatalf("PaymentConfirm: %v", err)
		}
		o = res.Order
	}
	return o
}

func shopWantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := faka.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

func testCategories(t *testing.T, f *shopFixture) {
	b := &faka.Category{Name: "  Games ", Sort: 2}
	a := &faka.Category{Name: "Software", Sort: 1}
	for _, c := range []*faka.Category{b, a} {
		if err := f.st.CategoryCreate(f.ctx, c); err != nil || c.ID == 0 || c.CreatedAt.IsZero() {
			t.Fatalf("CategoryCreate: %v %+v", err, c)
		}
	}
	shopWantCode(t, "empty name", f.st.CategoryCreate(f.ctx, &faka.Category{Name: " "}), faka.EInvalid)
	list, err := f.st.CategoryList(f.ctx)
	if err != nil || len(list) != 2 || list[0].ID != a.ID || list[1].Name != "Games" {
		t.Fatalf("CategoryList: %v %+v", err, list)
	}
	b.Name, b.Sort = "Game cards", 0
	if err := f.st.CategoryUpdate(f.ctx, b); err != nil {
		t.Fatal(err)
	}
	list, _ = f.st.CategoryList(f.ctx)
	if list[0].ID != b.ID || list[0].Name != "Game cards" {
		t.Fatalf("after update: %+v", list[0])
	}
	shopWantCode(t, "update unknown", f.st.CategoryUpdate(f.ctx, &faka.Category{ID: 9999, Name: "x"}), faka.ENotFound)

	p := f.product(0)
	if err := f.st.ProductShopSet(f.ctx, faka.ProductShop{ProductID: p.ID, CategoryID: b.ID}); err != nil {
		t.Fatal(err)
	}
	if err := f.st.CategoryDelete(f.ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	shopWantCode(t, "delete twice", f.st.CategoryDelete(f.ctx, b.ID), faka.ENotFound)
	shops, err := f.st.ProductShopList(f.ctx)
	if err != nil || len(shops) != 1 || shops[0].CategoryID != 0 {
		t.Fatalf("product of a deleted category: %v %+v", err, shops)
	}
}

func testProductShop(t *testing.T, f *shopFixture) {
	p := f.product(0)
	shops, err := f.st.ProductShopList(f.ctx)
	if err != nil || len(shops) != 1 {
		t.Fatalf("ProductShopList: %v %+v", err, shops)
	}
	if got := shops[0]; got.ProductID != p.ID || got.CategoryID != 0 || got.StockDisplay != faka.StockExact ||
		got.LowStock != faka.DefaultLowStock {
		t.Fatalf("defaults of a new product: %+v", got)
	}
	c := &faka.Category{Name: "Cards"}
	if err := f.st.CategoryCreate(f.ctx, c); err != nil {
		t.Fatal(err)
	}
	want := faka.ProductShop{ProductID: p.ID, CategoryID: c.ID, StockDisplay: faka.StockLevel, LowStock: 3}
	if err := f.st.ProductShopSet(f.ctx, want); err != nil {
		t.Fatal(err)
	}
	shops, _ = f.st.ProductShopList(f.ctx)
	if shops[0] != want {
		t.Fatalf("ProductShopList %+v, want %+v", shops[0], want)
	}
	shopWantCode(t, "unknown category", f.st.ProductShopSet(f.ctx, faka.ProductShop{ProductID: p.ID, CategoryID: c.ID + 99}), faka.EInvalid)
	shopWantCode(t, "unknown product", f.st.ProductShopSet(f.ctx, faka.ProductShop{ProductID: p.ID + 99}), faka.ENotFound)
	shopWantCode(t, "bad display", f.st.ProductShopSet(f.ctx, faka.ProductShop{ProductID: p.ID, StockDisplay: "loud"}), faka.EInvalid)
	// Saving the presentation leaves the product itself alone.
	got, err := f.st.ProductGet(f.ctx, p.ID)
	if err != nil || got.Name != p.Name || got.Price != p.Price || !got.Active {
		t.Fatalf("product after ProductShopSet: %v %+v", err, got)
	}
}

// testProductCreateWithShop: a product and its presentation are created
// in one transaction; a refused presentation creates no product, so the
// merchant's retry cannot make a duplicate.
func testProductCreateWithShop(t *testing.T, f *shopFixture) {
	c := &faka.Category{Name: "Subscriptions"}
	if err := f.st.CategoryCreate(f.ctx, c); err != nil {
		t.Fatal(err)
	}
	bad := &faka.Product{Name: "Refused", Price: 100, Currency: "CNY", Delivery: faka.DeliveryManual,
		ReservationTTL: time.Minute, MinQuantity: 1, MaxQuantity: 5, Active: true}
	err := f.st.ProductCreate(f.ctx, bad, nil, 4, &faka.ProductShop{CategoryID: c.ID + 99})
	shopWantCode(t, "create with an unknown category", err, faka.EInvalid)
	if ps, err := f.st.ProductList(f.ctx, false); err != nil || len(ps) != 0 {
		t.Fatalf("after a refused create: %d products, %v; want none", len(ps), err)
	}
	if st, err := f.st.StockList(f.ctx); err != nil || len(st) != 0 {
		t.Fatalf("after a refused create: stock %+v, %v; want none", st, err)
	}
	good := *bad
	good.Name = "Listed"
	want := faka.ProductShop{CategoryID: c.ID, StockDisplay: faka.StockHidden, LowStock: 2}
	if err := f.st.ProductCreate(f.ctx, &good, nil, 4, &want); err != nil {
		t.Fatal(err)
	}
	want.ProductID = good.ID
	shops, err := f.st.ProductShopList(f.ctx)
	if err != nil || len(shops) != 1 || shops[0] != want {
		t.Fatalf("ProductShopList = %+v, %v; want %+v", shops, err, want)
	}
	CheckInvariants(t, f.st)
}

func testLookupTokens(t *testing.T, f *shopFixture) {
	p := f.product(3)
	o1 := f.order(p, 1, "a@example.com", false)
	o2 := f.order(p, 1, "b@example.com", true)
	now, err := f.st.Now(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	tok, other := []byte("token-hash-1"), []byte("token-hash-2")
	for _, id := range []int64{o1.ID, o2.ID, o1.ID} { // a repeat is no error
		if err := f.st.LookupTokenAdd(f.ctx, tok, id, now.Add(time.Hour)); err != nil {
			t.Fatalf("LookupTokenAdd: %v", err)
		}
	}
	if err := f.st.LookupTokenAdd(f.ctx, other, o1.ID, now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	got, err := f.st.LookupTokenOrders(f.ctx, tok, 10)
	if err != nil || len(got) != 2 || got[0].ID != o2.ID || got[1].ID != o1.ID || got[0].Status != faka.StatusDelivered {
		t.Fatalf("LookupTokenOrders: %v %+v", err, got)
	}
	if got, _ := f.st.LookupTokenOrders(f.ctx, tok, 1); len(got) != 1 {
		t.Fatalf("limit 1 gave %d", len(got))
	}
	if got, err := f.st.LookupTokenOrders(f.ctx, other, 10); err != nil || len(got) != 0 {
		t.Fatalf("expired token gave %v %d orders", err, len(got))
	}
	if got, _ := f.st.LookupTokenOrders(f.ctx, []byte("nope"), 10); len(got) != 0 {
		t.Fatal("an unknown token found orders")
	}
	n, err := f.st.LookupTokensPurge(f.ctx)
	if err != nil || n != 1 {
		t.Fatalf("LookupTokensPurge: %d %v, want 1", n, err)
	}
	// Extending an expired entry brings it back.
	if err := f.st.LookupTokenAdd(f.ctx, tok, o1.ID, now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.st.LookupTokenOrders(f.ctx, tok, 10); len(got) != 1 || got[0].ID != o2.ID {
		t.Fatalf("after shortening o1: %+v", got)
	}
}

func testKeyList(t *testing.T, f *shopFixture) {
	p := f.product(4)
	q := f.product(1)
	o := f.order(p, 2, "k@example.com", true)
	all, err := f.st.KeyList(f.ctx, faka.KeyFilter{ProductID: p.ID})
	if err != nil || len(all) != 4 {
		t.Fatalf("KeyList: %v %d", err, len(all))
	}
	if all[0].ID < all[3].ID {
		t.Fatal("KeyList is not newest first")
	}
	sold, _ := f.st.KeyList(f.ctx, faka.KeyFilter{ProductID: p.ID, States: []faka.KeyState{faka.KeySold}})
	if len(sold) != 2 || sold[0].OrderID != o.ID || sold[0].OrderNo != o.OrderNo {
		t.Fatalf("sold keys %+v", sold)
	}
	byOrder, _ := f.st.KeyList(f.ctx, faka.KeyFilter{OrderID: o.ID})
	if len(byOrder) != 2 {
		t.Fatalf("keys of the order: %d", len(byOrder))
	}
	avail, _ := f.st.KeyList(f.ctx, faka.KeyFilter{ProductID: p.ID, States: []faka.KeyState{faka.KeyAvailable}})
	if len(avail) != 2 || avail[0].OrderID != 0 || avail[0].OrderNo != "" {
		t.Fatalf("available keys %+v", avail)
	}
	page, _ := f.st.KeyList(f.ctx, faka.KeyFilter{ProductID: p.ID, BeforeID: all[1].ID, Limit: 1})
	if len(page) != 1 || page[0].ID != all[2].ID {
		t.Fatalf("paging: %+v", page)
	}
	if other, _ := f.st.KeyList(f.ctx, faka.KeyFilter{ProductID: q.ID}); len(other) != 1 {
		t.Fatalf("keys of another product: %d", len(other))
	}

	info, sk, err := f.st.KeySealed(f.ctx, sold[0].ID)
	if err != nil || info != sold[0] {
		t.Fatalf("KeySealed: %v %+v", err, info)
	}
	secret, err := f.kr.OpenKey(p.ID, false, sk)
	if err != nil || secret == "" {
		t.Fatalf("open sealed key: %v", err)
	}
	_, _, err = f.st.KeySealed(f.ctx, 1<<40)
	shopWantCode(t, "KeySealed unknown", err, faka.ENotFound)

	sealed, err := f.st.KeysAvailableSealed(f.ctx, p.ID)
	if err != nil || len(sealed) != 2 {
		t.Fatalf("KeysAvailableSealed: %v %d", err, len(sealed))
	}
	for _, sk := range sealed {
		if s, err := f.kr.OpenKey(p.ID, false, sk); err != nil || s == secret {
			t.Fatalf("an available key opens to %q, %v", s, err)
		}
	}
}

func testKeyAudit(t *testing.T, f *shopFixture) {
	p := f.product(1)
	keys, _ := f.st.KeyList(f.ctx, faka.KeyFilter{ProductID: p.ID})
	a := &faka.Admin{Email: "audit@example.com", PasswordHash: "$argon2id$x"}
	if err := f.st.AdminCreate(f.ctx, a); err != nil {
		t.Fatal(err)
	}
	reveal := &faka.KeyAudit{ProductID: p.ID, KeyID: keys[0].ID, AdminID: a.ID, Action: faka.AuditReveal, Count: 1, IP: "192.0.2.1"}
	export := &faka.KeyAudit{ProductID: p.ID, AdminID: a.ID, Action: faka.AuditExport, Count: 1}
	for _, e := range []*faka.KeyAudit{reveal, export} {
		if err := f.st.KeyAuditAdd(f.ctx, e); err != nil || e.ID == 0 || e.CreatedAt.IsZero() {
			t.Fatalf("KeyAuditAdd: %v %+v", err, e)
		}
	}
	shopWantCode(t, "bad action", f.st.KeyAuditAdd(f.ctx, &faka.KeyAudit{ProductID: p.ID, Action: "peek"}), faka.EInvalid)
	list, err := f.st.KeyAuditList(f.ctx, p.ID, 10)
	if err != nil || len(list) != 2 || list[0].ID != export.ID || list[1] != *reveal {
		t.Fatalf("KeyAuditList: %v %+v, want export then %+v", err, list, *reveal)
	}
	if all, _ := f.st.KeyAuditList(f.ctx, 0, 10); len(all) != 2 {
		t.Fatalf("every product's audit: %d", len(all))
	}
	if none, _ := f.st.KeyAuditList(f.ctx, p.ID+1, 10); len(none) != 0 {
		t.Fatalf("another product's audit: %d", len(none))
	}
}

func testOrderSearch(t *testing.T, f *shopFixture) {
	p := f.product(5)
	q := f.product(5)
	o1 := f.order(p, 1, "Alice@Example.com", true)
	o2 := f.order(p, 1, "bob@example.com", false)
	o3 := f.order(q, 2, "alice@example.com", false)
	ids := func(os []*faka.Order) []int64 {
		var out []int64
		for _, o := range os {
			out = append(out, o.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    faka.OrderQuery
		want []int64
	}{
		{"all", faka.OrderQuery{}, []int64{o3.ID, o2.ID, o1.ID}},
		{"email any case", faka.OrderQuery{Email: "ALICE@example.com"}, []int64{o3.ID, o1.ID}},
		{"status", faka.OrderQuery{Status: faka.StatusDelivered}, []int64{o1.ID}},
		{"product", faka.OrderQuery{ProductID: q.ID}, []int64{o3.ID}},
		{"number", faka.OrderQuery{OrderNo: o2.OrderNo}, []int64{o2.ID}},
		{"number prefix", faka.OrderQuery{OrderNo: "SHOP"}, []int64{o3.ID, o2.ID, o1.ID}},
		{"like wildcards are literal", faka.OrderQuery{OrderNo: "%"}, nil},
		{"underscore is literal", faka.OrderQuery{OrderNo: "SHOP_"}, nil},
		{"paging", faka.OrderQuery{BeforeID: o3.ID, Limit: 1}, []int64{o2.ID}},
		{"from", faka.OrderQuery{From: o3.CreatedAt.Add(time.Hour)}, nil},
		{"to", faka.OrderQuery{To: o1.CreatedAt.Add(-time.Hour)}, nil},
		{"window", faka.OrderQuery{From: o1.CreatedAt.Add(-time.Hour), To: o3.CreatedAt.Add(time.Hour)}, []int64{o3.ID, o2.ID, o1.ID}},
	} {
		got, err := f.st.OrderSearch(f.ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if fmt.Sprint(ids(got)) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, ids(got), tc.want)
		}
	}
}

func testLedgerByOrder(t *testing.T, f *shopFixture) {
	p := f.product(2)
	o := f.order(p, 2, "l@example.com", true)
	es, err := f.st.LedgerByOrder(f.ctx, o.ID)
	if err != nil || len(es) != 2 {
		t.Fatalf("LedgerByOrder: %v %+v", err, es)
	}
	if es[0].Event != faka.LedgerReserve || es[0].Available != -2 || es[0].Reserved != 2 ||
		es[1].Event != faka.LedgerSell || es[1].Sold != 2 || es[1].OrderID != o.ID || es[1].ProductID != p.ID {
		t.Fatalf("ledger of a paid order: %+v", es)
	}
	if es, _ := f.st.LedgerByOrder(f.ctx, o.ID+100); len(es) != 0 {
		t.Fatalf("ledger of no order: %+v", es)
	}
}

func testSalesByDay(t *testing.T, f *shopFixture) {
	p := f.product(5)
	f.order(p, 1, "s1@example.com", true)
	f.order(p, 2, "s2@example.com", true)
	f.order(p, 1, "s3@example.com", false)
	refunded := f.order(p, 1, "s4@example.com", true)
	if _, err := f.rules.OrderRefund(f.ctx, refunded.OrderNo); err != nil {
		t.Fatal(err)
	}
	now, _ := f.st.Now(f.ctx)
	from := now.Add(-36 * time.Hour)
	days, err := f.st.SalesByDay(f.ctx, from, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 1 {
		t.Fatalf("SalesByDay: %+v, want one day", days)
	}
	d := days[0]
	want := faka.SalesDay{Start: from.Add(24 * time.Hour), Currency: "CNY", Created: 4, CreatedPaid: 3, Paid: 3, Revenue: 3 * 990}
	if d.Start.UnixMilli() != want.Start.UnixMilli() || d.Currency != want.Currency || d.Created != want.Created ||
		d.CreatedPaid != want.CreatedPaid || d.Paid != want.Paid || d.Revenue != want.Revenue {
		t.Fatalf("SalesByDay %+v, want %+v", d, want)
	}
	if days, _ := f.st.SalesByDay(f.ctx, now.Add(time.Hour), 1); len(days) != 0 {
		t.Fatalf("a future day: %+v", days)
	}
	_, err = f.st.SalesByDay(f.ctx, from, 0)
	shopWantCode(t, "zero days", err, faka.EInvalid)
}

func testAdmins(t *testing.T, f *shopFixture) {
	if n, err := f.st.AdminCount(f.ctx); err != nil || n != 0 {
		t.Fatalf("AdminCount of a new store: %d %v", n, err)
	}
	a := &faka.Admin{Email: " Owner@Example.com ", PasswordHash: "$argon2id$one"}
	if err := f.st.AdminCreate(f.ctx, a); err != nil || a.ID == 0 || a.Email != "owner@example.com" {
		t.Fatalf("AdminCreate: %v %+v", err, a)
	}
	shopWantCode(t, "same email", f.st.AdminCreate(f.ctx, &faka.Admin{Email: "OWNER@example.com", PasswordHash: "x"}), faka.EConflict)
	shopWantCode(t, "no password", f.st.AdminCreate(f.ctx, &faka.Admin{Email: "x@example.com"}), faka.EInvalid)
	got, err := f.st.AdminByEmail(f.ctx, "owner@EXAMPLE.com")
	if err != nil || got.ID != a.ID || got.PasswordHash != "$argon2id$one" {
		t.Fatalf("AdminByEmail: %v %+v", err, got)
	}
	_, err = f.st.AdminByEmail(f.ctx, "nobody@example.com")
	shopWantCode(t, "unknown email", err, faka.ENotFound)
	if got, err := f.st.AdminGet(f.ctx, a.ID); err != nil || got.Email != a.Email {
		t.Fatalf("AdminGet: %v %+v", err, got)
	}
	_, err = f.st.AdminGet(f.ctx, a.ID+1)
	shopWantCode(t, "unknown id", err, faka.ENotFound)
	if n, _ := f.st.AdminCount(f.ctx); n != 1 {
		t.Fatalf("AdminCount %d", n)
	}

	now, _ := f.st.Now(f.ctx)
	s := &faka.AdminSession{TokenHash: []byte("session-1"), AdminID: a.ID, ExpiresAt: now.Add(time.Hour)}
	if err := f.st.SessionCreate(f.ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := f.st.AdminSetPassword(f.ctx, a.ID, "$argon2id$two"); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.st.AdminGet(f.ctx, a.ID); got.PasswordHash != "$argon2id$two" {
		t.Fatal("password not changed")
	}
	_, err = f.st.SessionGet(f.ctx, s.TokenHash)
	shopWantCode(t, "session after password change", err, faka.ENotFound)
	shopWantCode(t, "password of nobody", f.st.AdminSetPassword(f.ctx, a.ID+1, "x"), faka.ENotFound)
}

func testSessions(t *testing.T, f *shopFixture) {
	a := &faka.Admin{Email: "s@example.com", PasswordHash: "h"}
	if err := f.st.AdminCreate(f.ctx, a); err != nil {
		t.Fatal(err)
	}
	now, _ := f.st.Now(f.ctx)
	live := &faka.AdminSession{TokenHash: []byte("live"), AdminID: a.ID, ExpiresAt: now.Add(time.Hour), IP: "192.0.2.7"}
	dead := &faka.AdminSession{TokenHash: []byte("dead"), AdminID: a.ID, ExpiresAt: now.Add(-time.Second)}
	for _, s := range []*faka.AdminSession{live, dead} {
		if err := f.st.SessionCreate(f.ctx, s); err != nil || s.CreatedAt.IsZero() {
			t.Fatalf("SessionCreate: %v", err)
		}
	}
	shopWantCode(t, "same token", f.st.SessionCreate(f.ctx, &faka.AdminSession{TokenHash: []byte("live"), AdminID: a.ID,
		ExpiresAt: now.Add(time.Hour)}), faka.EConflict)
	got, err := f.st.SessionGet(f.ctx, []byte("live"))
	if err != nil || got.AdminID != a.ID || got.IP != "192.0.2.7" || got.ExpiresAt.UnixMilli() != live.ExpiresAt.UnixMilli() {
		t.Fatalf("SessionGet: %v %+v", err, got)
	}
	_, err = f.st.SessionGet(f.ctx, []byte("dead"))
	shopWantCode(t, "expired session", err, faka.ENotFound)
	_, err = f.st.SessionGet(f.ctx, []byte("never"))
	shopWantCode(t, "unknown session", err, faka.ENotFound)
	if n, err := f.st.SessionsPurge(f.ctx); err != nil || n != 1 {
		t.Fatalf("SessionsPurge: %d %v", n, err)
	}
	if err := f.st.SessionDelete(f.ctx, []byte("live")); err != nil {
		t.Fatal(err)
	}
	if err := f.st.SessionDelete(f.ctx, []byte("live")); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
	_, err = f.st.SessionGet(f.ctx, []byte("live"))
	shopWantCode(t, "deleted session", err, faka.ENotFound)
}
