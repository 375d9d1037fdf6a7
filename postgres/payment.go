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

// duplicate returns the stored outcome of a trade seen before, or nil.
func duplicate(ctx context.Context, tx pgx.Tx, n faka.Notification) (*faka.ConfirmResult, error) {
	prev, err := scanPayment(tx.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments y
		JOIN orders o ON o.id = y.order_id WHERE y.gateway = $1 AND y.trade_no = $2`, n.Gateway, n.TradeNo))
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find payment: %w", err)
	}
	o, err := getOrder(ctx, tx, `o.id = $1`, prev.OrderID, false)
	if err != nil {
		return nil, err
	}
	return &faka.ConfirmResult{Order: o, Payment: prev, Duplicate: true}, nil
}

// PaymentConfirm implements faka.Store. The order row is locked before
// anything is decided, so concurrent copies of one notification, sent to
// different instances, queue on it: the first applies, the rest find its
// payment and report a duplicate.
func (s *Store) PaymentConfirm(ctx context.Context, n faka.Notification) (*faka.ConfirmResult, error) {
	var res *faka.ConfirmResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if res, err = duplicate(ctx, tx, n); res != nil || err != nil {
			return err
		}
		o, err := getOrder(ctx, tx, `o.order_no = $1`, n.OrderNo, true)
		if err != nil {
			return err
		}
		// Looked at again under the lock: a twin may have committed meanwhile.
		if res, err = duplicate(ctx, tx, n); res != nil || err != nil {
			return err
		}
		if n.Amount != o.Amount || n.Currency != o.Currency {
			return faka.Errorf(faka.EInvalid, "payment of %d %s does not match the order's %d %s",
				n.Amount, n.Currency, o.Amount, o.Currency)
		}
		wasPending := o.Status == faka.StatusPending
		outcome, err := apply(ctx, tx, o)
		if err != nil {
			return err
		}
		p := &faka.Payment{Gateway: n.Gateway, TradeNo: n.TradeNo, OrderID: o.ID, OrderNo: o.OrderNo,
			Amount: n.Amount, Currency: n.Currency, Outcome: outcome}
		if err := tx.QueryRow(ctx, `INSERT INTO payments (gateway, trade_no, order_id, amount, currency, outcome)
			VALUES ($1,$2,$3,$4,$5,$6) RETURNING id, created_at`, n.Gateway, n.TradeNo, o.ID, n.Amount, n.Currency,
			outcome).Scan(&p.ID, &p.CreatedAt); err != nil {
			return fmt.Errorf("insert payment: %w", err)
		}
		if o, err = getOrder(ctx, tx, `o.id = $1`, o.ID, false); err != nil {
			return err
		}
		res = &faka.ConfirmResult{Order: o, Payment: p}
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

// apply changes the locked order and its stock for a new payment and
// returns the payment's outcome.
func apply(ctx context.Context, tx pgx.Tx, o *faka.Order) (string, error) {
	q := int64(o.Quantity)
	delivered, outcome := faka.StatusDelivered, faka.OutcomeDelivered
	if o.Delivery == faka.DeliveryManual {
		delivered, outcome = faka.StatusPaid, faka.OutcomePaid
	}
	switch o.Status {
	case faka.StatusPending:
		n, err := move(ctx, tx, o.ProductID, o.Delivery, o.ID, o.Quantity, faka.KeyReserved, faka.KeySold)
		if err != nil {
			return "", err
		}
		if n != q {
			return "", fmt.Errorf("order %s sold %d keys, reserved %d: %w", o.OrderNo, n, q, errInvariant)
		}
		if err := setStatus(ctx, tx, o.ID, o.Status, delivered); err != nil {
			return "", err
		}
		return outcome, appendLedger(ctx, tx, o.ProductID, o.ID, faka.LedgerSell, 0, -q, q, 0)

	case faka.StatusExpired, faka.StatusCancelled:
		// A late payment, decided under the product's advisory lock so that
		// an import or release running now cannot miss the backorder.
		if err := lockProduct(ctx, tx, o.ProductID); err != nil {
			return "", err
		}
		var waiting bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM orders WHERE product_id = $1
			AND status = 'paid_awaiting_stock')`, o.ProductID).Scan(&waiting); err != nil {
			return "", fmt.Errorf("find backorders: %w", err)
		}
		ok := false
		if !waiting {
			var err error
			if ok, err = claim(ctx, tx, o.ProductID, o.Delivery, o.ID, o.Quantity, faka.KeySold); err != nil {
				return "", err
			}
		}
		if !ok {
			return faka.OutcomeAwaitingStock, setStatus(ctx, tx, o.ID, o.Status, faka.StatusPaidAwaitingStock)
		}
		if err := setStatus(ctx, tx, o.ID, o.Status, delivered); err != nil {
			return "", err
		}
		return outcome, appendLedger(ctx, tx, o.ProductID, o.ID, faka.LedgerLate, -q, 0, q, 0)

	default:
		return faka.OutcomeExtra, nil
	}
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
