package faka

import (
	"context"
	"strconv"
	"time"
)

// SealedKey is a card key as the store keeps it: a keyed hash that finds
// duplicates without decrypting, and the AES-GCM ciphertext.
type SealedKey struct {
	Hash       []byte
	Ciphertext []byte
}

// ReserveParams is one buyer's reservation inside a batch.
type ReserveParams struct {
	OrderNo           string
	TokenHash         []byte
	Quantity          int
	UnitPrice         int64
	Amount            int64
	Currency          string
	Email             string
	Gateway           string
	TTL               time.Duration
	QueryPasswordHash []byte

	// IdempotencyKey, when set, is stored with the order in the same
	// transaction; RequestHash fingerprints the request body and
	// SealedToken is the buyer token encrypted for replaying the response.
	IdempotencyKey string
	RequestHash    []byte
	SealedToken    []byte
}

// ReserveOutcome is the result of one ReserveParams. Exactly one of Order
// and Err is set. Err is ErrSoldOut when stock ran short, and an EConflict
// error when the idempotency key was already used.
type ReserveOutcome struct {
	Order *Order
	Err   error
}

// IdempotencyRecord is a stored Idempotency-Key.
type IdempotencyRecord struct {
	Key         string
	RequestHash []byte
	OrderID     int64
	OrderNo     string
	SealedToken []byte
	CreatedAt   time.Time
}

// Release is a number of units that went back to available for a product,
// and the backorders filled from them first (engine/rules.go). Units is net of
// what those backorders took.
type Release struct {
	ProductID int64
	Units     int64 // net units now available again
	Fulfilled int   // backorders delivered from the released units
}

// Violation is one broken invariant found by reconciliation.
type Violation struct {
	Code      string `json:"code"`
	ProductID int64  `json:"product_id,omitempty"`
	OrderNo   string `json:"order_no,omitempty"`
	Message   string `json:"message"`
}

// ReconcileReport is the invariants of docs/ARCHITECTURE.md §1 checked at one instant.
type ReconcileReport struct {
	OK         bool
	Products   []Stock
	Ledger     []Stock // the same figures summed from the ledger
	Violations []Violation
	CheckedAt  time.Time
}

// Store is the single authority for products, keys, orders and payments.
// It keeps data and decides nothing: the rules that change orders, keys
// and payments are the engine's (engine/rules.go), run through Tx as small
// data operations. Every method that changes state does so in one
// transaction, so the invariants hold at every instant. Implementations:
// sqlite, postgres; storetest is the contract between them.
type Store interface {
	TxRunner

	// Now returns the database clock, which judges reservation expiry.
	Now(ctx context.Context) (time.Time, error)

	// ProductCreate stores p and sets its ID and CreatedAt. For a reusable
	// product, reusable is its sealed key; for counted products (reusable,
	// manual) stock is the initial number of units; shop, when not nil, is
	// its presentation, saved in the same transaction (an unknown category
	// is EInvalid and creates nothing).
	ProductCreate(ctx context.Context, p *Product, reusable *SealedKey, stock int64, shop *ProductShop) error
	// ProductGet returns one product (ReusableKey left empty).
	ProductGet(ctx context.Context, id int64) (*Product, error)
	// ProductList returns products by ID; only active ones if activeOnly.
	ProductList(ctx context.Context, activeOnly bool) ([]*Product, error)
	// ProductUpdate saves the editable fields of p (not delivery or currency).
	ProductUpdate(ctx context.Context, p *Product) error
	// StockGet returns the live stock of one product.
	StockGet(ctx context.Context, productID int64) (Stock, error)
	// StockList returns the live stock of every product.
	StockList(ctx context.Context) ([]Stock, error)

	// IdempotencyGet returns a stored Idempotency-Key, or ErrNotFound.
	IdempotencyGet(ctx context.Context, key string) (*IdempotencyRecord, error)

	// PaymentsByOrder lists the payments recorded for an order.
	PaymentsByOrder(ctx context.Context, orderID int64) ([]*Payment, error)

	// OrderGet returns an order by number, or ErrNotFound.
	OrderGet(ctx context.Context, orderNo string) (*Order, error)
	// OrderList returns orders matching f, newest first: f.Limit of them
	// (100 when zero, at most 10000).
	OrderList(ctx context.Context, f OrderFilter) ([]*Order, error)
	// OrderKeys returns the sealed keys an order holds (sold, reserved or
	// voided by refund); for a reusable product, its one key whatever the
	// order's state (callers show keys only for delivered orders).
	OrderKeys(ctx context.Context, orderID int64) ([]SealedKey, error)

	// Reconcile checks every invariant in one consistent snapshot.
	Reconcile(ctx context.Context) (*ReconcileReport, error)

	// Close releases the store's connections.
	Close() error
}

// CheckStock compares live stock with the ledger's sums and reports every
// product whose figures break conservation (docs/ARCHITECTURE.md §1.1): a negative
// term, or live stock that differs from its ledger. Drivers call it from
// Reconcile so the rule is written once.
func CheckStock(live, ledger []Stock) []Violation {
	var out []Violation
	byID := make(map[int64]Stock, len(ledger))
	for _, l := range ledger {
		byID[l.ProductID] = l
	}
	for _, st := range live {
		if st.Available < 0 || st.Reserved < 0 || st.Sold < 0 || st.Void < 0 {
			out = append(out, Violation{Code: "negative_stock", ProductID: st.ProductID,
				Message: "a stock figure is negative"})
		}
		l, ok := byID[st.ProductID]
		if !ok {
			l = Stock{ProductID: st.ProductID}
		}
		if st.Available != l.Available || st.Reserved != l.Reserved || st.Sold != l.Sold || st.Void != l.Void {
			out = append(out, Violation{Code: "ledger_mismatch", ProductID: st.ProductID,
				Message: "live stock " + stockString(st) + " differs from the ledger's " + stockString(l)})
		}
	}
	return out
}

func stockString(s Stock) string {
	return "available=" + itoa(s.Available) + " reserved=" + itoa(s.Reserved) +
		" sold=" + itoa(s.Sold) + " void=" + itoa(s.Void)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
