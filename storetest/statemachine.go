package storetest

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
)

// testStateMachine drives one product of the store through random
// sequences of imports, reservations, payments (fresh, repeated and
// tampered), cancellations, refunds and manual deliveries, and compares
// every answer and the stock after every step with a model. Reservations
// do not expire here (expiry needs the real clock; see the Expire tests):
// cancellation followed by payment covers the late-payment paths.
//
// Every rapid case works on a new product of one shared store, so the
// model describes that product only.
func (s *suite) testStateMachine(t *testing.T) {
	st := s.open(t)
	kr := newKeyring(t)
	ctx := t.Context()
	cases := 0
	rapid.Check(t, func(rt *rapid.T) {
		cases++
		d := rapid.SampledFrom([]faka.Delivery{faka.DeliveryCard, faka.DeliveryCard, faka.DeliveryManual, faka.DeliveryReusable}).Draw(rt, "delivery")
		initial := int64(0)
		if d.Counted() {
			initial = rapid.Int64Range(0, 6).Draw(rt, "initial stock")
		}
		m := &machine{
			t:        rt,
			b:        &bundle{ctx: ctx, st: st, rules: engine.Rules{Store: st}, kr: kr, reusable: map[int64]string{}},
			case_:    cases,
			imported: map[string]int{},
			idemUsed: map[string]bool{},
			units:    faka.Stock{Imported: initial, Available: initial},
		}
		p := newProduct(fmt.Sprintf("state machine %d", cases), d, longTTL)
		var sealed *faka.SealedKey
		if d == faka.DeliveryReusable {
			m.secret = fmt.Sprintf("SM%d-LOOP", cases)
			sk := kr.SealReusable(m.secret)
			sealed = &sk
		}
		if err := st.ProductCreate(ctx, p, sealed, initial, nil); err != nil {
			rt.Fatalf("ProductCreate: %v", err)
		}
		m.p = p
		m.units.ProductID = p.ID
		if d == faka.DeliveryCard {
			m.restock(rt)
			m.check(rt)
		}

		// A loop of drawn actions rather than rt.Repeat, to bound the
		// steps of each case: every step is a transaction, and a pure-Go
		// SQLite under -race makes long cases slow.
		actions := map[string]func(*rapid.T){
			"restock":            m.restock,
			"reserve":            m.reserve,
			"reserve idempotent": m.reserveIdempotent,
			"pay":                m.pay,
			"repeat payment":     m.repeatPayment,
			"wrong payment":      m.wrongPayment,
			"cancel":             m.cancel,
			"cancel and pay":     m.cancelAndPay,
			"refund":             m.refund,
			"deliver manual":     m.deliverManual,
		}
		// Weights: the paths that move stock come up more often.
		names := slices.Sorted(maps.Keys(actions))
		names = append(names, "reserve", "reserve", "pay", "pay", "cancel and pay", "restock")
		maxSteps := 16
		if testing.Short() {
			maxSteps = 8
		}
		steps := rapid.IntRange(1, maxSteps).Draw(rt, "steps")
		for range steps {
			actions[rapid.SampledFrom(names).Draw(rt, "action")](rt)
			m.check(rt)
		}
		m.finish()
	})
	CheckInvariants(t, st)
}

type smOrder struct {
	o      *faka.Order
	status faka.OrderStatus
	keys   []string // card keys held, in claim order
	paidAt time.Time
	note   string
}

type smTrade struct {
	n         faka.Notification
	paymentID int64
	outcome   string
}

// machine is the model of one product.
type machine struct {
	t     *rapid.T
	b     *bundle
	case_ int
	p     *faka.Product

	secret   string         // a reusable product's key
	imported map[string]int // card secret → import sequence (key ID order)
	avail    []string       // available card secrets, oldest first
	units    faka.Stock
	orders   []*smOrder
	idemUsed map[string]bool // Idempotency-Keys spent on an order
	trades   []smTrade
	seq      int
}

func (m *machine) next() int {
	m.seq++
	return m.seq
}

func (m *machine) secretName(i int) string { return fmt.Sprintf("SM%d-KEY-%02d", m.case_, i) }

// claim takes q available units for o, oldest keys first.
func (m *machine) claim(o *smOrder, to faka.KeyState) bool {
	q := int64(o.o.Quantity)
	if m.units.Available < q {
		return false
	}
	m.units.Available -= q
	if to == faka.KeySold {
		m.units.Sold += q
	} else {
		m.units.Reserved += q
	}
	if m.p.Delivery == faka.DeliveryCard {
		o.keys = slices.Clone(m.avail[:q])
		m.avail = m.avail[q:]
	}
	return true
}

// release puts a pending order's units back, in key order.
func (m *machine) release(o *smOrder) {
	q := int64(o.o.Quantity)
	m.units.Reserved -= q
	m.units.Available += q
	m.avail = append(m.avail, o.keys...)
	slices.SortFunc(m.avail, func(a, b string) int { return cmp.Compare(m.imported[a], m.imported[b]) })
	o.keys = nil
}

func (m *machine) deliveredStatus() faka.OrderStatus {
	if m.p.Delivery == faka.DeliveryManual {
		return faka.StatusPaid
	}
	return faka.StatusDelivered
}

// fulfil delivers backorders by payment time (then order ID), strictly in
// that order: it stops at the first one that does not fit.
func (m *machine) fulfil() (n int, units int64) {
	for {
		var head *smOrder
		for _, o := range m.orders {
			if o.status != faka.StatusPaidAwaitingStock {
				continue
			}
			if head == nil || o.paidAt.Before(head.paidAt) || (o.paidAt.Equal(head.paidAt) && o.o.ID < head.o.ID) {
				head = o
			}
		}
		if head == nil || !m.claim(head, faka.KeySold) {
			return n, units
		}
		head.status = m.deliveredStatus()
		n++
		units += int64(head.o.Quantity)
	}
}

func (m *machine) backorders() bool {
	for _, o := range m.orders {
		if o.status == faka.StatusPaidAwaitingStock {
			return true
		}
	}
	return false
}

// pick draws one of the orders, or reserves one when there is none yet.
func (m *machine) pick(t *rapid.T) *smOrder {
	if len(m.orders) == 0 {
		m.reserve(t)
		m.check(t)
		if len(m.orders) == 0 {
			return nil
		}
	}
	return m.orders[rapid.IntRange(0, len(m.orders)-1).Draw(t, "order")]
}

func (m *machine) restock(t *rapid.T) {
	var res faka.ImportResult
	var err error
	var want faka.ImportResult
	if m.p.Delivery == faka.DeliveryCard {
		idx := rapid.SliceOfN(rapid.IntRange(0, 24), 0, 6).Draw(t, "secrets")
		var secrets []string
		for _, i := range idx {
			s := m.secretName(i)
			secrets = append(secrets, s)
			if _, ok := m.imported[s]; ok {
				want.Duplicates++
				continue
			}
			m.imported[s] = len(m.imported)
			m.avail = append(m.avail, s)
			want.Imported++
		}
		res, err = m.b.rules.KeysImport(m.b.ctx, m.p.ID, m.b.seal(m.p, secrets...))
	} else {
		n := rapid.Int64Range(1, 5).Draw(t, "units")
		want.Imported = int(n)
		res, err = m.b.rules.StockAdd(m.b.ctx, m.p.ID, n)
	}
	if err != nil {
		t.Fatalf("restock: %v", err)
	}
	m.units.Imported += int64(want.Imported)
	m.units.Available += int64(want.Imported)
	want.Fulfilled, want.FulfilledUnits = m.fulfil()
	if res != want {
		t.Fatalf("restock = %+v, want %+v", res, want)
	}
}

func (m *machine) reserve(t *rapid.T) {
	qs := rapid.SliceOfN(rapid.IntRange(1, 3), 1, 4).Draw(t, "quantities")
	m.reserveN(t, qs, nil)
}

// reserveIdempotent reserves for buyers who carry Idempotency-Keys from a
// small pool, so that keys used before, and twins inside one batch, come
// up: a used key is refused with a conflict before any stock is handed
// out, and a key is spent only by a buyer who got an order.
func (m *machine) reserveIdempotent(t *rapid.T) {
	qs := rapid.SliceOfN(rapid.IntRange(1, 3), 1, 4).Draw(t, "quantities")
	keys := make([]string, len(qs))
	for i := range keys {
		keys[i] = fmt.Sprintf("SM%d-IDEM-%d", m.case_, rapid.IntRange(0, 3).Draw(t, "key"))
	}
	m.reserveN(t, qs, keys)
}

// reserveN reserves for one buyer of each quantity, in one batch; keys,
// when not nil, are the buyers' Idempotency-Keys.
func (m *machine) reserveN(t *rapid.T, qs []int, keys []string) {
	n := len(qs)
	batch := make([]faka.ReserveParams, n)
	conflict := make([]bool, n)
	inBatch := map[string]bool{}
	for i, q := range qs {
		no := fmt.Sprintf("SM%d-O%d", m.case_, m.next())
		batch[i] = faka.ReserveParams{OrderNo: no, TokenHash: tokenHash(no), Quantity: q, UnitPrice: m.p.Price,
			Amount: m.p.Price * int64(q), Currency: m.p.Currency, Email: "sm@example.com", Gateway: "sandbox", TTL: longTTL}
		if keys != nil {
			k := keys[i]
			batch[i].IdempotencyKey, batch[i].RequestHash, batch[i].SealedToken = k, tokenHash(no), []byte(no)
			conflict[i] = m.idemUsed[k] || inBatch[k]
			inBatch[k] = true
		}
	}
	out, err := m.b.rules.ReserveBatch(m.b.ctx, m.p.ID, batch)
	if err != nil {
		t.Fatalf("ReserveBatch: %v", err)
	}
	if len(out) != n {
		t.Fatalf("ReserveBatch: %d outcomes for %d buyers", len(out), n)
	}
	for i, prm := range batch {
		if conflict[i] {
			if faka.ErrorCode(out[i].Err) != faka.EConflict {
				t.Fatalf("buyer %d with the used Idempotency-Key %q: %v, %v; want a conflict", i, prm.IdempotencyKey, out[i].Order, out[i].Err)
			}
			continue
		}
		o := &smOrder{o: &faka.Order{OrderNo: prm.OrderNo, Quantity: prm.Quantity}, status: faka.StatusPending}
		if !m.claim(o, faka.KeyReserved) {
			if faka.ErrorCode(out[i].Err) != faka.ESoldOut {
				t.Fatalf("buyer %d of %d with %d available: %v, %v; want sold out", i, prm.Quantity, m.units.Available, out[i].Order, out[i].Err)
			}
			continue
		}
		if out[i].Err != nil || out[i].Order == nil || out[i].Order.OrderNo != prm.OrderNo {
			t.Fatalf("buyer %d of %d with %d available: %v, %v; want order %s", i, prm.Quantity, m.units.Available+int64(prm.Quantity), out[i].Order, out[i].Err, prm.OrderNo)
		}
		o.o = out[i].Order
		m.orders = append(m.orders, o)
		if prm.IdempotencyKey != "" {
			m.idemUsed[prm.IdempotencyKey] = true
		}
	}
}

// applyPayment is what the model expects a new, genuine trade to do.
func (m *machine) applyPayment(o *smOrder) (outcome string, lateUnits int64) {
	delivered := faka.OutcomeDelivered
	if m.p.Delivery == faka.DeliveryManual {
		delivered = faka.OutcomePaid
	}
	switch o.status {
	case faka.StatusPending:
		q := int64(o.o.Quantity)
		m.units.Reserved -= q
		m.units.Sold += q
		o.status = m.deliveredStatus()
		return delivered, 0
	case faka.StatusExpired, faka.StatusCancelled:
		if !m.backorders() && m.claim(o, faka.KeySold) {
			o.status = m.deliveredStatus()
			return delivered, int64(o.o.Quantity)
		}
		o.status = faka.StatusPaidAwaitingStock
		return faka.OutcomeAwaitingStock, 0
	}
	return faka.OutcomeExtra, 0
}

func (m *machine) pay(t *rapid.T) {
	if o := m.pick(t); o != nil {
		m.payOrder(t, o)
	}
}

func (m *machine) payOrder(t *rapid.T, o *smOrder) {
	n := faka.Notification{Gateway: "sandbox", OrderNo: o.o.OrderNo, TradeNo: fmt.Sprintf("SM%d-T%d", m.case_, m.next()),
		Amount: o.o.Amount, Currency: o.o.Currency}
	was := o.status
	outcome, lateUnits := m.applyPayment(o)
	res, err := m.b.rules.PaymentConfirm(m.b.ctx, n)
	if err != nil {
		t.Fatalf("pay %s order %s: %v", was, o.o.OrderNo, err)
	}
	checkConfirmResult(t, n, res)
	late := outcome != faka.OutcomeExtra && was != faka.StatusPending
	if res.Duplicate || res.Payment.Outcome != outcome || res.Order.Status != o.status || res.Late != late || res.LateUnits != lateUnits {
		t.Fatalf("pay %s order %s: Duplicate %v outcome %q status %s Late %v LateUnits %d; want false %q %s %v %d",
			was, o.o.OrderNo, res.Duplicate, res.Payment.Outcome, res.Order.Status, res.Late, res.LateUnits, outcome, o.status, late, lateUnits)
	}
	if !was.IsPaid() {
		o.paidAt = res.Order.PaidAt
	}
	m.trades = append(m.trades, smTrade{n: n, paymentID: res.Payment.ID, outcome: outcome})
}

func (m *machine) repeatPayment(t *rapid.T) {
	if len(m.trades) == 0 {
		m.pay(t)
		m.check(t)
		if len(m.trades) == 0 {
			return
		}
	}
	tr := m.trades[rapid.IntRange(0, len(m.trades)-1).Draw(t, "trade")]
	res, err := m.b.rules.PaymentConfirm(m.b.ctx, tr.n)
	if err != nil {
		t.Fatalf("repeat of %s: %v", tr.n.TradeNo, err)
	}
	checkConfirmResult(t, tr.n, res)
	if !res.Duplicate || res.Payment.ID != tr.paymentID || res.Payment.Outcome != tr.outcome {
		t.Fatalf("repeat of %s: Duplicate %v payment %d %q; want true %d %q", tr.n.TradeNo, res.Duplicate, res.Payment.ID, res.Payment.Outcome, tr.paymentID, tr.outcome)
	}
}

func (m *machine) wrongPayment(t *rapid.T) {
	o := m.pick(t)
	if o == nil {
		return
	}
	n := faka.Notification{Gateway: "sandbox", OrderNo: o.o.OrderNo, TradeNo: fmt.Sprintf("SM%d-T%d", m.case_, m.next()),
		Amount: o.o.Amount, Currency: o.o.Currency}
	if rapid.Bool().Draw(t, "wrong currency") {
		n.Currency = "EUR"
	} else {
		n.Amount += rapid.SampledFrom([]int64{-1, 1, o.o.Amount}).Draw(t, "amount change")
	}
	_, err := m.b.rules.PaymentConfirm(m.b.ctx, n)
	if faka.ErrorCode(err) != faka.EInvalid {
		t.Fatalf("tampered payment of %s order: %v; want an invalid error", o.status, err)
	}
}

func (m *machine) cancel(t *rapid.T) {
	if o := m.pick(t); o != nil {
		m.cancelOrder(t, o)
	}
}

func (m *machine) cancelOrder(t *rapid.T, o *smOrder) {
	got, rel, err := m.b.rules.OrderCancel(m.b.ctx, o.o.OrderNo)
	if o.status != faka.StatusPending {
		if faka.ErrorCode(err) != faka.EInvalidState {
			t.Fatalf("cancel of %s order: %v; want an invalid-state error", o.status, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("cancel of pending order: %v", err)
	}
	m.release(o)
	o.status = faka.StatusCancelled
	n, units := m.fulfil()
	if got.Status != faka.StatusCancelled {
		t.Fatalf("cancel returned a %s order", got.Status)
	}
	gotUnits, gotN := released(rel, m.p.ID)
	if gotUnits != int64(o.o.Quantity)-units || gotN != n {
		t.Fatalf("cancel released %d net units, fulfilled %d; want %d, %d", gotUnits, gotN, int64(o.o.Quantity)-units, n)
	}
}

// cancelAndPay cancels a pending order and then pays it: a late payment,
// which gets fresh stock or becomes a backorder.
func (m *machine) cancelAndPay(t *rapid.T) {
	var pending []*smOrder
	for _, o := range m.orders {
		if o.status == faka.StatusPending {
			pending = append(pending, o)
		}
	}
	if len(pending) == 0 {
		m.reserve(t)
		m.check(t)
		return
	}
	o := pending[rapid.IntRange(0, len(pending)-1).Draw(t, "pending order")]
	m.cancelOrder(t, o)
	m.check(t)
	if m.units.Available > 0 && rapid.Bool().Draw(t, "others take the stock first") {
		m.reserveN(t, []int{int(m.units.Available)}, nil)
		m.check(t)
	}
	m.payOrder(t, o)
}

func (m *machine) refund(t *rapid.T) {
	o := m.pick(t)
	if o == nil {
		return
	}
	got, err := m.b.rules.OrderRefund(m.b.ctx, o.o.OrderNo)
	switch o.status {
	case faka.StatusPaid, faka.StatusDelivered, faka.StatusPaidAwaitingStock:
	default:
		if faka.ErrorCode(err) != faka.EInvalidState {
			t.Fatalf("refund of %s order: %v; want an invalid-state error", o.status, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("refund of %s order: %v", o.status, err)
	}
	if got.Status != faka.StatusRefunded {
		t.Fatalf("refund returned a %s order", got.Status)
	}
	if o.status != faka.StatusPaidAwaitingStock {
		q := int64(o.o.Quantity)
		m.units.Sold -= q
		m.units.Void += q
	}
	o.status = faka.StatusRefunded
}

func (m *machine) deliverManual(t *rapid.T) {
	o := m.pick(t)
	if o == nil {
		return
	}
	note := fmt.Sprintf("delivered by hand %d", m.next())
	got, err := m.b.rules.OrderDeliverManual(m.b.ctx, o.o.OrderNo, note)
	switch {
	case m.p.Delivery != faka.DeliveryManual:
		if faka.ErrorCode(err) != faka.EInvalid {
			t.Fatalf("manual delivery of a %s order: %v; want an invalid error", m.p.Delivery, err)
		}
	case o.status != faka.StatusPaid:
		if faka.ErrorCode(err) != faka.EInvalidState {
			t.Fatalf("manual delivery of a %s order: %v; want an invalid-state error", o.status, err)
		}
	case err != nil:
		t.Fatalf("manual delivery of a paid order: %v", err)
	default:
		if got.Status != faka.StatusDelivered || got.DeliveryNote != note {
			t.Fatalf("manual delivery returned %s %q", got.Status, got.DeliveryNote)
		}
		o.status = faka.StatusDelivered
		o.note = note
	}
}

// check compares the product's stock with the model after every step.
// The answers of each step were compared already; order states and keys
// are compared in finish, to keep the steps cheap.
func (m *machine) check(t *rapid.T) {
	got, err := m.b.st.StockGet(m.b.ctx, m.p.ID)
	if err != nil {
		t.Fatalf("StockGet: %v", err)
	}
	if got != m.units {
		t.Fatalf("stock:\n got  %s\n want %s", fmtStock(got), fmtStock(m.units))
	}
}

// finish checks every order's state and keys against the model.
func (m *machine) finish() {
	t := m.t
	orders, err := m.b.st.OrderList(m.b.ctx, faka.OrderFilter{ProductID: m.p.ID, Limit: allOrders})
	if err != nil {
		t.Fatalf("OrderList: %v", err)
	}
	if len(orders) != len(m.orders) {
		t.Fatalf("OrderList: %d orders, want %d", len(orders), len(m.orders))
	}
	byNo := map[string]*faka.Order{}
	for _, o := range orders {
		byNo[o.OrderNo] = o
	}
	for _, mo := range m.orders {
		o := byNo[mo.o.OrderNo]
		if o == nil || o.Status != mo.status || o.DeliveryNote != mo.note {
			t.Fatalf("order %s is %+v; want %s with note %q", mo.o.OrderNo, o, mo.status, mo.note)
		}
		got, err := orderSecrets(m.b.ctx, m.b.st, m.b.kr, o)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		switch m.p.Delivery {
		case faka.DeliveryCard:
			want = mo.keys
		case faka.DeliveryReusable:
			want = []string{m.secret}
		}
		slices.Sort(got)
		want = slices.Sorted(slices.Values(want))
		if !slices.Equal(got, want) {
			t.Fatalf("%s order %s holds keys %q, want %q", mo.status, mo.o.OrderNo, got, want)
		}
	}
	// The store-wide Reconcile grows with the shared store, so it runs
	// once after all cases (in testStateMachine); this product's orders and
	// keys are checked against its stock here.
	problems, err := orderProblems(m.b.ctx, m.b.st, m.p, m.units)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) > 0 {
		t.Fatalf("invariants violated:\n%q", problems)
	}
}
