package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/faka-dev/faka"
)

const paymentColumns = `y.id, y.gateway, y.trade_no, y.order_id, o.order_no, y.amount, y.currency, y.outcome, y.created_at`

func scanPayment(row pgx.Row) (*faka.Payment, error) {
	var p faka.Payment
	if err := row.Scan(&p.ID, &p.Gateway, &p.TradeNo, &p.OrderID, &p.OrderNo, &p.Amount, &p.Currency,
		&p.Outcome, &p.CreatedAt); err != nil {
		return nil, err
	}
	return &p, nil
}

// PaymentsByOrder implements faka.Store.
func (s *Store) PaymentsByOrder(ctx context.Context, orderID int64) ([]*faka.Payment, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+paymentColumns+` FROM payments y
		JOIN orders o ON o.id = y.order_id WHERE y.order_id = $1 ORDER BY y.id`, orderID)
	if err != nil {
		return nil, translate(fmt.Errorf("payments: %w", err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*faka.Payment, error) { return scanPayment(r) })
	return out, translate(err)
}
