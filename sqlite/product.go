package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/faka-dev/faka"
)

const productColumns = `id, name, description, price, currency, delivery, reservation_ttl_ms,
	min_quantity, max_quantity, active, created_at`

type scanner interface{ Scan(dest ...any) error }

func scanProduct(row scanner) (*faka.Product, error) {
	var p faka.Product
	var ttl, created int64
	var active int
	if err := row.Scan(&p.ID, &p.Name, &p.Description, &p.Price, &p.Currency, &p.Delivery, &ttl,
		&p.MinQuantity, &p.MaxQuantity, &active, &created); err != nil {
		return nil, err
	}
	p.ReservationTTL = time.Duration(ttl) * time.Millisecond
	p.Active = active != 0
	p.CreatedAt = time.UnixMilli(created)
	return &p, nil
}

// ProductCreate implements faka.Store.
func (s *Store) ProductCreate(ctx context.Context, p *faka.Product, reusable *faka.SealedKey, stock int64, shop *faka.ProductShop) error {
	if shop != nil {
		if err := shop.Validate(); err != nil {
			return err
		}
	}
	var hash, ct []byte
	if reusable != nil {
		hash, ct = reusable.Hash, reusable.Ciphertext
	}
	return s.inTx(ctx, func(stx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see Store.Tx
		now := s.nowMS()
		res, err := stx.ExecContext(ctx, `INSERT INTO products (name, description, price, currency, delivery,
			reservation_ttl_ms, min_quantity, max_quantity, active, reusable_hash, reusable_ciphertext,
			stock_available, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			p.Name, p.Description, p.Price, p.Currency, string(p.Delivery), p.ReservationTTL.Milliseconds(),
			p.MinQuantity, p.MaxQuantity, boolInt(p.Active), hash, ct, stock, now)
		if err != nil {
			return fmt.Errorf("insert product: %w", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("product id: %w", err)
		}
		if stock > 0 {
			t := &tx{s: s, tx: stx, now: now}
			if err := t.AppendLedger(ctx, []faka.LedgerEntry{{ProductID: id, Event: faka.LedgerImport,
				Available: stock}}); err != nil {
				return err
			}
		}
		p.ID = id
		p.CreatedAt = time.UnixMilli(now)
		if shop != nil {
			shop.ProductID = id
			return setProductShop(ctx, stx, *shop)
		}
		return nil
	})
}

// ProductGet implements faka.Store.
func (s *Store) ProductGet(ctx context.Context, id int64) (*faka.Product, error) {
	p, err := scanProduct(s.rqueryRow(ctx, nil, qProductByID, id))
	if err != nil {
		return nil, translate(fmt.Errorf("product %d: %w", id, err))
	}
	return p, nil
}

// ProductList implements faka.Store.
func (s *Store) ProductList(ctx context.Context, activeOnly bool) ([]*faka.Product, error) {
	q := `SELECT ` + productColumns + ` FROM products`
	if activeOnly {
		q += ` WHERE active = 1`
	}
	rows, err := s.read.QueryContext(ctx, q+` ORDER BY id`)
	if err != nil {
		return nil, translate(fmt.Errorf("list products: %w", err))
	}
	defer rows.Close()
	var out []*faka.Product
	for rows.Next() {
		p, err := scanProduct(rows)
		if err != nil {
			return nil, translate(fmt.Errorf("scan product: %w", err))
		}
		out = append(out, p)
	}
	return out, translate(rows.Err())
}

// ProductUpdate implements faka.Store.
func (s *Store) ProductUpdate(ctx context.Context, p *faka.Product) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see Store.Tx
		res, err := tx.ExecContext(ctx, `UPDATE products SET name = ?, description = ?, price = ?,
			reservation_ttl_ms = ?, min_quantity = ?, max_quantity = ?, active = ? WHERE id = ?`,
			p.Name, p.Description, p.Price, p.ReservationTTL.Milliseconds(), p.MinQuantity, p.MaxQuantity,
			boolInt(p.Active), p.ID)
		if err != nil {
			return fmt.Errorf("update product %d: %w", p.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return faka.Errorf(faka.ENotFound, "product %d not found", p.ID)
		}
		return nil
	})
}

// stockQuery returns every product's live stock: card products from their
// key rows, counted products from their columns. Imported is the sum.
const stockQuery = `
SELECT p.id,
	CASE WHEN p.delivery = 'card' THEN COALESCE(k.a, 0) ELSE p.stock_available END,
	CASE WHEN p.delivery = 'card' THEN COALESCE(k.r, 0) ELSE p.stock_reserved END,
	CASE WHEN p.delivery = 'card' THEN COALESCE(k.s, 0) ELSE p.stock_sold END,
	CASE WHEN p.delivery = 'card' THEN COALESCE(k.v, 0) ELSE p.stock_void END
FROM products p LEFT JOIN (
	SELECT product_id,
		SUM(state = 0) AS a, SUM(state = 1) AS r, SUM(state = 2) AS s, SUM(state = 3) AS v
	FROM card_keys GROUP BY product_id
) k ON k.product_id = p.id`

func scanStocks(rows *sql.Rows) ([]faka.Stock, error) {
	defer rows.Close()
	var out []faka.Stock
	for rows.Next() {
		var st faka.Stock
		if err := rows.Scan(&st.ProductID, &st.Available, &st.Reserved, &st.Sold, &st.Void); err != nil {
			return nil, fmt.Errorf("scan stock: %w", err)
		}
		st.Imported = st.Available + st.Reserved + st.Sold + st.Void
		out = append(out, st)
	}
	return out, rows.Err()
}

// StockList implements faka.Store. It reads each card product's figures
// as StockGet does, through indexes, rather than grouping every key row
// (stockQuery, which reconciliation keeps for its exact full count): with
// a million keys that took seconds, on every product listing and scrape.
func (s *Store) StockList(ctx context.Context) ([]faka.Stock, error) {
	rows, err := s.read.QueryContext(ctx, qStockProducts)
	if err != nil {
		return nil, translate(fmt.Errorf("stock: %w", err))
	}
	var out []faka.Stock
	var card []int // indexes into out of the card products
	for rows.Next() {
		var st faka.Stock
		var d faka.Delivery
		if err := rows.Scan(&st.ProductID, &d, &st.Available, &st.Reserved, &st.Sold, &st.Void); err != nil {
			rows.Close()
			return nil, translate(fmt.Errorf("scan stock: %w", err))
		}
		if d == faka.DeliveryCard {
			card = append(card, len(out))
		}
		out = append(out, st)
	}
	if err := rows.Close(); err != nil {
		return nil, translate(fmt.Errorf("stock: %w", err))
	}
	if err := rows.Err(); err != nil {
		return nil, translate(fmt.Errorf("stock: %w", err))
	}
	for _, i := range card {
		if err := s.cardStock(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	for i := range out {
		out[i].Imported = out[i].Available + out[i].Reserved + out[i].Sold + out[i].Void
	}
	return out, nil
}

const (
	qProductByID  = `SELECT ` + productColumns + ` FROM products WHERE id = ?`
	qStockProduct = `SELECT delivery, stock_available, stock_reserved, stock_sold, stock_void
		FROM products WHERE id = ?`
	qStockProducts = `SELECT id, delivery, stock_available, stock_reserved, stock_sold, stock_void
		FROM products ORDER BY id`
	// qStockKeys counts one product's keys without reading its key rows:
	// available and all through the partial and unique indexes, reserved
	// and sold through the product's orders (a reserved or sold key always
	// has its order); void is the rest.
	qStockKeys = `SELECT
		(SELECT count(*) FROM card_keys WHERE product_id = ?1 AND state = 0),
		(SELECT count(*) FROM card_keys WHERE product_id = ?1),
		COALESCE(SUM(k.state = 1), 0), COALESCE(SUM(k.state = 2), 0)
		FROM orders o JOIN card_keys k ON k.order_id = o.id WHERE o.product_id = ?1`
)

// StockGet implements faka.Store. The card branch counts one product's
// keys through the partial and order indexes rather than the whole table.
func (s *Store) StockGet(ctx context.Context, productID int64) (faka.Stock, error) {
	var d faka.Delivery
	row := s.rqueryRow(ctx, nil, qStockProduct, productID)
	st := faka.Stock{ProductID: productID}
	if err := row.Scan(&d, &st.Available, &st.Reserved, &st.Sold, &st.Void); err != nil {
		return st, translate(fmt.Errorf("stock of product %d: %w", productID, err))
	}
	if d == faka.DeliveryCard {
		if err := s.cardStock(ctx, &st); err != nil {
			return st, err
		}
	}
	st.Imported = st.Available + st.Reserved + st.Sold + st.Void
	return st, nil
}

// cardStock fills st with its card product's key figures.
func (s *Store) cardStock(ctx context.Context, st *faka.Stock) error {
	var all int64
	err := s.rqueryRow(ctx, nil, qStockKeys, st.ProductID).Scan(&st.Available, &all, &st.Reserved, &st.Sold)
	if err != nil {
		return translate(fmt.Errorf("stock of product %d: %w", st.ProductID, err))
	}
	st.Void = all - st.Available - st.Reserved - st.Sold
	return nil
}
