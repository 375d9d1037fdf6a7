package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/faka-dev/faka"
)

// Rules are the order rules, written once over any store's data
// operations (faka.Tx): who in a batch gets stock, idempotency conflicts,
// whether a payment applies, late payments, backorders oldest first,
// expiry, cancel, refund and manual delivery. Each method is one
// transaction of the store. The Engine runs them behind its admission gate
// and batcher; the conformance suite (storetest) runs them directly so
// that every store is held to the same rules.
type Rules struct {
	Store faka.Store
}

// errInvariant marks a state that the schema and these rules make
// impossible (a store that moved fewer units than an order holds, say):
// the transaction is rolled back and the error surfaces as internal.
var errInvariant = errors.New("invariant violated")

// errIdempotencyRace is returned inside a reservation batch when another
// transaction stored one of its Idempotency-Keys after the batch looked:
// the batch is rolled back and run again, and then sees the key taken.
var errIdempotencyRace = errors.New("an Idempotency-Key was stored concurrently")

// maxIdempotencyRetries bounds how often a batch is re-run for
// errIdempotencyRace; each run sees more keys taken, so one is enough in
// practice.
const maxIdempotencyRetries = 3

// errKeyUsed is the outcome of a buyer whose Idempotency-Key was used.
func errKeyUsed() error {
	return faka.Errorf(faka.EConflict, "this Idempotency-Key has been used")
}

// ReserveBatch reserves stock for many buyers of one product in one
// transaction, in order. Buyers who cannot be served are refused first,
// before any stock is handed out: a quantity below one (EInvalid), an
// Idempotency-Key already stored or carried by an earlier buyer of the
// batch (EConflict). The stock is then handed out in batch order; a buyer
// it does not reach gets ErrSoldOut and a later, smaller buyer may still
// be served. A refused buyer writes nothing and takes nothing from the
// others. An unknown product fails the whole batch with ENotFound, an
// inactive one with EInvalid.
func (r Rules) ReserveBatch(ctx context.Context, productID int64, batch []faka.ReserveParams) ([]faka.ReserveOutcome, error) {
	out := make([]faka.ReserveOutcome, len(batch))
	var err error
	for range maxIdempotencyRetries {
		err = r.Store.Tx(ctx, func(ctx context.Context, tx faka.Tx) error {
			clear(out)
			return reserveBatch(ctx, tx, productID, batch, out)
		})
		if !errors.Is(err, errIdempotencyRace) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

func reserveBatch(ctx context.Context, tx faka.Tx, productID int64, batch []faka.ReserveParams, out []faka.ReserveOutcome) error {
	d, active, err := tx.ProductState(ctx, productID)
	if err != nil {
		return err
	}
	if !active {
		return faka.Errorf(faka.EInvalid, "product %d is not on sale", productID)
	}

	// Refusals that need no stock come first, so that a refused buyer
	// never keeps stock from a later one.
	var keys []string
	for _, p := range batch {
		if p.IdempotencyKey != "" {
			keys = append(keys, p.IdempotencyKey)
		}
	}
	taken := map[string]bool{}
	if len(keys) > 0 {
		if taken, err = tx.IdempotencyTaken(ctx, keys); err != nil {
			return err
		}
	}
	var want int64
	for i, p := range batch {
		switch k := p.IdempotencyKey; {
		case p.Quantity < 1:
			out[i].Err = faka.Errorf(faka.EInvalid, "quantity must be at least 1")
		case k != "" && taken[k]:
			out[i].Err = errKeyUsed()
		default:
			if k != "" {
				taken[k] = true // the first buyer of the batch with a key may store it
			}
			want += int64(p.Quantity)
		}
	}
	if want == 0 {
		return nil
	}

	found, err := tx.FindStock(ctx, productID, d, want)
	if err != nil {
		return err
	}
	left := found.Units
	var (
		orders []faka.NewOrder
		served []int // batch index of each order
	)
	for i, p := range batch {
		if out[i].Err != nil {
			continue
		}
		if int64(p.Quantity) > left {
			out[i].Err = faka.ErrSoldOut
			continue
		}
		left -= int64(p.Quantity)
		orders = append(orders, faka.NewOrder{TTL: p.TTL, Order: &faka.Order{
			OrderNo: p.OrderNo, ProductID: productID, Delivery: d, Quantity: p.Quantity,
			UnitPrice: p.UnitPrice, Amount: p.Amount, Currency: p.Currency, Email: p.Email,
			Gateway: p.Gateway, Status: faka.StatusPending, TokenHash: p.TokenHash,
			QueryPasswordHash: p.QueryPasswordHash,
		}})
		served = append(served, i)
	}
	if len(orders) == 0 {
		return nil
	}
	if err := tx.InsertOrders(ctx, orders); err != nil {
		return err
	}

	var (
		claims []faka.Claim
		ledger []faka.LedgerEntry
		idem   []faka.IdempotencyRecord
		units  int64
	)
	for j, no := range orders {
		o, p := no.Order, batch[served[j]]
		q := int64(o.Quantity)
		c := faka.Claim{OrderID: o.ID, Units: q}
		if !d.Counted() {
			c.KeyIDs = found.KeyIDs[units : units+q]
		}
		units += q
		claims = append(claims, c)
		ledger = append(ledger, faka.LedgerEntry{ProductID: productID, OrderID: o.ID, Event: faka.LedgerReserve,
			Available: -q, Reserved: q})
		if p.IdempotencyKey != "" {
			idem = append(idem, faka.IdempotencyRecord{Key: p.IdempotencyKey, RequestHash: p.RequestHash,
				OrderID: o.ID, OrderNo: o.OrderNo, SealedToken: p.SealedToken})
		}
	}
	if len(idem) > 0 {
		n, err := tx.InsertIdempotency(ctx, idem)
		if err != nil {
			return err
		}
		if n != len(idem) {
			return errIdempotencyRace
		}
	}
	if err := claimExactly(ctx, tx, productID, d, claims, faka.KeyReserved, units); err != nil {
		return err
	}
	if err := tx.AppendLedger(ctx, ledger); err != nil {
		return err
	}
	for j, no := range orders {
		out[served[j]].Order = no.Order
	}
	return nil
}

// claimExactly claims found units and checks that all of them moved.
func claimExactly(ctx context.Context, tx faka.Tx, productID int64, d faka.Delivery, claims []faka.Claim, to faka.KeyState, units int64) error {
	n, err := tx.ClaimStock(ctx, productID, d, claims, to)
	if err != nil {
		return err
	}
	if n != units {
		return fmt.Errorf("product %d: claimed %d of %d units found: %w", productID, n, units, errInvariant)
	}
	return nil
}

// moveExactly moves orders' units and checks that all of them moved.
func moveExactly(ctx context.Context, tx faka.Tx, moves []faka.StockMove) error {
	var want int64
	for _, m := range moves {
		want += m.Units
	}
	n, err := tx.MoveStock(ctx, moves)
	if err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("moved %d of %d units: %w", n, want, errInvariant)
	}
	return nil
}

// setStatus moves one order by a conditional update: EInvalidState when
// the state machine forbids the move or the order is no longer in state
// from (another transaction won). It updates o.
func setStatus(ctx context.Context, tx faka.Tx, o *faka.Order, to faka.OrderStatus) error {
	if err := faka.Transition(o.Status, to); err != nil {
		return err
	}
	ch := faka.StatusChange{OrderID: o.ID, From: o.Status, To: to,
		Paid: to.IsPaid() && !o.Status.IsPaid(), Delivered: to == faka.StatusDelivered}
	n, err := tx.SetStatus(ctx, []faka.StatusChange{ch})
	if err != nil {
		return err
	}
	if n != 1 {
		return faka.Errorf(faka.EInvalidState, "the order is no longer %s", o.Status)
	}
	o.Status = to
	return nil
}

// deliveredState is where a paid order of delivery kind d goes once its
// stock is sold to it: delivered, or paid for the merchant to fulfil.
func deliveredState(d faka.Delivery) (faka.OrderStatus, string) {
	if d == faka.DeliveryManual {
		return faka.StatusPaid, faka.OutcomePaid
	}
	return faka.StatusDelivered, faka.OutcomeDelivered
}

// PaymentConfirm applies a verified notification exactly once. A trade
// (gateway, trade_no) seen before returns the stored outcome with
// Duplicate set and changes nothing. An amount or currency other than the
// order's is an EInvalid error and an unknown order ErrNotFound; neither
// changes anything. A payment for a pending order sells its reserved
// units, even past its reservation if the sweeper has not reached it (the
// payment's conditional update won). A payment for an expired or cancelled
// order is late: it claims fresh stock unless a backorder is waiting, else
// the order becomes a backorder. A second trade for a paid order is
// recorded as extra and applies nothing.
func (r Rules) PaymentConfirm(ctx context.Context, n faka.Notification) (*faka.ConfirmResult, error) {
	var res *faka.ConfirmResult
	err := r.Store.Tx(ctx, func(ctx context.Context, tx faka.Tx) error {
		var err error
		res, err = confirm(ctx, tx, n)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func confirm(ctx context.Context, tx faka.Tx, n faka.Notification) (*faka.ConfirmResult, error) {
	// The order is held before anything is decided, so that copies of one
	// notification queue on it: the first applies, the rest find its
	// payment below.
	o, err := tx.LockOrder(ctx, n.OrderNo)
	if err != nil && faka.ErrorCode(err) != faka.ENotFound {
		return nil, err
	}
	prev, perr := tx.PaymentByTrade(ctx, n.Gateway, n.TradeNo)
	if perr != nil {
		return nil, perr
	}
	if prev != nil {
		po, err := tx.OrderByID(ctx, prev.OrderID)
		if err != nil {
			return nil, err
		}
		return &faka.ConfirmResult{Order: po, Payment: prev, Duplicate: true}, nil
	}
	if err != nil {
		return nil, err // no such order, and no such trade
	}
	if n.Amount != o.Amount || n.Currency != o.Currency {
		return nil, faka.Errorf(faka.EInvalid, "payment of %d %s does not match the order's %d %s",
			n.Amount, n.Currency, o.Amount, o.Currency)
	}
	wasPending := o.Status == faka.StatusPending
	outcome, err := applyPayment(ctx, tx, o)
	if err != nil {
		return nil, err
	}
	p := &faka.Payment{Gateway: n.Gateway, TradeNo: n.TradeNo, OrderID: o.ID, OrderNo: o.OrderNo,
		Amount: n.Amount, Currency: n.Currency, Outcome: outcome}
	if err := tx.InsertPayment(ctx, p); err != nil {
		return nil, err
	}
	if outcome != faka.OutcomeExtra {
		// Read back for the timestamps the store stamped.
		if o, err = tx.OrderByID(ctx, o.ID); err != nil {
			return nil, err
		}
	}
	res := &faka.ConfirmResult{Order: o, Payment: p}
	if !wasPending && outcome != faka.OutcomeExtra {
		res.Late = true
		if outcome != faka.OutcomeAwaitingStock {
			res.LateUnits = int64(o.Quantity)
		}
	}
	return res, nil
}

// applyPayment changes the held order and its stock for a new payment and
// returns the payment's outcome.
func applyPayment(ctx context.Context, tx faka.Tx, o *faka.Order) (string, error) {
	q := int64(o.Quantity)
	next, outcome := deliveredState(o.Delivery)
	switch o.Status {
	case faka.StatusPending:
		if err := moveExactly(ctx, tx, []faka.StockMove{{ProductID: o.ProductID, Delivery: o.Delivery,
			OrderID: o.ID, Units: q, From: faka.KeyReserved, To: faka.KeySold}}); err != nil {
			return "", err
		}
		if err := setStatus(ctx, tx, o, next); err != nil {
			return "", err
		}
		return outcome, tx.AppendLedger(ctx, []faka.LedgerEntry{{ProductID: o.ProductID, OrderID: o.ID,
			Event: faka.LedgerSell, Reserved: -q, Sold: q}})

	case faka.StatusExpired, faka.StatusCancelled:
		// A late payment, decided under the product's lock so that an
		// import or release running now cannot miss the backorder: fresh
		// stock if there is any and no older backorder waits for it.
		if err := tx.LockProduct(ctx, o.ProductID); err != nil {
			return "", err
		}
		waiting, err := tx.NextBackorder(ctx, o.ProductID)
		if err != nil {
			return "", err
		}
		if waiting == nil {
			ok, err := claimFresh(ctx, tx, o)
			if err != nil {
				return "", err
			}
			if ok {
				return outcome, setStatus(ctx, tx, o, next)
			}
		}
		return faka.OutcomeAwaitingStock, setStatus(ctx, tx, o, faka.StatusPaidAwaitingStock)

	default:
		// Already paid through another trade: record it, apply nothing.
		return faka.OutcomeExtra, nil
	}
}

// claimFresh sells an order quantity available units, with their ledger
// entry, or reports false and changes nothing when there are fewer.
func claimFresh(ctx context.Context, tx faka.Tx, o *faka.Order) (bool, error) {
	q := int64(o.Quantity)
	found, err := tx.FindStock(ctx, o.ProductID, o.Delivery, q)
	if err != nil || found.Units < q {
		return false, err
	}
	c := faka.Claim{OrderID: o.ID, Units: q, KeyIDs: found.KeyIDs}
	if err := claimExactly(ctx, tx, o.ProductID, o.Delivery, []faka.Claim{c}, faka.KeySold, q); err != nil {
		return false, err
	}
	return true, tx.AppendLedger(ctx, []faka.LedgerEntry{{ProductID: o.ProductID, OrderID: o.ID,
		Event: faka.LedgerLate, Available: -q, Sold: q}})
}

// fulfilBackorders delivers a product's paid_awaiting_stock orders, oldest
// first, while stock lasts. It stops at the first order that does not fit,
// so that a large old order is never starved by smaller new ones. The
// caller holds the product's lock. It returns how many orders it filled
// and with how many units.
func fulfilBackorders(ctx context.Context, tx faka.Tx, productID int64) (int, int64, error) {
	var filled int
	var units int64
	for {
		o, err := tx.NextBackorder(ctx, productID)
		if err != nil || o == nil {
			return filled, units, err
		}
		ok, err := claimFresh(ctx, tx, o)
		if err != nil || !ok {
			return filled, units, err
		}
		next, _ := deliveredState(o.Delivery)
		if err := setStatus(ctx, tx, o, next); err != nil {
			return 0, 0, err
		}
		filled++
		units += int64(o.Quantity)
	}
}

// OrdersExpire moves up to limit pending orders whose reservation has
// passed (by the store's clock) to expired, returns their stock and fills
// waiting backorders from it first.
func (r Rules) OrdersExpire(ctx context.Context, limit int) ([]faka.Release, error) {
	var out []faka.Release
	err := r.Store.Tx(ctx, func(ctx context.Context, tx faka.Tx) error {
		due, err := tx.DueOrders(ctx, limit)
		if err != nil {
			return err
		}
		out, err = release(ctx, tx, due, faka.StatusExpired)
		return err
	})
	return out, err
}

// OrderCancel moves a pending order to cancelled, returns its stock and
// fills waiting backorders from it first.
func (r Rules) OrderCancel(ctx context.Context, orderNo string) (*faka.Order, []faka.Release, error) {
	var o *faka.Order
	var out []faka.Release
	err := r.Store.Tx(ctx, func(ctx context.Context, tx faka.Tx) error {
		var err error
		if o, err = tx.LockOrder(ctx, orderNo); err != nil {
			return err
		}
		if o.Status != faka.StatusPending {
			return faka.Errorf(faka.EInvalidState, "only a pending order can be cancelled; this one is %s", o.Status)
		}
		out, err = release(ctx, tx, []*faka.Order{o}, faka.StatusCancelled)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	o.Status = faka.StatusCancelled
	return o, out, nil
}

// release moves held pending orders to state to (expired or cancelled),
// returns their reserved units to available, then, per product under its
// lock, fills backorders from what came back. The work is set-based: a
// fixed handful of operations however many orders there are.
func release(ctx context.Context, tx faka.Tx, orders []*faka.Order, to faka.OrderStatus) ([]faka.Release, error) {
	if len(orders) == 0 {
		return nil, nil
	}
	var (
		changes []faka.StatusChange
		moves   []faka.StockMove
		ledger  []faka.LedgerEntry
		rel     []faka.Release // one per product, in order of first appearance
		at      = map[int64]int{}
	)
	for _, o := range orders {
		if err := faka.Transition(o.Status, to); err != nil || o.Status != faka.StatusPending {
			return nil, faka.Errorf(faka.EInvalidState, "only a pending order is released; %s is %s", o.OrderNo, o.Status)
		}
		q := int64(o.Quantity)
		changes = append(changes, faka.StatusChange{OrderID: o.ID, From: faka.StatusPending, To: to})
		moves = append(moves, faka.StockMove{ProductID: o.ProductID, Delivery: o.Delivery, OrderID: o.ID,
			Units: q, From: faka.KeyReserved, To: faka.KeyAvailable})
		ledger = append(ledger, faka.LedgerEntry{ProductID: o.ProductID, OrderID: o.ID, Event: faka.LedgerRelease,
			Available: q, Reserved: -q})
		i, ok := at[o.ProductID]
		if !ok {
			i = len(rel)
			at[o.ProductID] = i
			rel = append(rel, faka.Release{ProductID: o.ProductID})
		}
		rel[i].Units += q
	}
	// The products' locks come before any stock row is touched, in ID
	// order, as on every path that takes them: the other order deadlocks
	// against a late payment on PostgreSQL.
	for _, pid := range sortedProducts(rel) {
		if err := tx.LockProduct(ctx, pid); err != nil {
			return nil, err
		}
	}
	n, err := tx.SetStatus(ctx, changes)
	if err != nil {
		return nil, err
	}
	if n != len(changes) {
		return nil, faka.Errorf(faka.EInvalidState, "%d of %d orders were no longer pending", len(changes)-n, len(changes))
	}
	if err := moveExactly(ctx, tx, moves); err != nil {
		return nil, err
	}
	if err := tx.AppendLedger(ctx, ledger); err != nil {
		return nil, err
	}
	for i := range rel {
		filled, used, err := fulfilBackorders(ctx, tx, rel[i].ProductID)
		if err != nil {
			return nil, err
		}
		rel[i].Fulfilled, rel[i].Units = filled, rel[i].Units-used
	}
	for _, o := range orders {
		o.Status = to
	}
	return rel, nil
}

// sortedProducts returns the products of rel in ID order.
func sortedProducts(rel []faka.Release) []int64 {
	ids := make([]int64, len(rel))
	for i, r := range rel {
		ids[i] = r.ProductID
	}
	for i := 1; i < len(ids); i++ { // a handful: insertion sort
		for j := i; j > 0 && ids[j] < ids[j-1]; j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
		}
	}
	return ids
}

// OrderRefund moves a paid, delivered or backordered order to refunded. A
// paid or delivered order's sold units become void, never sold again; a
// backorder holds none.
func (r Rules) OrderRefund(ctx context.Context, orderNo string) (*faka.Order, error) {
	var o *faka.Order
	err := r.Store.Tx(ctx, func(ctx context.Context, tx faka.Tx) error {
		var err error
		if o, err = tx.LockOrder(ctx, orderNo); err != nil {
			return err
		}
		from := o.Status
		if err := setStatus(ctx, tx, o, faka.StatusRefunded); err != nil {
			return err
		}
		if from == faka.StatusPaidAwaitingStock {
			return nil
		}
		q := int64(o.Quantity)
		if err := moveExactly(ctx, tx, []faka.StockMove{{ProductID: o.ProductID, Delivery: o.Delivery,
			OrderID: o.ID, Units: q, From: faka.KeySold, To: faka.KeyVoid}}); err != nil {
			return err
		}
		return tx.AppendLedger(ctx, []faka.LedgerEntry{{ProductID: o.ProductID, OrderID: o.ID,
			Event: faka.LedgerRefund, Sold: -q, Void: q}})
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// OrderDeliverManual marks a paid manual order delivered with the
// merchant's note.
func (r Rules) OrderDeliverManual(ctx context.Context, orderNo, note string) (*faka.Order, error) {
	var o *faka.Order
	err := r.Store.Tx(ctx, func(ctx context.Context, tx faka.Tx) error {
		var err error
		if o, err = tx.LockOrder(ctx, orderNo); err != nil {
			return err
		}
		if o.Delivery != faka.DeliveryManual {
			return faka.Errorf(faka.EInvalid, "only manual-delivery orders are delivered by hand")
		}
		if o.Status != faka.StatusPaid {
			return faka.Errorf(faka.EInvalidState, "only a paid manual order can be delivered; this one is %s", o.Status)
		}
		if err := setStatus(ctx, tx, o, faka.StatusDelivered); err != nil {
			return err
		}
		if err := tx.SetDeliveryNote(ctx, o.ID, note); err != nil {
			return err
		}
		o, err = tx.OrderByID(ctx, o.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// KeysImport adds card keys to a card product, skipping any whose hash is
// stored for it already (in any state), then fills backorders from them.
// Into a reusable or manual product it is an EInvalid error.
func (r Rules) KeysImport(ctx context.Context, productID int64, keys []faka.SealedKey) (faka.ImportResult, error) {
	var res faka.ImportResult
	err := r.Store.Tx(ctx, func(ctx context.Context, tx faka.Tx) error {
		res = faka.ImportResult{}
		d, err := lockedDelivery(ctx, tx, productID)
		if err != nil {
			return err
		}
		if d != faka.DeliveryCard {
			return faka.Errorf(faka.EInvalid, "product %d is a %s product: it takes stock, not keys", productID, d)
		}
		if len(keys) > 0 {
			n, err := tx.InsertKeys(ctx, productID, keys)
			if err != nil {
				return err
			}
			res.Imported, res.Duplicates = n, len(keys)-n
		}
		if res.Imported > 0 {
			if err := tx.AppendLedger(ctx, []faka.LedgerEntry{{ProductID: productID, Event: faka.LedgerImport,
				Available: int64(res.Imported)}}); err != nil {
				return err
			}
		}
		res.Fulfilled, res.FulfilledUnits, err = fulfilBackorders(ctx, tx, productID)
		return err
	})
	return res, err
}

// lockedDelivery takes a product's lock, for stock that backorders may
// take, and returns its delivery kind.
func lockedDelivery(ctx context.Context, tx faka.Tx, productID int64) (faka.Delivery, error) {
	if err := tx.LockProduct(ctx, productID); err != nil {
		return "", err
	}
	d, _, err := tx.ProductState(ctx, productID)
	return d, err
}

// StockAdd adds n units to a counted product, then fills backorders from
// them. n outside 1…faka.MaxStockAdd or a card product is an EInvalid
// error.
func (r Rules) StockAdd(ctx context.Context, productID int64, n int64) (faka.ImportResult, error) {
	var res faka.ImportResult
	if err := faka.CheckStockAdd(n); err != nil {
		return res, err
	}
	err := r.Store.Tx(ctx, func(ctx context.Context, tx faka.Tx) error {
		res = faka.ImportResult{}
		d, err := lockedDelivery(ctx, tx, productID)
		if err != nil {
			return err
		}
		if !d.Counted() {
			return faka.Errorf(faka.EInvalid, "product %d is a card product: import keys instead", productID)
		}
		if err := tx.AddStock(ctx, productID, n); err != nil {
			return err
		}
		if err := tx.AppendLedger(ctx, []faka.LedgerEntry{{ProductID: productID, Event: faka.LedgerImport,
			Available: n}}); err != nil {
			return err
		}
		res.Imported = int(n)
		res.Fulfilled, res.FulfilledUnits, err = fulfilBackorders(ctx, tx, productID)
		return err
	})
	return res, err
}

// KeysVoid withdraws available keys of a product from sale.
func (r Rules) KeysVoid(ctx context.Context, productID int64, keyIDs []int64) (int, error) {
	var voided int
	err := r.Store.Tx(ctx, func(ctx context.Context, tx faka.Tx) error {
		voided = 0
		if len(keyIDs) == 0 {
			return nil
		}
		n, err := tx.VoidKeys(ctx, productID, keyIDs)
		if err != nil || n == 0 {
			return err
		}
		voided = int(n)
		return tx.AppendLedger(ctx, []faka.LedgerEntry{{ProductID: productID, Event: faka.LedgerVoid,
			Available: -n, Void: n}})
	})
	return voided, err
}
