package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/faka-dev/faka"
)

// The storefront's and the console's data (faka.ShopStore). None of these
// methods changes an order or a key.

var _ faka.ShopStore = (*Store)(nil)

// CategoryCreate implements faka.ShopStore.
func (s *Store) CategoryCreate(ctx context.Context, c *faka.Category) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see Store.Tx
		now := s.nowMS()
		res, err := tx.ExecContext(ctx, `INSERT INTO categories (name, sort_order, created_at) VALUES (?, ?, ?)`,
			c.Name, c.Sort, now)
		if err != nil {
			return fmt.Errorf("insert category: %w", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("category id: %w", err)
		}
		c.ID, c.CreatedAt = id, time.UnixMilli(now)
		return nil
	})
}

// CategoryUpdate implements faka.ShopStore.
func (s *Store) CategoryUpdate(ctx context.Context, c *faka.Category) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see Store.Tx
		res, err := tx.ExecContext(ctx, `UPDATE categories SET name = ?, sort_order = ? WHERE id = ?`, c.Name, c.Sort, c.ID)
		if err != nil {
			return fmt.Errorf("update category %d: %w", c.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return faka.Errorf(faka.ENotFound, "category %d not found", c.ID)
		}
		return nil
	})
}

// CategoryDelete implements faka.ShopStore. The products are detached in
// the same transaction rather than by ON DELETE SET NULL alone, so the
// result does not depend on the foreign_keys pragma.
func (s *Store) CategoryDelete(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see Store.Tx
		if _, err := tx.ExecContext(ctx, `UPDATE products SET category_id = NULL WHERE category_id = ?`, id); err != nil {
			return fmt.Errorf("detach products from category %d: %w", id, err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM categories WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete category %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return faka.Errorf(faka.ENotFound, "category %d not found", id)
		}
		return nil
	})
}

// CategoryList implements faka.ShopStore.
func (s *Store) CategoryList(ctx context.Context) ([]*faka.Category, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, name, sort_order, created_at FROM categories ORDER BY sort_order, id`)
	if err != nil {
		return nil, translate(fmt.Errorf("list categories: %w", err))
	}
	defer rows.Close()
	var out []*faka.Category
	for rows.Next() {
		var c faka.Category
		var created int64
		if err := rows.Scan(&c.ID, &c.Name, &c.Sort, &created); err != nil {
			return nil, translate(fmt.Errorf("scan category: %w", err))
		}
		c.CreatedAt = time.UnixMilli(created)
		out = append(out, &c)
	}
	return out, translate(rows.Err())
}

// ProductShopList implements faka.ShopStore.
func (s *Store) ProductShopList(ctx context.Context) ([]faka.ProductShop, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, category_id, stock_display, low_stock FROM products ORDER BY id`)
	if err != nil {
		return nil, translate(fmt.Errorf("list product presentation: %w", err))
	}
	defer rows.Close()
	var out []faka.ProductShop
	for rows.Next() {
		var ps faka.ProductShop
		var cat sql.NullInt64
		if err := rows.Scan(&ps.ProductID, &cat, &ps.StockDisplay, &ps.LowStock); err != nil {
			return nil, translate(fmt.Errorf("scan product presentation: %w", err))
		}
		ps.CategoryID = cat.Int64
		out = append(out, ps)
	}
	return out, translate(rows.Err())
}

// ProductShopSet implements faka.ShopStore.
func (s *Store) ProductShopSet(ctx context.Context, ps faka.ProductShop) error {
	if err := ps.Validate(); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		return setProductShop(context.WithoutCancel(ctx), tx, ps) // see Store.Tx
	})
}

// setProductShop saves a product's presentation inside a transaction.
func setProductShop(ctx context.Context, tx *sql.Tx, ps faka.ProductShop) error {
	var cat sql.NullInt64
	if ps.CategoryID != 0 {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM categories WHERE id = ?`, ps.CategoryID).Scan(&one)
		if err == sql.ErrNoRows {
			return faka.Errorf(faka.EInvalid, "category %d does not exist", ps.CategoryID)
		}
		if err != nil {
			return fmt.Errorf("check category %d: %w", ps.CategoryID, err)
		}
		cat = sql.NullInt64{Int64: ps.CategoryID, Valid: true}
	}
	res, err := tx.ExecContext(ctx, `UPDATE products SET category_id = ?, stock_display = ?, low_stock = ? WHERE id = ?`,
		cat, string(ps.StockDisplay), ps.LowStock, ps.ProductID)
	if err != nil {
		return fmt.Errorf("update product %d presentation: %w", ps.ProductID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return faka.Errorf(faka.ENotFound, "product %d not found", ps.ProductID)
	}
	return nil
}

// LookupTokenAdd implements faka.ShopStore.
func (s *Store) LookupTokenAdd(ctx context.Context, tokenHash []byte, orderID int64, expires time.Time) error {
	if len(tokenHash) == 0 {
		return faka.Errorf(faka.EInvalid, "empty lookup token")
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see Store.Tx
		// Portable upsert: PostgreSQL spells it the same way.
		_, err := tx.ExecContext(ctx, `INSERT INTO lookup_tokens (token_hash, order_id, created_at, expires_at)
			VALUES (?, ?, ?, ?)
			ON CONFLICT (token_hash, order_id) DO UPDATE SET expires_at = excluded.expires_at`,
			tokenHash, orderID, s.nowMS(), expires.UnixMilli())
		if err != nil {
			return fmt.Errorf("remember order %d: %w", orderID, err)
		}
		return nil
	})
}

// LookupTokenOrders implements faka.ShopStore.
func (s *Store) LookupTokenOrders(ctx context.Context, tokenHash []byte, limit int) ([]*faka.Order, error) {
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	rows, err := s.read.QueryContext(ctx, `SELECT `+orderColumns+orderFrom+`
		JOIN lookup_tokens l ON l.order_id = o.id
		WHERE l.token_hash = ? AND l.expires_at > ? ORDER BY o.id DESC LIMIT ?`, tokenHash, s.nowMS(), limit)
	if err != nil {
		return nil, translate(fmt.Errorf("remembered orders: %w", err))
	}
	return collectOrders(rows)
}

// LookupTokensPurge implements faka.ShopStore.
func (s *Store) LookupTokensPurge(ctx context.Context) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see Store.Tx
		res, err := tx.ExecContext(ctx, `DELETE FROM lookup_tokens WHERE expires_at <= ?`, s.nowMS())
		if err != nil {
			return fmt.Errorf("purge lookup tokens: %w", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}

func collectOrders(rows *sql.Rows) ([]*faka.Order, error) {
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

const keyInfoColumns = `k.id, k.product_id, k.state, k.order_id, o.order_no, k.created_at`

const keyInfoFrom = ` FROM card_keys k LEFT JOIN orders o ON o.id = k.order_id `

func scanKeyInfo(row scanner, extra ...any) (faka.KeyInfo, error) {
	var k faka.KeyInfo
	var orderID sql.NullInt64
	var orderNo sql.NullString
	var created int64
	dest := append([]any{&k.ID, &k.ProductID, &k.State, &orderID, &orderNo, &created}, extra...)
	if err := row.Scan(dest...); err != nil {
		return k, err
	}
	k.OrderID, k.OrderNo, k.CreatedAt = orderID.Int64, orderNo.String, time.UnixMilli(created)
	return k, nil
}

// KeyList implements faka.ShopStore.
func (s *Store) KeyList(ctx context.Context, f faka.KeyFilter) ([]faka.KeyInfo, error) {
	q := `SELECT ` + keyInfoColumns + keyInfoFrom + ` WHERE 1 = 1`
	var args []any
	if f.ProductID != 0 {
		q += ` AND k.product_id = ?`
		args = append(args, f.ProductID)
	}
	if f.OrderID != 0 {
		q += ` AND k.order_id = ?`
		args = append(args, f.OrderID)
	}
	if len(f.States) > 0 {
		q += ` AND k.state IN (` + placeholders(len(f.States)) + `)`
		for _, st := range f.States {
			args = append(args, int(st))
		}
	}
	if f.BeforeID > 0 {
		q += ` AND k.id < ?`
		args = append(args, f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	q += ` ORDER BY k.id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, translate(fmt.Errorf("list keys: %w", err))
	}
	defer rows.Close()
	var out []faka.KeyInfo
	for rows.Next() {
		k, err := scanKeyInfo(rows)
		if err != nil {
			return nil, translate(fmt.Errorf("scan key: %w", err))
		}
		out = append(out, k)
	}
	return out, translate(rows.Err())
}

// KeySealed implements faka.ShopStore.
func (s *Store) KeySealed(ctx context.Context, keyID int64) (faka.KeyInfo, faka.SealedKey, error) {
	var sk faka.SealedKey
	k, err := scanKeyInfo(s.read.QueryRowContext(ctx, `SELECT `+keyInfoColumns+`, k.hash, k.ciphertext`+keyInfoFrom+
		`WHERE k.id = ?`, keyID), &sk.Hash, &sk.Ciphertext)
	if err != nil {
		return k, sk, translate(fmt.Errorf("key %d: %w", keyID, err))
	}
	return k, sk, nil
}

// KeysAvailableSealed implements faka.ShopStore.
func (s *Store) KeysAvailableSealed(ctx context.Context, productID int64) ([]faka.SealedKey, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT hash, ciphertext FROM card_keys
		WHERE product_id = ? AND state = 0 ORDER BY id`, productID)
	if err != nil {
		return nil, translate(fmt.Errorf("available keys of product %d: %w", productID, err))
	}
	defer rows.Close()
	var out []faka.SealedKey
	for rows.Next() {
		var sk faka.SealedKey
		if err := rows.Scan(&sk.Hash, &sk.Ciphertext); err != nil {
			return nil, translate(fmt.Errorf("scan key: %w", err))
		}
		out = append(out, sk)
	}
	return out, translate(rows.Err())
}

// KeyAuditAdd implements faka.ShopStore.
func (s *Store) KeyAuditAdd(ctx context.Context, a *faka.KeyAudit) error {
	if a.Action != faka.AuditReveal && a.Action != faka.AuditExport {
		return faka.Errorf(faka.EInvalid, "audit action must be reveal or export")
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see Store.Tx
		now := s.nowMS()
		res, err := tx.ExecContext(ctx, `INSERT INTO key_audit (product_id, key_id, admin_id, action, keys_shown, ip, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			a.ProductID, nullID(a.KeyID), nullID(a.AdminID), a.Action, a.Count, a.IP, now)
		if err != nil {
			return fmt.Errorf("append key audit: %w", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("key audit id: %w", err)
		}
		a.ID, a.CreatedAt = id, time.UnixMilli(now)
		return nil
	})
}

// KeyAuditList implements faka.ShopStore.
func (s *Store) KeyAuditList(ctx context.Context, productID int64, limit int) ([]faka.KeyAudit, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	q := `SELECT id, product_id, key_id, admin_id, action, keys_shown, ip, created_at FROM key_audit`
	var args []any
	if productID != 0 {
		q += ` WHERE product_id = ?`
		args = append(args, productID)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, translate(fmt.Errorf("list key audit: %w", err))
	}
	defer rows.Close()
	var out []faka.KeyAudit
	for rows.Next() {
		var a faka.KeyAudit
		var keyID, adminID sql.NullInt64
		var created int64
		if err := rows.Scan(&a.ID, &a.ProductID, &keyID, &adminID, &a.Action, &a.Count, &a.IP, &created); err != nil {
			return nil, translate(fmt.Errorf("scan key audit: %w", err))
		}
		a.KeyID, a.AdminID, a.CreatedAt = keyID.Int64, adminID.Int64, time.UnixMilli(created)
		out = append(out, a)
	}
	return out, translate(rows.Err())
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// likePrefix escapes s for a LIKE pattern that matches strings starting
// with it (ESCAPE '\' is spelled the same in PostgreSQL).
func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s) + "%"
}

// OrderSearch implements faka.ShopStore.
func (s *Store) OrderSearch(ctx context.Context, q faka.OrderQuery) ([]*faka.Order, error) {
	sqlq := `SELECT ` + orderColumns + orderFrom + ` WHERE 1 = 1`
	var args []any
	if no := strings.TrimSpace(q.OrderNo); no != "" {
		sqlq += ` AND o.order_no LIKE ? ESCAPE '\'`
		args = append(args, likePrefix(no))
	}
	if e := strings.TrimSpace(q.Email); e != "" {
		sqlq += ` AND lower(o.email) = lower(?)`
		args = append(args, e)
	}
	if q.Status != "" {
		sqlq += ` AND o.status = ?`
		args = append(args, string(q.Status))
	}
	if q.ProductID != 0 {
		sqlq += ` AND o.product_id = ?`
		args = append(args, q.ProductID)
	}
	if !q.From.IsZero() {
		sqlq += ` AND o.created_at >= ?`
		args = append(args, q.From.UnixMilli())
	}
	if !q.To.IsZero() {
		sqlq += ` AND o.created_at < ?`
		args = append(args, q.To.UnixMilli())
	}
	if q.BeforeID > 0 {
		sqlq += ` AND o.id < ?`
		args = append(args, q.BeforeID)
	}
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = 50
	case limit > 500:
		limit = 500
	}
	sqlq += ` ORDER BY o.id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.read.QueryContext(ctx, sqlq, args...)
	if err != nil {
		return nil, translate(fmt.Errorf("search orders: %w", err))
	}
	return collectOrders(rows)
}

// LedgerByOrder implements faka.ShopStore.
func (s *Store) LedgerByOrder(ctx context.Context, orderID int64) ([]faka.LedgerEntry, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, product_id, order_id, event, d_available, d_reserved,
		d_sold, d_void, created_at FROM ledger WHERE order_id = ? ORDER BY id`, orderID)
	if err != nil {
		return nil, translate(fmt.Errorf("ledger of order %d: %w", orderID, err))
	}
	defer rows.Close()
	var out []faka.LedgerEntry
	for rows.Next() {
		var e faka.LedgerEntry
		var oid sql.NullInt64
		var created int64
		if err := rows.Scan(&e.ID, &e.ProductID, &oid, &e.Event, &e.Available, &e.Reserved, &e.Sold, &e.Void,
			&created); err != nil {
			return nil, translate(fmt.Errorf("scan ledger entry: %w", err))
		}
		e.OrderID, e.CreatedAt = oid.Int64, time.UnixMilli(created)
		out = append(out, e)
	}
	return out, translate(rows.Err())
}

const dayMS = 24 * 60 * 60 * 1000

// SalesByDay implements faka.ShopStore. Days are counted in whole 24-hour
// steps from `from` with integer division, which PostgreSQL can do the
// same way on epoch milliseconds.
func (s *Store) SalesByDay(ctx context.Context, from time.Time, days int) ([]faka.SalesDay, error) {
	if days <= 0 || days > 366 {
		return nil, faka.Errorf(faka.EInvalid, "days must be between 1 and 366")
	}
	start := from.UnixMilli()
	end := start + int64(days)*dayMS
	type key struct {
		day      int64
		currency string
	}
	byKey := map[key]*faka.SalesDay{}
	var order []key
	get := func(k key) *faka.SalesDay {
		d := byKey[k]
		if d == nil {
			d = &faka.SalesDay{Start: time.UnixMilli(start + k.day*dayMS), Currency: k.currency}
			byKey[k] = d
			order = append(order, k)
		}
		return d
	}
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT (created_at - ?) / ? AS d, currency, COUNT(*),
			SUM(CASE WHEN paid_at IS NOT NULL THEN 1 ELSE 0 END)
			FROM orders WHERE created_at >= ? AND created_at < ? GROUP BY d, currency`, start, dayMS, start, end)
		if err != nil {
			return fmt.Errorf("orders created by day: %w", err)
		}
		for rows.Next() {
			var k key
			var created, paid int64
			if err := rows.Scan(&k.day, &k.currency, &created, &paid); err != nil {
				rows.Close()
				return fmt.Errorf("scan: %w", err)
			}
			d := get(k)
			d.Created, d.CreatedPaid = created, paid
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.QueryContext(ctx, `SELECT (paid_at - ?) / ? AS d, currency, COUNT(*),
			SUM(CASE WHEN status = 'refunded' THEN 0 ELSE amount END)
			FROM orders WHERE paid_at >= ? AND paid_at < ? GROUP BY d, currency`, start, dayMS, start, end)
		if err != nil {
			return fmt.Errorf("orders paid by day: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var k key
			var paid, revenue int64
			if err := rows.Scan(&k.day, &k.currency, &paid, &revenue); err != nil {
				return fmt.Errorf("scan: %w", err)
			}
			d := get(k)
			d.Paid, d.Revenue = paid, revenue
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	out := make([]faka.SalesDay, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	sortSalesDays(out)
	return out, nil
}

func sortSalesDays(ds []faka.SalesDay) {
	slices.SortFunc(ds, func(a, b faka.SalesDay) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.Currency, b.Currency)
	})
}
