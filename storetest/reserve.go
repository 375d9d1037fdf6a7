package storetest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/faka-dev/faka"
)

// orderDiff lists the fields of an order that differ from its reservation.
func orderDiff(o *faka.Order, p *faka.Product, prm faka.ReserveParams) []string {
	var out []string
	add := func(field string, g, w any) {
		if g != w {
			out = append(out, fmt.Sprintf("%s = %v, want %v", field, g, w))
		}
	}
	add("OrderNo", o.OrderNo, prm.OrderNo)
	add("ProductID", o.ProductID, p.ID)
	add("Delivery", o.Delivery, p.Delivery)
	add("Quantity", o.Quantity, prm.Quantity)
	add("UnitPrice", o.UnitPrice, prm.UnitPrice)
	add("Amount", o.Amount, prm.Amount)
	add("Currency", o.Currency, prm.Currency)
	add("Email", o.Email, prm.Email)
	add("Gateway", o.Gateway, prm.Gateway)
	add("Status", o.Status, faka.StatusPending)
	add("DeliveryNote", o.DeliveryNote, "")
	if !bytes.Equal(o.TokenHash, prm.TokenHash) {
		out = append(out, fmt.Sprintf("TokenHash = %x, want %x", o.TokenHash, prm.TokenHash))
	}
	if !bytes.Equal(o.QueryPasswordHash, prm.QueryPasswordHash) {
		out = append(out, fmt.Sprintf("QueryPasswordHash = %x, want %x", o.QueryPasswordHash, prm.QueryPasswordHash))
	}
	if o.ID <= 0 {
		out = append(out, fmt.Sprintf("ID = %d, want > 0", o.ID))
	}
	if !o.PaidAt.IsZero() || !o.DeliveredAt.IsZero() {
		out = append(out, fmt.Sprintf("PaidAt = %v, DeliveredAt = %v; want zero", o.PaidAt, o.DeliveredAt))
	}
	return out
}

func within(got, lo, hi time.Time) bool {
	return !got.Before(lo) && !got.After(hi)
}

func (s *suite) testReserveOrderFields(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("fields", 3)...)
	prm := b.params(p, 2, 10*time.Minute)
	prm.Email = "Buyer.Name+tag@例え.jp"
	prm.Gateway = "epay"
	prm.QueryPasswordHash = tokenHash("query password")

	before := b.now()
	out := b.reserveBatch(p, prm)
	after := b.now()
	if out[0].Err != nil {
		t.Fatalf("reserve: %v", out[0].Err)
	}
	o := out[0].Order
	if diff := orderDiff(o, p, prm); len(diff) > 0 {
		t.Fatalf("reserved order:\n%s", strings.Join(diff, "\n"))
	}
	// reserved_until is the store's clock plus the TTL. A second of slack
	// allows for drivers that store whole seconds.
	if lo, hi := before.Add(prm.TTL-time.Second), after.Add(prm.TTL+time.Second); !within(o.ReservedUntil, lo, hi) {
		t.Fatalf("ReservedUntil = %v, want between %v and %v (store Now + TTL)", o.ReservedUntil, lo, hi)
	}
	if !within(o.CreatedAt, before.Add(-time.Second), after.Add(time.Second)) {
		t.Fatalf("CreatedAt = %v, want between %v and %v", o.CreatedAt, before, after)
	}

	got := b.order(o.OrderNo)
	if diff := orderDiff(got, p, prm); len(diff) > 0 {
		t.Fatalf("OrderGet:\n%s", strings.Join(diff, "\n"))
	}
	if got.ID != o.ID || got.ReservedUntil.Sub(o.ReservedUntil).Abs() > time.Second || got.CreatedAt.Sub(o.CreatedAt).Abs() > time.Second {
		t.Fatalf("OrderGet = ID %d, reserved until %v, created %v; ReserveBatch said ID %d, %v, %v",
			got.ID, got.ReservedUntil, got.CreatedAt, o.ID, o.ReservedUntil, o.CreatedAt)
	}
	b.wantStock(p, 3, 1, 2, 0, 0)
	b.orderNotFound("NO-SUCH-ORDER")
}

func (s *suite) testReserveBatchInOrder(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("batch", 5)...)
	batch := []faka.ReserveParams{
		b.params(p, 2, longTTL),
		b.params(p, 5, longTTL), // only 3 left: this buyer alone is short
		b.params(p, 1, longTTL), // a later, smaller buyer still gets served
		b.params(p, 2, longTTL),
		b.params(p, 1, longTTL), // nothing left
	}
	out := b.reserveBatch(p, batch...)
	for i, wantOK := range []bool{true, false, true, true, false} {
		if wantOK {
			if out[i].Err != nil {
				t.Fatalf("buyer %d (quantity %d): %v; want an order", i, batch[i].Quantity, out[i].Err)
			}
			if diff := orderDiff(out[i].Order, p, batch[i]); len(diff) > 0 {
				t.Fatalf("buyer %d:\n%s", i, strings.Join(diff, "\n"))
			}
			b.wantStatus(batch[i].OrderNo, faka.StatusPending)
			continue
		}
		wantCode(t, out[i].Err, faka.ESoldOut, "buyer %d (quantity %d)", i, batch[i].Quantity)
		b.orderNotFound(batch[i].OrderNo)
	}
	b.wantStock(p, 5, 0, 5, 0, 0)
	// Buyers are served in batch order, and keys in import order.
	b.wantKeys(out[0].Order, "batch-0000", "batch-0001")
	b.wantKeys(out[2].Order, "batch-0002")
	b.wantKeys(out[3].Order, "batch-0003", "batch-0004")
	b.reserveSoldOut(p, 1)
}

func (s *suite) testReserveKeysOldestFirst(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, "OLD-1", "OLD-2")
	b.importKeys(p, "NEW-1", "NEW-2")
	o1 := b.reserve(p, 1, longTTL)
	o2 := b.reserve(p, 2, longTTL)
	b.wantKeys(o1, "OLD-1")
	b.wantKeys(o2, "OLD-2", "NEW-1")
	// A released key goes back to the front of the queue.
	b.cancel(o1)
	o3 := b.reserve(p, 2, longTTL)
	b.wantKeys(o3, "OLD-1", "NEW-2")
}

func (s *suite) testReserveSoldOut(t *testing.T) {
	b := s.setup(t)
	empty := b.cardProduct(longTTL)
	b.reserveSoldOut(empty, 1)
	b.wantStock(empty, 0, 0, 0, 0, 0)

	p := b.cardProduct(longTTL, "ONLY-1", "ONLY-2")
	b.reserveSoldOut(p, 3) // more than there is: nothing is taken
	b.wantStock(p, 2, 2, 0, 0, 0)
	o := b.reserve(p, 2, longTTL) // exactly what there is
	b.wantKeys(o, "ONLY-1", "ONLY-2")
	b.reserveSoldOut(p, 1)
	b.wantStock(p, 2, 0, 2, 0, 0)
}

func (s *suite) testReserveCounted(t *testing.T) {
	b := s.setup(t)
	m := b.product(faka.DeliveryManual, longTTL, 3)
	batch := []faka.ReserveParams{b.params(m, 2, longTTL), b.params(m, 2, longTTL), b.params(m, 1, longTTL)}
	out := b.reserveBatch(m, batch...)
	if out[0].Err != nil || out[2].Err != nil {
		t.Fatalf("manual reservations: %v, %v; want orders", out[0].Err, out[2].Err)
	}
	wantCode(t, out[1].Err, faka.ESoldOut, "second manual buyer of 2 with 1 left")
	for _, i := range []int{0, 2} {
		if diff := orderDiff(out[i].Order, m, batch[i]); len(diff) > 0 {
			t.Fatalf("manual buyer %d:\n%s", i, strings.Join(diff, "\n"))
		}
	}
	b.wantStock(m, 3, 0, 3, 0, 0)

	r := b.product(faka.DeliveryReusable, longTTL, 5)
	b.reserve(r, 5, longTTL)
	b.reserveSoldOut(r, 1)
	b.wantStock(r, 5, 0, 5, 0, 0)
}

func (s *suite) testReserveUnknownProduct(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, "K-1")
	missing := &faka.Product{ID: p.ID + 1000, Price: p.Price, Currency: p.Currency}
	prm := b.params(missing, 1, longTTL)
	out, err := b.rules.ReserveBatch(b.ctx, missing.ID, []faka.ReserveParams{prm})
	b.check()
	wantCode(t, err, faka.ENotFound, "ReserveBatch for a missing product (outcomes %+v)", out)
	b.orderNotFound(prm.OrderNo)
	b.wantStock(p, 1, 1, 0, 0, 0)
}

func (s *suite) testReserveInactiveProduct(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, "INACTIVE-1")
	off := *p
	off.Active = false
	if err := b.st.ProductUpdate(b.ctx, &off); err != nil {
		t.Fatal(err)
	}
	b.check()
	prm := b.params(p, 1, longTTL)
	out, err := b.rules.ReserveBatch(b.ctx, p.ID, []faka.ReserveParams{prm})
	b.check()
	wantCode(t, err, faka.EInvalid, "ReserveBatch for an inactive product (outcomes %+v)", out)
	b.orderNotFound(prm.OrderNo)
	b.wantStock(p, 1, 1, 0, 0, 0)
}

func (s *suite) wantIdempotency(b *bundle, prm faka.ReserveParams, o *faka.Order) {
	b.t.Helper()
	rec, err := b.st.IdempotencyGet(b.ctx, prm.IdempotencyKey)
	if err != nil {
		b.t.Fatalf("IdempotencyGet(%q): %v", prm.IdempotencyKey, err)
	}
	switch {
	case rec.Key != prm.IdempotencyKey:
		b.t.Fatalf("IdempotencyGet(%q).Key = %q", prm.IdempotencyKey, rec.Key)
	case rec.OrderID != o.ID || rec.OrderNo != o.OrderNo:
		b.t.Fatalf("idempotency key %q points at order %d %s, want %d %s", prm.IdempotencyKey, rec.OrderID, rec.OrderNo, o.ID, o.OrderNo)
	case !bytes.Equal(rec.RequestHash, prm.RequestHash) || !bytes.Equal(rec.SealedToken, prm.SealedToken):
		b.t.Fatalf("idempotency key %q: RequestHash %x SealedToken %x, want %x %x", prm.IdempotencyKey, rec.RequestHash, rec.SealedToken, prm.RequestHash, prm.SealedToken)
	case rec.CreatedAt.IsZero():
		b.t.Fatalf("idempotency key %q: CreatedAt is zero", prm.IdempotencyKey)
	}
}

func (b *bundle) idemParams(p *faka.Product, qty int, key string) faka.ReserveParams {
	prm := b.params(p, qty, longTTL)
	prm.IdempotencyKey = key
	prm.RequestHash = tokenHash("body:" + prm.OrderNo)
	prm.SealedToken = []byte("sealed token of " + prm.OrderNo)
	return prm
}

func (s *suite) testIdempotency(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("idem", 5)...)
	_, err := b.st.IdempotencyGet(b.ctx, "never-used")
	wantCode(t, err, faka.ENotFound, "IdempotencyGet of an unknown key")

	first := b.idemParams(p, 2, "idem-key-1")
	out := b.reserveBatch(p, first)
	if out[0].Err != nil {
		t.Fatalf("reserve with idempotency key: %v", out[0].Err)
	}
	o := out[0].Order
	s.wantIdempotency(b, first, o)

	// The same key again, even in a later batch: no second order.
	again := b.idemParams(p, 2, "idem-key-1")
	out = b.reserveBatch(p, again)
	wantCode(t, out[0].Err, faka.EConflict, "second reservation with the same idempotency key")
	b.orderNotFound(again.OrderNo)
	b.wantStock(p, 5, 3, 2, 0, 0)
	s.wantIdempotency(b, first, o) // still the first request's record

	// A different key is a different request.
	other := b.idemParams(p, 1, "idem-key-2")
	out = b.reserveBatch(p, other)
	if out[0].Err != nil {
		t.Fatalf("reserve with another idempotency key: %v", out[0].Err)
	}
	s.wantIdempotency(b, other, out[0].Order)
	b.wantStock(p, 5, 2, 3, 0, 0)

	// The key outlives the order's state changes.
	b.pay(o)
	s.wantIdempotency(b, first, o)
}

func (s *suite) testIdempotencyWithinBatch(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("idb", 5)...)
	one := b.idemParams(p, 1, "same-batch-key")
	two := b.idemParams(p, 1, "same-batch-key")
	plain := b.params(p, 1, longTTL)
	out := b.reserveBatch(p, one, two, plain)
	if out[0].Err != nil || out[2].Err != nil {
		t.Fatalf("first and third buyers: %v, %v; want orders", out[0].Err, out[2].Err)
	}
	wantCode(t, out[1].Err, faka.EConflict, "second use of an idempotency key in the same batch")
	b.orderNotFound(two.OrderNo)
	s.wantIdempotency(b, one, out[0].Order)
	b.wantStock(p, 5, 3, 2, 0, 0)
}

func (s *suite) testIdempotencySoldOutNotStored(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL)
	prm := b.idemParams(p, 1, "sold-out-key")
	out := b.reserveBatch(p, prm)
	wantCode(t, out[0].Err, faka.ESoldOut, "reserve from an empty product")
	// No order, so the key is not spent: the client may retry with it.
	_, err := b.st.IdempotencyGet(b.ctx, prm.IdempotencyKey)
	wantCode(t, err, faka.ENotFound, "IdempotencyGet of a key whose reservation sold out")

	b.importKeys(p, "RESTOCK-1")
	retry := b.idemParams(p, 1, "sold-out-key")
	out = b.reserveBatch(p, retry)
	if out[0].Err != nil {
		t.Fatalf("retry with the same key after restock: %v", out[0].Err)
	}
	s.wantIdempotency(b, retry, out[0].Order)
}
