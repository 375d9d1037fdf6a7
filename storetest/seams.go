package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/faka-dev/faka"
)

// The seams: cases where two stores could differ while each looks right
// on its own. The rules are written once (engine.Rules), so each of these
// checks that a store's data operations give the rules what they ask for.

// testScarceIdempotencyTwin: a batch whose first buyer repeats a used
// Idempotency-Key and whose second is a plain buyer, with one key left.
// The twin is refused before stock is handed out, so the plain buyer gets
// the last key.
func (s *suite) testScarceIdempotencyTwin(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("scarce", 2)...)
	first := b.idemParams(p, 1, "scarce-key")
	out := b.reserveBatch(p, first)
	if out[0].Err != nil {
		t.Fatalf("first reservation with the key: %v", out[0].Err)
	}
	twin := b.idemParams(p, 1, "scarce-key")
	plain := b.params(p, 1, longTTL)
	out = b.reserveBatch(p, twin, plain)
	wantCode(t, out[0].Err, faka.EConflict, "the key's twin in a later batch")
	if out[1].Err != nil {
		t.Fatalf("plain buyer with one key left: %v; want the key (the twin must not hold it)", out[1].Err)
	}
	b.orderNotFound(twin.OrderNo)
	b.wantKeys(out[1].Order, "scarce-0001")
	b.wantStock(p, 2, 0, 2, 0, 0)
}

// testBatchBadQuantity: a buyer with quantity 0 or below inside a batch is
// refused alone; the batch and its other buyers go on.
func (s *suite) testBatchBadQuantity(t *testing.T) {
	b := s.setup(t)
	for _, d := range []faka.Delivery{faka.DeliveryCard, faka.DeliveryManual} {
		var p *faka.Product
		if d == faka.DeliveryCard {
			p = b.cardProduct(longTTL, secrets("badq", 2)...)
		} else {
			p = b.product(d, longTTL, 2)
		}
		zero, neg := b.params(p, 0, longTTL), b.params(p, -3, longTTL)
		good := b.params(p, 2, longTTL)
		out := b.reserveBatch(p, zero, good, neg)
		wantCode(t, out[0].Err, faka.EInvalid, "%s: quantity 0 in a batch", d)
		wantCode(t, out[2].Err, faka.EInvalid, "%s: quantity -3 in a batch", d)
		if out[1].Err != nil {
			t.Fatalf("%s: the good buyer between them: %v", d, out[1].Err)
		}
		b.orderNotFound(zero.OrderNo)
		b.orderNotFound(neg.OrderNo)
		b.wantStock(p, 2, 0, 2, 0, 0)
	}
}

// testBatchLaterSmallerFits: the first buyer wants more than is left and
// is sold out; later, smaller buyers are served from what he left.
func (s *suite) testBatchLaterSmallerFits(t *testing.T) {
	b := s.setup(t)
	for _, d := range []faka.Delivery{faka.DeliveryCard, faka.DeliveryReusable} {
		var p *faka.Product
		if d == faka.DeliveryCard {
			p = b.cardProduct(longTTL, secrets("fit", 3)...)
		} else {
			p = b.product(d, longTTL, 3)
		}
		big, small, fits, none := b.params(p, 4, longTTL), b.params(p, 2, longTTL), b.params(p, 1, longTTL),
			b.params(p, 1, longTTL)
		out := b.reserveBatch(p, big, small, fits, none)
		wantCode(t, out[0].Err, faka.ESoldOut, "%s: first buyer wants 4 of 3", d)
		if out[1].Err != nil || out[2].Err != nil {
			t.Fatalf("%s: later buyers of 2 and 1 out of 3: %v, %v; want orders", d, out[1].Err, out[2].Err)
		}
		wantCode(t, out[3].Err, faka.ESoldOut, "%s: the buyer after the stock ran out", d)
		b.wantStock(p, 3, 0, 3, 0, 0)
	}
}

// testPaymentRacesExpiry: a payment and the sweeper reach a reservation
// that has run out at the same moment. Whichever commits first decides;
// the loser sees the new state. Either way the buyer who paid is served
// (delivered from the reserved keys, or late from fresh ones) and no unit
// is counted twice.
func (s *suite) testPaymentRacesExpiry(t *testing.T) {
	b := s.setup(t)
	const rounds = 8
	p := b.cardProduct(longTTL, secrets("race", rounds*2)...)
	var orders []*faka.Order
	for range rounds {
		orders = append(orders, b.reserve(p, 1, shortTTL))
	}
	b.waitPast(orders[len(orders)-1].ReservedUntil)
	var wg sync.WaitGroup
	results := make([]*faka.ConfirmResult, rounds)
	errs := make([]error, rounds*2)
	for i, o := range orders {
		n := b.notification(o) // b is not safe for concurrent use
		wg.Add(2)
		go func() {
			defer wg.Done()
			results[i], errs[2*i] = b.rules.PaymentConfirm(b.ctx, n)
		}()
		go func() {
			defer wg.Done()
			_, errs[2*i+1] = b.rules.OrdersExpire(b.ctx, 1)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("operation %d of the race: %v", i, err)
		}
	}
	b.check()
	sold := int64(0)
	for i, res := range results {
		o := b.order(orders[i].OrderNo)
		if o.Status != faka.StatusDelivered {
			t.Fatalf("order %s paid while expiring is %s, want delivered (there are fresh keys)", o.OrderNo, o.Status)
		}
		if res.Duplicate || res.Payment.Outcome != faka.OutcomeDelivered {
			t.Fatalf("order %s: payment outcome %q duplicate %v", o.OrderNo, res.Payment.Outcome, res.Duplicate)
		}
		if len(b.keys(o)) != 1 {
			t.Fatalf("order %s holds %d keys, want 1", o.OrderNo, len(b.keys(o)))
		}
		sold++
	}
	b.expire(100)
	st := b.stock(p)
	if st.Sold != sold || st.Reserved != 0 || st.Available != int64(rounds*2)-sold {
		t.Fatalf("after the race: %+v, want %d sold, none reserved", st, sold)
	}
}

// testDuplicateConfirmTogether: many copies of one notification, sent at
// once (on SQLite they share one commit group; on PostgreSQL they queue
// on the order): one applies, every other is a duplicate with the same
// payment, and one payment is stored.
func (s *suite) testDuplicateConfirmTogether(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("dup", 3)...)
	o := b.reserve(p, 2, longTTL)
	n := b.notification(o)
	const copies = 24
	var wg sync.WaitGroup
	res := make([]*faka.ConfirmResult, copies)
	errs := make([]error, copies)
	start := make(chan struct{})
	for i := range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res[i], errs[i] = b.rules.PaymentConfirm(b.ctx, n)
		}()
	}
	close(start)
	wg.Wait()
	applied := 0
	for i := range copies {
		if errs[i] != nil {
			t.Fatalf("copy %d: %v", i, errs[i])
		}
		if !res[i].Duplicate {
			applied++
		}
		if res[i].Order.Status != faka.StatusDelivered || res[i].Payment.TradeNo != n.TradeNo {
			t.Fatalf("copy %d: order %s, payment %+v", i, res[i].Order.Status, res[i].Payment)
		}
	}
	if applied != 1 {
		t.Fatalf("%d copies of one notification applied, want exactly 1", applied)
	}
	b.check()
	b.wantTrades(o, n.TradeNo, faka.OutcomeDelivered)
	b.wantStock(p, 3, 1, 0, 2, 0)
}

// testTxOutlivesCaller: a caller whose context ends while its write
// transaction runs (a buyer who disconnects) neither loses its own write
// nor aborts the others' that share the transaction.
func (s *suite) testTxOutlivesCaller(t *testing.T) {
	b := s.setup(t)
	const writers = 16
	ps := make([]*faka.Product, writers)
	for i := range ps {
		ps[i] = b.cardProduct(longTTL)
	}
	var wg sync.WaitGroup
	errs := make([]error, writers)
	keys := make([]faka.SealedKey, writers)
	for i := range keys {
		keys[i] = b.kr.SealCard(ps[i].ID, fmt.Sprintf("OUTLIVE-%02d", i))
	}
	start := make(chan struct{})
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithCancel(b.ctx)
			defer cancel()
			<-start
			errs[i] = b.st.Tx(ctx, func(ctx context.Context, tx faka.Tx) error {
				if i%2 == 0 {
					cancel() // this buyer goes away mid-transaction
				}
				n, err := tx.InsertKeys(ctx, ps[i].ID, keys[i:i+1])
				if err != nil {
					return err
				}
				if n != 1 {
					return fmt.Errorf("inserted %d keys, want 1", n)
				}
				// A slow statement, so that the end of a caller's context
				// falls while statements run.
				time.Sleep(2 * time.Millisecond)
				return tx.AppendLedger(ctx, []faka.LedgerEntry{{ProductID: ps[i].ID, Event: faka.LedgerImport,
					Available: 1}})
			})
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d (cancelled mid-transaction: %v): %v", i, i%2 == 0, err)
		}
		b.wantStock(ps[i], 1, 1, 0, 0, 0)
	}
	b.check()

	// A caller whose context ended before its transaction began gets the
	// context's error, and nothing is written.
	ctx, cancel := context.WithCancel(b.ctx)
	cancel()
	ran := false
	err := b.st.Tx(ctx, func(context.Context, faka.Tx) error { ran = true; return nil })
	if err == nil || ran {
		t.Fatalf("Tx on an ended context: err %v, fn ran %v; want an error and no run", err, ran)
	}
}

// testHoldLimit: one email, and one client, may hold at most HoldLimit
// units of a product in pending orders, counted from the orders (two
// buyers of one batch add up); cancelling gives the allowance back; a zero
// limit is none.
func (s *suite) testHoldLimit(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("hold", 20)...)
	held := func(email, client string, qty int) faka.ReserveParams {
		prm := b.params(p, qty, longTTL)
		prm.Email, prm.HoldLimit = email, 3
		if client != "" {
			prm.ClientHash = tokenHash("client " + client)
		}
		return prm
	}
	limited := func(out faka.ReserveOutcome, what string) {
		t.Helper()
		wantCode(t, out.Err, faka.ERateLimited, "%s", what)
	}
	first := b.reserveBatch(p, held("a@example.com", "", 2))[0]
	if first.Err != nil {
		t.Fatal(first.Err)
	}
	limited(b.reserveBatch(p, held("a@example.com", "", 2))[0], "email a: 2 held, 2 more")
	if out := b.reserveBatch(p, held("a@example.com", "", 1))[0]; out.Err != nil {
		t.Fatalf("email a: 2 held, 1 more (3 allowed): %v", out.Err)
	}
	// The same client under other emails.
	if out := b.reserveBatch(p, held("c1@example.com", "c", 3))[0]; out.Err != nil {
		t.Fatal(out.Err)
	}
	limited(b.reserveBatch(p, held("c2@example.com", "c", 1))[0], "client c: 3 held under another email")
	// Two buyers of one batch add up.
	out := b.reserveBatch(p, held("b@example.com", "", 2), held("b@example.com", "", 2), held("d@example.com", "", 3))
	if out[0].Err != nil || out[2].Err != nil {
		t.Fatalf("first of b, and d: %v, %v", out[0].Err, out[2].Err)
	}
	limited(out[1], "email b: the second buyer of the batch")
	// Cancelling gives the allowance back.
	b.cancel(first.Order)
	if out := b.reserveBatch(p, held("a@example.com", "", 2))[0]; out.Err != nil {
		t.Fatalf("email a after cancelling 2: %v", out.Err)
	}
	// No limit: any number of orders.
	for range 3 {
		prm := held("a@example.com", "c", 2)
		prm.HoldLimit = 0
		if out := b.reserveBatch(p, prm)[0]; out.Err != nil {
			t.Fatalf("without a hold limit: %v", out.Err)
		}
	}
	b.check()
}

// testIdempotencyTwinsConcurrent: batches carrying the same new
// Idempotency-Key commit at once (on PostgreSQL, from transactions that
// each looked before the other stored it): exactly one makes an order,
// every other buyer gets a conflict, and no stock is held for them.
func (s *suite) testIdempotencyTwinsConcurrent(t *testing.T) {
	b := s.setup(t)
	// Enough keys that no batch runs short even while the others' locked
	// keys are skipped (SKIP LOCKED on PostgreSQL).
	p := b.cardProduct(longTTL, secrets("twins", 40)...)
	const twins = 8
	batches := make([][]faka.ReserveParams, twins)
	for i := range batches {
		batches[i] = []faka.ReserveParams{b.idemParams(p, 1, "racing-key"), b.params(p, 1, longTTL)}
	}
	outs := make([][]faka.ReserveOutcome, twins)
	errs := make([]error, twins)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range twins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			outs[i], errs[i] = b.rules.ReserveBatch(b.ctx, p.ID, batches[i])
		}()
	}
	close(start)
	wg.Wait()
	made := 0
	for i := range twins {
		if errs[i] != nil {
			t.Fatalf("batch %d: %v", i, errs[i])
		}
		switch code := faka.ErrorCode(outs[i][0].Err); code {
		case "":
			made++
		case faka.EConflict:
		default:
			t.Fatalf("batch %d: the twin got %v", i, outs[i][0].Err)
		}
		if outs[i][1].Err != nil {
			t.Fatalf("batch %d: the plain buyer beside the twin: %v", i, outs[i][1].Err)
		}
	}
	if made != 1 {
		t.Fatalf("%d orders for one Idempotency-Key, want 1", made)
	}
	b.check()
	b.wantStock(p, 40, 40-1-twins, 1+twins, 0, 0)
}
