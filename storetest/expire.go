package storetest

import (
	"testing"
	"time"

	"github.com/faka-dev/faka"
)

// The tests in this file wait for real reservations of shortTTL to pass,
// judged by the store's clock. There are few of them and they run in
// parallel.

func (s *suite) testOrdersExpire(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("exp", 10)...)
	before := b.now()
	due := []*faka.Order{
		b.reserve(p, 2, shortTTL),
		b.reserve(p, 1, shortTTL),
		b.reserve(p, 3, shortTTL),
	}
	after := b.now()
	long := b.reserve(p, 1, longTTL)
	paid := b.reserve(p, 1, shortTTL)
	b.payWant(paid, faka.OutcomeDelivered, faka.StatusDelivered)
	for _, o := range due {
		if lo, hi := before.Add(shortTTL-time.Second), after.Add(shortTTL+time.Second); !within(o.ReservedUntil, lo, hi) {
			t.Fatalf("order %s reserved until %v, want about %v + 1s", o.OrderNo, o.ReservedUntil, before)
		}
	}
	b.wantStock(p, 10, 2, 7, 1, 0)

	// Nothing is due yet, unless this machine is very slow.
	if now := b.now(); now.Before(due[0].ReservedUntil) {
		rel := b.expire(100)
		if units, _ := released(rel, p.ID); units != 0 {
			t.Fatalf("OrdersExpire released %d units at %v, before any reservation (first until %v) passed", units, now, due[0].ReservedUntil)
		}
		for _, o := range due {
			b.wantStatus(o.OrderNo, faka.StatusPending)
		}
	}

	b.waitPast(due[0].ReservedUntil, due[1].ReservedUntil, due[2].ReservedUntil, paid.ReservedUntil)

	// limit caps the orders moved per call.
	rel := b.expire(2)
	expired, units := 0, int64(0)
	for _, o := range due {
		if b.order(o.OrderNo).Status == faka.StatusExpired {
			expired++
			units += int64(o.Quantity)
		}
	}
	if expired != 2 {
		t.Fatalf("OrdersExpire(2) with 3 due orders expired %d", expired)
	}
	if got, _ := released(rel, p.ID); got != units {
		t.Fatalf("OrdersExpire(2) reported %d units released, want %d (releases %+v)", got, units, rel)
	}
	rel = b.expire(100)
	if got, _ := released(rel, p.ID); got != 6-units {
		t.Fatalf("second OrdersExpire reported %d units released, want %d (releases %+v)", got, 6-units, rel)
	}
	for _, o := range due {
		e := b.wantStatus(o.OrderNo, faka.StatusExpired)
		b.wantKeys(e)
	}
	if rel := b.expire(100); len(rel) != 0 {
		if got, _ := released(rel, p.ID); got != 0 {
			t.Fatalf("third OrdersExpire released %d units", got)
		}
	}
	// The delivered order's reservation passed too, but it was paid; the
	// long reservation has not passed.
	b.wantStatus(paid.OrderNo, faka.StatusDelivered)
	b.wantStatus(long.OrderNo, faka.StatusPending)
	b.wantStock(p, 10, 8, 1, 1, 0)

	// Released keys are on sale again.
	o := b.reserve(p, 8, longTTL)
	if len(b.keys(o)) != 8 {
		t.Fatal("released keys could not be reserved")
	}
	b.reserveSoldOut(p, 1)
}

func (s *suite) testLatePaymentWithStock(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("late", 3)...)
	o := b.reserve(p, 2, shortTTL)
	b.waitPast(o.ReservedUntil)
	rel := b.expire(100)
	if units, _ := released(rel, p.ID); units != 2 {
		t.Fatalf("expiry released %d units, want 2", units)
	}
	b.wantStatus(o.OrderNo, faka.StatusExpired)
	b.wantStock(p, 3, 3, 0, 0, 0)

	res := b.payWant(o, faka.OutcomeDelivered, faka.StatusDelivered)
	if got := b.keys(res.Order); len(got) != 2 {
		t.Fatalf("late-paid order holds keys %q, want 2", got)
	}
	b.wantStock(p, 3, 1, 0, 2, 0)
}

func (s *suite) testLatePaymentBackorderFIFO(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("fifo", 3)...)
	older := b.reserve(p, 2, shortTTL)
	newer := b.reserve(p, 1, shortTTL)
	b.waitPast(older.ReservedUntil, newer.ReservedUntil)
	rel := b.expire(100)
	if units, _ := released(rel, p.ID); units != 3 {
		t.Fatalf("expiry released %d units, want 3", units)
	}
	holder := b.reserve(p, 3, longTTL) // someone else takes every key

	b.payWant(older, faka.OutcomeAwaitingStock, faka.StatusPaidAwaitingStock)
	b.payWant(newer, faka.OutcomeAwaitingStock, faka.StatusPaidAwaitingStock)
	b.wantStock(p, 3, 0, 3, 0, 0)

	// One key is not enough for the oldest backorder (2 keys), and the
	// newer one may not jump the queue: strict FIFO.
	got := b.importKeys(p, "FIFO-NEW-1")
	if got.Imported != 1 || got.Fulfilled != 0 {
		t.Fatalf("import of 1 key with backorders of 2 then 1 = %+v; want Imported 1, Fulfilled 0", got)
	}
	b.wantStatus(older.OrderNo, faka.StatusPaidAwaitingStock)
	b.wantStatus(newer.OrderNo, faka.StatusPaidAwaitingStock)
	b.wantStock(p, 4, 1, 3, 0, 0)

	got = b.importKeys(p, "FIFO-NEW-2")
	if got.Imported != 1 || got.Fulfilled != 1 || got.FulfilledUnits != 2 {
		t.Fatalf("second import = %+v; want Imported 1, Fulfilled 1 (2 units)", got)
	}
	b.wantKeys(b.wantStatus(older.OrderNo, faka.StatusDelivered), "FIFO-NEW-1", "FIFO-NEW-2")
	b.wantStatus(newer.OrderNo, faka.StatusPaidAwaitingStock)
	b.wantStock(p, 5, 0, 3, 2, 0)

	// Released reservations fulfil backorders too, before going on sale.
	_, rel = b.cancel(holder)
	units, fulfilled := released(rel, p.ID)
	if units != 2 || fulfilled != 1 {
		t.Fatalf("cancel of 3 reserved units with a backorder of 1: released %d net units, fulfilled %d; want 2, 1 (releases %+v)", units, fulfilled, rel)
	}
	if got := b.keys(b.wantStatus(newer.OrderNo, faka.StatusDelivered)); len(got) != 1 {
		t.Fatalf("fulfilled backorder holds keys %q, want 1", got)
	}
	b.wantStock(p, 5, 2, 0, 3, 0)
}

func (s *suite) testBackorderFulfilledByExpiry(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, "BE-1", "BE-2")
	due := b.reserve(p, 1, shortTTL)
	o := b.reserve(p, 1, longTTL)
	b.cancel(o)
	b.reserve(p, 1, longTTL) // takes the key o released
	b.payWant(o, faka.OutcomeAwaitingStock, faka.StatusPaidAwaitingStock)
	b.wantStock(p, 2, 0, 2, 0, 0)

	b.waitPast(due.ReservedUntil)
	rel := b.expire(100)
	units, fulfilled := released(rel, p.ID)
	if units != 0 || fulfilled != 1 {
		t.Fatalf("expiry of 1 unit with a backorder of 1: released %d net units, fulfilled %d; want 0, 1 (releases %+v)", units, fulfilled, rel)
	}
	b.wantStatus(due.OrderNo, faka.StatusExpired)
	b.wantKeys(b.wantStatus(o.OrderNo, faka.StatusDelivered), "BE-1")
	b.wantStock(p, 2, 0, 1, 1, 0)
}
