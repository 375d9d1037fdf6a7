package storetest

import (
	"testing"

	"github.com/faka-dev/faka"
)

func wantImport(t testing.TB, got faka.ImportResult, imported, duplicates int) {
	t.Helper()
	want := faka.ImportResult{Imported: imported, Duplicates: duplicates}
	if got != want {
		t.Fatalf("KeysImport = %+v, want %+v", got, want)
	}
}

func (s *suite) testKeysImportDuplicates(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL)

	// Duplicates inside one batch count once.
	wantImport(t, b.importKeys(p, "KEY-A", "KEY-B", "KEY-A", "KEY-C", "KEY-B"), 3, 2)
	b.wantStock(p, 3, 3, 0, 0, 0)
	// Duplicates against stored keys, and inside the batch again.
	wantImport(t, b.importKeys(p, "KEY-C", "KEY-D", "KEY-D", "KEY-E"), 2, 2)
	b.wantStock(p, 5, 5, 0, 0, 0)
	// Only duplicates: nothing changes.
	wantImport(t, b.importKeys(p, "KEY-E", "KEY-A"), 0, 2)
	b.wantStock(p, 5, 5, 0, 0, 0)
	// An empty import is a no-op.
	wantImport(t, b.importKeys(p), 0, 0)
	b.wantStock(p, 5, 5, 0, 0, 0)

	// Every stored key is one of the distinct secrets, each exactly once.
	o := b.reserve(p, 5, longTTL)
	b.wantKeys(o, "KEY-A", "KEY-B", "KEY-C", "KEY-D", "KEY-E")
	b.reserveSoldOut(p, 1)
}

func (s *suite) testKeysImportPerProduct(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, "SHARED-1", "SHARED-2")
	q := b.cardProduct(longTTL)
	// The same secret in another product is not a duplicate.
	wantImport(t, b.importKeys(q, "SHARED-1", "SHARED-2", "OWN-1"), 3, 0)
	b.wantStock(p, 2, 2, 0, 0, 0)
	b.wantStock(q, 3, 3, 0, 0, 0)
	op := b.reserve(p, 2, longTTL)
	oq := b.reserve(q, 3, longTTL)
	b.wantKeys(op, "SHARED-1", "SHARED-2")
	b.wantKeys(oq, "SHARED-1", "SHARED-2", "OWN-1")
}

func (s *suite) testKeysImportSoldKeyIsDuplicate(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, "S-1", "S-2", "S-3")
	o := b.reserve(p, 1, longTTL)
	b.reserve(p, 1, longTTL)
	b.payWant(o, faka.OutcomeDelivered, faka.StatusDelivered)
	b.wantStock(p, 3, 1, 1, 1, 0)
	// Sold, reserved and available keys are all known: re-importing them
	// must not put a sold key on sale again.
	wantImport(t, b.importKeys(p, "S-1", "S-2", "S-3"), 0, 3)
	b.wantStock(p, 3, 1, 1, 1, 0)
}

func (s *suite) testKeysImportNotFound(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL)
	_, err := b.rules.KeysImport(b.ctx, p.ID+1000, b.seal(p, "X-1"))
	wantCode(t, err, faka.ENotFound, "KeysImport to a missing product")
	b.check()
	// Counted products take units (StockAdd), not card keys.
	m := b.product(faka.DeliveryManual, longTTL, 1)
	_, err = b.rules.KeysImport(b.ctx, m.ID, b.seal(m, "X-2"))
	wantCode(t, err, faka.EInvalid, "KeysImport to a manual product")
	b.check()
	b.wantStock(m, 1, 1, 0, 0, 0)
}

// keyIDRange returns the IDs 1..n. The Store interface has no call that
// lists key IDs, so KeysVoid is tested by voiding a range that covers every
// key of a fresh store; it must touch only the available keys of the
// product named.
func keyIDRange(n int) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64(i + 1)
	}
	return ids
}

func (s *suite) testKeysVoid(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("void-p", 6)...)
	q := b.cardProduct(longTTL, secrets("void-q", 3)...)
	sold := b.reserve(p, 1, longTTL)
	b.payWant(sold, faka.OutcomeDelivered, faka.StatusDelivered)
	pending := b.reserve(p, 1, longTTL)
	b.wantStock(p, 6, 4, 1, 1, 0)

	n, err := b.rules.KeysVoid(b.ctx, p.ID, nil)
	if err != nil || n != 0 {
		t.Fatalf("KeysVoid(no keys) = %d, %v; want 0, nil", n, err)
	}
	b.check()

	n, err = b.rules.KeysVoid(b.ctx, p.ID, keyIDRange(1000))
	if err != nil {
		t.Fatalf("KeysVoid: %v", err)
	}
	b.check()
	if n != 4 {
		t.Fatalf("KeysVoid voided %d keys, want the 4 available ones", n)
	}
	b.wantStock(p, 6, 0, 1, 1, 4)
	b.wantStock(q, 3, 3, 0, 0, 0) // another product's keys are untouched

	// Voiding again finds nothing available.
	n, err = b.rules.KeysVoid(b.ctx, p.ID, keyIDRange(1000))
	if err != nil || n != 0 {
		t.Fatalf("second KeysVoid = %d, %v; want 0, nil", n, err)
	}
	b.check()
	b.reserveSoldOut(p, 1)
	b.wantKeys(sold, "void-p-0000")
	b.wantKeys(pending, "void-p-0001")

	// The reserved key was not voided: cancelling returns it to sale.
	b.cancel(pending)
	b.wantStock(p, 6, 1, 0, 1, 4)
	o := b.reserve(p, 1, longTTL)
	b.wantKeys(o, "void-p-0001")
	// Voided keys are known: importing them again does not revive them.
	wantImport(t, b.importKeys(p, secrets("void-p", 6)...), 0, 6)
	b.wantStock(p, 6, 0, 1, 1, 4)
}
