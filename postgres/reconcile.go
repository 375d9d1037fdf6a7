package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/faka-dev/faka"
)

// violationQueries are the SQLite store's checks in PostgreSQL's dialect,
// under the same codes. Each row is (product_id, order_no, message).
var violationQueries = []struct{ code, query string }{
	{"reserved_key_not_pending", `SELECT o.product_id, o.order_no, 'a reserved key belongs to an order in state ' || o.status
		FROM card_keys k JOIN orders o ON o.id = k.order_id WHERE k.state = 1 AND o.status <> 'pending'`},
	{"sold_key_not_delivered", `SELECT o.product_id, o.order_no, 'a sold key belongs to an order in state ' || o.status
		FROM card_keys k JOIN orders o ON o.id = k.order_id WHERE k.state = 2 AND o.status <> 'delivered'`},
	{"void_key_not_refunded", `SELECT o.product_id, o.order_no, 'a voided key belongs to an order in state ' || o.status
		FROM card_keys k JOIN orders o ON o.id = k.order_id WHERE k.state = 3 AND o.status <> 'refunded'`},
	{"key_of_other_product", `SELECT o.product_id, o.order_no, 'the order holds a key of another product'
		FROM card_keys k JOIN orders o ON o.id = k.order_id WHERE k.product_id <> o.product_id`},
	{"delivered_wrong_count", `SELECT o.product_id, o.order_no, 'delivered with ' || c.n || ' sold keys for quantity ' || o.quantity
		FROM orders o JOIN products p ON p.id = o.product_id
		CROSS JOIN LATERAL (SELECT count(*) AS n FROM card_keys k WHERE k.order_id = o.id AND k.state = 2) c
		WHERE p.delivery = 'card' AND o.status = 'delivered' AND c.n <> o.quantity`},
	{"pending_wrong_count", `SELECT o.product_id, o.order_no, 'pending with ' || c.n || ' reserved keys for quantity ' || o.quantity
		FROM orders o JOIN products p ON p.id = o.product_id
		CROSS JOIN LATERAL (SELECT count(*) AS n FROM card_keys k WHERE k.order_id = o.id AND k.state = 1) c
		WHERE p.delivery = 'card' AND o.status = 'pending' AND c.n <> o.quantity`},
	{"paid_without_payment", `SELECT o.product_id, o.order_no, 'paid order (' || o.status || ') has ' || c.n || ' applied payments'
		FROM orders o CROSS JOIN LATERAL (SELECT count(*) AS n FROM payments y WHERE y.order_id = o.id AND y.outcome <> 'extra') c
		WHERE o.status IN ('paid', 'delivered', 'paid_awaiting_stock', 'refunded') AND c.n <> 1`},
	{"unpaid_with_payment", `SELECT o.product_id, o.order_no, 'order in state ' || o.status || ' has an applied payment'
		FROM orders o WHERE o.status IN ('pending', 'expired', 'cancelled')
		AND EXISTS (SELECT 1 FROM payments y WHERE y.order_id = o.id)`},
	{"payment_amount_mismatch", `SELECT o.product_id, o.order_no, 'payment ' || y.gateway || '/' || y.trade_no || ' of ' ||
		y.amount || ' ' || y.currency || ' for an order of ' || o.amount || ' ' || o.currency
		FROM payments y JOIN orders o ON o.id = y.order_id WHERE y.amount <> o.amount OR y.currency <> o.currency`},
	{"reservation_overdue", `SELECT o.product_id, o.order_no, 'pending ' || extract(epoch FROM now() - o.reserved_until)::bigint ||
		' s past its reservation: is the expiry sweeper running?'
		FROM orders o WHERE o.status = 'pending' AND o.reserved_until < now() - interval '1 minute'`},
	{"counted_reserved_mismatch", `SELECT p.id, '', p.stock_reserved || ' units reserved, pending orders hold ' || h.n
		FROM products p CROSS JOIN LATERAL (SELECT COALESCE(sum(o.quantity), 0) AS n FROM orders o
			WHERE o.product_id = p.id AND o.status = 'pending') h
		WHERE p.delivery <> 'card' AND p.stock_reserved <> h.n`},
	{"counted_sold_mismatch", `SELECT p.id, '', p.stock_sold || ' units sold, paid and delivered orders hold ' || h.n
		FROM products p CROSS JOIN LATERAL (SELECT COALESCE(sum(o.quantity), 0) AS n FROM orders o
			WHERE o.product_id = p.id AND o.status IN ('paid', 'delivered')) h
		WHERE p.delivery <> 'card' AND p.stock_sold <> h.n`},
}

// Reconcile implements faka.Store, in one REPEATABLE READ snapshot.
func (s *Store) Reconcile(ctx context.Context) (*faka.ReconcileReport, error) {
	rep := &faka.ReconcileReport{}
	err := s.inReadTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&rep.CheckedAt); err != nil {
			return fmt.Errorf("now: %w", err)
		}
		rows, err := tx.Query(ctx, stockQuery+` ORDER BY p.id`)
		if err != nil {
			return fmt.Errorf("stock: %w", err)
		}
		if rep.Products, err = scanStocks(rows); err != nil {
			return err
		}
		lrows, err := tx.Query(ctx, `SELECT p.id, COALESCE(sum(l.d_available), 0)::bigint,
			COALESCE(sum(l.d_reserved), 0)::bigint, COALESCE(sum(l.d_sold), 0)::bigint, COALESCE(sum(l.d_void), 0)::bigint
			FROM products p LEFT JOIN ledger l ON l.product_id = p.id GROUP BY p.id ORDER BY p.id`)
		if err != nil {
			return fmt.Errorf("ledger sums: %w", err)
		}
		if rep.Ledger, err = scanStocks(lrows); err != nil {
			return err
		}
		for _, v := range violationQueries {
			rows, err := tx.Query(ctx, v.query)
			if err != nil {
				return fmt.Errorf("check %s: %w", v.code, err)
			}
			found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (faka.Violation, error) {
				vi := faka.Violation{Code: v.code}
				err := r.Scan(&vi.ProductID, &vi.OrderNo, &vi.Message)
				return vi, err
			})
			if err != nil {
				return fmt.Errorf("check %s: %w", v.code, err)
			}
			rep.Violations = append(rep.Violations, found...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep.Violations = append(faka.CheckStock(rep.Products, rep.Ledger), rep.Violations...)
	rep.OK = len(rep.Violations) == 0
	return rep, nil
}
