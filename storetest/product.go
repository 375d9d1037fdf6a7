package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/faka-dev/faka"
)

func (s *suite) testNow(t *testing.T) {
	b := s.setup(t)
	a := b.now()
	c := b.now()
	if a.IsZero() {
		t.Fatal("Now returned the zero time")
	}
	if c.Before(a) {
		t.Fatalf("Now went backwards: %v then %v", a, c)
	}
	// Expiry is judged by this clock and tests wait on it, so it must be
	// the real time, not a frozen or shifted one.
	if d := a.Sub(time.Now()).Abs(); d > time.Minute {
		t.Fatalf("Now = %v is %v away from the local clock", a, d)
	}
}

// productDiff lists the stored fields that differ between two products.
func productDiff(got, want *faka.Product) []string {
	var out []string
	add := func(field string, g, w any) {
		if g != w {
			out = append(out, fmt.Sprintf("%s = %v, want %v", field, g, w))
		}
	}
	add("ID", got.ID, want.ID)
	add("Name", got.Name, want.Name)
	add("Description", got.Description, want.Description)
	add("Price", got.Price, want.Price)
	add("Currency", got.Currency, want.Currency)
	add("Delivery", got.Delivery, want.Delivery)
	add("ReservationTTL", got.ReservationTTL, want.ReservationTTL)
	add("MinQuantity", got.MinQuantity, want.MinQuantity)
	add("MaxQuantity", got.MaxQuantity, want.MaxQuantity)
	add("Active", got.Active, want.Active)
	add("ReusableKey", got.ReusableKey, "")
	if got.CreatedAt.IsZero() || got.CreatedAt.Sub(want.CreatedAt).Abs() > time.Second {
		out = append(out, fmt.Sprintf("CreatedAt = %v, want %v", got.CreatedAt, want.CreatedAt))
	}
	return out
}

func (b *bundle) wantProduct(want *faka.Product) {
	b.t.Helper()
	got, err := b.st.ProductGet(b.ctx, want.ID)
	if err != nil {
		b.t.Fatalf("ProductGet(%d): %v", want.ID, err)
	}
	if diff := productDiff(got, want); len(diff) > 0 {
		b.t.Fatalf("ProductGet(%d):\n%s", want.ID, strings.Join(diff, "\n"))
	}
}

func (s *suite) testProductCreateGet(t *testing.T) {
	b := s.setup(t)
	before := b.now()
	p := &faka.Product{
		Name:           "月卡 Monthly 🎮 \"quoted\" 'name'",
		Description:    "line one\nline two\t<b>html</b> & ; DROP TABLE products; --end",
		Price:          1_234_567,
		Currency:       "USD",
		Delivery:       faka.DeliveryCard,
		ReservationTTL: 90 * time.Second,
		MinQuantity:    2,
		MaxQuantity:    7,
		Active:         true,
	}
	if err := b.st.ProductCreate(b.ctx, p, nil, 0, nil); err != nil {
		t.Fatalf("ProductCreate: %v", err)
	}
	b.check()
	if p.ID <= 0 {
		t.Fatalf("ProductCreate set ID %d, want > 0", p.ID)
	}
	if p.CreatedAt.IsZero() || p.CreatedAt.Before(before.Add(-time.Second)) || p.CreatedAt.After(b.now().Add(time.Second)) {
		t.Fatalf("ProductCreate set CreatedAt %v, want about %v by the store clock", p.CreatedAt, before)
	}
	b.wantProduct(p)

	q := newProduct("inactive manual", faka.DeliveryManual, 24*time.Hour)
	q.Active = false
	q.MaxQuantity = faka.MaxQuantityLimit
	if err := b.st.ProductCreate(b.ctx, q, nil, 0, nil); err != nil {
		t.Fatalf("ProductCreate: %v", err)
	}
	b.check()
	if q.ID == p.ID {
		t.Fatalf("two products got the same ID %d", p.ID)
	}
	b.wantProduct(q)
	b.wantProduct(p)
	b.wantStock(p, 0, 0, 0, 0, 0)
	b.wantStock(q, 0, 0, 0, 0, 0)
}

func (s *suite) testProductNotFound(t *testing.T) {
	b := s.setup(t)
	p := b.product(faka.DeliveryCard, longTTL, 0)
	missing := p.ID + 1000
	_, err := b.st.ProductGet(b.ctx, missing)
	wantCode(t, err, faka.ENotFound, "ProductGet(%d)", missing)
	_, err = b.st.StockGet(b.ctx, missing)
	wantCode(t, err, faka.ENotFound, "StockGet(%d)", missing)
	err = b.st.ProductUpdate(b.ctx, &faka.Product{ID: missing, Name: "x", Price: 1, Currency: "CNY", Delivery: faka.DeliveryCard, ReservationTTL: time.Minute, MinQuantity: 1, MaxQuantity: 1})
	wantCode(t, err, faka.ENotFound, "ProductUpdate(%d)", missing)
	b.check()
	_, err = b.rules.StockAdd(b.ctx, missing, 3)
	wantCode(t, err, faka.ENotFound, "StockAdd(%d)", missing)
	b.check()
}

func (s *suite) testProductList(t *testing.T) {
	b := s.setup(t)
	list := func(activeOnly bool) []int64 {
		t.Helper()
		ps, err := b.st.ProductList(b.ctx, activeOnly)
		if err != nil {
			t.Fatalf("ProductList(%v): %v", activeOnly, err)
		}
		ids := make([]int64, len(ps))
		for i, p := range ps {
			ids[i] = p.ID
			if p.ReusableKey != "" {
				t.Fatalf("ProductList returned product %d with its reusable key in plaintext", p.ID)
			}
		}
		return ids
	}
	if ids := list(false); len(ids) != 0 {
		t.Fatalf("ProductList of an empty store = %v", ids)
	}
	a := b.product(faka.DeliveryCard, longTTL, 0)
	c := b.product(faka.DeliveryReusable, longTTL, 5)
	inactive := newProduct("inactive", faka.DeliveryManual, longTTL)
	inactive.Active = false
	if err := b.st.ProductCreate(b.ctx, inactive, nil, 2, nil); err != nil {
		t.Fatalf("ProductCreate: %v", err)
	}
	b.check()
	d := b.product(faka.DeliveryManual, longTTL, 1)

	if got, want := list(false), []int64{a.ID, c.ID, inactive.ID, d.ID}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ProductList(all) IDs = %v, want %v (by ID)", got, want)
	}
	if got, want := list(true), []int64{a.ID, c.ID, d.ID}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ProductList(active) IDs = %v, want %v (by ID)", got, want)
	}
	all, err := b.st.ProductList(b.ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []*faka.Product{a, c, inactive, d} {
		if diff := productDiff(all[i], want); len(diff) > 0 {
			t.Fatalf("ProductList entry %d:\n%s", i, strings.Join(diff, "\n"))
		}
	}
}

func (s *suite) testProductUpdate(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("upd", 3)...)
	b.reserve(p, 1, longTTL)

	u := *p
	u.Name = "renamed — 新名字"
	u.Description = "new description"
	u.Price = 1500
	u.ReservationTTL = 10 * time.Minute
	u.MinQuantity = 3
	u.MaxQuantity = 30
	u.Active = false
	// Delivery and currency are not editable: sold orders depend on them.
	u.Delivery = faka.DeliveryManual
	u.Currency = "EUR"
	if err := b.st.ProductUpdate(b.ctx, &u); err != nil {
		t.Fatalf("ProductUpdate: %v", err)
	}
	b.check()
	want := u
	want.Delivery = p.Delivery
	want.Currency = p.Currency
	b.wantProduct(&want)
	// Editing a product moves no stock.
	b.wantStock(p, 3, 2, 1, 0, 0)

	u.Active = true
	if err := b.st.ProductUpdate(b.ctx, &u); err != nil {
		t.Fatalf("ProductUpdate: %v", err)
	}
	b.check()
	want.Active = true
	b.wantProduct(&want)
}

func (s *suite) testProductCountedStock(t *testing.T) {
	b := s.setup(t)
	// A reusable product's plaintext key must never be stored in the row
	// ProductGet reads, even when the caller left it on the struct.
	p := newProduct("reusable", faka.DeliveryReusable, longTTL)
	p.ReusableKey = "PLAINTEXT-LOOP-KEY"
	sk := b.kr.SealReusable(p.ReusableKey)
	if err := b.st.ProductCreate(b.ctx, p, &sk, 10, nil); err != nil {
		t.Fatalf("ProductCreate(reusable): %v", err)
	}
	b.check()
	want := *p
	want.ReusableKey = ""
	b.wantProduct(&want)
	b.wantStock(p, 10, 10, 0, 0, 0)

	m := b.product(faka.DeliveryManual, longTTL, 7)
	b.wantStock(m, 7, 7, 0, 0, 0)
	empty := b.product(faka.DeliveryManual, longTTL, 0)
	b.wantStock(empty, 0, 0, 0, 0, 0)
	b.reserveSoldOut(empty, 1)
}

func (s *suite) testStockAddInvalid(t *testing.T) {
	b := s.setup(t)
	m := b.product(faka.DeliveryManual, longTTL, 2)
	c := b.cardProduct(longTTL, "SAI-1")
	for _, tc := range []struct {
		name string
		p    *faka.Product
		n    int64
	}{
		{"zero units", m, 0},
		{"negative units", m, -2},
		{"units to a card product", c, 5},
	} {
		_, err := b.rules.StockAdd(b.ctx, tc.p.ID, tc.n)
		b.check()
		wantCode(t, err, faka.EInvalid, "StockAdd of %s", tc.name)
	}
	b.wantStock(m, 2, 2, 0, 0, 0)
	b.wantStock(c, 1, 1, 0, 0, 0)
}

func (s *suite) testStockAdd(t *testing.T) {
	b := s.setup(t)
	m := b.product(faka.DeliveryManual, longTTL, 2)
	r := b.product(faka.DeliveryReusable, longTTL, 0)
	for _, tc := range []struct {
		p    *faka.Product
		n    int64
		want faka.Stock
	}{
		{m, 5, faka.Stock{Imported: 7, Available: 7}},
		{m, 1, faka.Stock{Imported: 8, Available: 8}},
		{r, 4, faka.Stock{Imported: 4, Available: 4}},
	} {
		res, err := b.rules.StockAdd(b.ctx, tc.p.ID, tc.n)
		if err != nil {
			t.Fatalf("StockAdd(%d, %d): %v", tc.p.ID, tc.n, err)
		}
		b.check()
		if res.Imported != int(tc.n) || res.Duplicates != 0 || res.Rejected != 0 || res.Fulfilled != 0 {
			t.Fatalf("StockAdd(%d, %d) = %+v, want Imported %d only", tc.p.ID, tc.n, res, tc.n)
		}
		w := tc.want
		b.wantStock(tc.p, w.Imported, w.Available, 0, 0, 0)
	}
	o := b.reserve(r, 4, longTTL)
	b.reserveSoldOut(r, 1)
	b.payWant(o, faka.OutcomeDelivered, faka.StatusDelivered)
	b.wantStock(r, 4, 0, 0, 4, 0)
}

func (s *suite) testStockList(t *testing.T) {
	b := s.setup(t)
	if got, err := b.st.StockList(b.ctx); err != nil || len(got) != 0 {
		t.Fatalf("StockList of an empty store = %v, %v", got, err)
	}
	c := b.cardProduct(longTTL, secrets("sl", 4)...)
	m := b.product(faka.DeliveryManual, longTTL, 3)
	r := b.product(faka.DeliveryReusable, longTTL, 9)
	o := b.reserve(c, 2, longTTL)
	b.pay(o)
	b.reserve(c, 1, longTTL)
	b.reserve(m, 3, longTTL)
	b.reserve(r, 2, longTTL)

	got, err := b.st.StockList(b.ctx)
	if err != nil {
		t.Fatalf("StockList: %v", err)
	}
	want := map[int64]faka.Stock{
		c.ID: {ProductID: c.ID, Imported: 4, Available: 1, Reserved: 1, Sold: 2},
		m.ID: {ProductID: m.ID, Imported: 3, Available: 0, Reserved: 3},
		r.ID: {ProductID: r.ID, Imported: 9, Available: 7, Reserved: 2},
	}
	if len(got) != len(want) {
		t.Fatalf("StockList returned %d products, want %d", len(got), len(want))
	}
	for _, s := range got {
		if s != want[s.ProductID] {
			t.Fatalf("StockList product %d:\n got  %s\n want %s", s.ProductID, fmtStock(s), fmtStock(want[s.ProductID]))
		}
	}
}
