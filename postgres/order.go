package postgres

import (
	"context"
	"fmt"
	"slices"
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

// setStatus moves an order by a conditional update; EInvalidState when it
// is no longer in state from or the machine forbids the move.
func setStatus(ctx context.Context, tx pgx.Tx, orderID int64, from, to faka.OrderStatus) error {
	if err := faka.Transition(from, to); err != nil {
		return err
	}
	set := `status = $1, updated_at = now()`
	if to.IsPaid() && !from.IsPaid() {
		set += `, paid_at = now()`
	}
	if to == faka.StatusDelivered {
		set += `, delivered_at = now()`
	}
	tag, err := tx.Exec(ctx, `UPDATE orders SET `+set+` WHERE id = $2 AND status = $3`, to, orderID, from)
	if err != nil {
		return fmt.Errorf("order %d %s→%s: %w", orderID, from, to, err)
	}
	if tag.RowsAffected() != 1 {
		return faka.Errorf(faka.EInvalidState, "the order is no longer %s", from)
	}
	return nil
}

// ReserveBatch implements faka.Store. The whole batch is a handful of
// set-based statements, however many buyers it holds: the card keys are
// found and locked in one statement (FOR UPDATE SKIP LOCKED on the partial
// index) and handed out in order, the orders, key claims, idempotency keys
// and ledger rows are each written from arrays in one statement. No
// counter row is touched for card products.
func (s *Store) ReserveBatch(ctx context.Context, productID int64, batch []faka.ReserveParams) ([]faka.ReserveOutcome, error) {
	out := make([]faka.ReserveOutcome, len(batch))
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		clear(out)
		var d faka.Delivery
		var active bool
		var counted int64 // units a counted product has, locked
		err := tx.QueryRow(ctx, `SELECT delivery, active FROM products WHERE id = $1`, productID).Scan(&d, &active)
		if err == pgx.ErrNoRows {
			return faka.Errorf(faka.ENotFound, "product %d not found", productID)
		}
		if err != nil {
			return fmt.Errorf("product %d: %w", productID, err)
		}
		if !active {
			return faka.Errorf(faka.EInvalid, "product %d is not on sale", productID)
		}
		total := 0
		for _, p := range batch {
			total += p.Quantity
		}
		var ids []int64
		if d.Counted() {
			// Counted stock is one number: lock the row for the batch.
			if err := tx.QueryRow(ctx, `SELECT stock_available FROM products WHERE id = $1 FOR UPDATE`,
				productID).Scan(&counted); err != nil {
				return fmt.Errorf("lock stock of product %d: %w", productID, err)
			}
		} else if ids, err = findKeys(ctx, tx, productID, total); err != nil {
			return err
		}

		// Hand out stock in order; a buyer it does not reach is sold out.
		left := counted
		if !d.Counted() {
			left = int64(len(ids))
		}
		var accepted []int
		for i, p := range batch {
			if int64(p.Quantity) > left {
				out[i].Err = faka.ErrSoldOut
				continue
			}
			left -= int64(p.Quantity)
			accepted = append(accepted, i)
		}
		if len(accepted) == 0 {
			return nil
		}
		orderIDs, err := nextOrderIDs(ctx, tx, len(accepted))
		if err != nil {
			return err
		}

		// Idempotency keys first: a key stored by a concurrent twin (here or
		// on another instance) makes its request a conflict, with no order.
		var idemKeys []string
		var idemHashes, idemTokens [][]byte
		var idemOrders []int64
		first := map[string]int{} // key → the request that may store it
		for j, i := range accepted {
			if p := batch[i]; p.IdempotencyKey != "" {
				if _, dup := first[p.IdempotencyKey]; dup {
					continue // a twin in this very batch: the first one wins
				}
				first[p.IdempotencyKey] = i
				idemKeys = append(idemKeys, p.IdempotencyKey)
				idemHashes = append(idemHashes, p.RequestHash)
				idemTokens = append(idemTokens, p.SealedToken)
				idemOrders = append(idemOrders, orderIDs[j])
			}
		}
		stored := map[string]bool{}
		if len(idemKeys) > 0 {
			rows, err := tx.Query(ctx, `INSERT INTO idempotency_keys (key, request_hash, order_id, sealed_token)
				SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[], $4::bytea[])
				ON CONFLICT (key) DO NOTHING RETURNING key`, idemKeys, idemHashes, idemOrders, idemTokens)
			if err != nil {
				return fmt.Errorf("store idempotency keys: %w", err)
			}
			keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return fmt.Errorf("store idempotency keys: %w", err)
			}
			for _, k := range keys {
				stored[k] = true
			}
		}

		var (
			oIDs, oProducts, oPrices, oAmounts, oTTLs, keyIDs, keyOrders, lUnits []int64
			oQty                                                                 []int32
			oNos, oCurrencies, oEmails, oGateways                                []string
			oTokens, oPasswords                                                  [][]byte
			pos                                                                  int
			units                                                                int64
			made                                                                 []int
		)
		for j, i := range accepted {
			p := batch[i]
			if p.IdempotencyKey != "" && (!stored[p.IdempotencyKey] || first[p.IdempotencyKey] != i) {
				out[i].Err = faka.Errorf(faka.EConflict, "this Idempotency-Key has been used")
				continue
			}
			id := orderIDs[j]
			oIDs = append(oIDs, id)
			oNos = append(oNos, p.OrderNo)
			oTokens = append(oTokens, p.TokenHash)
			oProducts = append(oProducts, productID)
			oQty = append(oQty, int32(p.Quantity))
			oPrices = append(oPrices, p.UnitPrice)
			oAmounts = append(oAmounts, p.Amount)
			oCurrencies = append(oCurrencies, p.Currency)
			oEmails = append(oEmails, p.Email)
			oGateways = append(oGateways, p.Gateway)
			oPasswords = append(oPasswords, p.QueryPasswordHash)
			oTTLs = append(oTTLs, p.TTL.Milliseconds())
			lUnits = append(lUnits, int64(p.Quantity))
			units += int64(p.Quantity)
			if !d.Counted() {
				for _, k := range ids[pos : pos+p.Quantity] {
					keyIDs = append(keyIDs, k)
					keyOrders = append(keyOrders, id)
				}
				pos += p.Quantity
			}
			made = append(made, i)
		}
		if len(made) == 0 {
			return nil
		}
		rows, err := tx.Query(ctx, `INSERT INTO orders (id, order_no, token_hash, product_id, quantity, unit_price,
				amount, currency, email, gateway, query_password_hash, status, reserved_until)
			SELECT id, no, tok, pid, q, price, amt, cur, email, gw, pw, 'pending', now() + ttl * interval '1 millisecond'
			FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::bigint[], $5::int[], $6::bigint[], $7::bigint[],
				$8::text[], $9::text[], $10::text[], $11::bytea[], $12::bigint[])
				AS u(id, no, tok, pid, q, price, amt, cur, email, gw, pw, ttl)
			RETURNING id, reserved_until, created_at`,
			oIDs, oNos, oTokens, oProducts, oQty, oPrices, oAmounts, oCurrencies, oEmails, oGateways, oPasswords, oTTLs)
		if err != nil {
			return fmt.Errorf("insert orders: %w", err)
		}
		type stamp struct{ until, created time.Time }
		stamps := map[int64]stamp{}
		for rows.Next() {
			var id int64
			var st stamp
			if err := rows.Scan(&id, &st.until, &st.created); err != nil {
				rows.Close()
				return fmt.Errorf("insert orders: %w", err)
			}
			stamps[id] = st
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("insert orders: %w", err)
		}

		if d.Counted() {
			if _, err := claim(ctx, tx, productID, d, 0, int(units), faka.KeyReserved); err != nil {
				return err
			}
		} else {
			tag, err := tx.Exec(ctx, `UPDATE card_keys k SET state = 1, order_id = u.oid
				FROM unnest($1::bigint[], $2::bigint[]) AS u(kid, oid) WHERE k.id = u.kid AND k.state = 0`,
				keyIDs, keyOrders)
			if err != nil {
				return fmt.Errorf("claim keys: %w", err)
			}
			if tag.RowsAffected() != int64(len(keyIDs)) {
				return fmt.Errorf("claimed %d of %d locked keys: %w", tag.RowsAffected(), len(keyIDs), errInvariant)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO ledger (product_id, order_id, event, d_available, d_reserved, d_sold, d_void)
			SELECT $1, oid, 'reserve', -q, q, 0, 0 FROM unnest($2::bigint[], $3::bigint[]) AS u(oid, q)`,
			productID, oIDs, lUnits); err != nil {
			return fmt.Errorf("ledger reserve: %w", err)
		}
		for k, i := range made {
			p := batch[i]
			st := stamps[oIDs[k]]
			out[i].Order = &faka.Order{ID: oIDs[k], OrderNo: p.OrderNo, ProductID: productID, Delivery: d,
				Quantity: p.Quantity, UnitPrice: p.UnitPrice, Amount: p.Amount, Currency: p.Currency, Email: p.Email,
				Gateway: p.Gateway, Status: faka.StatusPending, ReservedUntil: st.until, CreatedAt: st.created,
				TokenHash: p.TokenHash, QueryPasswordHash: p.QueryPasswordHash}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// nextOrderIDs takes n order IDs from the orders identity sequence, so
// that idempotency keys can name their orders before the orders exist.
func nextOrderIDs(ctx context.Context, tx pgx.Tx, n int) ([]int64, error) {
	rows, err := tx.Query(ctx, `SELECT nextval(pg_get_serial_sequence('orders', 'id')) FROM generate_series(1, $1)`, n)
	if err != nil {
		return nil, fmt.Errorf("order ids: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("order ids: %w", err)
	}
	return ids, nil
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

// release returns a pending order's reserved units to available and moves
// it to state to (expired or cancelled). The caller holds the order's lock.
func release(ctx context.Context, tx pgx.Tx, o *faka.Order, to faka.OrderStatus) error {
	if err := setStatus(ctx, tx, o.ID, faka.StatusPending, to); err != nil {
		return err
	}
	n, err := move(ctx, tx, o.ProductID, o.Delivery, o.ID, o.Quantity, faka.KeyReserved, faka.KeyAvailable)
	if err != nil {
		return err
	}
	if n != int64(o.Quantity) {
		return fmt.Errorf("order %s released %d keys, holds %d: %w", o.OrderNo, n, o.Quantity, errInvariant)
	}
	return appendLedger(ctx, tx, o.ProductID, o.ID, faka.LedgerRelease, n, -n, 0, 0)
}

// releaseAll releases locked pending orders, then, per product under its
// advisory lock, fulfils backorders from what came back.
func releaseAll(ctx context.Context, tx pgx.Tx, orders []*faka.Order, to faka.OrderStatus) ([]faka.Release, error) {
	// Advisory locks before stock rows, in ID order (see OrdersExpire).
	pids := make([]int64, 0, len(orders))
	for _, o := range orders {
		pids = append(pids, o.ProductID)
	}
	slices.Sort(pids)
	for _, pid := range slices.Compact(pids) {
		if err := lockProduct(ctx, tx, pid); err != nil {
			return nil, err
		}
	}
	byProduct := map[int64]*faka.Release{}
	var seq []int64
	delivery := map[int64]faka.Delivery{}
	for _, o := range orders {
		if err := release(ctx, tx, o, to); err != nil {
			return nil, err
		}
		r := byProduct[o.ProductID]
		if r == nil {
			r = &faka.Release{ProductID: o.ProductID}
			byProduct[o.ProductID] = r
			seq = append(seq, o.ProductID)
			delivery[o.ProductID] = o.Delivery
		}
		r.Units += int64(o.Quantity)
	}
	out := make([]faka.Release, 0, len(seq))
	for _, pid := range seq {
		f, used, err := fulfilBackorders(ctx, tx, pid, delivery[pid])
		if err != nil {
			return nil, err
		}
		r := byProduct[pid]
		r.Fulfilled, r.Units = f, r.Units-used
		out = append(out, *r)
	}
	return out, nil
}

// OrdersExpire implements faka.Store. Several instances may sweep at once:
// SKIP LOCKED gives each its own due orders, and an order a payment holds
// is left to the payment. The work is set-based — a handful of statements
// however many orders are due — so the locked orders are released quickly.
func (s *Store) OrdersExpire(ctx context.Context, limit int) ([]faka.Release, error) {
	var out []faka.Release
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `WITH due AS (
				SELECT id FROM orders WHERE status = 'pending' AND reserved_until <= now()
				ORDER BY reserved_until, id LIMIT $1 FOR UPDATE SKIP LOCKED)
			UPDATE orders o SET status = 'expired', updated_at = now()
			FROM due, products p WHERE o.id = due.id AND p.id = o.product_id
			RETURNING o.id, o.product_id, o.quantity, p.delivery`, limit)
		if err != nil {
			return fmt.Errorf("expire due orders: %w", err)
		}
		type due struct {
			id, productID, qty int64
			delivery           faka.Delivery
		}
		expired, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (due, error) {
			var d due
			err := r.Scan(&d.id, &d.productID, &d.qty, &d.delivery)
			return d, err
		})
		if err != nil || len(expired) == 0 {
			return err
		}
		// The products' advisory locks come before any stock row is
		// touched, in ID order, as in every path that takes them (imports,
		// late payments): the other order deadlocks against a late payment.
		pids := make([]int64, 0, len(expired))
		for _, d := range expired {
			pids = append(pids, d.productID)
		}
		slices.Sort(pids)
		pids = slices.Compact(pids)
		for _, pid := range pids {
			if err := lockProduct(ctx, tx, pid); err != nil {
				return err
			}
		}
		var cardOrders, ledgerProducts, ledgerOrders, ledgerUnits []int64
		var cardUnits int64
		counted := map[int64]int64{}
		byProduct := map[int64]*faka.Release{}
		delivery := map[int64]faka.Delivery{}
		for _, d := range expired {
			if d.delivery.Counted() {
				counted[d.productID] += d.qty
			} else {
				cardOrders = append(cardOrders, d.id)
				cardUnits += d.qty
			}
			ledgerProducts = append(ledgerProducts, d.productID)
			ledgerOrders = append(ledgerOrders, d.id)
			ledgerUnits = append(ledgerUnits, d.qty)
			if byProduct[d.productID] == nil {
				byProduct[d.productID] = &faka.Release{ProductID: d.productID}
				delivery[d.productID] = d.delivery
			}
			byProduct[d.productID].Units += d.qty
		}
		if len(cardOrders) > 0 {
			tag, err := tx.Exec(ctx, `UPDATE card_keys SET state = 0, order_id = NULL
				WHERE order_id = ANY($1) AND state = 1`, cardOrders)
			if err != nil {
				return fmt.Errorf("release keys: %w", err)
			}
			if tag.RowsAffected() != cardUnits {
				return fmt.Errorf("released %d keys for %d reserved units: %w", tag.RowsAffected(), cardUnits, errInvariant)
			}
		}
		for pid, n := range counted {
			if _, err := move(ctx, tx, pid, delivery[pid], 0, int(n), faka.KeyReserved, faka.KeyAvailable); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO ledger (product_id, order_id, event, d_available, d_reserved, d_sold, d_void)
			SELECT pid, oid, 'release', q, -q, 0, 0 FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS u(pid, oid, q)`,
			ledgerProducts, ledgerOrders, ledgerUnits); err != nil {
			return fmt.Errorf("ledger release: %w", err)
		}
		// Backorders first, from the units that came back.
		for _, pid := range pids {
			f, used, err := fulfilBackorders(ctx, tx, pid, delivery[pid])
			if err != nil {
				return err
			}
			r := byProduct[pid]
			r.Fulfilled, r.Units = f, r.Units-used
			out = append(out, *r)
		}
		return nil
	})
	return out, err
}

// OrderCancel implements faka.Store.
func (s *Store) OrderCancel(ctx context.Context, orderNo string) (*faka.Order, []faka.Release, error) {
	var o *faka.Order
	var out []faka.Release
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if o, err = getOrder(ctx, tx, `o.order_no = $1`, orderNo, true); err != nil {
			return err
		}
		if o.Status != faka.StatusPending {
			return faka.Errorf(faka.EInvalidState, "only a pending order can be cancelled; this one is %s", o.Status)
		}
		out, err = releaseAll(ctx, tx, []*faka.Order{o}, faka.StatusCancelled)
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
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if o, err = getOrder(ctx, tx, `o.order_no = $1`, orderNo, true); err != nil {
			return err
		}
		from := o.Status
		if err := setStatus(ctx, tx, o.ID, from, faka.StatusRefunded); err != nil {
			return err
		}
		if from != faka.StatusPaidAwaitingStock {
			n, err := move(ctx, tx, o.ProductID, o.Delivery, o.ID, o.Quantity, faka.KeySold, faka.KeyVoid)
			if err != nil {
				return err
			}
			if n != int64(o.Quantity) {
				return fmt.Errorf("order %s voided %d keys, holds %d: %w", o.OrderNo, n, o.Quantity, errInvariant)
			}
			if err := appendLedger(ctx, tx, o.ProductID, o.ID, faka.LedgerRefund, 0, 0, -n, n); err != nil {
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
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if o, err = getOrder(ctx, tx, `o.order_no = $1`, orderNo, true); err != nil {
			return err
		}
		if o.Delivery != faka.DeliveryManual {
			return faka.Errorf(faka.EInvalid, "only manual-delivery orders are delivered by hand")
		}
		if o.Status != faka.StatusPaid {
			return faka.Errorf(faka.EInvalidState, "only a paid manual order can be delivered; this one is %s", o.Status)
		}
		if err := setStatus(ctx, tx, o.ID, faka.StatusPaid, faka.StatusDelivered); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `UPDATE orders SET delivery_note = $1 WHERE id = $2 RETURNING delivered_at`,
			note, o.ID).Scan(&o.DeliveredAt); err != nil {
			return fmt.Errorf("save delivery note: %w", err)
		}
		o.Status, o.DeliveryNote = faka.StatusDelivered, note
		return nil
	})
	if err != nil {
		return nil, err
	}
	return o, nil
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
