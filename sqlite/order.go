package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/faka-dev/faka"
)

const orderColumns = `o.id, o.order_no, o.product_id, p.delivery, o.quantity, o.unit_price, o.amount, o.currency,
	o.email, o.gateway, o.status, o.reserved_until, o.created_at, o.paid_at, o.delivered_at, o.delivery_note,
	o.token_hash, o.query_password_hash`

const orderFrom = ` FROM orders o JOIN products p ON p.id = o.product_id `

func scanOrder(row scanner) (*faka.Order, error) {
	var o faka.Order
	var until, created int64
	var paid, delivered sql.NullInt64
	if err := row.Scan(&o.ID, &o.OrderNo, &o.ProductID, &o.Delivery, &o.Quantity, &o.UnitPrice, &o.Amount,
		&o.Currency, &o.Email, &o.Gateway, &o.Status, &until, &created, &paid, &delivered, &o.DeliveryNote,
		&o.TokenHash, &o.QueryPasswordHash); err != nil {
		return nil, err
	}
	o.ReservedUntil = time.UnixMilli(until)
	o.CreatedAt = time.UnixMilli(created)
	o.PaidAt = msTime(paid)
	o.DeliveredAt = msTime(delivered)
	return &o, nil
}

// Queries of orders, prepared on the writer.
const (
	qOrderByNo = `SELECT ` + orderColumns + orderFrom + ` WHERE o.order_no = ?`
	qOrderByID = `SELECT ` + orderColumns + orderFrom + ` WHERE o.id = ?`
)

// getOrder loads one order with q (qOrderByNo or qOrderByID) in a write
// transaction, or from the read pool when tx is nil.
func (s *Store) getOrder(ctx context.Context, tx *sql.Tx, q string, arg any) (*faka.Order, error) {
	var row *sql.Row
	if tx != nil {
		row = s.wqueryRow(ctx, tx, q, arg)
	} else {
		row = s.rqueryRow(ctx, nil, q, arg)
	}
	o, err := scanOrder(row)
	if err == sql.ErrNoRows {
		return nil, faka.Errorf(faka.ENotFound, "order not found")
	}
	if err != nil {
		return nil, fmt.Errorf("load order: %w", err)
	}
	return o, nil
}

// IdempotencyGet implements faka.Store.
func (s *Store) IdempotencyGet(ctx context.Context, key string) (*faka.IdempotencyRecord, error) {
	var r faka.IdempotencyRecord
	var created int64
	err := s.read.QueryRowContext(ctx, `SELECT i.key, i.request_hash, i.order_id, o.order_no, i.sealed_token,
		i.created_at FROM idempotency_keys i JOIN orders o ON o.id = i.order_id WHERE i.key = ?`, key).
		Scan(&r.Key, &r.RequestHash, &r.OrderID, &r.OrderNo, &r.SealedToken, &created)
	if err != nil {
		return nil, translate(fmt.Errorf("idempotency key: %w", err))
	}
	r.CreatedAt = time.UnixMilli(created)
	return &r, nil
}

// OrderGet implements faka.Store.
func (s *Store) OrderGet(ctx context.Context, orderNo string) (*faka.Order, error) {
	o, err := s.getOrder(ctx, nil, qOrderByNo, orderNo)
	return o, translate(err)
}

// OrderList implements faka.Store.
func (s *Store) OrderList(ctx context.Context, f faka.OrderFilter) ([]*faka.Order, error) {
	q := `SELECT ` + orderColumns + orderFrom + ` WHERE 1 = 1`
	var args []any
	if f.ProductID != 0 {
		q += ` AND o.product_id = ?`
		args = append(args, f.ProductID)
	}
	if f.Status != "" {
		q += ` AND o.status = ?`
		args = append(args, f.Status)
	}
	if f.Email != "" {
		q += ` AND o.email = ?`
		args = append(args, f.Email)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000) // documented cap
	q += ` ORDER BY o.id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, translate(fmt.Errorf("list orders: %w", err))
	}
	defer rows.Close()
	var out []*faka.Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, translate(fmt.Errorf("scan order: %w", err))
		}
		out = append(out, o)
	}
	return out, translate(rows.Err())
}

const (
	qOrderKeyOwner = `SELECT p.delivery, p.reusable_hash, p.reusable_ciphertext FROM orders o
		JOIN products p ON p.id = o.product_id WHERE o.id = ?`
	qOrderKeys = `SELECT hash, ciphertext FROM card_keys WHERE order_id = ? ORDER BY id`
)

// OrderKeys implements faka.Store.
func (s *Store) OrderKeys(ctx context.Context, orderID int64) ([]faka.SealedKey, error) {
	var out []faka.SealedKey
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		var d faka.Delivery
		var hash, ct []byte
		err := s.rqueryRow(ctx, tx, qOrderKeyOwner, orderID).Scan(&d, &hash, &ct)
		if err != nil {
			return fmt.Errorf("order %d: %w", orderID, err)
		}
		switch d {
		case faka.DeliveryReusable:
			out = []faka.SealedKey{{Hash: hash, Ciphertext: ct}}
			return nil
		case faka.DeliveryManual:
			return nil
		}
		rows, err := s.rquery(ctx, tx, qOrderKeys, orderID)
		if err != nil {
			return fmt.Errorf("keys of order %d: %w", orderID, err)
		}
		defer rows.Close()
		for rows.Next() {
			var k faka.SealedKey
			if err := rows.Scan(&k.Hash, &k.Ciphertext); err != nil {
				return fmt.Errorf("scan key: %w", err)
			}
			out = append(out, k)
		}
		return rows.Err()
	})
	return out, err
}
