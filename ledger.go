package faka

import "time"

// Ledger events.
const (
	LedgerImport  = "import"  // new keys: +available
	LedgerReserve = "reserve" // available → reserved
	LedgerRelease = "release" // reserved → available (expiry, cancel)
	LedgerSell    = "sell"    // reserved → sold (payment)
	LedgerLate    = "late"    // available → sold (late payment, backorder)
	LedgerRefund  = "refund"  // sold → void
	LedgerVoid    = "void"    // available → void (merchant)
)

// LedgerEntry is one append-only movement of inventory units between
// states. The sum of a product's entries is its stock.
type LedgerEntry struct {
	ID        int64
	ProductID int64
	OrderID   int64 // 0 when no order is involved
	Event     string
	Available int64
	Reserved  int64
	Sold      int64
	Void      int64
	CreatedAt time.Time
}
