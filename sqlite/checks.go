package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/faka-dev/faka"
)

// The payment poller's work list (faka.PaymentCheckStore). The one writer
// connection serialises claims, so a claim is a plain read-then-upsert in
// one write transaction; the upsert's WHERE repeats the due test all the
// same, so that the rule that makes claims exclusive is the same SQL as
// PostgreSQL's.

var _ faka.PaymentCheckStore = (*Store)(nil)

// The due tests. An order is due when it has no check row, or its row is
// open and its next check has come; an order that ended is due at once if
// the last claim saw it pending (it has not been asked about since it
// ended). The status terms repeat the partial indexes' WHERE clauses word
// for word, as SQLite needs to use them; the unary + keeps SQLite from
// scanning orders_created over every order ever made instead of the
// pending orders' partial index.
const (
	qChecksDuePending = `SELECT o.id, o.status FROM orders o LEFT JOIN payment_checks c ON c.order_id = o.id
		WHERE o.status = 'pending' AND o.gateway IN (%s) AND +o.created_at <= ?
			AND (c.order_id IS NULL OR (c.closed_at IS NULL AND c.next_check_at <= ?))
		ORDER BY coalesce(c.next_check_at, o.created_at), o.id LIMIT ?`
	qChecksDueEnded = `SELECT o.id, o.status FROM orders o LEFT JOIN payment_checks c ON c.order_id = o.id
		WHERE o.status IN ('expired', 'cancelled') AND o.gateway IN (%s) AND o.updated_at >= ? AND o.reserved_until <= ?
			AND (c.order_id IS NULL OR (c.closed_at IS NULL AND (c.next_check_at <= ? OR c.seen_status = 'pending')))
		ORDER BY o.updated_at, o.id LIMIT ?`
	// qCheckClaim claims one order: a new row, or the open row when it is
	// still due. No row comes back when it is not.
	qCheckClaim = `INSERT INTO payment_checks (order_id, checks, seen_status, next_check_at, last_error, updated_at)
		VALUES (?1, 1, ?2, ?3, '', ?4)
		ON CONFLICT (order_id) DO UPDATE SET checks = payment_checks.checks + 1, seen_status = excluded.seen_status,
			next_check_at = excluded.next_check_at, updated_at = excluded.updated_at
		WHERE payment_checks.closed_at IS NULL AND (payment_checks.next_check_at <= ?4
			OR (payment_checks.seen_status = 'pending' AND excluded.seen_status <> 'pending'))
		RETURNING checks`
)

// PaymentChecksClaim implements faka.PaymentCheckStore.
func (s *Store) PaymentChecksClaim(ctx context.Context, c faka.PaymentCheckClaim) ([]*faka.PaymentCheck, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if len(c.Gateways) == 0 {
		return nil, nil
	}
	in := strings.TrimSuffix(strings.Repeat("?,", len(c.Gateways)), ",")
	gws := make([]any, len(c.Gateways))
	for i, g := range c.Gateways {
		gws[i] = g
	}
	var out []*faka.PaymentCheck
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see Store.Tx
		out = out[:0]
		now := s.nowMS()
		type due struct {
			id     int64
			status faka.OrderStatus
		}
		var cands []due
		// Pending orders first: a buyer may be waiting for their keys.
		for _, q := range []struct {
			sql  string
			args []any // after the gateways, before the limit
		}{
			{fmt.Sprintf(qChecksDuePending, in), []any{now - c.MinAge.Milliseconds(), now}},
			{fmt.Sprintf(qChecksDueEnded, in), []any{now - c.MaxAge.Milliseconds(), now, now}},
		} {
			if len(cands) >= c.Limit {
				break
			}
			args := append(append(append([]any{}, gws...), q.args...), c.Limit-len(cands))
			rows, err := tx.QueryContext(ctx, q.sql, args...)
			if err != nil {
				return fmt.Errorf("find due payment checks: %w", err)
			}
			for rows.Next() {
				var d due
				if err := rows.Scan(&d.id, &d.status); err != nil {
					rows.Close()
					return fmt.Errorf("scan due payment check: %w", err)
				}
				cands = append(cands, d)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("find due payment checks: %w", err)
			}
		}
		lease := now + c.Lease.Milliseconds()
		for _, d := range cands {
			var checks int
			err := tx.QueryRowContext(ctx, qCheckClaim, d.id, d.status, lease, now).Scan(&checks)
			if errors.Is(err, sql.ErrNoRows) {
				continue // not due after all
			}
			if err != nil {
				return fmt.Errorf("claim payment check of order %d: %w", d.id, err)
			}
			o, err := s.getOrder(ctx, tx, qOrderByID, d.id)
			if err != nil {
				return err
			}
			out = append(out, &faka.PaymentCheck{Order: o, Checks: checks, Closing: d.status != faka.StatusPending})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PaymentCheckSave implements faka.PaymentCheckStore.
func (s *Store) PaymentCheckSave(ctx context.Context, r faka.PaymentCheckResult) error {
	if err := r.Normalize(); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see Store.Tx
		now := s.nowMS()
		var closed sql.NullInt64
		if r.Closed {
			closed = sql.NullInt64{Int64: now, Valid: true}
		}
		res, err := tx.ExecContext(ctx, `UPDATE payment_checks SET next_check_at = ?, last_error = ?,
			closed_at = coalesce(closed_at, ?), updated_at = ? WHERE order_id = ?`,
			now+r.After.Milliseconds(), r.Error, closed, now, r.OrderID)
		if err != nil {
			return fmt.Errorf("save payment check of order %d: %w", r.OrderID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("save payment check of order %d: %w", r.OrderID, err)
		} else if n == 0 {
			return faka.Errorf(faka.ENotFound, "order %d was never claimed for a payment check", r.OrderID)
		}
		return nil
	})
}

// PaymentCheckGet implements faka.PaymentCheckStore.
func (s *Store) PaymentCheckGet(ctx context.Context, orderID int64) (*faka.PaymentCheckState, error) {
	var st faka.PaymentCheckState
	var next, updated int64
	var closed sql.NullInt64
	err := s.read.QueryRowContext(ctx, `SELECT order_id, checks, seen_status, next_check_at, last_error, closed_at,
		updated_at FROM payment_checks WHERE order_id = ?`, orderID).Scan(&st.OrderID, &st.Checks, &st.SeenStatus,
		&next, &st.LastError, &closed, &updated)
	if err != nil {
		return nil, translate(fmt.Errorf("payment check of order %d: %w", orderID, err))
	}
	st.NextCheckAt, st.ClosedAt, st.UpdatedAt = time.UnixMilli(next), msTime(closed), time.UnixMilli(updated)
	return &st, nil
}

// PaymentChecksPrune implements faka.PaymentCheckStore.
func (s *Store) PaymentChecksPrune(ctx context.Context, olderThan time.Duration, limit int) (int, error) {
	if olderThan <= 0 || limit < 1 {
		return 0, faka.Errorf(faka.EInvalid, "prune needs a positive age and limit")
	}
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see Store.Tx
		res, err := tx.ExecContext(ctx, `DELETE FROM payment_checks WHERE order_id IN
			(SELECT order_id FROM payment_checks WHERE updated_at < ? LIMIT ?)`, s.nowMS()-olderThan.Milliseconds(), limit)
		if err != nil {
			return fmt.Errorf("prune payment checks: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// OrdersSince implements faka.PaymentCheckStore.
func (s *Store) OrdersSince(ctx context.Context, since time.Time, after *faka.Order, limit int) ([]*faka.Order, error) {
	if limit < 1 {
		return nil, faka.Errorf(faka.EInvalid, "limit must be positive")
	}
	q := `SELECT ` + orderColumns + orderFrom + ` WHERE o.created_at >= ?`
	args := []any{since.UnixMilli()}
	if after != nil {
		q += ` AND (o.created_at > ? OR (o.created_at = ? AND o.id > ?))`
		ms := after.CreatedAt.UnixMilli()
		args = append(args, ms, ms, after.ID)
	}
	q += ` ORDER BY o.created_at, o.id LIMIT ?`
	args = append(args, limit)
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, translate(fmt.Errorf("orders since %v: %w", since, err))
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
