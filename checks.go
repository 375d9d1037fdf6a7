package faka

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// The payment poller's work list (docs/ARCHITECTURE.md §4): orders whose gateway
// notification has not come, and orders that ended unpaid whose trade is
// to be closed at the gateway. It lives in the database, so it survives
// restarts and is shared by every instance. A check row is written the
// first time the poller claims an order, never when the order is created:
// an order without one is simply due.

// MaxCheckError is the longest error text kept with a payment check, in
// bytes.
const MaxCheckError = 500

// MaxCheckBatch is the most orders one claim may take.
const MaxCheckBatch = 1000

// PaymentCheck is an order the poller has claimed: nobody else claims it
// until its lease runs out or its outcome is saved.
type PaymentCheck struct {
	// Order is the order as it was when claimed.
	Order *Order
	// Checks counts the claims of this order, this one included.
	Checks int
	// Closing is set when the order ended unpaid (expired or cancelled):
	// the gateway is asked one last time, then its trade is closed.
	Closing bool
}

// PaymentCheckClaim says which orders are due and claims them. Times are
// judged by the database clock.
type PaymentCheckClaim struct {
	// Gateways are the gateways the poller can ask; orders of others are
	// left alone (no row is written for them).
	Gateways []string
	// MinAge: pending orders younger than this are left to their
	// notification.
	MinAge time.Duration
	// MaxAge: orders that ended (expired or cancelled) longer ago than
	// this are no longer closed.
	MaxAge time.Duration
	// Lease is how long a claimed order is not due again if its outcome
	// is never saved (a poller that stopped mid-check).
	Lease time.Duration
	// Limit caps the orders claimed, 1 to MaxCheckBatch.
	Limit int
}

// Validate reports the first problem with c as an EInvalid error.
func (c *PaymentCheckClaim) Validate() error {
	switch {
	case c.Limit < 1 || c.Limit > MaxCheckBatch:
		return Errorf(EInvalid, "a payment check claim takes 1 to %d orders, not %d", MaxCheckBatch, c.Limit)
	case c.MinAge < 0 || c.MaxAge <= 0 || c.Lease <= 0:
		return Errorf(EInvalid, "a payment check claim needs MinAge ≥ 0 and a positive MaxAge and Lease")
	}
	for _, g := range c.Gateways {
		if g == "" || len(g) > 32 {
			return Errorf(EInvalid, "gateway name %q is not valid", g)
		}
	}
	return nil
}

// PaymentCheckResult is the outcome of checking one claimed order.
type PaymentCheckResult struct {
	OrderID int64
	// After is when the order is due again, from now by the database
	// clock. Ignored when Closed.
	After time.Duration
	// Error says why the check failed ("" when it did not). It must hold
	// no secret; it is cut to MaxCheckError bytes.
	Error string
	// Closed ends the checks of the order for good: it was paid, or its
	// trade was closed at the gateway (or needs no closing).
	Closed bool
}

// Normalize checks r and cuts its error text to MaxCheckError bytes of
// valid UTF-8. Drivers call it so the rule is written once.
func (r *PaymentCheckResult) Normalize() error {
	if r.OrderID <= 0 || r.After < 0 {
		return Errorf(EInvalid, "a payment check result needs an order ID and After ≥ 0")
	}
	r.Error = clipText(r.Error, MaxCheckError)
	return nil
}

// clipText returns s as valid UTF-8 of at most n bytes, cut at a
// character boundary.
func clipText(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// PaymentCheckState is an order's stored check row.
type PaymentCheckState struct {
	OrderID int64
	// Checks counts the claims of the order.
	Checks int
	// SeenStatus is the order's status at the last claim.
	SeenStatus  OrderStatus
	NextCheckAt time.Time
	LastError   string
	ClosedAt    time.Time // zero while checks go on
	UpdatedAt   time.Time
}

// PaymentCheckStore keeps the payment poller's work list. Implementations:
// sqlite, postgres.
type PaymentCheckStore interface {
	// PaymentChecksClaim claims up to c.Limit due orders of c.Gateways,
	// oldest due first, and pushes each one's next check c.Lease ahead.
	// Due are (a) pending orders created at least c.MinAge ago, never
	// checked or whose next check has come, and (b) orders that expired
	// or were cancelled within c.MaxAge, whose reservation has run out
	// (until then a pay link already given out may still make a trade,
	// which a close now would miss) and whose checks are not closed,
	// never checked since they ended or whose next check has come. Claims
	// are exclusive: concurrent callers (several instances) never get the
	// same order until its lease runs out or its outcome is saved.
	PaymentChecksClaim(ctx context.Context, c PaymentCheckClaim) ([]*PaymentCheck, error)
	// PaymentCheckSave stores the outcome of a claimed order's check. An
	// order that was never claimed is an ENotFound error. Closed is final:
	// a later outcome does not reopen it.
	PaymentCheckSave(ctx context.Context, r PaymentCheckResult) error
	// PaymentCheckGet returns an order's check row, or ENotFound when it
	// was never claimed.
	PaymentCheckGet(ctx context.Context, orderID int64) (*PaymentCheckState, error)
	// PaymentChecksPrune deletes up to limit check rows not updated for
	// olderThan and returns how many. Losing a row is harmless (its order
	// is due again if still within the claim's windows); pruning rows
	// older than MaxAge only drops rows no claim would ever read.
	PaymentChecksPrune(ctx context.Context, olderThan time.Duration, limit int) (int, error)

	// OrdersSince returns up to limit orders created at or after since, by
	// creation time then ID. With after set, it continues after that order
	// (one returned by the previous call): a way to page through.
	OrdersSince(ctx context.Context, since time.Time, after *Order, limit int) ([]*Order, error)
}
