package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faka-dev/faka"
)

const productColumns = `id, name, description, price, currency, delivery, reservation_ttl_ms,
	min_quantity, max_quantity, active, created_at`

func scanProduct(row pgx.Row) (*faka.Product, error) {
	var p faka.Product
	var ttl int64
	if err := row.Scan(&p.ID, &p.Name, &p.Description, &p.Price, &p.Currency, &p.Delivery, &ttl,
		&p.MinQuantity, &p.MaxQuantity, &p.Active, &p.CreatedAt); err != nil {
		return nil, err
	}
	p.ReservationTTL = time.Duration(ttl) * time.Millisecond
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
	return s.inTx(ctx, func(ptx pgx.Tx) error {
		err := ptx.QueryRow(ctx, `INSERT INTO products (name, description, price, currency, delivery,
			reservation_ttl_ms, min_quantity, max_quantity, active, reusable_hash, reusable_ciphertext, stock_available)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) RETURNING id, created_at`,
			p.Name, p.Description, p.Price, p.Currency, string(p.Delivery), p.ReservationTTL.Milliseconds(),
			p.MinQuantity, p.MaxQuantity, p.Active, hash, ct, stock).Scan(&p.ID, &p.CreatedAt)
		if err != nil {
			return fmt.Errorf("insert product: %w", err)
		}
		if stock > 0 {
			if err := (&tx{tx: ptx}).AppendLedger(ctx, []faka.LedgerEntry{{ProductID: p.ID, Event: faka.LedgerImport,
				Available: stock}}); err != nil {
				return err
			}
		}
		if shop != nil {
			shop.ProductID = p.ID
			return setProductShop(ctx, ptx, *shop)
		}
		return nil
	})
}

// ProductGet implements faka.Store.
func (s *Store) ProductGet(ctx context.Context, id int64) (*faka.Product, error) {
	p, err := scanProduct(s.pool.QueryRow(ctx, `SELECT `+productColumns+` FROM products WHERE id = $1`, id))
	if err != nil {
		return nil, translate(fmt.Errorf("product %d: %w", id, err))
	}
	return p, nil
}

// ProductList implements faka.Store.
func (s *Store) ProductList(ctx context.Context, activeOnly bool) ([]*faka.Product, error) {
	q := `SELECT ` + productColumns + ` FROM products`
	if activeOnly {
		q += ` WHERE active`
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY id`)
	if err != nil {
		return nil, translate(fmt.Errorf("list products: %w", err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*faka.Product, error) { return scanProduct(r) })
	return out, translate(err)
}

// ProductUpdate implements faka.Store.
func (s *Store) ProductUpdate(ctx context.Context, p *faka.Product) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE products SET name = $1, description = $2, price = $3,
			reservation_ttl_ms = $4, min_quantity = $5, max_quantity = $6, active = $7 WHERE id = $8`,
			p.Name, p.Description, p.Price, p.ReservationTTL.Milliseconds(), p.MinQuantity, p.MaxQuantity,
			p.Active, p.ID)
		if err != nil {
			return fmt.Errorf("update product %d: %w", p.ID, err)
		}
		if tag.RowsAffected() == 0 {
			return faka.Errorf(faka.ENotFound, "product %d not found", p.ID)
		}
		return nil
	})
}

// stockQuery returns every product's live stock: card products from their
// key rows, counted products from their columns.
const stockQuery = `
SELECT p.id,
	CASE WHEN p.delivery = 'card' THEN COALESCE(k.a, 0) ELSE p.stock_available END,
	CASE WHEN p.delivery = 'card' THEN COALESCE(k.r, 0) ELSE p.stock_reserved END,
	CASE WHEN p.delivery = 'card' THEN COALESCE(k.s, 0) ELSE p.stock_sold END,
	CASE WHEN p.delivery = 'card' THEN COALESCE(k.v, 0) ELSE p.stock_void END
FROM products p LEFT JOIN (
	SELECT product_id,
		count(*) FILTER (WHERE state = 0) AS a, count(*) FILTER (WHERE state = 1) AS r,
		count(*) FILTER (WHERE state = 2) AS s, count(*) FILTER (WHERE state = 3) AS v
	FROM card_keys GROUP BY product_id
) k ON k.product_id = p.id`

func scanStocks(rows pgx.Rows) ([]faka.Stock, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (faka.Stock, error) {
		var st faka.Stock
		err := r.Scan(&st.ProductID, &st.Available, &st.Reserved, &st.Sold, &st.Void)
		st.Imported = st.Available + st.Reserved + st.Sold + st.Void
		return st, err
	})
}

// StockList implements faka.Store.
func (s *Store) StockList(ctx context.Context) ([]faka.Stock, error) {
	rows, err := s.pool.Query(ctx, stockQuery+` ORDER BY p.id`)
	if err != nil {
		return nil, translate(fmt.Errorf("stock: %w", err))
	}
	out, err := scanStocks(rows)
	return out, translate(err)
}

// StockGet implements faka.Store.
func (s *Store) StockGet(ctx context.Context, productID int64) (faka.Stock, error) {
	st := faka.Stock{ProductID: productID}
	err := s.pool.QueryRow(ctx, `SELECT
		CASE WHEN p.delivery = 'card' THEN (SELECT count(*) FROM card_keys WHERE product_id = p.id AND state = 0) ELSE p.stock_available END,
		CASE WHEN p.delivery = 'card' THEN (SELECT count(*) FROM card_keys WHERE product_id = p.id AND state = 1) ELSE p.stock_reserved END,
		CASE WHEN p.delivery = 'card' THEN (SELECT count(*) FROM card_keys WHERE product_id = p.id AND state = 2) ELSE p.stock_sold END,
		CASE WHEN p.delivery = 'card' THEN (SELECT count(*) FROM card_keys WHERE product_id = p.id AND state = 3) ELSE p.stock_void END
		FROM products p WHERE p.id = $1`, productID).Scan(&st.Available, &st.Reserved, &st.Sold, &st.Void)
	if err != nil {
		return st, translate(fmt.Errorf("stock of product %d: %w", productID, err))
	}
	st.Imported = st.Available + st.Reserved + st.Sold + st.Void
	return st, nil
}
