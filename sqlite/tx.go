package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/faka-dev/faka"
)

// errInvariant marks a state the schema should make impossible; the
// transaction is rolled back and the error surfaces as internal.
var errInvariant = errors.New("invariant violated")

// Tx implements faka.TxRunner: fn runs on the single writer connection,
// possibly in a group with other callers' operations, each in its own
// savepoint (see committer). Its statements run on a context that the
// caller cannot cancel: an interrupted statement would roll back the whole
// group, other buyers' writes with it.
func (s *Store) Tx(ctx context.Context, fn func(ctx context.Context, tx faka.Tx) error) error {
	return s.inTx(ctx, func(stx *sql.Tx) error {
		return fn(context.WithoutCancel(ctx), &tx{s: s, tx: stx, now: s.nowMS()})
	})
}

// tx is one operation's view of a write transaction. The single writer
// holds every row for the whole transaction, so "held" needs no locks.
type tx struct {
	s   *Store
	tx  *sql.Tx
	now int64 // the store's clock when the operation began, in ms
}

var _ faka.Tx = (*tx)(nil)

func (t *tx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	r, err := t.s.wexec(context.WithoutCancel(ctx), t.tx, q, args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (t *tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return t.s.wqueryRow(context.WithoutCancel(ctx), t.tx, q, args...)
}

func (t *tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.s.wquery(context.WithoutCancel(ctx), t.tx, q, args...)
}

// Statements of the data operations. The hot ones are prepared on the
// writer (stmt.go).
const (
	qProductState  = `SELECT delivery, active FROM products WHERE id = ?`
	qKeysAvailable = `SELECT id FROM card_keys WHERE product_id = ? AND state = 0 ORDER BY id LIMIT ?`
	qCountedFind   = `SELECT stock_available FROM products WHERE id = ?`
	// qKeysClaimBatch gives keys to orders from a JSON array of
	// [key_id, order_id] pairs, in one statement for a whole batch.
	qKeysClaimBatch = `UPDATE card_keys SET state = ?1, order_id = m.oid
		FROM (SELECT value ->> 0 AS kid, value ->> 1 AS oid FROM json_each(?2)) AS m
		WHERE card_keys.id = m.kid AND card_keys.state = 0`
	qKeysMove    = `UPDATE card_keys SET state = ? WHERE order_id = ? AND state = ?`
	qKeysRelease = `UPDATE card_keys SET state = ?, order_id = NULL WHERE order_id = ? AND state = ?`
	// qKeysMoveMany and qKeysReleaseMany take a JSON array of order IDs.
	qKeysMoveMany = `UPDATE card_keys SET state = ?1
		WHERE state = ?2 AND order_id IN (SELECT value FROM json_each(?3))`
	qKeysReleaseMany = `UPDATE card_keys SET state = ?1, order_id = NULL
		WHERE state = ?2 AND order_id IN (SELECT value FROM json_each(?3))`
	qLedgerInsert = `INSERT INTO ledger (product_id, order_id, event, d_available, d_reserved,
		d_sold, d_void, created_at) VALUES (?,?,?,?,?,?,?,?)`
	// qLedgerMany appends movements from a JSON array of
	// [product_id, order_id (0: none), event, available, reserved, sold, void].
	qLedgerMany = `INSERT INTO ledger (product_id, order_id, event, d_available, d_reserved, d_sold,
		d_void, created_at) SELECT value ->> 0, NULLIF(value ->> 1, 0), value ->> 2, value ->> 3, value ->> 4,
		value ->> 5, value ->> 6, ?1 FROM json_each(?2)`
	qOrderInsert = `INSERT INTO orders (order_no, token_hash, product_id, quantity,
		unit_price, amount, currency, email, gateway, query_password_hash, status, reserved_until,
		created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,'pending',?,?,?)`
	qDueOrders = `SELECT ` + orderColumns + orderFrom + `
		WHERE o.status = 'pending' AND o.reserved_until <= ? ORDER BY o.reserved_until, o.id LIMIT ?`
	qBackorderNext = `SELECT ` + orderColumns + orderFrom + `
		WHERE o.product_id = ? AND o.status = 'paid_awaiting_stock' ORDER BY o.paid_at, o.id LIMIT 1`
	qOrderSetDeliveredPaid = `UPDATE orders SET status = ?, updated_at = ?, paid_at = ?, delivered_at = ?
		WHERE id = ? AND status = ?`
	qOrderSetDelivered = `UPDATE orders SET status = ?, updated_at = ?, delivered_at = ? WHERE id = ? AND status = ?`
	qOrderSetPaid      = `UPDATE orders SET status = ?, updated_at = ?, paid_at = ? WHERE id = ? AND status = ?`
	qOrderSetStatus    = `UPDATE orders SET status = ?, updated_at = ? WHERE id = ? AND status = ?`
	// qOrderSetStatusMany moves the orders of a JSON array of IDs.
	qOrderSetStatusMany = `UPDATE orders SET status = ?1, updated_at = ?2
		WHERE status = ?3 AND id IN (SELECT value FROM json_each(?4))`
	qIdemTaken  = `SELECT key FROM idempotency_keys WHERE key IN (SELECT value FROM json_each(?))`
	qIdemInsert = `INSERT INTO idempotency_keys (key, request_hash, order_id, sealed_token, created_at)
		VALUES (?,?,?,?,?) ON CONFLICT (key) DO NOTHING`
	qPaymentByTrade = `SELECT ` + paymentColumns + ` FROM payments y
		JOIN orders o ON o.id = y.order_id WHERE y.gateway = ? AND y.trade_no = ?`
	qPaymentInsert = `INSERT INTO payments (gateway, trade_no, order_id, amount, currency, outcome,
		created_at) VALUES (?,?,?,?,?,?,?)`
	qKeyInsert = `INSERT INTO card_keys (product_id, hash, ciphertext, state, created_at)
		VALUES (?, ?, ?, 0, ?) ON CONFLICT (product_id, hash) DO NOTHING`
)

// ProductState implements faka.Tx.
func (t *tx) ProductState(ctx context.Context, productID int64) (faka.Delivery, bool, error) {
	var d faka.Delivery
	var active int
	err := t.queryRow(ctx, qProductState, productID).Scan(&d, &active)
	if err == sql.ErrNoRows {
		return "", false, faka.Errorf(faka.ENotFound, "product %d not found", productID)
	}
	if err != nil {
		return "", false, fmt.Errorf("product %d: %w", productID, err)
	}
	return d, active != 0, nil
}

// LockProduct implements faka.Tx: the single writer already serialises
// every write transaction.
func (t *tx) LockProduct(context.Context, int64) error { return nil }

// FindStock implements faka.Tx.
func (t *tx) FindStock(ctx context.Context, productID int64, d faka.Delivery, n int64) (faka.Found, error) {
	if d.Counted() {
		var avail int64
		if err := t.queryRow(ctx, qCountedFind, productID).Scan(&avail); err != nil {
			return faka.Found{}, fmt.Errorf("stock of product %d: %w", productID, err)
		}
		return faka.Found{Units: max(0, min(avail, n))}, nil
	}
	rows, err := t.query(ctx, qKeysAvailable, productID, n)
	if err != nil {
		return faka.Found{}, fmt.Errorf("find keys: %w", err)
	}
	defer rows.Close()
	ids := make([]int64, 0, min(n, 1024))
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return faka.Found{}, fmt.Errorf("scan key id: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
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
		n, err := t.exec(ctx, `UPDATE products SET stock_available = stock_available - ?1, `+col+` = `+col+` + ?1
			WHERE id = ?2 AND stock_available >= ?1`, units, productID)
		if err != nil {
			return 0, fmt.Errorf("claim stock of product %d: %w", productID, err)
		}
		if n != 1 {
			return 0, nil
		}
		return units, nil
	}
	var pairs []byte
	for _, c := range claims {
		for _, k := range c.KeyIDs {
			pairs = appendPair(pairs, k, c.OrderID)
		}
	}
	n, err := t.exec(ctx, qKeysClaimBatch, int(to), closeJSON(pairs))
	if err != nil {
		return 0, fmt.Errorf("claim keys of product %d: %w", productID, err)
	}
	return n, nil
}

// MoveStock implements faka.Tx. One order's card keys move by a prepared
// statement; many orders' (an expiry sweep) by one statement per kind of
// move. Counted products move their columns once per product.
func (t *tx) MoveStock(ctx context.Context, moves []faka.StockMove) (int64, error) {
	keys, counted := faka.GroupMoves(moves)
	var moved int64
	for _, k := range keys {
		ids := k.OrderIDs
		var n int64
		var err error
		switch {
		case len(ids) == 1 && k.To == faka.KeyAvailable:
			n, err = t.exec(ctx, qKeysRelease, int(k.To), ids[0], int(k.From))
		case len(ids) == 1:
			n, err = t.exec(ctx, qKeysMove, int(k.To), ids[0], int(k.From))
		case k.To == faka.KeyAvailable:
			n, err = t.exec(ctx, qKeysReleaseMany, int(k.To), int(k.From), jsonInts(ids))
		default:
			n, err = t.exec(ctx, qKeysMoveMany, int(k.To), int(k.From), jsonInts(ids))
		}
		if err != nil {
			return 0, fmt.Errorf("move keys %s→%s: %w", k.From, k.To, err)
		}
		moved += n
	}
	for _, c := range counted {
		fromCol, toCol := stockColumn(c.From), stockColumn(c.To)
		n, err := t.exec(ctx, `UPDATE products SET `+fromCol+` = `+fromCol+` - ?1, `+toCol+` = `+toCol+` + ?1
			WHERE id = ?2 AND `+fromCol+` >= ?1`, c.Units, c.ProductID)
		if err != nil {
			return 0, fmt.Errorf("move stock %s→%s: %w", c.From, c.To, err)
		}
		if n == 1 {
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

// AppendLedger implements faka.Tx.
func (t *tx) AppendLedger(ctx context.Context, entries []faka.LedgerEntry) error {
	switch len(entries) {
	case 0:
		return nil
	case 1:
		e := entries[0]
		var oid sql.NullInt64
		if e.OrderID != 0 {
			oid = sql.NullInt64{Int64: e.OrderID, Valid: true}
		}
		if _, err := t.exec(ctx, qLedgerInsert, e.ProductID, oid, e.Event, e.Available, e.Reserved, e.Sold,
			e.Void, t.now); err != nil {
			return fmt.Errorf("ledger %s for product %d: %w", e.Event, e.ProductID, err)
		}
		return nil
	}
	b := make([]byte, 0, 48*len(entries))
	b = append(b, '[')
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, e.ProductID, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, e.OrderID, 10)
		b = append(b, ',')
		b = strconv.AppendQuote(b, e.Event) // a fixed ASCII word: valid JSON
		for _, v := range [...]int64{e.Available, e.Reserved, e.Sold, e.Void} {
			b = append(b, ',')
			b = strconv.AppendInt(b, v, 10)
		}
		b = append(b, ']')
	}
	b = append(b, ']')
	if _, err := t.exec(ctx, qLedgerMany, t.now, string(b)); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// InsertOrders implements faka.Tx.
func (t *tx) InsertOrders(ctx context.Context, orders []faka.NewOrder) error {
	for _, no := range orders {
		o := no.Order
		until := t.now + no.TTL.Milliseconds()
		r, err := t.s.wexec(context.WithoutCancel(ctx), t.tx, qOrderInsert, o.OrderNo, o.TokenHash, o.ProductID,
			o.Quantity, o.UnitPrice, o.Amount, o.Currency, o.Email, o.Gateway, o.QueryPasswordHash, until, t.now, t.now)
		if err != nil {
			return fmt.Errorf("insert order: %w", err)
		}
		if o.ID, err = r.LastInsertId(); err != nil {
			return fmt.Errorf("order id: %w", err)
		}
		o.ReservedUntil, o.CreatedAt = time.UnixMilli(until), time.UnixMilli(t.now)
	}
	return nil
}

// LockOrder implements faka.Tx.
func (t *tx) LockOrder(ctx context.Context, orderNo string) (*faka.Order, error) {
	return t.s.getOrder(context.WithoutCancel(ctx), t.tx, qOrderByNo, orderNo)
}

// OrderByID implements faka.Tx.
func (t *tx) OrderByID(ctx context.Context, id int64) (*faka.Order, error) {
	return t.s.getOrder(context.WithoutCancel(ctx), t.tx, qOrderByID, id)
}

// DueOrders implements faka.Tx.
func (t *tx) DueOrders(ctx context.Context, limit int) ([]*faka.Order, error) {
	rows, err := t.query(ctx, qDueOrders, t.now, limit)
	if err != nil {
		return nil, fmt.Errorf("find due orders: %w", err)
	}
	defer rows.Close()
	var due []*faka.Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, fmt.Errorf("scan due order: %w", err)
		}
		due = append(due, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find due orders: %w", err)
	}
	return due, nil
}

// NextBackorder implements faka.Tx.
func (t *tx) NextBackorder(ctx context.Context, productID int64) (*faka.Order, error) {
	o, err := scanOrder(t.queryRow(ctx, qBackorderNext, productID))
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find backorder of product %d: %w", productID, err)
	}
	return o, nil
}

// SetStatus implements faka.Tx. Changes that stamp nothing and share
// their states (an expiry sweep) go in one statement.
func (t *tx) SetStatus(ctx context.Context, changes []faka.StatusChange) (int, error) {
	if len(changes) > 1 && sameMove(changes) {
		ids := make([]int64, len(changes))
		for i, c := range changes {
			ids[i] = c.OrderID
		}
		c := changes[0]
		n, err := t.exec(ctx, qOrderSetStatusMany, c.To, t.now, c.From, jsonInts(ids))
		if err != nil {
			return 0, fmt.Errorf("orders %s→%s: %w", c.From, c.To, err)
		}
		return int(n), nil
	}
	var applied int
	for _, c := range changes {
		var n int64
		var err error
		switch {
		case c.Paid && c.Delivered:
			n, err = t.exec(ctx, qOrderSetDeliveredPaid, c.To, t.now, t.now, t.now, c.OrderID, c.From)
		case c.Delivered:
			n, err = t.exec(ctx, qOrderSetDelivered, c.To, t.now, t.now, c.OrderID, c.From)
		case c.Paid:
			n, err = t.exec(ctx, qOrderSetPaid, c.To, t.now, t.now, c.OrderID, c.From)
		default:
			n, err = t.exec(ctx, qOrderSetStatus, c.To, t.now, c.OrderID, c.From)
		}
		if err != nil {
			return 0, fmt.Errorf("order %d %s→%s: %w", c.OrderID, c.From, c.To, err)
		}
		applied += int(n)
	}
	return applied, nil
}

// sameMove reports whether every change moves between the same two states
// and stamps nothing.
func sameMove(changes []faka.StatusChange) bool {
	f := changes[0]
	for _, c := range changes {
		if c.From != f.From || c.To != f.To || c.Paid || c.Delivered {
			return false
		}
	}
	return true
}

// SetDeliveryNote implements faka.Tx.
func (t *tx) SetDeliveryNote(ctx context.Context, orderID int64, note string) error {
	if _, err := t.exec(ctx, `UPDATE orders SET delivery_note = ? WHERE id = ?`, note, orderID); err != nil {
		return fmt.Errorf("save delivery note: %w", err)
	}
	return nil
}

// IdempotencyTaken implements faka.Tx.
func (t *tx) IdempotencyTaken(ctx context.Context, keys []string) (map[string]bool, error) {
	arr, err := json.Marshal(keys)
	if err != nil {
		return nil, fmt.Errorf("idempotency keys: %w", err)
	}
	rows, err := t.query(ctx, qIdemTaken, string(arr))
	if err != nil {
		return nil, fmt.Errorf("idempotency keys: %w", err)
	}
	defer rows.Close()
	taken := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("idempotency keys: %w", err)
		}
		taken[k] = true
	}
	return taken, rows.Err()
}

// InsertIdempotency implements faka.Tx.
func (t *tx) InsertIdempotency(ctx context.Context, recs []faka.IdempotencyRecord) (int, error) {
	var stored int
	for _, r := range recs {
		n, err := t.exec(ctx, qIdemInsert, r.Key, r.RequestHash, r.OrderID, r.SealedToken, t.now)
		if err != nil {
			return 0, fmt.Errorf("store idempotency key: %w", err)
		}
		stored += int(n)
	}
	return stored, nil
}

// PaymentByTrade implements faka.Tx.
func (t *tx) PaymentByTrade(ctx context.Context, gateway, tradeNo string) (*faka.Payment, error) {
	p, err := scanPayment(t.queryRow(ctx, qPaymentByTrade, gateway, tradeNo))
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find payment: %w", err)
	}
	return p, nil
}

// InsertPayment implements faka.Tx.
func (t *tx) InsertPayment(ctx context.Context, p *faka.Payment) error {
	r, err := t.s.wexec(context.WithoutCancel(ctx), t.tx, qPaymentInsert, p.Gateway, p.TradeNo, p.OrderID,
		p.Amount, p.Currency, p.Outcome, t.now)
	if err != nil {
		return fmt.Errorf("insert payment: %w", err)
	}
	if p.ID, err = r.LastInsertId(); err != nil {
		return fmt.Errorf("payment id: %w", err)
	}
	p.CreatedAt = time.UnixMilli(t.now)
	return nil
}

// InsertKeys implements faka.Tx.
func (t *tx) InsertKeys(ctx context.Context, productID int64, keys []faka.SealedKey) (int, error) {
	ctx = context.WithoutCancel(ctx)
	stmt, err := t.tx.PrepareContext(ctx, qKeyInsert)
	if err != nil {
		return 0, fmt.Errorf("prepare key insert: %w", err)
	}
	defer stmt.Close()
	var stored int
	for _, k := range keys {
		r, err := stmt.ExecContext(ctx, productID, k.Hash, k.Ciphertext, t.now)
		if err != nil {
			return 0, fmt.Errorf("insert key: %w", err)
		}
		if n, _ := r.RowsAffected(); n == 1 {
			stored++
		}
	}
	return stored, nil
}

// AddStock implements faka.Tx.
func (t *tx) AddStock(ctx context.Context, productID int64, n int64) error {
	if _, err := t.exec(ctx, `UPDATE products SET stock_available = stock_available + ? WHERE id = ?`,
		n, productID); err != nil {
		return fmt.Errorf("add stock to product %d: %w", productID, err)
	}
	return nil
}

// VoidKeys implements faka.Tx.
func (t *tx) VoidKeys(ctx context.Context, productID int64, keyIDs []int64) (int64, error) {
	n, err := t.exec(ctx, `UPDATE card_keys SET state = 3 WHERE product_id = ? AND state = 0
		AND id IN (SELECT value FROM json_each(?))`, productID, jsonInts(keyIDs))
	if err != nil {
		return 0, fmt.Errorf("void keys: %w", err)
	}
	return n, nil
}

// appendPair appends [x,y] to a JSON array under construction.
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

// jsonInts returns ids as a JSON array.
func jsonInts(ids []int64) string {
	b := make([]byte, 0, 8*len(ids)+2)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}
