package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faka-dev/faka"
)

// txTimeout bounds one write transaction. Its context does not end with
// the caller's (faka.TxRunner), so this is what stops a transaction that
// hangs on a database that went away.
const txTimeout = 30 * time.Second

// Tx implements faka.TxRunner: fn runs in a READ COMMITTED transaction,
// retried when PostgreSQL aborts it for a deadlock or a serialization
// failure. Rows are held with FOR UPDATE (SKIP LOCKED where a concurrent
// transaction may take others instead) until it ends.
func (s *Store) Tx(ctx context.Context, fn func(ctx context.Context, tx faka.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return translate(err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), txTimeout)
	defer cancel()
	return s.inTx(ctx, func(ptx pgx.Tx) error { return fn(ctx, &tx{tx: ptx}) })
}

// tx is a write transaction's data operations.
type tx struct {
	tx pgx.Tx
}

var _ faka.Tx = (*tx)(nil)

// ProductState implements faka.Tx.
func (t *tx) ProductState(ctx context.Context, productID int64) (faka.Delivery, bool, error) {
	var d faka.Delivery
	var active bool
	err := t.tx.QueryRow(ctx, `SELECT delivery, active FROM products WHERE id = $1`, productID).Scan(&d, &active)
	if err == pgx.ErrNoRows {
		return "", false, faka.Errorf(faka.ENotFound, "product %d not found", productID)
	}
	if err != nil {
		return "", false, fmt.Errorf("product %d: %w", productID, err)
	}
	return d, active, nil
}

// LockProduct implements faka.Tx with a transaction-scoped advisory lock.
func (t *tx) LockProduct(ctx context.Context, productID int64) error {
	return lockProduct(ctx, t.tx, productID)
}

// FindStock implements faka.Tx. Card keys are found and locked in one
// statement on the partial index, skipping rows another transaction holds:
// buyers on other instances never queue behind each other for the same
// key rows. A counted product's row is locked for the transaction.
func (t *tx) FindStock(ctx context.Context, productID int64, d faka.Delivery, n int64) (faka.Found, error) {
	if d.Counted() {
		var avail int64
		if err := t.tx.QueryRow(ctx, `SELECT stock_available FROM products WHERE id = $1 FOR UPDATE`,
			productID).Scan(&avail); err != nil {
			return faka.Found{}, fmt.Errorf("lock stock of product %d: %w", productID, err)
		}
		return faka.Found{Units: max(0, min(avail, n))}, nil
	}
	rows, err := t.tx.Query(ctx, `SELECT id FROM card_keys WHERE product_id = $1 AND state = 0
		ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`, productID, n)
	if err != nil {
		return faka.Found{}, fmt.Errorf("find keys: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return faka.Found{}, fmt.Errorf("find keys: %w", err)
	}
	return faka.Found{KeyIDs: ids, Units: int64(len(ids))}, nil
}

// ClaimStock implements faka.Tx.
func (t *tx) ClaimStock(ctx context.Context, productID int64, d faka.Delivery, claims []faka.Claim, to faka.KeyState) (int64, error) {
	if d.Counted() {
		var units int64
		for _, c := range claims {
			units += c.Units
		}
		col := stockColumn(to)
		tag, err := t.tx.Exec(ctx, `UPDATE products SET stock_available = stock_available - $1, `+col+` = `+col+` + $1
			WHERE id = $2 AND stock_available >= $1`, units, productID)
		if err != nil {
			return 0, fmt.Errorf("claim stock of product %d: %w", productID, err)
		}
		if tag.RowsAffected() != 1 {
			return 0, nil
		}
		return units, nil
	}
	var keyIDs, orderIDs []int64
	for _, c := range claims {
		for _, k := range c.KeyIDs {
			keyIDs = append(keyIDs, k)
			orderIDs = append(orderIDs, c.OrderID)
		}
	}
	tag, err := t.tx.Exec(ctx, `UPDATE card_keys k SET state = $1, order_id = u.oid
		FROM unnest($2::bigint[], $3::bigint[]) AS u(kid, oid) WHERE k.id = u.kid AND k.state = 0`,
		int16(to), keyIDs, orderIDs)
	if err != nil {
		return 0, fmt.Errorf("claim keys of product %d: %w", productID, err)
	}
	return tag.RowsAffected(), nil
}

// MoveStock implements faka.Tx: one statement per kind of move for card
// keys, one per product and kind for counted stock.
func (t *tx) MoveStock(ctx context.Context, moves []faka.StockMove) (int64, error) {
	keys, counted := faka.GroupMoves(moves)
	var moved int64
	for _, k := range keys {
		q := `UPDATE card_keys SET state = $1 WHERE order_id = ANY($2) AND state = $3`
		if k.To == faka.KeyAvailable {
			q = `UPDATE card_keys SET state = $1, order_id = NULL WHERE order_id = ANY($2) AND state = $3`
		}
		tag, err := t.tx.Exec(ctx, q, int16(k.To), k.OrderIDs, int16(k.From))
		if err != nil {
			return 0, fmt.Errorf("move keys %s→%s: %w", k.From, k.To, err)
		}
		moved += tag.RowsAffected()
	}
	for _, c := range counted {
		fromCol, toCol := stockColumn(c.From), stockColumn(c.To)
		tag, err := t.tx.Exec(ctx, `UPDATE products SET `+fromCol+` = `+fromCol+` - $1, `+toCol+` = `+toCol+` + $1
			WHERE id = $2 AND `+fromCol+` >= $1`, c.Units, c.ProductID)
		if err != nil {
			return 0, fmt.Errorf("move stock %s→%s: %w", c.From, c.To, err)
		}
		if tag.RowsAffected() == 1 {
			moved += c.Units
		}
	}
	return moved, nil
}

func stockColumn(s faka.KeyState) string {
	switch s {
	case faka.KeyAvailable:
		return "stock_available"
	case faka.KeyReserved:
		return "stock_reserved"
	case faka.KeySold:
		return "stock_sold"
	default:
		return "stock_void"
	}
}

// AppendLedger implements faka.Tx: one statement from arrays.
func (t *tx) AppendLedger(ctx context.Context, entries []faka.LedgerEntry) error {
	if len(entries) == 0 {
		return nil
	}
	n := len(entries)
	pids, oids := make([]int64, n), make([]*int64, n)
	events := make([]string, n)
	a, r, s, v := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i, e := range entries {
		pids[i], events[i] = e.ProductID, e.Event
		if e.OrderID != 0 {
			oids[i] = &entries[i].OrderID
		}
		a[i], r[i], s[i], v[i] = e.Available, e.Reserved, e.Sold, e.Void
	}
	_, err := t.tx.Exec(ctx, `INSERT INTO ledger (product_id, order_id, event, d_available, d_reserved, d_sold, d_void)
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])`,
		pids, oids, events, a, r, s, v)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// InsertOrders implements faka.Tx: one statement from arrays, whatever
// the batch's size.
func (t *tx) InsertOrders(ctx context.Context, orders []faka.NewOrder) error {
	n := len(orders)
	nos, cur, emails, gws := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	toks, pws := make([][]byte, n), make([][]byte, n)
	pids, prices, amts, ttls := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	qty := make([]int32, n)
	byNo := make(map[string]*faka.Order, n)
	for i, no := range orders {
		o := no.Order
		nos[i], toks[i], pids[i], qty[i] = o.OrderNo, o.TokenHash, o.ProductID, int32(o.Quantity)
		prices[i], amts[i], cur[i], emails[i] = o.UnitPrice, o.Amount, o.Currency, o.Email
		gws[i], pws[i], ttls[i] = o.Gateway, o.QueryPasswordHash, no.TTL.Milliseconds()
		byNo[o.OrderNo] = o
	}
	rows, err := t.tx.Query(ctx, `INSERT INTO orders (order_no, token_hash, product_id, quantity, unit_price,
			amount, currency, email, gateway, query_password_hash, status, reserved_until)
		SELECT no, tok, pid, q, price, amt, cur, email, gw, pw, 'pending', now() + ttl * interval '1 millisecond'
		FROM unnest($1::text[], $2::bytea[], $3::bigint[], $4::int[], $5::bigint[], $6::bigint[],
			$7::text[], $8::text[], $9::text[], $10::bytea[], $11::bigint[])
			AS u(no, tok, pid, q, price, amt, cur, email, gw, pw, ttl)
		RETURNING order_no, id, reserved_until, created_at`,
		nos, toks, pids, qty, prices, amts, cur, emails, gws, pws, ttls)
	if err != nil {
		return fmt.Errorf("insert orders: %w", err)
	}
	defer rows.Close()
	got := 0
	for rows.Next() {
		var no string
		var id int64
		var until, created time.Time
		if err := rows.Scan(&no, &id, &until, &created); err != nil {
			return fmt.Errorf("insert orders: %w", err)
		}
		if o := byNo[no]; o != nil {
			o.ID, o.ReservedUntil, o.CreatedAt = id, until, created
			got++
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("insert orders: %w", err)
	}
	if got != n {
		return fmt.Errorf("inserted %d of %d orders: %w", got, n, errInvariant)
	}
	return nil
}

// LockOrder implements faka.Tx.
func (t *tx) LockOrder(ctx context.Context, orderNo string) (*faka.Order, error) {
	return getOrder(ctx, t.tx, `o.order_no = $1`, orderNo, true)
}

// OrderByID implements faka.Tx.
func (t *tx) OrderByID(ctx context.Context, id int64) (*faka.Order, error) {
	return getOrder(ctx, t.tx, `o.id = $1`, id, false)
}

// DueOrders implements faka.Tx. Several instances may sweep at once: SKIP
// LOCKED gives each its own due orders, and an order that a payment holds
// is left to the payment.
func (t *tx) DueOrders(ctx context.Context, limit int) ([]*faka.Order, error) {
	rows, err := t.tx.Query(ctx, `SELECT `+orderColumns+orderFrom+`
		WHERE o.status = 'pending' AND o.reserved_until <= now()
		ORDER BY o.reserved_until, o.id LIMIT $1 FOR UPDATE OF o SKIP LOCKED`, limit)
	if err != nil {
		return nil, fmt.Errorf("find due orders: %w", err)
	}
	due, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*faka.Order, error) { return scanOrder(r) })
	if err != nil {
		return nil, fmt.Errorf("find due orders: %w", err)
	}
	return due, nil
}

// NextBackorder implements faka.Tx.
func (t *tx) NextBackorder(ctx context.Context, productID int64) (*faka.Order, error) {
	o, err := scanOrder(t.tx.QueryRow(ctx, `SELECT `+orderColumns+orderFrom+`
		WHERE o.product_id = $1 AND o.status = 'paid_awaiting_stock'
		ORDER BY o.paid_at, o.id LIMIT 1 FOR UPDATE OF o`, productID))
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find backorder of product %d: %w", productID, err)
	}
	return o, nil
}

// SetStatus implements faka.Tx: one conditional update for all changes.
func (t *tx) SetStatus(ctx context.Context, changes []faka.StatusChange) (int, error) {
	if len(changes) == 1 {
		c := changes[0]
		set := `status = $1, updated_at = now()`
		if c.Paid {
			set += `, paid_at = now()`
		}
		if c.Delivered {
			set += `, delivered_at = now()`
		}
		tag, err := t.tx.Exec(ctx, `UPDATE orders SET `+set+` WHERE id = $2 AND status = $3`, c.To, c.OrderID, c.From)
		if err != nil {
			return 0, fmt.Errorf("order %d %s→%s: %w", c.OrderID, c.From, c.To, err)
		}
		return int(tag.RowsAffected()), nil
	}
	n := len(changes)
	ids := make([]int64, n)
	from, to := make([]string, n), make([]string, n)
	paid, delivered := make([]bool, n), make([]bool, n)
	for i, c := range changes {
		ids[i], from[i], to[i], paid[i], delivered[i] = c.OrderID, string(c.From), string(c.To), c.Paid, c.Delivered
	}
	tag, err := t.tx.Exec(ctx, `UPDATE orders o SET status = u.t, updated_at = now(),
			paid_at = CASE WHEN u.paid THEN now() ELSE o.paid_at END,
			delivered_at = CASE WHEN u.del THEN now() ELSE o.delivered_at END
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bool[], $5::bool[]) AS u(id, f, t, paid, del)
		WHERE o.id = u.id AND o.status = u.f`, ids, from, to, paid, delivered)
	if err != nil {
		return 0, fmt.Errorf("order states: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// SetDeliveryNote implements faka.Tx.
func (t *tx) SetDeliveryNote(ctx context.Context, orderID int64, note string) error {
	if _, err := t.tx.Exec(ctx, `UPDATE orders SET delivery_note = $1 WHERE id = $2`, note, orderID); err != nil {
		return fmt.Errorf("save delivery note: %w", err)
	}
	return nil
}

// IdempotencyTaken implements faka.Tx.
func (t *tx) IdempotencyTaken(ctx context.Context, keys []string) (map[string]bool, error) {
	rows, err := t.tx.Query(ctx, `SELECT key FROM idempotency_keys WHERE key = ANY($1)`, keys)
	if err != nil {
		return nil, fmt.Errorf("idempotency keys: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("idempotency keys: %w", err)
	}
	taken := make(map[string]bool, len(found))
	for _, k := range found {
		taken[k] = true
	}
	return taken, nil
}

// InsertIdempotency implements faka.Tx. A key that a concurrent
// transaction holds makes this one wait for it, then skip the key.
func (t *tx) InsertIdempotency(ctx context.Context, recs []faka.IdempotencyRecord) (int, error) {
	n := len(recs)
	keys, hashes, tokens, orders := make([]string, n), make([][]byte, n), make([][]byte, n), make([]int64, n)
	for i, r := range recs {
		keys[i], hashes[i], tokens[i], orders[i] = r.Key, r.RequestHash, r.SealedToken, r.OrderID
	}
	tag, err := t.tx.Exec(ctx, `INSERT INTO idempotency_keys (key, request_hash, order_id, sealed_token)
		SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[], $4::bytea[])
		ON CONFLICT (key) DO NOTHING`, keys, hashes, orders, tokens)
	if err != nil {
		return 0, fmt.Errorf("store idempotency keys: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// PaymentByTrade implements faka.Tx.
func (t *tx) PaymentByTrade(ctx context.Context, gateway, tradeNo string) (*faka.Payment, error) {
	p, err := scanPayment(t.tx.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments y
		JOIN orders o ON o.id = y.order_id WHERE y.gateway = $1 AND y.trade_no = $2`, gateway, tradeNo))
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find payment: %w", err)
	}
	return p, nil
}

// InsertPayment implements faka.Tx.
func (t *tx) InsertPayment(ctx context.Context, p *faka.Payment) error {
	if err := t.tx.QueryRow(ctx, `INSERT INTO payments (gateway, trade_no, order_id, amount, currency, outcome)
		VALUES ($1,$2,$3,$4,$5,$6) RETURNING id, created_at`, p.Gateway, p.TradeNo, p.OrderID, p.Amount,
		p.Currency, p.Outcome).Scan(&p.ID, &p.CreatedAt); err != nil {
		return fmt.Errorf("insert payment: %w", err)
	}
	return nil
}

// InsertKeys implements faka.Tx: one statement for the whole upload.
func (t *tx) InsertKeys(ctx context.Context, productID int64, keys []faka.SealedKey) (int, error) {
	hashes := make([][]byte, len(keys))
	cts := make([][]byte, len(keys))
	for i, k := range keys {
		hashes[i], cts[i] = k.Hash, k.Ciphertext
	}
	tag, err := t.tx.Exec(ctx, `INSERT INTO card_keys (product_id, hash, ciphertext)
		SELECT $1, h, c FROM unnest($2::bytea[], $3::bytea[]) AS u(h, c)
		ON CONFLICT (product_id, hash) DO NOTHING`, productID, hashes, cts)
	if err != nil {
		return 0, fmt.Errorf("insert keys: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// AddStock implements faka.Tx.
func (t *tx) AddStock(ctx context.Context, productID int64, n int64) error {
	if _, err := t.tx.Exec(ctx, `UPDATE products SET stock_available = stock_available + $1 WHERE id = $2`,
		n, productID); err != nil {
		return fmt.Errorf("add stock to product %d: %w", productID, err)
	}
	return nil
}

// VoidKeys implements faka.Tx.
func (t *tx) VoidKeys(ctx context.Context, productID int64, keyIDs []int64) (int64, error) {
	tag, err := t.tx.Exec(ctx, `UPDATE card_keys SET state = 3 WHERE product_id = $1 AND state = 0 AND id = ANY($2)`,
		productID, keyIDs)
	if err != nil {
		return 0, fmt.Errorf("void keys: %w", err)
	}
	return tag.RowsAffected(), nil
}
