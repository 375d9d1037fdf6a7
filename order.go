package faka

import (
	"net/mail"
	"strings"
	"time"
)

// OrderStatus is the state of an order.
type OrderStatus string

// Order states. See docs/ARCHITECTURE.md §4 for the machine.
const (
	StatusPending           OrderStatus = "pending"
	StatusPaid              OrderStatus = "paid"
	StatusDelivered         OrderStatus = "delivered"
	StatusExpired           OrderStatus = "expired"
	StatusCancelled         OrderStatus = "cancelled"
	StatusPaidAwaitingStock OrderStatus = "paid_awaiting_stock"
	StatusRefunded          OrderStatus = "refunded"
)

// transitions lists every allowed move. A payment that arrives after the
// buyer cancelled is treated like a late payment after expiry: the money
// came, so the buyer gets goods or a backorder rather than nothing.
var transitions = map[OrderStatus][]OrderStatus{
	StatusPending:           {StatusDelivered, StatusPaid, StatusExpired, StatusCancelled},
	StatusPaid:              {StatusDelivered, StatusRefunded},
	StatusExpired:           {StatusDelivered, StatusPaidAwaitingStock, StatusPaid},
	StatusCancelled:         {StatusDelivered, StatusPaidAwaitingStock, StatusPaid},
	StatusPaidAwaitingStock: {StatusDelivered, StatusPaid, StatusRefunded}, // paid: a manual product's backorder got stock
	StatusDelivered:         {StatusRefunded},
}

// Valid reports whether s is a known state.
func (s OrderStatus) Valid() bool {
	switch s {
	case StatusPending, StatusPaid, StatusDelivered, StatusExpired, StatusCancelled,
		StatusPaidAwaitingStock, StatusRefunded:
		return true
	}
	return false
}

// IsPaid reports whether an order in state s has been paid for.
func (s OrderStatus) IsPaid() bool {
	return s == StatusPaid || s == StatusDelivered || s == StatusPaidAwaitingStock || s == StatusRefunded
}

// CanTransition reports whether an order may move from one state to another.
func CanTransition(from, to OrderStatus) bool {
	for _, t := range transitions[from] {
		if t == to {
			return true
		}
	}
	return false
}

// Transition returns nil when from → to is allowed and an
// ErrInvalidTransition-coded error otherwise.
func Transition(from, to OrderStatus) error {
	if CanTransition(from, to) {
		return nil
	}
	return Errorf(EInvalidState, "an order cannot go from %s to %s", from, to)
}

// Order is one purchase.
type Order struct {
	ID            int64
	OrderNo       string
	ProductID     int64
	Delivery      Delivery
	Quantity      int
	UnitPrice     int64
	Amount        int64
	Currency      string
	Email         string
	Gateway       string
	Status        OrderStatus
	ReservedUntil time.Time
	CreatedAt     time.Time
	PaidAt        time.Time // zero until paid
	DeliveredAt   time.Time // zero until delivered
	// DeliveryNote is what the merchant typed when fulfilling a manual order.
	DeliveryNote string

	// TokenHash is the SHA-256 of the buyer's order token.
	TokenHash []byte
	// QueryPasswordHash is the SHA-256 of the optional lookup password.
	QueryPasswordHash []byte
}

// OrderFilter selects orders for listing.
type OrderFilter struct {
	ProductID int64
	Status    OrderStatus
	Email     string
	Limit     int
}

// Limits of what a buyer or a gateway sends, each checked in one place.
const (
	// MaxEmailLength is the longest email address accepted.
	MaxEmailLength = 254
	// MaxIdempotencyKeyLength bounds the Idempotency-Key header.
	MaxIdempotencyKeyLength = 255
	// MaxQueryPasswordLength bounds the buyer's optional lookup password.
	MaxQueryPasswordLength = 128
	// MaxOrderNoLength bounds an order number given to look an order up.
	MaxOrderNoLength = 64
	// MaxTradeNoLength bounds a gateway's trade number.
	MaxTradeNoLength = 128
	// MaxTokenLength bounds a buyer token given to look an order up.
	MaxTokenLength = 256
)

// CheckIdempotencyKey checks an Idempotency-Key: at most
// MaxIdempotencyKeyLength printable ASCII characters ("" is no key).
func CheckIdempotencyKey(k string) error {
	if len(k) > MaxIdempotencyKeyLength {
		return Errorf(EInvalid, "Idempotency-Key must be at most %d printable ASCII characters", MaxIdempotencyKeyLength)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return Errorf(EInvalid, "Idempotency-Key must be at most %d printable ASCII characters", MaxIdempotencyKeyLength)
		}
	}
	return nil
}

// CheckQueryPassword checks a buyer's lookup password ("" is none).
func CheckQueryPassword(pw string) error {
	if len(pw) > MaxQueryPasswordLength {
		return Errorf(EInvalid, "query_password is longer than %d bytes", MaxQueryPasswordLength)
	}
	return nil
}

// NormalizeEmail checks that s is one plain email address and returns it
// trimmed, with the domain in lower case.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", Errorf(EInvalid, "email is required")
	}
	if len(s) > MaxEmailLength {
		return "", Errorf(EInvalid, "email is longer than %d characters", MaxEmailLength)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", Errorf(EInvalid, "email %q is not a valid address", s)
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || !strings.Contains(s[at:], ".") {
		return "", Errorf(EInvalid, "email %q is not a valid address", s)
	}
	return s[:at] + strings.ToLower(s[at:]), nil
}
