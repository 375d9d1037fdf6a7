package faka

import (
	"context"
	"time"
)

// Tx is one write transaction of a Store, seen as the small data
// operations that the order engine composes into its rules
// (engine/rules.go). A driver implements each operation in its own SQL and
// decides nothing: it finds and claims what it is told to, changes an
// order's state only if the order is still in the state the engine
// expected, and reports what it did. The engine checks every count it gets
// back, so a driver that did less than it was asked shows up as an error,
// never as a silent difference between the stores.
//
// Rows that an operation says it holds ("held") stay locked against other
// transactions until this one ends; a single-writer store holds everything
// by construction. Every call takes the context that TxRunner.Tx handed
// its fn: one caller's cancelled context must never abort a transaction
// that carries other callers' writes.
type Tx interface {
	// ProductState returns a product's delivery kind and whether it is on
	// sale; ENotFound when there is no such product.
	ProductState(ctx context.Context, productID int64) (d Delivery, active bool, err error)
	// LockProduct serialises, until this transaction ends, every
	// transaction that hands out newly available stock of the product
	// (imports, releases, late payments), so that backorders are served
	// oldest first and none is missed. Reservations never take it.
	LockProduct(ctx context.Context, productID int64) error

	// FindStock returns up to n available units of a product, held: the
	// IDs of card keys, lowest first, skipping keys another transaction
	// holds; for a counted product, min(n, available).
	FindStock(ctx context.Context, productID int64, d Delivery, n int64) (Found, error)
	// ClaimStock moves found available units to orders, in state to
	// (reserved or sold), and returns how many units moved.
	ClaimStock(ctx context.Context, productID int64, d Delivery, claims []Claim, to KeyState) (int64, error)
	// MoveStock moves each order's units from one state to another and
	// returns how many moved in all. A card key that becomes available
	// again belongs to no order.
	MoveStock(ctx context.Context, moves []StockMove) (int64, error)
	// AppendLedger appends inventory movements (ID and CreatedAt are set by
	// the store).
	AppendLedger(ctx context.Context, entries []LedgerEntry) error

	// InsertOrders inserts pending orders and sets each one's ID,
	// ReservedUntil (the store's clock plus TTL) and CreatedAt.
	InsertOrders(ctx context.Context, orders []NewOrder) error
	// LockOrder returns an order by number, held; ENotFound when there is
	// none.
	LockOrder(ctx context.Context, orderNo string) (*Order, error)
	// OrderByID returns an order as this transaction sees it.
	OrderByID(ctx context.Context, id int64) (*Order, error)
	// DueOrders returns, held, up to limit pending orders whose reservation
	// has passed by the store's clock, the earliest first; orders another
	// transaction holds are skipped.
	DueOrders(ctx context.Context, limit int) ([]*Order, error)
	// NextBackorder returns, held, the product's oldest paid_awaiting_stock
	// order (by payment time, then ID), or nil when there is none.
	NextBackorder(ctx context.Context, productID int64) (*Order, error)
	// SetStatus applies each change whose order is still in its From state
	// and returns how many it applied.
	SetStatus(ctx context.Context, changes []StatusChange) (int, error)
	// SetDeliveryNote stores what the merchant typed when fulfilling an
	// order by hand.
	SetDeliveryNote(ctx context.Context, orderID int64, note string) error

	// IdempotencyTaken returns which of the keys are stored already.
	IdempotencyTaken(ctx context.Context, keys []string) (map[string]bool, error)
	// InsertIdempotency stores the records whose key is still free and
	// returns how many it stored: a concurrent transaction may have stored
	// one since IdempotencyTaken.
	InsertIdempotency(ctx context.Context, recs []IdempotencyRecord) (int, error)

	// PaymentByTrade returns the payment recorded for a gateway's trade, or
	// nil when there is none.
	PaymentByTrade(ctx context.Context, gateway, tradeNo string) (*Payment, error)
	// InsertPayment records a payment and sets its ID and CreatedAt.
	InsertPayment(ctx context.Context, p *Payment) error

	// InsertKeys stores card keys of a product, skipping any whose hash it
	// holds already (in any state), and returns how many it stored.
	InsertKeys(ctx context.Context, productID int64, keys []SealedKey) (int, error)
	// AddStock adds n available units to a counted product.
	AddStock(ctx context.Context, productID int64, n int64) error
	// VoidKeys voids those of the listed keys that are available keys of
	// the product and returns how many it voided.
	VoidKeys(ctx context.Context, productID int64, keyIDs []int64) (int64, error)
}

// Found is stock that FindStock holds for a transaction.
type Found struct {
	KeyIDs []int64 // card products: the keys, lowest ID first
	Units  int64   // how many units were found (len(KeyIDs) for card products)
}

// Claim gives found units to one order: KeyIDs for a card product, Units
// for a counted one.
type Claim struct {
	OrderID int64
	Units   int64
	KeyIDs  []int64
}

// StockMove changes one order's units from one state to another:
// reserved → sold (payment), reserved → available (release), sold → void
// (refund).
type StockMove struct {
	ProductID int64
	Delivery  Delivery
	OrderID   int64
	Units     int64
	From, To  KeyState
}

// NewOrder is an order to insert and how long it holds its stock.
type NewOrder struct {
	Order *Order
	TTL   time.Duration
}

// StatusChange moves one order from one state to another. Paid and
// Delivered ask the store to stamp paid_at and delivered_at with its clock.
type StatusChange struct {
	OrderID   int64
	From, To  OrderStatus
	Paid      bool
	Delivered bool
}

// TxRunner is the part of a Store that runs write transactions.
type TxRunner interface {
	// Tx runs fn in one write transaction and commits when fn returns nil;
	// nothing of fn stays when it returns an error. fn may run more than
	// once (a store retries a transaction the database aborted, such as a
	// deadlock victim), so it must start from scratch each time, and it may
	// run on another goroutine. A store may run several callers' fn in one
	// database transaction (group commit), each isolated from the others'
	// failures; a caller whose ctx ends before its fn began gets ctx's
	// error and nothing runs, and once fn has begun it runs to the end
	// whatever becomes of ctx. Tx returns once the commit is durable.
	// fn gets the context its operations must use: one that ctx's end
	// does not cancel.
	Tx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
}

// KeyMoves is the card keys of some orders moving between two states.
type KeyMoves struct {
	From, To KeyState
	OrderIDs []int64
}

// CountedMove is units of one counted product moving between two states.
type CountedMove struct {
	ProductID int64
	From, To  KeyState
	Units     int64
}

// GroupMoves splits stock moves into what a store changes in one
// statement each: the card keys of every order moving between the same
// two states, and each counted product's units moving between the same
// two states, both in order of first appearance.
func GroupMoves(moves []StockMove) ([]KeyMoves, []CountedMove) {
	var keys []KeyMoves
	var counted []CountedMove
	for _, m := range moves {
		if m.Delivery.Counted() {
			i := 0
			for i < len(counted) && (counted[i].ProductID != m.ProductID || counted[i].From != m.From || counted[i].To != m.To) {
				i++
			}
			if i == len(counted) {
				counted = append(counted, CountedMove{ProductID: m.ProductID, From: m.From, To: m.To})
			}
			counted[i].Units += m.Units
			continue
		}
		i := 0
		for i < len(keys) && (keys[i].From != m.From || keys[i].To != m.To) {
			i++
		}
		if i == len(keys) {
			keys = append(keys, KeyMoves{From: m.From, To: m.To})
		}
		keys[i].OrderIDs = append(keys[i].OrderIDs, m.OrderID)
	}
	return keys, counted
}
