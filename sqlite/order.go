package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/faka-dev/faka"
)

// errInvariant marks a state the schema and the engine should make
// impossible; the transaction is rolled back and the error surfaces as
// internal.
var errInvariant = errors.New("invariant violated")

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

// Queries of orders. qOrderByNo and qOrderByID are prepared on both the
// writer and the read pool.
const (
	qOrderByNo = `SELECT ` + orderColumns + orderFrom + ` WHERE o.order_no = ?`
	qOrderByID = `SELECT ` + orderColumns + orderFrom + ` WHERE o.id = ?`

	qOrderSetDeliveredPaid = `UPDATE orders SET status = ?, updated_at = ?, paid_at = ?, delivered_at = ?
		WHERE id = ? AND status = ?`
	qOrderSetDelivered = `UPDATE orders SET status = ?, updated_at = ?, delivered_at = ? WHERE id = ? AND status = ?`
	qOrderSetPaid      = `UPDATE orders SET status = ?, updated_at = ?, paid_at = ? WHERE id = ? AND status = ?`
	qOrderSetStatus    = `UPDATE orders SET status = ?, updated_at = ? WHERE id = ? AND status = ?`

	qProductForReserve = `SELECT delivery, active, stock_available FROM products WHERE id = ?`
	qOrderInsert       = `INSERT INTO orders (order_no, token_hash, product_id, quantity,
		unit_price, amount, currency, email, gateway, query_password_hash, status, reserved_until,
		created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,'pending',?,?,?)`
	qIdemExists = `SELECT 1 FROM idempotency_keys WHERE key = ?`
	qIdemInsert = `INSERT INTO idempotency_keys (key, request_hash, order_id, sealed_token, created_at)
		VALUES (?,?,?,?,?)`
	// qLedgerReserveBatch appends one reserve movement per order of a
	// batch from a JSON array of [order_id, units] pairs.
	qLedgerReserveBatch = `INSERT INTO ledger (product_id, order_id, event, d_available, d_reserved, d_sold,
		d_void, created_at) SELECT ?1, value ->> 0, 'reserve', -(value ->> 1), value ->> 1, 0, 0, ?2
		FROM json_each(?3)`
	qDueOrders = `SELECT ` + orderColumns + orderFrom + `
		WHERE o.status = 'pending' AND o.reserved_until <= ? ORDER BY o.reserved_until LIMIT ?`
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

// setStatus moves an order by a conditional update: it fails with
// EInvalidState when the order is no longer in state from (someone else's
// transaction won) or the machine forbids the move.
func (s *Store) setStatus(ctx context.Context, tx *sql.Tx, orderID int64, from, to faka.OrderStatus, now int64) error {
	if err := faka.Transition(from, to); err != nil {
		return err
	}
	var r sql.Result
	var err error
	switch {
	case to == faka.StatusDelivered && !from.IsPaid():
		r, err = s.wexec(ctx, tx, qOrderSetDeliveredPaid, to, now, now, now, orderID, from)
	case to == faka.StatusDelivered:
		r, err = s.wexec(ctx, tx, qOrderSetDelivered, to, now, now, orderID, from)
	case to.IsPaid() && !from.IsPaid():
		r, err = s.wexec(ctx, tx, qOrderSetPaid, to, now, now, orderID, from)
	default:
		r, err = s.wexec(ctx, tx, qOrderSetStatus, to, now, orderID, from)
	}
	if err != nil {
		return fmt.Errorf("order %d %s→%s: %w", orderID, from, to, err)
	}
	if n, _ := r.RowsAffected(); n != 1 {
		return faka.Errorf(faka.EInvalidState, "the order is no longer %s", from)
	}
	return nil
}

// ReserveBatch implements faka.Store. The whole batch costs a fixed
// handful of statements plus one order insert per buyer: the available
// units are read once, assigned to the buyers in order in Go, and the keys
// and ledger rows of all winners are written by one statement each.
// Buyers who do not fit write nothing.
func (s *Store) ReserveBatch(ctx context.Context, productID int64, batch []faka.ReserveParams) ([]faka.ReserveOutcome, error) {
	out := make([]faka.ReserveOutcome, len(batch))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		clear(out)
		var d faka.Delivery
		var active int
		var counted int64
		err := s.wqueryRow(ctx, tx, qProductForReserve, productID).Scan(&d, &active, &counted)
		if err == sql.ErrNoRows {
			return faka.Errorf(faka.ENotFound, "product %d not found", productID)
		}
		if err != nil {
			return fmt.Errorf("product %d: %w", productID, err)
		}
		if active == 0 {
			return faka.Errorf(faka.EInvalid, "product %d is not on sale", productID)
		}
		var want int
		for _, p := range batch {
			want += p.Quantity
		}
		// The lowest available keys, enough for the whole batch; the
		// single writer makes select-then-update safe (PostgreSQL uses
		// FOR UPDATE SKIP LOCKED instead).
		var keyIDs []int64
		avail := counted
		if !d.Counted() {
			if keyIDs, err = s.availableKeys(ctx, tx, productID, want); err != nil {
				return err
			}
			avail = int64(len(keyIDs))
		}
		nowT := s.now()
		now := nowT.UnixMilli()
		var (
			claims  []byte // JSON [[key_id, order_id], …]
			ledger  []byte // JSON [[order_id, units], …]
			units   int64
			nextKey int
			seen    map[string]bool // idempotency keys used earlier in this batch
		)
		for i, p := range batch {
			if p.IdempotencyKey != "" {
				var one int
				err := s.wqueryRow(ctx, tx, qIdemExists, p.IdempotencyKey).Scan(&one)
				if err == nil || seen[p.IdempotencyKey] {
					out[i].Err = faka.Errorf(faka.EConflict, "this Idempotency-Key has been used")
					continue
				}
				if err != sql.ErrNoRows {
					return fmt.Errorf("idempotency key: %w", err)
				}
			}
			q := int64(p.Quantity)
			if q < 1 {
				out[i].Err = faka.Errorf(faka.EInvalid, "quantity must be at least 1")
				continue
			}
			if avail < q {
				out[i].Err = faka.ErrSoldOut
				continue
			}
			until := nowT.Add(p.TTL)
			r, err := s.wexec(ctx, tx, qOrderInsert, p.OrderNo, p.TokenHash, productID, p.Quantity, p.UnitPrice,
				p.Amount, p.Currency, p.Email, p.Gateway, p.QueryPasswordHash, until.UnixMilli(), now, now)
			if err != nil {
				return fmt.Errorf("insert order: %w", err)
			}
			orderID, err := r.LastInsertId()
			if err != nil {
				return fmt.Errorf("order id: %w", err)
			}
			avail -= q
			units += q
			if !d.Counted() {
				for _, k := range keyIDs[nextKey : nextKey+p.Quantity] {
					claims = appendPair(claims, k, orderID)
				}
				nextKey += p.Quantity
			}
			ledger = appendPair(ledger, orderID, q)
			if p.IdempotencyKey != "" {
				if _, err := s.wexec(ctx, tx, qIdemInsert, p.IdempotencyKey, p.RequestHash, orderID,
					p.SealedToken, now); err != nil {
					return fmt.Errorf("store idempotency key: %w", err)
				}
				if seen == nil {
					seen = map[string]bool{}
				}
				seen[p.IdempotencyKey] = true
			}
			out[i].Order = &faka.Order{ID: orderID, OrderNo: p.OrderNo, ProductID: productID, Delivery: d,
				Quantity: p.Quantity, UnitPrice: p.UnitPrice, Amount: p.Amount, Currency: p.Currency,
				Email: p.Email, Gateway: p.Gateway, Status: faka.StatusPending,
				ReservedUntil: time.UnixMilli(until.UnixMilli()), CreatedAt: time.UnixMilli(now),
				TokenHash: p.TokenHash, QueryPasswordHash: p.QueryPasswordHash}
		}
		if units == 0 {
			return nil
		}
		if d.Counted() {
			r, err := s.wexec(ctx, tx, qCountedClaim, units, units, productID, units)
			if err != nil {
				return fmt.Errorf("claim stock: %w", err)
			}
			if n, _ := r.RowsAffected(); n != 1 {
				return fmt.Errorf("product %d has fewer than %d units it just had: %w", productID, units, errInvariant)
			}
		} else {
			r, err := s.wexec(ctx, tx, qKeysClaimBatch, int(faka.KeyReserved), closeJSON(claims))
			if err != nil {
				return fmt.Errorf("claim keys: %w", err)
			}
			if n, _ := r.RowsAffected(); n != units {
				return fmt.Errorf("claimed %d keys of %d found: %w", n, units, errInvariant)
			}
		}
		if _, err := s.wexec(ctx, tx, qLedgerReserveBatch, productID, now, closeJSON(ledger)); err != nil {
			return fmt.Errorf("ledger reserve for product %d: %w", productID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// appendPair appends [a,b] to a JSON array under construction.
func appendPair(b []byte, x, y int64) []byte {
	if len(b) == 0 {
		b = append(b, '[')
	} else {
		b = append(b, ',')
	}
	b = append(b, '[')
	b = strconv.AppendInt(b, x, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, y, 10)
	return append(b, ']')
}

// closeJSON finishes an array built by appendPair.
func closeJSON(b []byte) string {
	if len(b) == 0 {
		return "[]"
	}
	return string(append(b, ']'))
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

// release returns a pending order's reserved units to available and moves
// the order to state to (expired or cancelled).
func (s *Store) release(ctx context.Context, tx *sql.Tx, o *faka.Order, to faka.OrderStatus, now int64) error {
	if err := s.setStatus(ctx, tx, o.ID, faka.StatusPending, to, now); err != nil {
		return err
	}
	n, err := s.move(ctx, tx, o.ProductID, o.Delivery, o.ID, o.Quantity, faka.KeyReserved, faka.KeyAvailable)
	if err != nil {
		return err
	}
	if n != int64(o.Quantity) {
		return fmt.Errorf("order %s released %d keys, holds %d: %w", o.OrderNo, n, o.Quantity, errInvariant)
	}
	return s.appendLedger(ctx, tx, o.ProductID, o.ID, faka.LedgerRelease, n, -n, 0, 0, now)
}

// releaseAll releases orders and then fulfils each product's backorders
// from what came back, before anyone else can take it.
func (s *Store) releaseAll(ctx context.Context, tx *sql.Tx, orders []*faka.Order, to faka.OrderStatus, now int64) ([]faka.Release, error) {
	byProduct := map[int64]*faka.Release{}
	var order []int64
	delivery := map[int64]faka.Delivery{}
	for _, o := range orders {
		if err := s.release(ctx, tx, o, to, now); err != nil {
			return nil, err
		}
		r := byProduct[o.ProductID]
		if r == nil {
			r = &faka.Release{ProductID: o.ProductID}
			byProduct[o.ProductID] = r
			order = append(order, o.ProductID)
			delivery[o.ProductID] = o.Delivery
		}
		r.Units += int64(o.Quantity)
	}
	out := make([]faka.Release, 0, len(order))
	for _, pid := range order {
		r := byProduct[pid]
		f, used, err := s.fulfilBackorders(ctx, tx, pid, delivery[pid], now)
		if err != nil {
			return nil, err
		}
		r.Fulfilled, r.Units = f, r.Units-used
		out = append(out, *r)
	}
	return out, nil
}

// OrdersExpire implements faka.Store.
func (s *Store) OrdersExpire(ctx context.Context, limit int) ([]faka.Release, error) {
	var out []faka.Release
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		now := s.nowMS()
		rows, err := s.wquery(ctx, tx, qDueOrders, now, limit)
		if err != nil {
			return fmt.Errorf("find due orders: %w", err)
		}
		var due []*faka.Order
		for rows.Next() {
			o, err := scanOrder(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("scan due order: %w", err)
			}
			due = append(due, o)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("find due orders: %w", err)
		}
		out, err = s.releaseAll(ctx, tx, due, faka.StatusExpired, now)
		return err
	})
	return out, err
}

// OrderCancel implements faka.Store.
func (s *Store) OrderCancel(ctx context.Context, orderNo string) (*faka.Order, []faka.Release, error) {
	var o *faka.Order
	var out []faka.Release
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if o, err = s.getOrder(ctx, tx, qOrderByNo, orderNo); err != nil {
			return err
		}
		if o.Status != faka.StatusPending {
			return faka.Errorf(faka.EInvalidState, "only a pending order can be cancelled; this one is %s", o.Status)
		}
		out, err = s.releaseAll(ctx, tx, []*faka.Order{o}, faka.StatusCancelled, s.nowMS())
		o.Status = faka.StatusCancelled
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return o, out, nil
}

// OrderRefund implements faka.Store.
func (s *Store) OrderRefund(ctx context.Context, orderNo string) (*faka.Order, error) {
	var o *faka.Order
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if o, err = s.getOrder(ctx, tx, qOrderByNo, orderNo); err != nil {
			return err
		}
		now := s.nowMS()
		from := o.Status
		if err := s.setStatus(ctx, tx, o.ID, from, faka.StatusRefunded, now); err != nil {
			return err
		}
		// A backorder holds no units; a paid or delivered order holds
		// quantity sold units, which become void: never sold again.
		if from != faka.StatusPaidAwaitingStock {
			n, err := s.move(ctx, tx, o.ProductID, o.Delivery, o.ID, o.Quantity, faka.KeySold, faka.KeyVoid)
			if err != nil {
				return err
			}
			if n != int64(o.Quantity) {
				return fmt.Errorf("order %s voided %d keys, holds %d: %w", o.OrderNo, n, o.Quantity, errInvariant)
			}
			if err := s.appendLedger(ctx, tx, o.ProductID, o.ID, faka.LedgerRefund, 0, 0, -n, n, now); err != nil {
				return err
			}
		}
		o.Status = faka.StatusRefunded
		return nil
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// OrderDeliverManual implements faka.Store.
func (s *Store) OrderDeliverManual(ctx context.Context, orderNo string, note string) (*faka.Order, error) {
	var o *faka.Order
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if o, err = s.getOrder(ctx, tx, qOrderByNo, orderNo); err != nil {
			return err
		}
		if o.Delivery != faka.DeliveryManual {
			return faka.Errorf(faka.EInvalid, "only manual-delivery orders are delivered by hand")
		}
		if o.Status != faka.StatusPaid {
			return faka.Errorf(faka.EInvalidState, "only a paid manual order can be delivered; this one is %s", o.Status)
		}
		now := s.nowMS()
		if err := s.setStatus(ctx, tx, o.ID, faka.StatusPaid, faka.StatusDelivered, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE orders SET delivery_note = ? WHERE id = ?`, note, o.ID); err != nil {
			return fmt.Errorf("save delivery note: %w", err)
		}
		o.Status, o.DeliveryNote, o.DeliveredAt = faka.StatusDelivered, note, time.UnixMilli(now)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return o, nil
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
