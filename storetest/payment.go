package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/faka-dev/faka"
)

func (b *bundle) payments(o *faka.Order) []*faka.Payment {
	b.t.Helper()
	ps, err := b.st.PaymentsByOrder(b.ctx, o.ID)
	if err != nil {
		b.t.Fatalf("PaymentsByOrder(%s): %v", o.OrderNo, err)
	}
	for _, p := range ps {
		if p.OrderID != o.ID || p.OrderNo != o.OrderNo {
			b.t.Fatalf("PaymentsByOrder(%s) returned a payment of order %d %s", o.OrderNo, p.OrderID, p.OrderNo)
		}
	}
	slices.SortFunc(ps, func(x, y *faka.Payment) int { return int(x.ID - y.ID) })
	return ps
}

// wantTrades asserts the trades recorded for o, with their outcomes.
func (b *bundle) wantTrades(o *faka.Order, tradeOutcome ...string) {
	b.t.Helper()
	ps := b.payments(o)
	var got []string
	for _, p := range ps {
		got = append(got, p.TradeNo, p.Outcome)
	}
	if !slices.Equal(got, tradeOutcome) {
		b.t.Fatalf("payments of %s = %q, want %q", o.OrderNo, got, tradeOutcome)
	}
}

func (s *suite) testPaymentConfirmDelivers(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("pay", 5)...)
	o := b.reserve(p, 2, longTTL)
	before := b.now()
	res := b.payWant(o, faka.OutcomeDelivered, faka.StatusDelivered)
	after := b.now()
	got := res.Order
	switch {
	case got.ID != o.ID || got.Quantity != 2 || got.Amount != o.Amount:
		t.Fatalf("confirmed order = %+v, want the reserved order %+v", got, o)
	case !within(got.PaidAt, before.Add(-time.Second), after.Add(time.Second)):
		t.Fatalf("PaidAt = %v, want between %v and %v", got.PaidAt, before, after)
	case !within(got.DeliveredAt, before.Add(-time.Second), after.Add(time.Second)):
		t.Fatalf("DeliveredAt = %v, want between %v and %v", got.DeliveredAt, before, after)
	case res.Payment.CreatedAt.IsZero():
		t.Fatal("payment CreatedAt is zero")
	}
	stored := b.order(o.OrderNo)
	if stored.PaidAt.IsZero() || stored.DeliveredAt.IsZero() {
		t.Fatalf("stored order PaidAt %v DeliveredAt %v; want both set", stored.PaidAt, stored.DeliveredAt)
	}
	// The reserved keys themselves became sold.
	b.wantKeys(stored, "pay-0000", "pay-0001")
	b.wantStock(p, 5, 3, 0, 2, 0)
	b.wantTrades(o, res.Payment.TradeNo, faka.OutcomeDelivered)
}

func (s *suite) testPaymentConfirmDuplicate(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("dup", 4)...)
	o := b.reserve(p, 2, longTTL)
	n := b.notification(o)
	first := b.confirm(n)
	if first.Duplicate || first.Payment.Outcome != faka.OutcomeDelivered {
		t.Fatalf("first notification: Duplicate %v, outcome %q", first.Duplicate, first.Payment.Outcome)
	}
	keys := b.keys(first.Order)
	for i := range 3 {
		again := b.confirm(n)
		switch {
		case !again.Duplicate:
			t.Fatalf("repeat %d of the notification: Duplicate = false", i)
		case again.Payment.ID != first.Payment.ID || again.Payment.Outcome != first.Payment.Outcome:
			t.Fatalf("repeat %d: payment %d %q, want the stored %d %q", i, again.Payment.ID, again.Payment.Outcome, first.Payment.ID, first.Payment.Outcome)
		case again.Order.Status != faka.StatusDelivered:
			t.Fatalf("repeat %d: order %s", i, again.Order.Status)
		}
	}
	b.wantStock(p, 4, 2, 0, 2, 0)
	b.wantKeys(b.order(o.OrderNo), keys...)
	b.wantTrades(o, n.TradeNo, faka.OutcomeDelivered)
}

func (s *suite) testPaymentConfirmTradeNoPerGateway(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("gw", 4)...)
	a := b.reserve(p, 1, longTTL)
	prm := b.params(p, 1, longTTL)
	prm.Gateway = "epay"
	out := b.reserveBatch(p, prm)
	if out[0].Err != nil {
		t.Fatal(out[0].Err)
	}
	c := out[0].Order

	na := b.notification(a)
	na.TradeNo = "SAME-TRADE-NO"
	nc := b.notification(c)
	nc.TradeNo = "SAME-TRADE-NO"
	if nc.Gateway == na.Gateway {
		t.Fatal("test setup: both orders use one gateway")
	}
	ra := b.confirm(na)
	rc := b.confirm(nc)
	if ra.Duplicate || rc.Duplicate {
		t.Fatalf("one trade number on two gateways: Duplicate %v, %v; want two payments", ra.Duplicate, rc.Duplicate)
	}
	if ra.Payment.ID == rc.Payment.ID {
		t.Fatalf("both gateways' trades stored as payment %d", ra.Payment.ID)
	}
	b.wantStatus(a.OrderNo, faka.StatusDelivered)
	b.wantStatus(c.OrderNo, faka.StatusDelivered)
	b.wantStock(p, 4, 2, 0, 2, 0)
}

func (s *suite) testPaymentConfirmWrong(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("wrong", 3)...)
	o := b.reserve(p, 2, longTTL)
	good := b.notification(o)
	for _, tc := range []struct {
		name string
		edit func(n *faka.Notification)
	}{
		{"amount one more", func(n *faka.Notification) { n.Amount++ }},
		{"amount one less", func(n *faka.Notification) { n.Amount-- }},
		{"amount of one unit", func(n *faka.Notification) { n.Amount = p.Price }},
		{"amount zero", func(n *faka.Notification) { n.Amount = 0 }},
		{"amount negative", func(n *faka.Notification) { n.Amount = -n.Amount }},
		{"other currency", func(n *faka.Notification) { n.Currency = "USD" }},
		{"lower-case currency", func(n *faka.Notification) { n.Currency = "cny" }},
		{"empty currency", func(n *faka.Notification) { n.Currency = "" }},
	} {
		n := good
		tc.edit(&n)
		res, err := b.rules.PaymentConfirm(b.ctx, n)
		b.check()
		wantCode(t, err, faka.EInvalid, "PaymentConfirm with %s (result %+v)", tc.name, res)
		b.wantStatus(o.OrderNo, faka.StatusPending)
		b.wantStock(p, 3, 1, 2, 0, 0)
		b.wantTrades(o)
	}
	// Nothing was recorded, so the genuine notification with the same
	// trade number is applied, not taken for a duplicate.
	res := b.confirm(good)
	if res.Duplicate || res.Order.Status != faka.StatusDelivered {
		t.Fatalf("genuine notification after refused ones: Duplicate %v, status %s", res.Duplicate, res.Order.Status)
	}
	b.wantStock(p, 3, 1, 0, 2, 0)

	// A wrong amount on a paid order is refused too, not recorded as extra.
	bad := b.notification(o)
	bad.Amount++
	_, err := b.rules.PaymentConfirm(b.ctx, bad)
	b.check()
	wantCode(t, err, faka.EInvalid, "wrong amount for a delivered order")
	b.wantTrades(o, good.TradeNo, faka.OutcomeDelivered)
	b.wantStock(p, 3, 1, 0, 2, 0)
}

func (s *suite) testPaymentConfirmUnknownOrder(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, "U-1")
	o := b.reserve(p, 1, longTTL)
	n := b.notification(o)
	n.OrderNo = "NO-SUCH-ORDER"
	_, err := b.rules.PaymentConfirm(b.ctx, n)
	b.check()
	wantCode(t, err, faka.ENotFound, "PaymentConfirm for an unknown order")
	b.wantStatus(o.OrderNo, faka.StatusPending)
	// Nothing recorded: the trade number is still free.
	n.OrderNo = o.OrderNo
	if res := b.confirm(n); res.Duplicate {
		t.Fatal("trade number of a refused notification was recorded")
	}
	b.wantStock(p, 1, 0, 0, 1, 0)
}

func (s *suite) testPaymentConfirmExtra(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("extra", 4)...)
	o := b.reserve(p, 2, longTTL)
	first := b.payWant(o, faka.OutcomeDelivered, faka.StatusDelivered)
	keys := b.keys(first.Order)

	n2 := b.notification(o)
	second := b.confirm(n2)
	switch {
	case second.Duplicate:
		t.Fatal("a second, different trade was taken for a duplicate")
	case second.Payment.Outcome != faka.OutcomeExtra:
		t.Fatalf("second trade outcome %q, want %q", second.Payment.Outcome, faka.OutcomeExtra)
	case second.Payment.ID == first.Payment.ID:
		t.Fatal("second trade stored as the first payment")
	case second.Order.Status != faka.StatusDelivered:
		t.Fatalf("order after extra trade: %s", second.Order.Status)
	}
	// Not applied: no more keys, nothing else sold.
	b.wantKeys(b.order(o.OrderNo), keys...)
	b.wantStock(p, 4, 2, 0, 2, 0)
	again := b.confirm(n2)
	if !again.Duplicate || again.Payment.Outcome != faka.OutcomeExtra || again.Payment.ID != second.Payment.ID {
		t.Fatalf("repeat of the extra trade: Duplicate %v outcome %q payment %d", again.Duplicate, again.Payment.Outcome, again.Payment.ID)
	}
	b.wantTrades(o, first.Payment.TradeNo, faka.OutcomeDelivered, n2.TradeNo, faka.OutcomeExtra)
	b.wantStock(p, 4, 2, 0, 2, 0)
}

func (s *suite) testPaymentAfterCancel(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("pac", 3)...)
	o := b.reserve(p, 2, longTTL)
	b.cancel(o)
	b.wantStock(p, 3, 3, 0, 0, 0)
	// The money came, so the buyer gets goods: like a late payment.
	res := b.payWant(o, faka.OutcomeDelivered, faka.StatusDelivered)
	if len(b.keys(res.Order)) != 2 {
		t.Fatalf("order paid after cancel holds %d keys, want 2", len(b.keys(res.Order)))
	}
	b.wantStock(p, 3, 1, 0, 2, 0)
}

func (s *suite) testPaymentAfterCancelBackorder(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, "BO-1", "BO-2")
	o := b.reserve(p, 2, longTTL)
	b.cancel(o)
	other := b.reserve(p, 2, longTTL) // someone else takes the keys
	res := b.payWant(o, faka.OutcomeAwaitingStock, faka.StatusPaidAwaitingStock)
	if res.Order.PaidAt.IsZero() || !res.Order.DeliveredAt.IsZero() {
		t.Fatalf("backorder PaidAt %v DeliveredAt %v; want paid, not delivered", res.Order.PaidAt, res.Order.DeliveredAt)
	}
	b.wantKeys(res.Order)
	b.wantStock(p, 2, 0, 2, 0, 0)

	// A duplicate of the backorder's trade changes nothing either.
	n := faka.Notification{Gateway: o.Gateway, OrderNo: o.OrderNo, TradeNo: res.Payment.TradeNo, Amount: o.Amount, Currency: o.Currency}
	if dup := b.confirm(n); !dup.Duplicate || dup.Payment.Outcome != faka.OutcomeAwaitingStock {
		t.Fatalf("repeat of the backorder trade: Duplicate %v outcome %q", dup.Duplicate, dup.Payment.Outcome)
	}
	b.wantStock(p, 2, 0, 2, 0, 0)

	// New keys go to the backorder first.
	got := b.importKeys(p, "BO-3", "BO-4", "BO-5")
	if got.Imported != 3 || got.Fulfilled != 1 || got.FulfilledUnits != 2 {
		t.Fatalf("import with one backorder waiting = %+v, want Imported 3, Fulfilled 1 (2 units)", got)
	}
	d := b.wantStatus(o.OrderNo, faka.StatusDelivered)
	if d.DeliveredAt.IsZero() {
		t.Fatal("fulfilled backorder has no DeliveredAt")
	}
	b.wantKeys(d, "BO-3", "BO-4")
	b.wantStock(p, 5, 1, 2, 2, 0)
	b.wantKeys(other, "BO-1", "BO-2")
}

func (s *suite) testLatePaymentQueuesBehindBackorder(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, "Q-1", "Q-2", "Q-3")
	a := b.reserve(p, 2, longTTL)
	c := b.reserve(p, 1, longTTL)
	b.cancel(a)
	b.cancel(c)
	holder := b.reserve(p, 3, longTTL)
	b.payWant(a, faka.OutcomeAwaitingStock, faka.StatusPaidAwaitingStock)

	// One key arrives: too few for the waiting backorder of 2.
	if got := b.importKeys(p, "Q-4"); got.Imported != 1 || got.Fulfilled != 0 {
		t.Fatalf("import of 1 key with a backorder of 2 = %+v; want Imported 1, Fulfilled 0", got)
	}
	b.wantStock(p, 4, 1, 3, 0, 0)
	// A late payment does not take that key from under the older
	// backorder: it queues behind it.
	b.payWant(c, faka.OutcomeAwaitingStock, faka.StatusPaidAwaitingStock)
	b.wantStock(p, 4, 1, 3, 0, 0)

	if got := b.importKeys(p, "Q-5"); got.Fulfilled != 1 || got.FulfilledUnits != 2 {
		t.Fatalf("second key = %+v; want the older backorder fulfilled with 2 units", got)
	}
	b.wantKeys(b.wantStatus(a.OrderNo, faka.StatusDelivered), "Q-4", "Q-5")
	b.wantStatus(c.OrderNo, faka.StatusPaidAwaitingStock)
	_, rel := b.cancel(holder)
	if units, fulfilled := released(rel, p.ID); units != 2 || fulfilled != 1 {
		t.Fatalf("cancel of 3 units with a backorder of 1: %d net units, %d fulfilled; want 2, 1", units, fulfilled)
	}
	b.wantKeys(b.wantStatus(c.OrderNo, faka.StatusDelivered), "Q-1")
	b.wantStock(p, 5, 2, 0, 3, 0)
}
