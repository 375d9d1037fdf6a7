package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/faka-dev/faka"
)

func (s *suite) testOrderCancel(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("cancel", 4)...)
	o := b.reserve(p, 3, longTTL)
	b.wantStock(p, 4, 1, 3, 0, 0)
	_, rel := b.cancel(o)
	if units, fulfilled := released(rel, p.ID); units != 3 || fulfilled != 0 {
		t.Fatalf("cancel released %d units, fulfilled %d; want 3, 0 (releases %+v)", units, fulfilled, rel)
	}
	b.wantKeys(b.wantStatus(o.OrderNo, faka.StatusCancelled))
	b.wantStock(p, 4, 4, 0, 0, 0)

	_, _, err := b.rules.OrderCancel(b.ctx, o.OrderNo)
	b.check()
	wantCode(t, err, faka.EInvalidState, "cancel of a cancelled order")

	d := b.reserve(p, 1, longTTL)
	b.pay(d)
	_, _, err = b.rules.OrderCancel(b.ctx, d.OrderNo)
	b.check()
	wantCode(t, err, faka.EInvalidState, "cancel of a delivered order")
	b.wantStatus(d.OrderNo, faka.StatusDelivered)
	if len(b.keys(d)) != 1 {
		t.Fatal("a refused cancel took the delivered key back")
	}

	_, _, err = b.rules.OrderCancel(b.ctx, "NO-SUCH-ORDER")
	b.check()
	wantCode(t, err, faka.ENotFound, "cancel of an unknown order")
	b.wantStock(p, 4, 3, 0, 1, 0)
}

func (s *suite) testOrderRefund(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("refund", 4)...)
	o := b.reserve(p, 2, longTTL)
	paid := b.payWant(o, faka.OutcomeDelivered, faka.StatusDelivered)
	b.wantStock(p, 4, 2, 0, 2, 0)

	r := b.refund(o)
	if r.PaidAt.IsZero() {
		t.Fatal("refunded order lost its PaidAt")
	}
	// The refunded keys become void: available is unchanged, and they are
	// never sold again.
	b.wantStock(p, 4, 2, 0, 0, 2)
	b.wantKeys(r, "refund-0000", "refund-0001")
	next := b.reserve(p, 2, longTTL)
	b.wantKeys(next, "refund-0002", "refund-0003")
	b.reserveSoldOut(p, 1)
	wantImport(t, b.importKeys(p, "refund-0000", "refund-0001"), 0, 2)
	b.wantStock(p, 4, 0, 2, 0, 2)

	// A payment for a refunded order is recorded, not applied.
	extra := b.pay(o)
	if extra.Duplicate || extra.Payment.Outcome != faka.OutcomeExtra || extra.Order.Status != faka.StatusRefunded {
		t.Fatalf("payment of a refunded order: Duplicate %v outcome %q status %s; want a new extra payment, order still refunded",
			extra.Duplicate, extra.Payment.Outcome, extra.Order.Status)
	}
	b.wantTrades(o, paid.Payment.TradeNo, faka.OutcomeDelivered, extra.Payment.TradeNo, faka.OutcomeExtra)
	b.wantStock(p, 4, 0, 2, 0, 2)
}

func (s *suite) testOrderRefundBackorder(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, "RB-1")
	o := b.reserve(p, 1, longTTL)
	b.cancel(o)
	b.reserve(p, 1, longTTL)
	b.payWant(o, faka.OutcomeAwaitingStock, faka.StatusPaidAwaitingStock)
	b.refund(o)
	b.wantStock(p, 1, 0, 1, 0, 0)
	// A refunded backorder is not fulfilled by new keys.
	got := b.importKeys(p, "RB-2")
	if got.Imported != 1 || got.Fulfilled != 0 {
		t.Fatalf("import after the only backorder was refunded = %+v; want Imported 1, Fulfilled 0", got)
	}
	b.wantKeys(b.wantStatus(o.OrderNo, faka.StatusRefunded))
	b.wantStock(p, 2, 1, 1, 0, 0)
}

func (s *suite) testOrderRefundInvalid(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("ri", 4)...)
	pending := b.reserve(p, 1, longTTL)
	cancelled := b.reserve(p, 1, longTTL)
	b.cancel(cancelled)
	refunded := b.reserve(p, 1, longTTL)
	b.pay(refunded)
	b.refund(refunded)
	b.wantStock(p, 4, 2, 1, 0, 1)

	for _, tc := range []struct {
		o    *faka.Order
		was  faka.OrderStatus
		code string
	}{
		{pending, faka.StatusPending, faka.EInvalidState},
		{cancelled, faka.StatusCancelled, faka.EInvalidState},
		{refunded, faka.StatusRefunded, faka.EInvalidState},
	} {
		_, err := b.rules.OrderRefund(b.ctx, tc.o.OrderNo)
		b.check()
		wantCode(t, err, tc.code, "refund of a %s order", tc.was)
		b.wantStatus(tc.o.OrderNo, tc.was)
	}
	_, err := b.rules.OrderRefund(b.ctx, "NO-SUCH-ORDER")
	b.check()
	wantCode(t, err, faka.ENotFound, "refund of an unknown order")
	b.wantStock(p, 4, 2, 1, 0, 1)
	if got := b.keys(pending); len(got) != 1 {
		t.Fatalf("pending order holds %q after a refused refund", got)
	}
}

func (s *suite) testManualDelivery(t *testing.T) {
	b := s.setup(t)
	m := b.product(faka.DeliveryManual, longTTL, 3)
	o := b.reserve(m, 2, longTTL)
	b.wantStock(m, 3, 1, 2, 0, 0)

	_, err := b.rules.OrderDeliverManual(b.ctx, o.OrderNo, "too early")
	b.check()
	wantCode(t, err, faka.EInvalidState, "manual delivery of an unpaid order")
	b.wantStatus(o.OrderNo, faka.StatusPending)

	res := b.payWant(o, faka.OutcomePaid, faka.StatusPaid)
	if res.Order.PaidAt.IsZero() || !res.Order.DeliveredAt.IsZero() {
		t.Fatalf("paid manual order PaidAt %v DeliveredAt %v; want paid, not delivered", res.Order.PaidAt, res.Order.DeliveredAt)
	}
	b.wantStock(m, 3, 1, 0, 2, 0)
	if keys := b.keys(res.Order); len(keys) != 0 {
		t.Fatalf("manual order holds keys %q", keys)
	}

	const note = "Account: buyer@example.com / pass: 例え-123\nsent by email"
	d, err := b.rules.OrderDeliverManual(b.ctx, o.OrderNo, note)
	if err != nil {
		t.Fatalf("OrderDeliverManual: %v", err)
	}
	b.check()
	if d.Status != faka.StatusDelivered || d.DeliveryNote != note || d.DeliveredAt.IsZero() {
		t.Fatalf("OrderDeliverManual = status %s note %q delivered at %v", d.Status, d.DeliveryNote, d.DeliveredAt)
	}
	got := b.wantStatus(o.OrderNo, faka.StatusDelivered)
	if got.DeliveryNote != note || got.DeliveredAt.IsZero() || got.PaidAt.IsZero() {
		t.Fatalf("stored manual order: note %q delivered %v paid %v", got.DeliveryNote, got.DeliveredAt, got.PaidAt)
	}
	b.wantStock(m, 3, 1, 0, 2, 0)

	_, err = b.rules.OrderDeliverManual(b.ctx, o.OrderNo, "again")
	b.check()
	wantCode(t, err, faka.EInvalidState, "second manual delivery")
	if got := b.order(o.OrderNo); got.DeliveryNote != note {
		t.Fatalf("refused delivery changed the note to %q", got.DeliveryNote)
	}
	_, err = b.rules.OrderDeliverManual(b.ctx, "NO-SUCH-ORDER", "x")
	b.check()
	wantCode(t, err, faka.ENotFound, "manual delivery of an unknown order")

	// A duplicate of the payment returns the stored outcome.
	n := faka.Notification{Gateway: o.Gateway, OrderNo: o.OrderNo, TradeNo: res.Payment.TradeNo, Amount: o.Amount, Currency: o.Currency}
	if dup := b.confirm(n); !dup.Duplicate || dup.Payment.Outcome != faka.OutcomePaid {
		t.Fatalf("repeat of the manual payment: Duplicate %v outcome %q", dup.Duplicate, dup.Payment.Outcome)
	}

	// Refunds of delivered and of paid manual orders void their units.
	b.refund(o)
	b.wantStock(m, 3, 1, 0, 0, 2)
	p2 := b.reserve(m, 1, longTTL)
	b.payWant(p2, faka.OutcomePaid, faka.StatusPaid)
	b.refund(p2)
	b.wantStock(m, 3, 0, 0, 0, 3)
	b.reserveSoldOut(m, 1)

	// Card orders are not delivered by hand.
	c := b.cardProduct(longTTL, "MANUAL-CARD-1")
	co := b.reserve(c, 1, longTTL)
	b.pay(co)
	_, err = b.rules.OrderDeliverManual(b.ctx, co.OrderNo, "note")
	b.check()
	wantCode(t, err, faka.EInvalid, "manual delivery of a card order")
	if got := b.order(co.OrderNo); got.DeliveryNote != "" || got.Status != faka.StatusDelivered {
		t.Fatalf("refused manual delivery changed the card order: %s %q", got.Status, got.DeliveryNote)
	}
}

func (s *suite) testReusableDelivery(t *testing.T) {
	b := s.setup(t)
	r := b.product(faka.DeliveryReusable, longTTL, 5)
	secret := b.reusable[r.ID]
	o1 := b.reserve(r, 2, longTTL)
	o2 := b.reserve(r, 3, longTTL)
	b.reserveSoldOut(r, 1)
	b.wantStock(r, 5, 0, 5, 0, 0)
	b.payWant(o1, faka.OutcomeDelivered, faka.StatusDelivered)
	b.payWant(o2, faka.OutcomeDelivered, faka.StatusDelivered)
	b.wantStock(r, 5, 0, 0, 5, 0)
	for _, o := range []*faka.Order{o1, o2} {
		keys := b.keys(b.order(o.OrderNo))
		if len(keys) == 0 {
			t.Fatalf("delivered reusable order %s holds no key", o.OrderNo)
		}
		for _, k := range keys {
			if k != secret {
				t.Fatalf("reusable order %s holds %q, want the product's key %q", o.OrderNo, k, secret)
			}
		}
	}
	if _, err := b.rules.StockAdd(b.ctx, r.ID, 1); err != nil {
		t.Fatal(err)
	}
	b.check()
	o3 := b.reserve(r, 1, longTTL)
	b.pay(o3)
	b.refund(o3)
	b.wantStock(r, 6, 0, 0, 5, 1)
}

func (s *suite) testOrderKeysDecrypt(t *testing.T) {
	b := s.setup(t)
	all := []string{"AAAA-1111", "BBBB-2222", "CCCC-3333", "DDDD-4444", "EEEE-5555", "FFFF-6666"}
	p := b.cardProduct(longTTL, all...)
	seen := map[string]string{}
	for i := range 3 {
		o := b.reserve(p, 2, longTTL)
		// A pending order holds its reserved keys already.
		b.wantKeys(o, all[2*i], all[2*i+1])
		res := b.payWant(o, faka.OutcomeDelivered, faka.StatusDelivered)
		for _, k := range b.keys(res.Order) {
			if prev, ok := seen[k]; ok {
				t.Fatalf("key %q delivered to %s and %s", k, prev, o.OrderNo)
			}
			seen[k] = o.OrderNo
		}
	}
	got := slices.Sorted(func(yield func(string) bool) {
		for k := range seen {
			if !yield(k) {
				return
			}
		}
	})
	if !slices.Equal(got, all) {
		t.Fatalf("delivered keys %q, want exactly the imported %q", got, all)
	}
	// Ciphertexts are bound to their product: opening one as another
	// product's key fails, so keys cannot be moved between products.
	o := b.order(seen[all[0]])
	sealed, err := b.st.OrderKeys(b.ctx, o.ID)
	if err != nil || len(sealed) != 2 {
		t.Fatalf("OrderKeys = %d keys, %v", len(sealed), err)
	}
	if _, err := b.kr.OpenKey(p.ID+1, false, sealed[0]); err == nil {
		t.Fatal("a stored key opened as another product's key")
	}
	if string(sealed[0].Ciphertext) == all[0] || string(sealed[1].Ciphertext) == all[1] {
		t.Fatal("OrderKeys returned plaintext as ciphertext")
	}
}

func (s *suite) testOrderList(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("list-p", 5)...)
	q := b.product(faka.DeliveryManual, longTTL, 5)
	mk := func(prod *faka.Product, email string) *faka.Order {
		prm := b.params(prod, 1, longTTL)
		prm.Email = email
		out := b.reserveBatch(prod, prm)
		if out[0].Err != nil {
			t.Fatal(out[0].Err)
		}
		return out[0].Order
	}
	o1 := mk(p, "a@example.com")
	o2 := mk(p, "b@example.com")
	o3 := mk(q, "a@example.com")
	o4 := mk(p, "a@example.com")
	b.pay(o4)
	b.cancel(o2)

	for _, tc := range []struct {
		f    faka.OrderFilter
		want []*faka.Order
	}{
		{faka.OrderFilter{Limit: 100}, []*faka.Order{o4, o3, o2, o1}},
		{faka.OrderFilter{ProductID: p.ID, Limit: 100}, []*faka.Order{o4, o2, o1}},
		{faka.OrderFilter{ProductID: q.ID, Limit: 100}, []*faka.Order{o3}},
		{faka.OrderFilter{Status: faka.StatusDelivered, Limit: 100}, []*faka.Order{o4}},
		{faka.OrderFilter{Status: faka.StatusPending, Limit: 100}, []*faka.Order{o3, o1}},
		{faka.OrderFilter{Email: "a@example.com", Limit: 100}, []*faka.Order{o4, o3, o1}},
		{faka.OrderFilter{ProductID: p.ID, Email: "a@example.com", Limit: 100}, []*faka.Order{o4, o1}},
		{faka.OrderFilter{ProductID: p.ID, Status: faka.StatusCancelled, Limit: 100}, []*faka.Order{o2}},
		{faka.OrderFilter{Email: "nobody@example.com", Limit: 100}, nil},
		{faka.OrderFilter{Limit: 2}, []*faka.Order{o4, o3}},
	} {
		got, err := b.st.OrderList(b.ctx, tc.f)
		if err != nil {
			t.Fatalf("OrderList(%+v): %v", tc.f, err)
		}
		var gotNos, wantNos []string
		for _, o := range got {
			gotNos = append(gotNos, o.OrderNo)
		}
		for _, o := range tc.want {
			wantNos = append(wantNos, o.OrderNo)
		}
		if !slices.Equal(gotNos, wantNos) {
			t.Fatalf("OrderList(%+v) = %v, want %v (newest first)", tc.f, gotNos, wantNos)
		}
	}
}

func (s *suite) testPaymentsByOrder(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("pbo", 3)...)
	o := b.reserve(p, 1, longTTL)
	none := b.reserve(p, 1, longTTL)
	first := b.pay(o)
	b.confirm(faka.Notification{Gateway: o.Gateway, OrderNo: o.OrderNo, TradeNo: first.Payment.TradeNo, Amount: o.Amount, Currency: o.Currency})
	second := b.pay(o)

	ps := b.payments(o)
	if len(ps) != 2 {
		t.Fatalf("PaymentsByOrder = %d payments, want 2 (a duplicate is not a payment)", len(ps))
	}
	for i, want := range []*faka.Payment{first.Payment, second.Payment} {
		got := ps[i]
		if got.ID != want.ID || got.Gateway != want.Gateway || got.TradeNo != want.TradeNo || got.Amount != want.Amount ||
			got.Currency != want.Currency || got.Outcome != want.Outcome || got.CreatedAt.IsZero() {
			t.Fatalf("payment %d = %+v, want %+v", i, got, want)
		}
	}
	if ps := b.payments(none); len(ps) != 0 {
		t.Fatalf("PaymentsByOrder of an unpaid order = %d payments", len(ps))
	}
}

func (s *suite) testReconcileFigures(t *testing.T) {
	b := s.setup(t)
	rep, err := b.st.Reconcile(b.ctx)
	if err != nil {
		t.Fatalf("Reconcile of an empty store: %v", err)
	}
	if problems := reportProblems(rep); len(problems) > 0 || len(rep.Products) != 0 {
		t.Fatalf("Reconcile of an empty store: %d products, problems %q", len(rep.Products), problems)
	}

	p := b.cardProduct(longTTL, secrets("rec", 6)...)
	o1 := b.reserve(p, 2, longTTL)
	b.reserve(p, 1, longTTL)
	b.pay(o1)
	o3 := b.reserve(p, 1, longTTL)
	b.pay(o3)
	if _, err := b.rules.KeysVoid(b.ctx, p.ID, keyIDRange(1000)); err != nil {
		t.Fatal(err)
	}
	b.check()
	b.refund(o1)
	m := b.product(faka.DeliveryManual, longTTL, 4)
	b.pay(b.reserve(m, 1, longTTL))
	r := b.product(faka.DeliveryReusable, longTTL, 2)
	b.reserve(r, 2, longTTL)

	rep, err = b.st.Reconcile(b.ctx)
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if problems := reportProblems(rep); len(problems) > 0 {
		t.Fatalf("Reconcile of a healthy store: %q", problems)
	}
	want := map[int64]faka.Stock{
		p.ID: {ProductID: p.ID, Imported: 6, Available: 0, Reserved: 1, Sold: 1, Void: 4},
		m.ID: {ProductID: m.ID, Imported: 4, Available: 3, Reserved: 0, Sold: 1, Void: 0},
		r.ID: {ProductID: r.ID, Imported: 2, Available: 0, Reserved: 2, Sold: 0, Void: 0},
	}
	for name, figures := range map[string][]faka.Stock{"Products": rep.Products, "Ledger": rep.Ledger} {
		if len(figures) != len(want) {
			t.Fatalf("Reconcile.%s has %d products, want %d", name, len(figures), len(want))
		}
		for _, s := range figures {
			if s != want[s.ProductID] {
				t.Fatalf("Reconcile.%s product %d:\n got  %s\n want %s", name, s.ProductID, fmtStock(s), fmtStock(want[s.ProductID]))
			}
		}
	}
	if d := rep.CheckedAt.Sub(b.now()).Abs(); d > time.Minute {
		t.Fatalf("Reconcile.CheckedAt = %v is %v away from the store's clock", rep.CheckedAt, d)
	}
}
