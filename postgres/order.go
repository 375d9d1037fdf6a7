package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faka-dev/faka"
)

const orderColumns = `o.id, o.order_no, o.product_id, p.delivery, o.quantity, o.unit_price, o.amount, o.currency,
	o.email, o.gateway, o.status, o.reserved_until, o.created_at, o.paid_at, o.delivered_at, o.delivery_note,
	o.token_hash, o.query_password_hash`

const orderFrom = ` FROM orders o JOIN products p ON p.id = o.product_id `

func scanOrder(row pgx.Row) (*faka.Order, error) {
	var o faka.Order
	var paid, delivered *time.Time
	if err := row.Scan(&o.ID, &o.OrderNo, &o.ProductID, &o.Delivery, &o.Quantity, &o.UnitPrice, &o.Amount,
		&o.Currency, &o.Email, &o.Gateway, &o.Status, &o.ReservedUntil, &o.CreatedAt, &paid, &delivered,
		&o.DeliveryNote, &o.TokenHash, &o.QueryPasswordHash); err != nil {
		return nil, err
	}
	if paid != nil {
		o.PaidAt = *paid
	}
	if delivered != nil {
		o.DeliveredAt = *delivered
	}
	return &o, nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// getOrder loads one order; lock adds FOR UPDATE of the order row.
func getOrder(ctx context.Context, q querier, where string, arg any, lock bool) (*faka.Order, error) {
	sql := `SELECT ` + orderColumns + orderFrom + ` WHERE ` + where
	if lock {
		sql += ` FOR UPDATE OF o`
	}
	o, err := scanOrder(q.QueryRow(ctx, sql, arg))
	if err == pgx.ErrNoRows {
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
	err := s.pool.QueryRow(ctx, `SELECT i.key, i.request_hash, i.order_id, o.order_no, i.sealed_token, i.created_at
		FROM idempotency_keys i JOIN orders o ON o.id = i.order_id WHERE i.key = $1`, key).
		Scan(&r.Key, &r.RequestHash, &r.OrderID, &r.OrderNo, &r.SealedToken, &r.CreatedAt)
	if err != nil {
		return nil, translate(fmt.Errorf("idempotency key: %w", err))
	}
	return &r, nil
}

// OrderGet implements faka.Store.
func (s *Store) OrderGet(ctx context.Context, orderNo string) (*faka.Order, error) {
	o, err := getOrder(ctx, s.pool, `o.order_no = $1`, orderNo, false)
	return o, translate(err)
}

// OrderList implements faka.Store.
func (s *Store) OrderList(ctx context.Context, f faka.OrderFilter) ([]*faka.Order, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000) // documented cap
	rows, err := s.pool.Query(ctx, `SELECT `+orderColumns+orderFrom+`
		WHERE ($1 = 0 OR o.product_id = $1) AND ($2 = '' OR o.status = $2) AND ($3 = '' OR o.email = $3)
		ORDER BY o.id DESC LIMIT $4`, f.ProductID, string(f.Status), f.Email, limit)
	if err != nil {
		return nil, translate(fmt.Errorf("list orders: %w", err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*faka.Order, error) { return scanOrder(r) })
	return out, translate(err)
}

// OrderKeys implements faka.Store.
func (s *Store) OrderKeys(ctx context.Context, orderID int64) ([]faka.SealedKey, error) {
	var out []faka.SealedKey
	err := s.inReadTx(ctx, func(tx pgx.Tx) error {
		var d faka.Delivery
		var hash, ct []byte
		err := tx.QueryRow(ctx, `SELECT p.delivery, p.reusable_hash, p.reusable_ciphertext FROM orders o
			JOIN products p ON p.id = o.product_id WHERE o.id = $1`, orderID).Scan(&d, &hash, &ct)
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
		rows, err := tx.Query(ctx, `SELECT hash, ciphertext FROM card_keys WHERE order_id = $1 ORDER BY id`, orderID)
		if err != nil {
			return fmt.Errorf("keys of order %d: %w", orderID, err)
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (faka.SealedKey, error) {
			var k faka.SealedKey
			err := r.Scan(&k.Hash, &k.Ciphertext)
			return k, err
		})
		return err
	})
	return out, err
}
