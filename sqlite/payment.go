package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/faka-dev/faka"
)

const paymentColumns = `y.id, y.gateway, y.trade_no, y.order_id, o.order_no, y.amount, y.currency, y.outcome, y.created_at`

const (
	qPaymentByTrade = `SELECT ` + paymentColumns + ` FROM payments y
		JOIN orders o ON o.id = y.order_id WHERE y.gateway = ? AND y.trade_no = ?`
	qPaymentInsert = `INSERT INTO payments (gateway, trade_no, order_id, amount, currency, outcome,
		created_at) VALUES (?,?,?,?,?,?,?)`
	qBackorderCount = `SELECT COUNT(*) FROM orders WHERE product_id = ? AND status = 'paid_awaiting_stock'`
)

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

// PaymentConfirm implements faka.Store. The whole decision — duplicate or
// not, amount check, state change, keys turned sold — is one transaction,
// and the unique (gateway, trade_no) index backs the duplicate check.
func (s *Store) PaymentConfirm(ctx context.Context, n faka.Notification) (*faka.ConfirmResult, error) {
	var res *faka.ConfirmResult
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		prev, err := scanPayment(s.wqueryRow(ctx, tx, qPaymentByTrade, n.Gateway, n.TradeNo))
		if err == nil {
			o, err := s.getOrder(ctx, tx, qOrderByID, prev.OrderID)
			if err != nil {
				return err
			}
			res = &faka.ConfirmResult{Order: o, Payment: prev, Duplicate: true}
			return nil
		}
		if err != sql.ErrNoRows {
			return fmt.Errorf("find payment: %w", err)
		}
		o, err := s.getOrder(ctx, tx, qOrderByNo, n.OrderNo)
		if err != nil {
			return err
		}
		if n.Amount != o.Amount || n.Currency != o.Currency {
			return faka.Errorf(faka.EInvalid, "payment of %d %s does not match the order's %d %s",
				n.Amount, n.Currency, o.Amount, o.Currency)
		}
		now := s.nowMS()
		wasPending := o.Status == faka.StatusPending
		outcome, err := s.apply(ctx, tx, o, now)
		if err != nil {
			return err
		}
		r, err := s.wexec(ctx, tx, qPaymentInsert, n.Gateway, n.TradeNo, o.ID, n.Amount, n.Currency, outcome, now)
		if err != nil {
			return fmt.Errorf("insert payment: %w", err)
		}
		pid, err := r.LastInsertId()
		if err != nil {
			return fmt.Errorf("payment id: %w", err)
		}
		if o, err = s.getOrder(ctx, tx, qOrderByID, o.ID); err != nil {
			return err
		}
		res = &faka.ConfirmResult{Order: o, Payment: &faka.Payment{ID: pid, Gateway: n.Gateway, TradeNo: n.TradeNo,
			OrderID: o.ID, OrderNo: o.OrderNo, Amount: n.Amount, Currency: n.Currency, Outcome: outcome,
			CreatedAt: time.UnixMilli(now)}}
		if !wasPending && outcome != faka.OutcomeExtra {
			res.Late = true
			if outcome != faka.OutcomeAwaitingStock {
				res.LateUnits = int64(o.Quantity)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// apply changes the order and its stock for a new payment and returns the
// payment's outcome.
func (s *Store) apply(ctx context.Context, tx *sql.Tx, o *faka.Order, now int64) (string, error) {
	q := int64(o.Quantity)
	delivered, outcome := faka.StatusDelivered, faka.OutcomeDelivered
	if o.Delivery == faka.DeliveryManual {
		delivered, outcome = faka.StatusPaid, faka.OutcomePaid
	}
	switch o.Status {
	case faka.StatusPending:
		// Keys reserved for this order become sold, even if the reservation
		// is past due and the sweeper has not reached it: the payment's
		// conditional update won the race.
		n, err := s.move(ctx, tx, o.ProductID, o.Delivery, o.ID, o.Quantity, faka.KeyReserved, faka.KeySold)
		if err != nil {
			return "", err
		}
		if n != q {
			return "", fmt.Errorf("order %s sold %d keys, reserved %d: %w", o.OrderNo, n, q, errInvariant)
		}
		if err := s.setStatus(ctx, tx, o.ID, o.Status, delivered, now); err != nil {
			return "", err
		}
		return outcome, s.appendLedger(ctx, tx, o.ProductID, o.ID, faka.LedgerSell, 0, -q, q, 0, now)

	case faka.StatusExpired, faka.StatusCancelled:
		// A late payment: fresh stock if there is any and no older
		// backorder is waiting for it, else a backorder.
		var waiting int
		if err := s.wqueryRow(ctx, tx, qBackorderCount, o.ProductID).Scan(&waiting); err != nil {
			return "", fmt.Errorf("count backorders: %w", err)
		}
		ok := false
		if waiting == 0 {
			var err error
			if ok, err = s.claim(ctx, tx, o.ProductID, o.Delivery, o.ID, o.Quantity, faka.KeySold); err != nil {
				return "", err
			}
		}
		if !ok {
			return faka.OutcomeAwaitingStock, s.setStatus(ctx, tx, o.ID, o.Status, faka.StatusPaidAwaitingStock, now)
		}
		if err := s.setStatus(ctx, tx, o.ID, o.Status, delivered, now); err != nil {
			return "", err
		}
		return outcome, s.appendLedger(ctx, tx, o.ProductID, o.ID, faka.LedgerLate, -q, 0, q, 0, now)

	default:
		// Already paid through another trade: record it, apply nothing.
		return faka.OutcomeExtra, nil
	}
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
