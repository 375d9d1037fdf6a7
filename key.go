package faka

// KeyState is the state of one card key. The numbers are stored.
type KeyState int

// Key states.
const (
	KeyAvailable KeyState = 0
	KeyReserved  KeyState = 1
	KeySold      KeyState = 2
	KeyVoid      KeyState = 3
)

// String returns the state's name.
func (s KeyState) String() string {
	switch s {
	case KeyAvailable:
		return "available"
	case KeyReserved:
		return "reserved"
	case KeySold:
		return "sold"
	case KeyVoid:
		return "void"
	}
	return "unknown"
}

// CardKey is one sellable secret. Secret is plaintext only in memory; the
// store keeps it encrypted.
type CardKey struct {
	ID        int64
	ProductID int64
	State     KeyState
	OrderID   int64 // 0 when the key belongs to no order
	Secret    string
}

// ImportResult reports a key import.
type ImportResult struct {
	Imported   int `json:"imported"`
	Duplicates int `json:"duplicates"`
	Rejected   int `json:"rejected"`
	// Fulfilled counts backordered orders delivered from the new keys.
	Fulfilled int `json:"fulfilled"`
	// FulfilledUnits is how many of the new units went to those backorders.
	FulfilledUnits int64 `json:"-"`
}
