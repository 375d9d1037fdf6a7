package faka

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// StockDisplay says how the storefront shows a product's stock to buyers.
type StockDisplay string

// Stock display modes.
const (
	// StockExact shows the number of units available.
	StockExact StockDisplay = "exact"
	// StockLevel shows "in stock", "low stock" or "sold out".
	StockLevel StockDisplay = "level"
	// StockHidden shows nothing but "sold out" when nothing is left.
	StockHidden StockDisplay = "hidden"
)

// Valid reports whether d is a known display mode.
func (d StockDisplay) Valid() bool {
	return d == StockExact || d == StockLevel || d == StockHidden
}

// DefaultLowStock is the low-stock threshold of a product that has none set.
const DefaultLowStock = 10

// MaxCategoryName is the longest category name, in characters.
const MaxCategoryName = 100

// Category groups products on the storefront.
type Category struct {
	ID        int64
	Name      string
	Sort      int // smaller first; ties by ID
	CreatedAt time.Time
}

// Validate tidies the name and reports the first problem as EInvalid.
func (c *Category) Validate() error {
	c.Name = strings.TrimSpace(c.Name)
	switch {
	case c.Name == "":
		return Errorf(EInvalid, "category name is required")
	case !utf8.ValidString(c.Name) || utf8.RuneCountInString(c.Name) > MaxCategoryName:
		return Errorf(EInvalid, "category name must be valid text of at most %d characters", MaxCategoryName)
	}
	return nil
}

// ProductShop is how the storefront presents a product: its category, how
// its stock is shown and when it counts as low. It is kept apart from
// Product because the order engine never needs it.
type ProductShop struct {
	ProductID    int64
	CategoryID   int64 // 0: no category
	StockDisplay StockDisplay
	LowStock     int64 // available units at or below this are "low"
}

// Validate fills defaults and reports the first problem as EInvalid.
func (ps *ProductShop) Validate() error {
	if ps.StockDisplay == "" {
		ps.StockDisplay = StockExact
	}
	switch {
	case !ps.StockDisplay.Valid():
		return Errorf(EInvalid, "stock display must be one of exact, level, hidden")
	case ps.LowStock < 0 || ps.LowStock > MaxQuantityLimit:
		return Errorf(EInvalid, "low-stock threshold must be between 0 and %d", MaxQuantityLimit)
	case ps.CategoryID < 0:
		return Errorf(EInvalid, "no such category")
	}
	return nil
}

// KeyInfo is a card key as the merchant's console lists it: everything
// but the secret.
type KeyInfo struct {
	ID        int64
	ProductID int64
	State     KeyState
	OrderID   int64  // 0 when the key belongs to no order
	OrderNo   string // "" when the key belongs to no order
	CreatedAt time.Time
}

// KeyFilter selects card keys for listing. Zero fields do not filter.
type KeyFilter struct {
	ProductID int64
	OrderID   int64
	States    []KeyState // empty: every state
	BeforeID  int64      // only keys with a smaller ID (paging, newest first)
	Limit     int        // default and maximum 1000
}

// Key audit actions.
const (
	AuditReveal = "reveal" // one key's secret was shown to the merchant
	AuditExport = "export" // a product's unsold keys were exported
)

// KeyAudit records that key plaintext was shown to a merchant account.
type KeyAudit struct {
	ID        int64
	ProductID int64
	KeyID     int64 // 0 for an export
	AdminID   int64
	Action    string // AuditReveal or AuditExport
	Count     int    // keys shown
	IP        string
	CreatedAt time.Time
}

// OrderQuery selects orders in the merchant's console. Zero fields do not
// filter.
type OrderQuery struct {
	OrderNo   string // prefix of the order number
	Email     string // whole address, case-insensitive
	Status    OrderStatus
	ProductID int64
	From, To  time.Time // created at or after From, before To
	BeforeID  int64     // only orders with a smaller ID (paging, newest first)
	Limit     int       // default 50, at most 500
}

// SalesDay is one day of order activity in one currency: the 24 hours
// from Start.
type SalesDay struct {
	Start    time.Time
	Currency string
	// Created is the number of orders created that day, and CreatedPaid how
	// many of those have been paid since (refunded ones included).
	Created     int64
	CreatedPaid int64
	// Paid is the number of orders paid that day, and Revenue their amount
	// less the amount of those since refunded.
	Paid    int64
	Revenue int64
}

// ShopStore is what the storefront and the merchant's console keep beside
// the order data: categories, presentation, the buyers' remembered orders,
// the key audit log, and read-only views for the console. Nothing in it
// changes an order or a key; those changes go through the engine and
// Store. Implementations: sqlite (and postgres).
type ShopStore interface {
	// CategoryCreate stores c and sets its ID and CreatedAt.
	CategoryCreate(ctx context.Context, c *Category) error
	// CategoryUpdate saves c's name and sort; ErrNotFound if none.
	CategoryUpdate(ctx context.Context, c *Category) error
	// CategoryDelete removes a category; its products become uncategorised.
	CategoryDelete(ctx context.Context, id int64) error
	// CategoryList returns every category by Sort, then ID.
	CategoryList(ctx context.Context) ([]*Category, error)

	// ProductShopList returns the presentation of every product.
	ProductShopList(ctx context.Context) ([]ProductShop, error)
	// ProductShopSet saves a product's presentation; ErrNotFound for an
	// unknown product, EInvalid for an unknown category.
	ProductShopSet(ctx context.Context, ps ProductShop) error

	// LookupTokenAdd remembers an order under a buyer's cookie token
	// (stored as tokenHash) until expires; a repeat extends it.
	LookupTokenAdd(ctx context.Context, tokenHash []byte, orderID int64, expires time.Time) error
	// LookupTokenOrders returns at most limit orders remembered under
	// tokenHash and not expired (by the store's clock), newest first.
	LookupTokenOrders(ctx context.Context, tokenHash []byte, limit int) ([]*Order, error)
	// LookupTokensPurge deletes expired entries and returns how many.
	LookupTokensPurge(ctx context.Context) (int64, error)

	// KeyList returns card keys matching f, newest first, without secrets.
	KeyList(ctx context.Context, f KeyFilter) ([]KeyInfo, error)
	// KeySealed returns one card key with its sealed secret.
	KeySealed(ctx context.Context, keyID int64) (KeyInfo, SealedKey, error)
	// KeysAvailableSealed returns the sealed secrets of a product's
	// available keys, oldest first.
	KeysAvailableSealed(ctx context.Context, productID int64) ([]SealedKey, error)
	// KeyAuditAdd appends to the key audit log and sets a.ID and CreatedAt.
	KeyAuditAdd(ctx context.Context, a *KeyAudit) error
	// KeyAuditList returns the newest audit entries of a product (of every
	// product when productID is 0).
	KeyAuditList(ctx context.Context, productID int64, limit int) ([]KeyAudit, error)

	// OrderSearch returns orders matching q, newest first.
	OrderSearch(ctx context.Context, q OrderQuery) ([]*Order, error)
	// LedgerByOrder returns the ledger entries of an order, oldest first.
	LedgerByOrder(ctx context.Context, orderID int64) ([]LedgerEntry, error)
	// SalesByDay returns, for each of days 24-hour days from `from`, the
	// activity per currency; days without orders are left out.
	SalesByDay(ctx context.Context, from time.Time, days int) ([]SalesDay, error)
}

// Admin is an account of the merchant's console.
type Admin struct {
	ID           int64
	Email        string
	PasswordHash string // a PHC string ($argon2id$…)
	CreatedAt    time.Time
}

// AdminSession is a signed-in console session. The cookie holds a random
// token; the store keeps only its SHA-256.
type AdminSession struct {
	TokenHash []byte
	AdminID   int64
	CreatedAt time.Time
	ExpiresAt time.Time
	IP        string
}

// AccountStore keeps the console's accounts and sessions.
// Implementations: sqlite (and postgres).
type AccountStore interface {
	// AdminCreate stores a and sets its ID and CreatedAt; an email already
	// taken (case-insensitive) is an EConflict error.
	AdminCreate(ctx context.Context, a *Admin) error
	// AdminGet returns an account by ID, or ErrNotFound.
	AdminGet(ctx context.Context, id int64) (*Admin, error)
	// AdminByEmail returns an account by email (case-insensitive), or
	// ErrNotFound.
	AdminByEmail(ctx context.Context, email string) (*Admin, error)
	// AdminSetPassword replaces an account's password hash and ends all
	// its sessions.
	AdminSetPassword(ctx context.Context, id int64, hash string) error
	// AdminCount returns the number of accounts.
	AdminCount(ctx context.Context) (int, error)

	// SessionCreate stores a session and sets its CreatedAt.
	SessionCreate(ctx context.Context, s *AdminSession) error
	// SessionGet returns the session with tokenHash unless it has expired
	// (by the store's clock); otherwise ErrNotFound.
	SessionGet(ctx context.Context, tokenHash []byte) (*AdminSession, error)
	// SessionDelete ends a session; ending an unknown one is no error.
	SessionDelete(ctx context.Context, tokenHash []byte) error
	// SessionsPurge deletes expired sessions and returns how many.
	SessionsPurge(ctx context.Context) (int64, error)
}
