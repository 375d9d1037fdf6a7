package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/faka-dev/faka"
)

// KeysImport implements faka.Store. One statement inserts the whole upload
// from arrays; ON CONFLICT skips keys already stored for the product.
func (s *Store) KeysImport(ctx context.Context, productID int64, keys []faka.SealedKey) (faka.ImportResult, error) {
	var res faka.ImportResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		res = faka.ImportResult{}
		if err := lockProduct(ctx, tx, productID); err != nil {
			return err
		}
		d, err := loadDelivery(ctx, tx, productID)
		if err != nil {
			return err
		}
		if d != faka.DeliveryCard {
			return faka.Errorf(faka.EInvalid, "product %d is a %s product: it takes stock, not keys", productID, d)
		}
		hashes := make([][]byte, len(keys))
		cts := make([][]byte, len(keys))
		for i, k := range keys {
			hashes[i], cts[i] = k.Hash, k.Ciphertext
		}
		tag, err := tx.Exec(ctx, `INSERT INTO card_keys (product_id, hash, ciphertext)
			SELECT $1, h, c FROM unnest($2::bytea[], $3::bytea[]) AS u(h, c)
			ON CONFLICT (product_id, hash) DO NOTHING`, productID, hashes, cts)
		if err != nil {
			return fmt.Errorf("insert keys: %w", err)
		}
		res.Imported = int(tag.RowsAffected())
		res.Duplicates = len(keys) - res.Imported
		if res.Imported > 0 {
			if err := appendLedger(ctx, tx, productID, 0, faka.LedgerImport, int64(res.Imported), 0, 0, 0); err != nil {
				return err
			}
		}
		res.Fulfilled, res.FulfilledUnits, err = fulfilBackorders(ctx, tx, productID, d)
		return err
	})
	return res, err
}

// StockAdd implements faka.Store.
func (s *Store) StockAdd(ctx context.Context, productID int64, n int64) (faka.ImportResult, error) {
	var res faka.ImportResult
	if n <= 0 || n > 1_000_000_000 {
		return res, faka.Errorf(faka.EInvalid, "stock to add must be between 1 and 1000000000")
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		res = faka.ImportResult{}
		if err := lockProduct(ctx, tx, productID); err != nil {
			return err
		}
		d, err := loadDelivery(ctx, tx, productID)
		if err != nil {
			return err
		}
		if !d.Counted() {
			return faka.Errorf(faka.EInvalid, "product %d is a card product: import keys instead", productID)
		}
		if _, err := tx.Exec(ctx, `UPDATE products SET stock_available = stock_available + $1 WHERE id = $2`,
			n, productID); err != nil {
			return fmt.Errorf("add stock: %w", err)
		}
		if err := appendLedger(ctx, tx, productID, 0, faka.LedgerImport, n, 0, 0, 0); err != nil {
			return err
		}
		res.Imported = int(n)
		res.Fulfilled, res.FulfilledUnits, err = fulfilBackorders(ctx, tx, productID, d)
		return err
	})
	return res, err
}

// KeysVoid implements faka.Store.
func (s *Store) KeysVoid(ctx context.Context, productID int64, keyIDs []int64) (int, error) {
	var voided int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		voided = 0
		if len(keyIDs) == 0 {
			return nil
		}
		tag, err := tx.Exec(ctx, `UPDATE card_keys SET state = 3 WHERE product_id = $1 AND state = 0 AND id = ANY($2)`,
			productID, keyIDs)
		if err != nil {
			return fmt.Errorf("void keys: %w", err)
		}
		n := tag.RowsAffected()
		voided = int(n)
		if n > 0 {
			return appendLedger(ctx, tx, productID, 0, faka.LedgerVoid, -n, 0, 0, n)
		}
		return nil
	})
	return voided, err
}

// findKeys locks up to n available keys of a product, lowest id first,
// skipping rows another transaction holds: buyers on other instances
// never queue behind each other for the same key rows.
func findKeys(ctx context.Context, tx pgx.Tx, productID int64, n int) ([]int64, error) {
	rows, err := tx.Query(ctx, `SELECT id FROM card_keys WHERE product_id = $1 AND state = 0
		ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`, productID, n)
	if err != nil {
		return nil, fmt.Errorf("find keys: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("find keys: %w", err)
	}
	return ids, nil
}

// assignKeys gives locked key rows to an order, in state to.
func assignKeys(ctx context.Context, tx pgx.Tx, ids []int64, orderID int64, to faka.KeyState) error {
	tag, err := tx.Exec(ctx, `UPDATE card_keys SET state = $1, order_id = $2 WHERE state = 0 AND id = ANY($3)`,
		int16(to), orderID, ids)
	if err != nil {
		return fmt.Errorf("claim keys: %w", err)
	}
	if tag.RowsAffected() != int64(len(ids)) {
		return fmt.Errorf("claimed %d of %d locked keys: %w", tag.RowsAffected(), len(ids), errInvariant)
	}
	return nil
}

// claim moves q available units of a product to an order, in state to
// (reserved or sold). It reports false, changing nothing, when fewer than
// q are available.
func claim(ctx context.Context, tx pgx.Tx, productID int64, d faka.Delivery, orderID int64, q int, to faka.KeyState) (bool, error) {
	if d.Counted() {
		col := "stock_reserved"
		if to == faka.KeySold {
			col = "stock_sold"
		}
		tag, err := tx.Exec(ctx, `UPDATE products SET stock_available = stock_available - $1, `+col+` = `+col+` + $1
			WHERE id = $2 AND stock_available >= $1`, q, productID)
		if err != nil {
			return false, fmt.Errorf("claim stock: %w", err)
		}
		return tag.RowsAffected() == 1, nil
	}
	ids, err := findKeys(ctx, tx, productID, q)
	if err != nil || len(ids) < q {
		return false, err
	}
	return true, assignKeys(ctx, tx, ids, orderID, to)
}

// move changes an order's q units from one state to another and returns
// how many moved (for card products, key rows; the caller checks).
func move(ctx context.Context, tx pgx.Tx, productID int64, d faka.Delivery, orderID int64, q int, from, to faka.KeyState) (int64, error) {
	if d.Counted() {
		fromCol, toCol := stockColumn(from), stockColumn(to)
		tag, err := tx.Exec(ctx, `UPDATE products SET `+fromCol+` = `+fromCol+` - $1, `+toCol+` = `+toCol+` + $1
			WHERE id = $2 AND `+fromCol+` >= $1`, q, productID)
		if err != nil {
			return 0, fmt.Errorf("move stock %s→%s: %w", from, to, err)
		}
		if tag.RowsAffected() != 1 {
			return 0, fmt.Errorf("product %d has fewer than %d %s units: %w", productID, q, from, errInvariant)
		}
		return int64(q), nil
	}
	q2 := `UPDATE card_keys SET state = $1 WHERE order_id = $2 AND state = $3`
	if to == faka.KeyAvailable {
		q2 = `UPDATE card_keys SET state = $1, order_id = NULL WHERE order_id = $2 AND state = $3`
	}
	tag, err := tx.Exec(ctx, q2, int16(to), orderID, int16(from))
	if err != nil {
		return 0, fmt.Errorf("move keys %s→%s: %w", from, to, err)
	}
	return tag.RowsAffected(), nil
}

func stockColumn(s faka.KeyState) string {
	switch s {
	case faka.KeyAvailable:
		return "stock_available"
	case faka.KeyReserved:
		return "stock_reserved"
	case faka.KeySold:
		return "stock_sold"
	default:
		return "stock_void"
	}
}

// fulfilBackorders delivers a product's paid_awaiting_stock orders, oldest
// first, while stock lasts, stopping at the first that does not fit. The
// caller holds the product's advisory lock.
func fulfilBackorders(ctx context.Context, tx pgx.Tx, productID int64, d faka.Delivery) (int, int64, error) {
	var fulfilled int
	var units int64
	for {
		var orderID int64
		var q int
		err := tx.QueryRow(ctx, `SELECT id, quantity FROM orders WHERE product_id = $1 AND status = 'paid_awaiting_stock'
			ORDER BY paid_at, id LIMIT 1 FOR UPDATE`, productID).Scan(&orderID, &q)
		if err == pgx.ErrNoRows {
			return fulfilled, units, nil
		}
		if err != nil {
			return 0, 0, fmt.Errorf("find backorder: %w", err)
		}
		ok, err := claim(ctx, tx, productID, d, orderID, q, faka.KeySold)
		if err != nil || !ok {
			return fulfilled, units, err
		}
		next := faka.StatusDelivered
		if d == faka.DeliveryManual {
			next = faka.StatusPaid
		}
		if err := setStatus(ctx, tx, orderID, faka.StatusPaidAwaitingStock, next); err != nil {
			return 0, 0, err
		}
		if err := appendLedger(ctx, tx, productID, orderID, faka.LedgerLate, -int64(q), 0, int64(q), 0); err != nil {
			return 0, 0, err
		}
		fulfilled++
		units += int64(q)
	}
}
