package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/faka-dev/faka"
)

const paymentColumns = `y.id, y.gateway, y.trade_no, y.order_id, o.order_no, y.amount, y.currency, y.outcome, y.created_at`

func scanPayment(row scanner) (*faka.Payment, error) {
	var p faka.Payment
	var created int64
	if err := row.Scan(&p.ID, &p.Gateway, &p.TradeNo, &p.OrderID, &p.OrderNo, &p.Amount, &p.Currency,
		&p.Outcome, &created); err != nil {
		return nil, err
	}
	p.CreatedAt = time.UnixMilli(created)
	return &p, nil
}

// PaymentsByOrder implements faka.Store.
func (s *Store) PaymentsByOrder(ctx context.Context, orderID int64) ([]*faka.Payment, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+paymentColumns+` FROM payments y
		JOIN orders o ON o.id = y.order_id WHERE y.order_id = ? ORDER BY y.id`, orderID)
	if err != nil {
		return nil, translate(fmt.Errorf("payments: %w", err))
	}
	defer rows.Close()
	var out []*faka.Payment
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, translate(fmt.Errorf("scan payment: %w", err))
		}
		out = append(out, p)
	}
	return out, translate(rows.Err())
}
