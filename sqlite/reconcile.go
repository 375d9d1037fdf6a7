package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/faka-dev/faka"
)

// overdueGrace is how far past its reservation a pending order may be
// before reconciliation calls it a violation: the sweeper runs every
// second, so a minute late means nothing is sweeping.
const overdueGrace = time.Minute

// violationQueries find broken invariants of key ownership, order contents
// and payments. Each row is (product_id, order_no, message).
var violationQueries = []struct{ code, query string }{
	{"reserved_key_not_pending", `SELECT o.product_id, o.order_no, 'a reserved key belongs to an order in state ' || o.status
		FROM card_keys k JOIN orders o ON o.id = k.order_id WHERE k.state = 1 AND o.status <> 'pending'`},
	{"sold_key_not_delivered", `SELECT o.product_id, o.order_no, 'a sold key belongs to an order in state ' || o.status
		FROM card_keys k JOIN orders o ON o.id = k.order_id WHERE k.state = 2 AND o.status <> 'delivered'`},
	{"void_key_not_refunded", `SELECT o.product_id, o.order_no, 'a voided key belongs to an order in state ' || o.status
		FROM card_keys k JOIN orders o ON o.id = k.order_id WHERE k.state = 3 AND o.status <> 'refunded'`},
	{"key_of_other_product", `SELECT o.product_id, o.order_no, 'the order holds a key of another product'
		FROM card_keys k JOIN orders o ON o.id = k.order_id WHERE k.product_id <> o.product_id`},
	{"delivered_wrong_count", `SELECT o.product_id, o.order_no, 'delivered with ' || (SELECT COUNT(*) FROM card_keys k
		WHERE k.order_id = o.id AND k.state = 2) || ' sold keys for quantity ' || o.quantity
		FROM orders o JOIN products p ON p.id = o.product_id WHERE p.delivery = 'card' AND o.status = 'delivered'
		AND (SELECT COUNT(*) FROM card_keys k WHERE k.order_id = o.id AND k.state = 2) <> o.quantity`},
	{"pending_wrong_count", `SELECT o.product_id, o.order_no, 'pending with ' || (SELECT COUNT(*) FROM card_keys k
		WHERE k.order_id = o.id AND k.state = 1) || ' reserved keys for quantity ' || o.quantity
		FROM orders o JOIN products p ON p.id = o.product_id WHERE p.delivery = 'card' AND o.status = 'pending'
		AND (SELECT COUNT(*) FROM card_keys k WHERE k.order_id = o.id AND k.state = 1) <> o.quantity`},
	{"paid_without_payment", `SELECT o.product_id, o.order_no, 'paid order (' || o.status || ') has ' ||
		(SELECT COUNT(*) FROM payments y WHERE y.order_id = o.id AND y.outcome <> 'extra') || ' applied payments'
		FROM orders o WHERE o.status IN ('paid', 'delivered', 'paid_awaiting_stock', 'refunded')
		AND (SELECT COUNT(*) FROM payments y WHERE y.order_id = o.id AND y.outcome <> 'extra') <> 1`},
	{"unpaid_with_payment", `SELECT o.product_id, o.order_no, 'order in state ' || o.status || ' has an applied payment'
		FROM orders o WHERE o.status IN ('pending', 'expired', 'cancelled')
		AND EXISTS (SELECT 1 FROM payments y WHERE y.order_id = o.id)`},
	{"payment_amount_mismatch", `SELECT o.product_id, o.order_no, 'payment ' || y.gateway || '/' || y.trade_no || ' of ' ||
		y.amount || ' ' || y.currency || ' for an order of ' || o.amount || ' ' || o.currency
		FROM payments y JOIN orders o ON o.id = y.order_id WHERE y.amount <> o.amount OR y.currency <> o.currency`},
	{"reservation_overdue", `SELECT o.product_id, o.order_no, 'pending ' || ((?1 - o.reserved_until) / 1000) ||
		' s past its reservation: is the expiry sweeper running?'
		FROM orders o WHERE o.status = 'pending' AND o.reserved_until < ?1 - ?2`},
	// Counted products keep no key rows: their reserved and sold units
	// must match the orders that hold them.
	{"counted_reserved_mismatch", `SELECT p.id, '', p.stock_reserved || ' units reserved, pending orders hold ' || h.n
		FROM products p JOIN (SELECT p2.id AS pid, COALESCE(SUM(o.quantity), 0) AS n FROM products p2
			LEFT JOIN orders o ON o.product_id = p2.id AND o.status = 'pending' GROUP BY p2.id) h ON h.pid = p.id
		WHERE p.delivery <> 'card' AND p.stock_reserved <> h.n`},
	{"counted_sold_mismatch", `SELECT p.id, '', p.stock_sold || ' units sold, paid and delivered orders hold ' || h.n
		FROM products p JOIN (SELECT p2.id AS pid, COALESCE(SUM(o.quantity), 0) AS n FROM products p2
			LEFT JOIN orders o ON o.product_id = p2.id AND o.status IN ('paid', 'delivered') GROUP BY p2.id) h ON h.pid = p.id
		WHERE p.delivery <> 'card' AND p.stock_sold <> h.n`},
}

// Reconcile implements faka.Store.
func (s *Store) Reconcile(ctx context.Context) (*faka.ReconcileReport, error) {
	rep := &faka.ReconcileReport{}
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		rep.CheckedAt = now
		rows, err := tx.QueryContext(ctx, stockQuery+` ORDER BY p.id`)
		if err != nil {
			return fmt.Errorf("stock: %w", err)
		}
		if rep.Products, err = scanStocks(rows); err != nil {
			return err
		}
		lrows, err := tx.QueryContext(ctx, `SELECT p.id, COALESCE(SUM(l.d_available), 0), COALESCE(SUM(l.d_reserved), 0),
			COALESCE(SUM(l.d_sold), 0), COALESCE(SUM(l.d_void), 0)
			FROM products p LEFT JOIN ledger l ON l.product_id = p.id GROUP BY p.id ORDER BY p.id`)
		if err != nil {
			return fmt.Errorf("ledger sums: %w", err)
		}
		if rep.Ledger, err = scanStocks(lrows); err != nil {
			return err
		}
		for _, v := range violationQueries {
			found, err := queryViolations(ctx, tx, v.code, v.query, now.UnixMilli(), overdueGrace.Milliseconds())
			if err != nil {
				return err
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

func queryViolations(ctx context.Context, tx *sql.Tx, code, q string, args ...any) ([]faka.Violation, error) {
	// Only the overdue query takes arguments; SQLite rejects extra ones.
	if code != "reservation_overdue" {
		args = nil
	}
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", code, err)
	}
	defer rows.Close()
	var out []faka.Violation
	for rows.Next() {
		v := faka.Violation{Code: code}
		if err := rows.Scan(&v.ProductID, &v.OrderNo, &v.Message); err != nil {
			return nil, fmt.Errorf("check %s: %w", code, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
