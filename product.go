package faka

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Delivery says how a product's goods reach the buyer.
type Delivery string

// Delivery kinds.
const (
	// DeliveryCard sells distinct card keys, each to exactly one buyer.
	DeliveryCard Delivery = "card"
	// DeliveryReusable sells one key to every buyer; stock is a number.
	DeliveryReusable Delivery = "reusable"
	// DeliveryManual is fulfilled by the merchant by hand; stock is a number.
	DeliveryManual Delivery = "manual"
)

// Valid reports whether d is a known delivery kind.
func (d Delivery) Valid() bool {
	return d == DeliveryCard || d == DeliveryReusable || d == DeliveryManual
}

// Counted reports whether the product's stock is a number kept in the
// product row rather than one row per key.
func (d Delivery) Counted() bool { return d == DeliveryReusable || d == DeliveryManual }

// Product limits and defaults.
const (
	DefaultReservationTTL = 5 * time.Minute
	MinReservationTTL     = 1 * time.Second
	MaxReservationTTL     = 24 * time.Hour
	DefaultMaxQuantity    = 100
	MaxQuantityLimit      = 10000
	MaxPrice              = 1_000_000_000_00 // one billion major units
	MaxNameLength         = 200
	MaxDescriptionLength  = 20000
	MaxKeyLength          = 4096
	// MaxStock bounds the units of a counted product that a merchant sets
	// or adds at once: a billion a time, no sum of them can overflow.
	MaxStock = 1_000_000_000
)

// CheckInitialStock checks the units a new product of delivery kind d
// starts with: none for card products (they get keys), 0…MaxStock for
// counted ones.
func CheckInitialStock(d Delivery, stock int64) error {
	switch {
	case stock < 0:
		return Errorf(EInvalid, "stock must not be negative")
	case !d.Counted() && stock != 0:
		return Errorf(EInvalid, "card products get stock by importing keys")
	case stock > MaxStock:
		return Errorf(EInvalid, "stock must be at most %d", MaxStock)
	}
	return nil
}

// CheckStockAdd checks a number of units to add to a counted product.
func CheckStockAdd(n int64) error {
	if n < 1 || n > MaxStock {
		return Errorf(EInvalid, "stock to add must be between 1 and %d", MaxStock)
	}
	return nil
}

// Product is something a merchant sells.
type Product struct {
	ID             int64
	Name           string
	Description    string
	Price          int64  // minor units per unit sold
	Currency       string // ISO 4217, upper case
	Delivery       Delivery
	ReservationTTL time.Duration
	MinQuantity    int
	MaxQuantity    int
	Active         bool
	CreatedAt      time.Time

	// ReusableKey is the one key every buyer of a reusable product gets.
	// It is encrypted at rest like any card key.
	ReusableKey string
}

// Normalize fills defaults and tidies fields before Validate.
func (p *Product) Normalize() {
	p.Name = strings.TrimSpace(p.Name)
	p.Currency = strings.ToUpper(strings.TrimSpace(p.Currency))
	if p.Delivery == "" {
		p.Delivery = DeliveryCard
	}
	if p.ReservationTTL == 0 {
		p.ReservationTTL = DefaultReservationTTL
	}
	if p.MinQuantity == 0 {
		p.MinQuantity = 1
	}
	if p.MaxQuantity == 0 {
		p.MaxQuantity = DefaultMaxQuantity
	}
}

// Validate reports the first problem with p as an EInvalid error.
func (p *Product) Validate() error {
	switch {
	case p.Name == "":
		return Errorf(EInvalid, "name is required")
	case utf8.RuneCountInString(p.Name) > MaxNameLength:
		return Errorf(EInvalid, "name is longer than %d characters", MaxNameLength)
	case !utf8.ValidString(p.Name) || !utf8.ValidString(p.Description):
		return Errorf(EInvalid, "name and description must be valid UTF-8")
	case hasControl(p.Name, false) || hasControl(p.Description, true):
		return Errorf(EInvalid, "name and description must not hold control characters")
	case utf8.RuneCountInString(p.Description) > MaxDescriptionLength:
		return Errorf(EInvalid, "description is longer than %d characters", MaxDescriptionLength)
	case p.Price <= 0:
		return Errorf(EInvalid, "price must be a positive number of minor units (e.g. 990 for 9.90)")
	case p.Price > MaxPrice:
		return Errorf(EInvalid, "price is too large")
	case !ValidCurrency(p.Currency):
		return Errorf(EInvalid, "currency must be a three-letter ISO 4217 code such as CNY or USD")
	case !p.Delivery.Valid():
		return Errorf(EInvalid, "delivery must be one of card, reusable, manual")
	case p.ReservationTTL < MinReservationTTL || p.ReservationTTL > MaxReservationTTL:
		return Errorf(EInvalid, "reservation_ttl_seconds must be between %d and %d",
			int(MinReservationTTL/time.Second), int(MaxReservationTTL/time.Second))
	case p.ReservationTTL%time.Second != 0:
		return Errorf(EInvalid, "reservation TTL must be a whole number of seconds")
	case p.MinQuantity < 1 || p.MinQuantity > MaxQuantityLimit:
		return Errorf(EInvalid, "min_quantity must be between 1 and %d", MaxQuantityLimit)
	case p.MaxQuantity < p.MinQuantity || p.MaxQuantity > MaxQuantityLimit:
		return Errorf(EInvalid, "max_quantity must be between min_quantity and %d", MaxQuantityLimit)
	}
	return nil
}

// ValidateNew is Validate plus the checks that apply only when a product is
// created: a reusable product comes with its key, others without one.
func (p *Product) ValidateNew() error {
	if err := p.Validate(); err != nil {
		return err
	}
	switch {
	case p.Delivery == DeliveryReusable && strings.TrimSpace(p.ReusableKey) == "":
		return Errorf(EInvalid, "a reusable product needs reusable_key")
	case p.Delivery != DeliveryReusable && p.ReusableKey != "":
		return Errorf(EInvalid, "reusable_key is only for reusable products")
	case len(p.ReusableKey) > MaxKeyLength:
		return Errorf(EInvalid, "reusable_key is longer than %d bytes", MaxKeyLength)
	}
	return nil
}

// CheckQuantity reports whether q units may be bought in one order.
func (p *Product) CheckQuantity(q int) error {
	if q < p.MinQuantity || q > p.MaxQuantity {
		return Errorf(EInvalid, "quantity must be between %d and %d for this product", p.MinQuantity, p.MaxQuantity)
	}
	return nil
}

// ValidCurrency reports whether c looks like an ISO 4217 code.
func ValidCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

// Stock is a product's inventory by state. Imported is the sum of all
// import movements; conservation says Available+Reserved+Sold+Void == Imported.
type Stock struct {
	ProductID int64
	Imported  int64
	Available int64
	Reserved  int64
	Sold      int64
	Void      int64
}

// hasControl reports whether s holds a control character (NUL included,
// which PostgreSQL cannot store in text); multiline allows tab, CR and LF.
func hasControl(s string, multiline bool) bool {
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t')) {
			return true
		}
	}
	return false
}
