package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/faka-dev/faka"
)

// KeysImport implements faka.Store.
func (s *Store) KeysImport(ctx context.Context, productID int64, keys []faka.SealedKey) (faka.ImportResult, error) {
	var res faka.ImportResult
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res = faka.ImportResult{}
		d, err := loadDelivery(ctx, tx, productID)
		if err != nil {
			return err
		}
		if d != faka.DeliveryCard {
			return faka.Errorf(faka.EInvalid, "product %d is a %s product: it takes stock, not keys", productID, d)
		}
		now := s.nowMS()
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO card_keys (product_id, hash, ciphertext, state, created_at)
			VALUES (?, ?, ?, 0, ?) ON CONFLICT (product_id, hash) DO NOTHING`)
		if err != nil {
			return fmt.Errorf("prepare key insert: %w", err)
		}
		defer stmt.Close()
		for _, k := range keys {
			r, err := stmt.ExecContext(ctx, productID, k.Hash, k.Ciphertext, now)
			if err != nil {
				return fmt.Errorf("insert key: %w", err)
			}
			if n, _ := r.RowsAffected(); n == 1 {
				res.Imported++
			} else {
				res.Duplicates++
			}
		}
		if res.Imported > 0 {
			if err := s.appendLedger(ctx, tx, productID, 0, faka.LedgerImport, int64(res.Imported), 0, 0, 0, now); err != nil {
				return err
			}
		}
		res.Fulfilled, res.FulfilledUnits, err = s.fulfilBackorders(ctx, tx, productID, d, now)
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
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		d, err := loadDelivery(ctx, tx, productID)
		if err != nil {
			return err
		}
		if !d.Counted() {
			return faka.Errorf(faka.EInvalid, "product %d is a card product: import keys instead", productID)
		}
		now := s.nowMS()
		if _, err := tx.ExecContext(ctx, `UPDATE products SET stock_available = stock_available + ? WHERE id = ?`,
			n, productID); err != nil {
			return fmt.Errorf("add stock: %w", err)
		}
		if err := s.appendLedger(ctx, tx, productID, 0, faka.LedgerImport, n, 0, 0, 0, now); err != nil {
			return err
		}
		res.Imported = int(n)
		res.Fulfilled, res.FulfilledUnits, err = s.fulfilBackorders(ctx, tx, productID, d, now)
		return err
	})
	return res, err
}

// KeysVoid implements faka.Store.
func (s *Store) KeysVoid(ctx context.Context, productID int64, keyIDs []int64) (int, error) {
	var voided int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		voided = 0
		if len(keyIDs) == 0 {
			return nil
		}
		args := []any{productID}
		for _, id := range keyIDs {
			args = append(args, id)
		}
		r, err := tx.ExecContext(ctx, `UPDATE card_keys SET state = 3 WHERE product_id = ? AND state = 0 AND id IN (`+
			placeholders(len(keyIDs))+`)`, args...)
		if err != nil {
			return fmt.Errorf("void keys: %w", err)
		}
		n, _ := r.RowsAffected()
		voided = int(n)
		if n > 0 {
			return s.appendLedger(ctx, tx, productID, 0, faka.LedgerVoid, -n, 0, 0, n, s.nowMS())
		}
		return nil
	})
	return voided, err
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// Queries of keys and counted stock.
const (
	qKeysAvailable = `SELECT id FROM card_keys WHERE product_id = ? AND state = 0 ORDER BY id LIMIT ?`
	// qKeysClaimBatch gives keys to orders from a JSON array of
	// [key_id, order_id] pairs, in one statement for a whole batch.
	qKeysClaimBatch = `UPDATE card_keys SET state = ?1, order_id = m.oid
		FROM (SELECT value ->> 0 AS kid, value ->> 1 AS oid FROM json_each(?2)) AS m
		WHERE card_keys.id = m.kid AND card_keys.state = 0`
	qCountedClaim = `UPDATE products SET stock_available = stock_available - ?, stock_reserved = stock_reserved + ?
		WHERE id = ? AND stock_available >= ?`
	qKeysMove    = `UPDATE card_keys SET state = ? WHERE order_id = ? AND state = ?`
	qKeysRelease = `UPDATE card_keys SET state = ?, order_id = NULL WHERE order_id = ? AND state = ?`
)

// availableKeys returns the ids of up to n available keys of a product,
// lowest first.
func (s *Store) availableKeys(ctx context.Context, tx *sql.Tx, productID int64, n int) ([]int64, error) {
	rows, err := s.wquery(ctx, tx, qKeysAvailable, productID, n)
	if err != nil {
		return nil, fmt.Errorf("find keys: %w", err)
	}
	defer rows.Close()
	ids := make([]int64, 0, n)
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("scan key id: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find keys: %w", err)
	}
	return ids, nil
}

// claim moves q available units of a product to an order, in state to
// (reserved or sold). It reports false, changing nothing, when fewer than q
// are available. The single writer connection makes select-then-update
// safe here; the PostgreSQL store uses FOR UPDATE SKIP LOCKED instead.
func (s *Store) claim(ctx context.Context, tx *sql.Tx, productID int64, d faka.Delivery, orderID int64, q int, to faka.KeyState) (bool, error) {
	if d.Counted() {
		col := "stock_reserved"
		if to == faka.KeySold {
			col = "stock_sold"
		}
		r, err := tx.ExecContext(ctx, `UPDATE products SET stock_available = stock_available - ?, `+col+` = `+col+` + ?
			WHERE id = ? AND stock_available >= ?`, q, q, productID, q)
		if err != nil {
			return false, fmt.Errorf("claim stock: %w", err)
		}
		n, _ := r.RowsAffected()
		return n == 1, nil
	}
	ids, err := s.availableKeys(ctx, tx, productID, q)
	if err != nil {
		return false, err
	}
	if len(ids) < q {
		return false, nil
	}
	var pairs []byte
	for _, id := range ids {
		pairs = appendPair(pairs, id, orderID)
	}
	r, err := s.wexec(ctx, tx, qKeysClaimBatch, int(to), closeJSON(pairs))
	if err != nil {
		return false, fmt.Errorf("claim keys: %w", err)
	}
	if n, _ := r.RowsAffected(); n != int64(q) {
		return false, fmt.Errorf("claimed %d keys of %d found: %w", n, q, errInvariant)
	}
	return true, nil
}

// move changes an order's q units from one state to another: reserved →
// sold (payment), reserved → available (release), sold → void (refund).
// It returns how many units moved; for card products it is the number of
// key rows, which the caller checks.
func (s *Store) move(ctx context.Context, tx *sql.Tx, productID int64, d faka.Delivery, orderID int64, q int, from, to faka.KeyState) (int64, error) {
	if d.Counted() {
		fromCol, toCol := stockColumn(from), stockColumn(to)
		r, err := tx.ExecContext(ctx, `UPDATE products SET `+fromCol+` = `+fromCol+` - ?, `+toCol+` = `+toCol+` + ?
			WHERE id = ? AND `+fromCol+` >= ?`, q, q, productID, q)
		if err != nil {
			return 0, fmt.Errorf("move stock %s→%s: %w", from, to, err)
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return 0, fmt.Errorf("product %d has fewer than %d %s units: %w", productID, q, from, errInvariant)
		}
		return int64(q), nil
	}
	q2 := qKeysMove
	if to == faka.KeyAvailable {
		q2 = qKeysRelease
	}
	r, err := s.wexec(ctx, tx, q2, int(to), orderID, int(from))
	if err != nil {
		return 0, fmt.Errorf("move keys %s→%s: %w", from, to, err)
	}
	return r.RowsAffected()
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

const qBackorderNext = `SELECT id, quantity FROM orders
	WHERE product_id = ? AND status = 'paid_awaiting_stock' ORDER BY paid_at, id LIMIT 1`

// fulfilBackorders delivers a product's paid_awaiting_stock orders, oldest
// first, while stock lasts. It stops at the first order that does not fit,
// so a large old order is never starved by smaller new ones.
func (s *Store) fulfilBackorders(ctx context.Context, tx *sql.Tx, productID int64, d faka.Delivery, now int64) (int, int64, error) {
	var fulfilled int
	var units int64
	for {
		var orderID int64
		var q int
		err := s.wqueryRow(ctx, tx, qBackorderNext, productID).Scan(&orderID, &q)
		if err == sql.ErrNoRows {
			return fulfilled, units, nil
		}
		if err != nil {
			return 0, 0, fmt.Errorf("find backorder: %w", err)
		}
		ok, err := s.claim(ctx, tx, productID, d, orderID, q, faka.KeySold)
		if err != nil || !ok {
			return fulfilled, units, err
		}
		next := faka.StatusDelivered
		if d == faka.DeliveryManual {
			next = faka.StatusPaid
		}
		if err := s.setStatus(ctx, tx, orderID, faka.StatusPaidAwaitingStock, next, now); err != nil {
			return 0, 0, err
		}
		if err := s.appendLedger(ctx, tx, productID, orderID, faka.LedgerLate, -int64(q), 0, int64(q), 0, now); err != nil {
			return 0, 0, err
		}
		fulfilled++
		units += int64(q)
	}
}
