package faka

import "time"

// Payment outcomes, stored with each payment.
const (
	// OutcomeDelivered: the payment was applied and the keys delivered.
	OutcomeDelivered = "delivered"
	// OutcomePaid: applied; the order waits for manual delivery.
	OutcomePaid = "paid"
	// OutcomeAwaitingStock: applied after expiry with no stock left; the
	// order is a backorder.
	OutcomeAwaitingStock = "awaiting_stock"
	// OutcomeExtra: a second, different trade for an order that was already
	// paid. Recorded, not applied; the merchant should refund it.
	OutcomeExtra = "extra"
)

// Notification is a verified statement from a gateway that a trade was paid.
type Notification struct {
	Gateway  string
	OrderNo  string
	TradeNo  string
	Amount   int64
	Currency string
}

// Payment is a notification that was applied (or recorded) once.
type Payment struct {
	ID        int64
	Gateway   string
	TradeNo   string
	OrderID   int64
	OrderNo   string
	Amount    int64
	Currency  string
	Outcome   string
	CreatedAt time.Time
}

// ConfirmResult is what confirming a payment did.
type ConfirmResult struct {
	Order     *Order
	Payment   *Payment
	Duplicate bool // the trade had been applied before; nothing changed now
	// Late is set when the payment came after the reservation had ended and
	// fresh stock was claimed for it (LateUnits of it) or none was left.
	Late      bool
	LateUnits int64
}
