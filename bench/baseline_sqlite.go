package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the driver faka's store uses
)

// baselineSchema is the baselines' own tables, in their own database file:
// a stock counter row per product, key rows and order rows. faka's schema
// is never touched.
const baselineSchema = `
CREATE TABLE IF NOT EXISTS b_stock (
    product_id INTEGER PRIMARY KEY,
    available  INTEGER NOT NULL CHECK (available >= 0)
);
CREATE TABLE IF NOT EXISTS b_orders (
    id             INTEGER PRIMARY KEY,
    order_no       TEXT    NOT NULL UNIQUE,
    token_hash     BLOB    NOT NULL,
    product_id     INTEGER NOT NULL,
    quantity       INTEGER NOT NULL,
    amount         INTEGER NOT NULL,
    currency       TEXT    NOT NULL,
    email          TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    reserved_until INTEGER NOT NULL,
    created_at     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS b_keys (
    id         INTEGER PRIMARY KEY,
    product_id INTEGER NOT NULL,
    secret     TEXT    NOT NULL,
    state      INTEGER NOT NULL DEFAULT 0,
    order_id   INTEGER REFERENCES b_orders (id)
);
CREATE INDEX IF NOT EXISTS b_keys_available ON b_keys (product_id, id) WHERE state = 0;
`

// openBaselineDB opens the baselines' SQLite file with the pragmas of
// faka's writer (WAL, synchronous FULL, busy timeout, BEGIN IMMEDIATE)
// and conns connections.
func openBaselineDB(ctx context.Context, path string, conns int) (*sql.DB, error) {
	p := url.Values{}
	p.Add("_pragma", "busy_timeout(10000)")
	p.Add("_pragma", "journal_mode(WAL)")
	p.Add("_pragma", "synchronous(FULL)")
	p.Add("_pragma", "foreign_keys(1)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+p.Encode()+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("bench: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if _, err := db.ExecContext(ctx, baselineSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("bench: baseline schema: %w", err)
	}
	return db, nil
}

// sqlBaseline is baselines (a) and (b) on SQLite: one write transaction per
// request, no batching and no admission gate.
type sqlBaseline struct {
	db      *sql.DB
	label   string
	counter bool // (a): read and decrement the stock counter row first
	conns   int
}

func (b *sqlBaseline) name() string { return b.label }

func (b *sqlBaseline) note() string {
	switch {
	case b.counter && b.conns > 1:
		return fmt.Sprintf("(a') pessimistic over a pool of %d connections: BEGIN IMMEDIATE per request; the lock waits are SQLite's busy handler sleeping and retrying", b.conns)
	case b.counter:
		return "(a) pessimistic: per request BEGIN IMMEDIATE (SQLite's database-wide write lock, its SELECT … FOR UPDATE), read and decrement the stock counter row, then take the lowest key row; one writer connection, so the lock waits queue in Go"
	default:
		return "(b) row lock without SKIP LOCKED: per request BEGIN IMMEDIATE, take the lowest available key rows; on SQLite it serialises on the one writer exactly like (a) — there are no row locks to skip"
	}
}

func (b *sqlBaseline) prepare(ctx context.Context, keys int) (int64, error) {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("bench: %s: begin: %w", b.label, err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	r, err := tx.ExecContext(ctx, `INSERT INTO b_stock (available) VALUES (?)`, keys)
	if err != nil {
		return 0, fmt.Errorf("bench: %s: stock row: %w", b.label, err)
	}
	pid, err := r.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("bench: %s: product id: %w", b.label, err)
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO b_keys (product_id, secret) VALUES (?, ?)`)
	if err != nil {
		return 0, fmt.Errorf("bench: %s: prepare: %w", b.label, err)
	}
	defer stmt.Close()
	for i := range keys {
		if _, err := stmt.ExecContext(ctx, pid, fmt.Sprintf("BASE-%d-%07d", pid, i)); err != nil {
			return 0, fmt.Errorf("bench: %s: key: %w", b.label, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("bench: %s: commit: %w", b.label, err)
	}
	return pid, nil
}

// reserve is the textbook transaction, written as such code usually is:
// plain statements, one transaction per buyer.
func (b *sqlBaseline) reserve(ctx context.Context, productID int64, q int, o *baselineOrder) error {
	tx, err := b.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the write lock, held to the end
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if b.counter {
		var avail int
		if err := tx.QueryRowContext(ctx, `SELECT available FROM b_stock WHERE product_id = ?`, productID).Scan(&avail); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return errSoldOut
			}
			return fmt.Errorf("read stock: %w", err)
		}
		if avail < q {
			return errSoldOut
		}
		if _, err := tx.ExecContext(ctx, `UPDATE b_stock SET available = available - ? WHERE product_id = ?`, q, productID); err != nil {
			return fmt.Errorf("decrement stock: %w", err)
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT id FROM b_keys WHERE product_id = ? AND state = 0 ORDER BY id LIMIT ?`, productID, q)
	if err != nil {
		return fmt.Errorf("find keys: %w", err)
	}
	var ids []any
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("scan key: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find keys: %w", err)
	}
	if len(ids) < q {
		if b.counter {
			return fmt.Errorf("the counter said %d units but only %d key rows are available", q, len(ids))
		}
		return errSoldOut
	}
	now := time.Now().UnixMilli()
	r, err := tx.ExecContext(ctx, `INSERT INTO b_orders (order_no, token_hash, product_id, quantity, amount, currency,
		email, status, reserved_until, created_at) VALUES (?,?,?,?,?,?,?,'pending',?,?)`,
		o.OrderNo, o.TokenHash, productID, q, o.Amount, o.Currency, o.Email, o.Until.UnixMilli(), now)
	if err != nil {
		return fmt.Errorf("insert order: %w", err)
	}
	oid, err := r.LastInsertId()
	if err != nil {
		return fmt.Errorf("order id: %w", err)
	}
	args := append([]any{oid}, ids...)
	res, err := tx.ExecContext(ctx, `UPDATE b_keys SET state = 1, order_id = ? WHERE state = 0 AND id IN (?`+
		strings.Repeat(",?", len(ids)-1)+`)`, args...)
	if err != nil {
		return fmt.Errorf("claim keys: %w", err)
	}
	if n, _ := res.RowsAffected(); n != int64(q) {
		return fmt.Errorf("claimed %d keys of %d", n, q)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (b *sqlBaseline) taken(ctx context.Context, productID int64) (int, int, error) {
	var units, orders int
	err := b.db.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT order_id) FROM b_keys
		WHERE product_id = ? AND state = 1`, productID).Scan(&units, &orders)
	if err != nil {
		return 0, 0, fmt.Errorf("bench: %s: count keys: %w", b.label, err)
	}
	var ordered int
	err = b.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(quantity), 0) FROM b_orders WHERE product_id = ?`,
		productID).Scan(&ordered)
	if err != nil {
		return 0, 0, fmt.Errorf("bench: %s: count orders: %w", b.label, err)
	}
	// Every ordered unit must hold its own key row: more ordered units than
	// claimed rows means a key went to two orders.
	return ordered, max(0, ordered-units), nil
}
