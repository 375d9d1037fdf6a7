package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faka-dev/faka"
)

// The storefront's and the console's data (faka.ShopStore). None of these
// methods changes an order or a key. Times come from now(), the database
// clock that judges expiry everywhere else in this store.

var _ faka.ShopStore = (*Store)(nil)

// CategoryCreate implements faka.ShopStore.
func (s *Store) CategoryCreate(ctx context.Context, c *faka.Category) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO categories (name, sort_order) VALUES ($1, $2) RETURNING id, created_at`,
			c.Name, c.Sort).Scan(&c.ID, &c.CreatedAt)
		if err != nil {
			return fmt.Errorf("insert category: %w", err)
		}
		return nil
	})
}

// CategoryUpdate implements faka.ShopStore.
func (s *Store) CategoryUpdate(ctx context.Context, c *faka.Category) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE categories SET name = $1, sort_order = $2 WHERE id = $3`, c.Name, c.Sort, c.ID)
		if err != nil {
			return fmt.Errorf("update category %d: %w", c.ID, err)
		}
		if tag.RowsAffected() == 0 {
			return faka.Errorf(faka.ENotFound, "category %d not found", c.ID)
		}
		return nil
	})
}

// CategoryDelete implements faka.ShopStore. Unlike SQLite, PostgreSQL
// always enforces foreign keys, so ON DELETE SET NULL alone detaches the
// products, in the same statement.
func (s *Store) CategoryDelete(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM categories WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("delete category %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return faka.Errorf(faka.ENotFound, "category %d not found", id)
		}
		return nil
	})
}

// CategoryList implements faka.ShopStore.
func (s *Store) CategoryList(ctx context.Context) ([]*faka.Category, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, sort_order, created_at FROM categories ORDER BY sort_order, id`)
	if err != nil {
		return nil, translate(fmt.Errorf("list categories: %w", err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*faka.Category, error) {
		var c faka.Category
		err := r.Scan(&c.ID, &c.Name, &c.Sort, &c.CreatedAt)
		return &c, err
	})
	if err != nil {
		return nil, translate(fmt.Errorf("scan category: %w", err))
	}
	return out, nil
}

// ProductShopList implements faka.ShopStore.
func (s *Store) ProductShopList(ctx context.Context) ([]faka.ProductShop, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, COALESCE(category_id, 0), stock_display, low_stock FROM products ORDER BY id`)
	if err != nil {
		return nil, translate(fmt.Errorf("list product presentation: %w", err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (faka.ProductShop, error) {
		var ps faka.ProductShop
		err := r.Scan(&ps.ProductID, &ps.CategoryID, &ps.StockDisplay, &ps.LowStock)
		return ps, err
	})
	if err != nil {
		return nil, translate(fmt.Errorf("scan product presentation: %w", err))
	}
	return out, nil
}

// ProductShopSet implements faka.ShopStore. The category is checked with
// FOR KEY SHARE, the lock the foreign key would take anyway: a concurrent
// CategoryDelete either finishes first, and the category is unknown
// (EInvalid), or waits for this transaction and then detaches the product.
func (s *Store) ProductShopSet(ctx context.Context, ps faka.ProductShop) error {
	if err := ps.Validate(); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error { return setProductShop(ctx, tx, ps) })
}

// setProductShop saves a product's presentation inside a transaction.
func setProductShop(ctx context.Context, tx pgx.Tx, ps faka.ProductShop) error {
	if ps.CategoryID != 0 {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM categories WHERE id = $1 FOR KEY SHARE`, ps.CategoryID).Scan(&one)
		if err == pgx.ErrNoRows {
			return faka.Errorf(faka.EInvalid, "category %d does not exist", ps.CategoryID)
		}
		if err != nil {
			return fmt.Errorf("check category %d: %w", ps.CategoryID, err)
		}
	}
	tag, err := tx.Exec(ctx, `UPDATE products SET category_id = $1, stock_display = $2, low_stock = $3 WHERE id = $4`,
		nullID(ps.CategoryID), string(ps.StockDisplay), ps.LowStock, ps.ProductID)
	if err != nil {
		return fmt.Errorf("update product %d presentation: %w", ps.ProductID, err)
	}
	if tag.RowsAffected() == 0 {
		return faka.Errorf(faka.ENotFound, "product %d not found", ps.ProductID)
	}
	return nil
}

// LookupTokenAdd implements faka.ShopStore.
func (s *Store) LookupTokenAdd(ctx context.Context, tokenHash []byte, orderID int64, expires time.Time) error {
	if len(tokenHash) == 0 {
		return faka.Errorf(faka.EInvalid, "empty lookup token")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO lookup_tokens (token_hash, order_id, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (token_hash, order_id) DO UPDATE SET expires_at = excluded.expires_at`,
			tokenHash, orderID, expires)
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
	rows, err := s.pool.Query(ctx, `SELECT `+orderColumns+orderFrom+`
		JOIN lookup_tokens l ON l.order_id = o.id
		WHERE l.token_hash = $1 AND l.expires_at > now() ORDER BY o.id DESC LIMIT $2`, tokenHash, limit)
	if err != nil {
		return nil, translate(fmt.Errorf("remembered orders: %w", err))
	}
	return collectOrders(rows)
}

// LookupTokensPurge implements faka.ShopStore.
func (s *Store) LookupTokensPurge(ctx context.Context) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM lookup_tokens WHERE expires_at <= now()`)
		if err != nil {
			return fmt.Errorf("purge lookup tokens: %w", err)
		}
		n = tag.RowsAffected()
		return nil
	})
	return n, err
}

func collectOrders(rows pgx.Rows) ([]*faka.Order, error) {
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*faka.Order, error) { return scanOrder(r) })
	if err != nil {
		return nil, translate(fmt.Errorf("scan order: %w", err))
	}
	return out, nil
}

const keyInfoColumns = `k.id, k.product_id, k.state, k.order_id, o.order_no, k.created_at`

const keyInfoFrom = ` FROM card_keys k LEFT JOIN orders o ON o.id = k.order_id `

func scanKeyInfo(row pgx.Row, extra ...any) (faka.KeyInfo, error) {
	var k faka.KeyInfo
	var orderID *int64
	var orderNo *string
	dest := append([]any{&k.ID, &k.ProductID, &k.State, &orderID, &orderNo, &k.CreatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return k, err
	}
	if orderID != nil {
		k.OrderID = *orderID
	}
	if orderNo != nil {
		k.OrderNo = *orderNo
	}
	return k, nil
}

// KeyList implements faka.ShopStore.
func (s *Store) KeyList(ctx context.Context, f faka.KeyFilter) ([]faka.KeyInfo, error) {
	var w where
	if f.ProductID != 0 {
		w.add(`k.product_id = $%d`, f.ProductID)
	}
	if f.OrderID != 0 {
		w.add(`k.order_id = $%d`, f.OrderID)
	}
	if len(f.States) > 0 {
		states := make([]int16, len(f.States))
		for i, st := range f.States {
			states[i] = int16(st)
		}
		w.add(`k.state = ANY($%d::smallint[])`, states)
	}
	if f.BeforeID > 0 {
		w.add(`k.id < $%d`, f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := s.pool.Query(ctx, `SELECT `+keyInfoColumns+keyInfoFrom+w.sql()+
		fmt.Sprintf(` ORDER BY k.id DESC LIMIT $%d`, w.next()), append(w.args, limit)...)
	if err != nil {
		return nil, translate(fmt.Errorf("list keys: %w", err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (faka.KeyInfo, error) { return scanKeyInfo(r) })
	if err != nil {
		return nil, translate(fmt.Errorf("scan key: %w", err))
	}
	return out, nil
}

// KeySealed implements faka.ShopStore.
func (s *Store) KeySealed(ctx context.Context, keyID int64) (faka.KeyInfo, faka.SealedKey, error) {
	var sk faka.SealedKey
	k, err := scanKeyInfo(s.pool.QueryRow(ctx, `SELECT `+keyInfoColumns+`, k.hash, k.ciphertext`+keyInfoFrom+
		`WHERE k.id = $1`, keyID), &sk.Hash, &sk.Ciphertext)
	if err != nil {
		return k, sk, translate(fmt.Errorf("key %d: %w", keyID, err))
	}
	return k, sk, nil
}

// KeysAvailableSealed implements faka.ShopStore.
func (s *Store) KeysAvailableSealed(ctx context.Context, productID int64) ([]faka.SealedKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT hash, ciphertext FROM card_keys
		WHERE product_id = $1 AND state = 0 ORDER BY id`, productID)
	if err != nil {
		return nil, translate(fmt.Errorf("available keys of product %d: %w", productID, err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (faka.SealedKey, error) {
		var sk faka.SealedKey
		err := r.Scan(&sk.Hash, &sk.Ciphertext)
		return sk, err
	})
	if err != nil {
		return nil, translate(fmt.Errorf("scan key: %w", err))
	}
	return out, nil
}

// KeyAuditAdd implements faka.ShopStore.
func (s *Store) KeyAuditAdd(ctx context.Context, a *faka.KeyAudit) error {
	if a.Action != faka.AuditReveal && a.Action != faka.AuditExport {
		return faka.Errorf(faka.EInvalid, "audit action must be reveal or export")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO key_audit (product_id, key_id, admin_id, action, keys_shown, ip)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, created_at`,
			a.ProductID, nullID(a.KeyID), nullID(a.AdminID), a.Action, a.Count, a.IP).Scan(&a.ID, &a.CreatedAt)
		if err != nil {
			return fmt.Errorf("append key audit: %w", err)
		}
		return nil
	})
}

// KeyAuditList implements faka.ShopStore.
func (s *Store) KeyAuditList(ctx context.Context, productID int64, limit int) ([]faka.KeyAudit, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	var w where
	if productID != 0 {
		w.add(`product_id = $%d`, productID)
	}
	rows, err := s.pool.Query(ctx, `SELECT id, product_id, COALESCE(key_id, 0), COALESCE(admin_id, 0), action,
		keys_shown, ip, created_at FROM key_audit`+w.sql()+fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, w.next()),
		append(w.args, limit)...)
	if err != nil {
		return nil, translate(fmt.Errorf("list key audit: %w", err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (faka.KeyAudit, error) {
		var a faka.KeyAudit
		err := r.Scan(&a.ID, &a.ProductID, &a.KeyID, &a.AdminID, &a.Action, &a.Count, &a.IP, &a.CreatedAt)
		return a, err
	})
	if err != nil {
		return nil, translate(fmt.Errorf("scan key audit: %w", err))
	}
	return out, nil
}

// nullID is NULL for the ID 0, which means "none" in faka's types.
func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// where builds a WHERE clause of numbered parameters.
type where struct {
	conds []string
	args  []any
}

// add appends a condition whose one %d is the number of arg's parameter.
func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, fmt.Sprintf(cond, len(w.args)))
}

// next returns the number of the next parameter.
func (w *where) next() int { return len(w.args) + 1 }

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return ` WHERE ` + strings.Join(w.conds, ` AND `)
}

// likePrefix escapes s for a LIKE pattern that matches strings starting
// with it, as the SQLite store does.
func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s) + "%"
}

// OrderSearch implements faka.ShopStore.
func (s *Store) OrderSearch(ctx context.Context, q faka.OrderQuery) ([]*faka.Order, error) {
	var w where
	if no := strings.TrimSpace(q.OrderNo); no != "" {
		// ILIKE: SQLite's LIKE ignores the case of ASCII letters.
		w.add(`o.order_no ILIKE $%d ESCAPE '\'`, likePrefix(no))
	}
	if e := strings.TrimSpace(q.Email); e != "" {
		w.add(`lower(o.email) = lower($%d::text)`, e)
	}
	if q.Status != "" {
		w.add(`o.status = $%d`, string(q.Status))
	}
	if q.ProductID != 0 {
		w.add(`o.product_id = $%d`, q.ProductID)
	}
	if !q.From.IsZero() {
		w.add(`o.created_at >= $%d`, q.From)
	}
	if !q.To.IsZero() {
		w.add(`o.created_at < $%d`, q.To)
	}
	if q.BeforeID > 0 {
		w.add(`o.id < $%d`, q.BeforeID)
	}
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = 50
	case limit > 500:
		limit = 500
	}
	rows, err := s.pool.Query(ctx, `SELECT `+orderColumns+orderFrom+w.sql()+
		fmt.Sprintf(` ORDER BY o.id DESC LIMIT $%d`, w.next()), append(w.args, limit)...)
	if err != nil {
		return nil, translate(fmt.Errorf("search orders: %w", err))
	}
	return collectOrders(rows)
}

// LedgerByOrder implements faka.ShopStore.
func (s *Store) LedgerByOrder(ctx context.Context, orderID int64) ([]faka.LedgerEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, product_id, COALESCE(order_id, 0), event, d_available, d_reserved,
		d_sold, d_void, created_at FROM ledger WHERE order_id = $1 ORDER BY id`, orderID)
	if err != nil {
		return nil, translate(fmt.Errorf("ledger of order %d: %w", orderID, err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (faka.LedgerEntry, error) {
		var e faka.LedgerEntry
		err := r.Scan(&e.ID, &e.ProductID, &e.OrderID, &e.Event, &e.Available, &e.Reserved, &e.Sold, &e.Void,
			&e.CreatedAt)
		return e, err
	})
	if err != nil {
		return nil, translate(fmt.Errorf("scan ledger entry: %w", err))
	}
	return out, nil
}

const day = 24 * time.Hour

// SalesByDay implements faka.ShopStore. Days are whole 24-hour steps from
// `from`, numbered by flooring the epoch seconds since it (not date_trunc,
// which follows the session's time zone and its daylight saving). `from`
// is cut to the millisecond first: SQLite keeps Unix milliseconds, and
// with a millisecond boundary a microsecond timestamp falls in the same
// day as its millisecond in SQLite, so both stores count alike.
func (s *Store) SalesByDay(ctx context.Context, from time.Time, days int) ([]faka.SalesDay, error) {
	if days <= 0 || days > 366 {
		return nil, faka.Errorf(faka.EInvalid, "days must be between 1 and 366")
	}
	start := time.UnixMilli(from.UnixMilli())
	end := start.Add(time.Duration(days) * day)
	type key struct {
		day      int64
		currency string
	}
	byKey := map[key]*faka.SalesDay{}
	get := func(k key) *faka.SalesDay {
		d := byKey[k]
		if d == nil {
			d = &faka.SalesDay{Start: start.Add(time.Duration(k.day) * day), Currency: k.currency}
			byKey[k] = d
		}
		return d
	}
	err := s.inReadTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT floor(extract(epoch FROM created_at - $1::timestamptz) / 86400)::bigint AS d, currency,
			count(*), count(*) FILTER (WHERE paid_at IS NOT NULL)
			FROM orders WHERE created_at >= $1 AND created_at < $2 GROUP BY d, currency`, start, end)
		if err != nil {
			return fmt.Errorf("orders created by day: %w", err)
		}
		var k key
		var created, paid int64
		if _, err := pgx.ForEachRow(rows, []any{&k.day, &k.currency, &created, &paid}, func() error {
			d := get(k)
			d.Created, d.CreatedPaid = created, paid
			return nil
		}); err != nil {
			return fmt.Errorf("orders created by day: %w", err)
		}
		rows, err = tx.Query(ctx, `SELECT floor(extract(epoch FROM paid_at - $1::timestamptz) / 86400)::bigint AS d, currency,
			count(*), COALESCE(sum(amount) FILTER (WHERE status <> 'refunded'), 0)::bigint
			FROM orders WHERE paid_at >= $1 AND paid_at < $2 GROUP BY d, currency`, start, end)
		if err != nil {
			return fmt.Errorf("orders paid by day: %w", err)
		}
		var revenue int64
		if _, err := pgx.ForEachRow(rows, []any{&k.day, &k.currency, &paid, &revenue}, func() error {
			d := get(k)
			d.Paid, d.Revenue = paid, revenue
			return nil
		}); err != nil {
			return fmt.Errorf("orders paid by day: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]faka.SalesDay, 0, len(byKey))
	for _, d := range byKey {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b faka.SalesDay) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.Currency, b.Currency)
	})
	return out, nil
}
