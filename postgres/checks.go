package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faka-dev/faka"
)

// The payment poller's work list (faka.PaymentCheckStore). Several
// instances claim at once: the due orders are locked FOR NO KEY UPDATE
// SKIP LOCKED, so concurrent claimers take different orders (and skip one
// a payment confirmation holds), and each claim is an upsert whose WHERE
// repeats the due test on the latest committed row, so that a claimer
// whose snapshot predates another's commit claims nothing: exclusivity
// does not rest on the locks alone. now(), the database clock, judges
// every time.

var _ faka.PaymentCheckStore = (*Store)(nil)

// The due tests, as in the SQLite store: an order is due when it has no
// check row, or its row is open and its next check has come; an order
// that ended is due at once if the last claim saw it pending.
const (
	qChecksDuePending = `SELECT o.id, o.status FROM orders o LEFT JOIN payment_checks c ON c.order_id = o.id
		WHERE o.status = 'pending' AND o.gateway = ANY($1) AND o.created_at <= now() - $2 * interval '1 millisecond'
			AND (c.order_id IS NULL OR (c.closed_at IS NULL AND c.next_check_at <= now()))
		ORDER BY coalesce(c.next_check_at, o.created_at), o.id LIMIT $3
		FOR NO KEY UPDATE OF o SKIP LOCKED`
	qChecksDueEnded = `SELECT o.id, o.status FROM orders o LEFT JOIN payment_checks c ON c.order_id = o.id
		WHERE o.status IN ('expired', 'cancelled') AND o.gateway = ANY($1)
			AND o.updated_at >= now() - $2 * interval '1 millisecond' AND o.reserved_until <= now()
			AND (c.order_id IS NULL OR (c.closed_at IS NULL AND (c.next_check_at <= now() OR c.seen_status = 'pending')))
		ORDER BY o.updated_at, o.id LIMIT $3
		FOR NO KEY UPDATE OF o SKIP LOCKED`
	qCheckClaim = `INSERT INTO payment_checks (order_id, checks, seen_status, next_check_at, last_error, updated_at)
		VALUES ($1, 1, $2, now() + $3 * interval '1 millisecond', '', now())
		ON CONFLICT (order_id) DO UPDATE SET checks = payment_checks.checks + 1, seen_status = excluded.seen_status,
			next_check_at = excluded.next_check_at, updated_at = excluded.updated_at
		WHERE payment_checks.closed_at IS NULL AND (payment_checks.next_check_at <= now()
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
	var out []*faka.PaymentCheck
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out = out[:0]
		type due struct {
			id     int64
			status faka.OrderStatus
		}
		var cands []due
		// Pending orders first: a buyer may be waiting for their keys.
		for _, q := range []struct {
			sql string
			age time.Duration
		}{{qChecksDuePending, c.MinAge}, {qChecksDueEnded, c.MaxAge}} {
			if len(cands) >= c.Limit {
				break
			}
			rows, err := tx.Query(ctx, q.sql, c.Gateways, q.age.Milliseconds(), c.Limit-len(cands))
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
		var ids []int64
		checks := map[int64]int{}
		closing := map[int64]bool{}
		for _, d := range cands {
			var n int
			err := tx.QueryRow(ctx, qCheckClaim, d.id, d.status, c.Lease.Milliseconds()).Scan(&n)
			if errors.Is(err, pgx.ErrNoRows) {
				continue // another instance claimed it meanwhile
			}
			if err != nil {
				return fmt.Errorf("claim payment check of order %d: %w", d.id, err)
			}
			ids = append(ids, d.id)
			checks[d.id], closing[d.id] = n, d.status != faka.StatusPending
		}
		if len(ids) == 0 {
			return nil
		}
		rows, err := tx.Query(ctx, `SELECT `+orderColumns+orderFrom+` WHERE o.id = ANY($1) ORDER BY o.id`, ids)
		if err != nil {
			return fmt.Errorf("load claimed orders: %w", err)
		}
		defer rows.Close()
		byID := map[int64]*faka.Order{}
		for rows.Next() {
			o, err := scanOrder(rows)
			if err != nil {
				return fmt.Errorf("scan claimed order: %w", err)
			}
			byID[o.ID] = o
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("load claimed orders: %w", err)
		}
		for _, id := range ids { // in claim order
			o := byID[id]
			if o == nil {
				return fmt.Errorf("claimed order %d vanished: %w", id, errInvariant)
			}
			out = append(out, &faka.PaymentCheck{Order: o, Checks: checks[id], Closing: closing[id]})
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
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE payment_checks SET next_check_at = now() + $1 * interval '1 millisecond',
			last_error = $2, closed_at = CASE WHEN $3 THEN coalesce(closed_at, now()) ELSE closed_at END,
			updated_at = now() WHERE order_id = $4`, r.After.Milliseconds(), r.Error, r.Closed, r.OrderID)
		if err != nil {
			return fmt.Errorf("save payment check of order %d: %w", r.OrderID, err)
		}
		if tag.RowsAffected() == 0 {
			return faka.Errorf(faka.ENotFound, "order %d was never claimed for a payment check", r.OrderID)
		}
		return nil
	})
}

// PaymentCheckGet implements faka.PaymentCheckStore.
func (s *Store) PaymentCheckGet(ctx context.Context, orderID int64) (*faka.PaymentCheckState, error) {
	var st faka.PaymentCheckState
	var closed *time.Time
	err := s.pool.QueryRow(ctx, `SELECT order_id, checks, seen_status, next_check_at, last_error, closed_at, updated_at
		FROM payment_checks WHERE order_id = $1`, orderID).Scan(&st.OrderID, &st.Checks, &st.SeenStatus,
		&st.NextCheckAt, &st.LastError, &closed, &st.UpdatedAt)
	if err != nil {
		return nil, translate(fmt.Errorf("payment check of order %d: %w", orderID, err))
	}
	if closed != nil {
		st.ClosedAt = *closed
	}
	return &st, nil
}

// PaymentChecksPrune implements faka.PaymentCheckStore.
func (s *Store) PaymentChecksPrune(ctx context.Context, olderThan time.Duration, limit int) (int, error) {
	if olderThan <= 0 || limit < 1 {
		return 0, faka.Errorf(faka.EInvalid, "prune needs a positive age and limit")
	}
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM payment_checks WHERE order_id IN
			(SELECT order_id FROM payment_checks WHERE updated_at < now() - $1 * interval '1 millisecond'
			 LIMIT $2 FOR UPDATE SKIP LOCKED)`, olderThan.Milliseconds(), limit)
		if err != nil {
			return fmt.Errorf("prune payment checks: %w", err)
		}
		n = tag.RowsAffected()
		return nil
	})
	return int(n), err
}

// OrdersSince implements faka.PaymentCheckStore.
func (s *Store) OrdersSince(ctx context.Context, since time.Time, after *faka.Order, limit int) ([]*faka.Order, error) {
	if limit < 1 {
		return nil, faka.Errorf(faka.EInvalid, "limit must be positive")
	}
	q := `SELECT ` + orderColumns + orderFrom + ` WHERE o.created_at >= $1`
	args := []any{since}
	if after != nil {
		q += ` AND (o.created_at, o.id) > ($3, $4)`
		args = append(args, limit, after.CreatedAt, after.ID)
	} else {
		args = append(args, limit)
	}
	q += ` ORDER BY o.created_at, o.id LIMIT $2`
	rows, err := s.pool.Query(ctx, q, args...)
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
