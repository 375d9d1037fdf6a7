package engine

import (
	"context"
	"fmt"

	"github.com/faka-dev/faka"
)

// ProductView is a product with its live available stock.
type ProductView struct {
	*faka.Product
	Available int64
}

// CreateProduct validates and stores a product. stock is the initial number
// of units of a reusable or manual product (card products import keys);
// shop, when not nil, is its presentation in the shop, stored in the same
// transaction.
func (e *Engine) CreateProduct(ctx context.Context, p *faka.Product, stock int64, shop *faka.ProductShop) error {
	p.Normalize()
	if err := p.ValidateNew(); err != nil {
		return err
	}
	if err := faka.CheckInitialStock(p.Delivery, stock); err != nil {
		return err
	}
	var sealed *faka.SealedKey
	if p.Delivery == faka.DeliveryReusable {
		sk := e.kr.SealReusable(p.ReusableKey)
		sealed = &sk
	}
	if err := e.store.ProductCreate(ctx, p, sealed, stock, shop); err != nil {
		return fmt.Errorf("create product: %w", err)
	}
	cp := *p
	cp.ReusableKey = ""
	e.mu.Lock()
	e.products[p.ID] = &cp
	e.mu.Unlock()
	return nil
}

// UpdateProduct saves a product's editable fields (name, description,
// price, TTL, quantity limits, active). Delivery and currency stay.
func (e *Engine) UpdateProduct(ctx context.Context, p *faka.Product) error {
	old, err := e.store.ProductGet(ctx, p.ID)
	if err != nil {
		return fmt.Errorf("update product: %w", err)
	}
	p.Delivery, p.Currency, p.CreatedAt = old.Delivery, old.Currency, old.CreatedAt
	p.ReusableKey = "" // the stored key stays
	p.Normalize()
	if err := p.Validate(); err != nil {
		return err
	}
	if err := e.store.ProductUpdate(ctx, p); err != nil {
		return fmt.Errorf("update product: %w", err)
	}
	cp := *p
	e.mu.Lock()
	e.products[p.ID] = &cp
	e.mu.Unlock()
	return nil
}

// Product returns a product, from the cache when it is there.
func (e *Engine) Product(ctx context.Context, id int64) (*faka.Product, error) {
	e.mu.Lock()
	p := e.products[id]
	e.mu.Unlock()
	if p != nil {
		cp := *p
		return &cp, nil
	}
	p, err := e.store.ProductGet(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("product %d: %w", id, err)
	}
	e.mu.Lock()
	e.products[id] = p
	e.mu.Unlock()
	cp := *p
	return &cp, nil
}

// Products lists products with their available stock from the database.
func (e *Engine) Products(ctx context.Context, activeOnly bool) ([]ProductView, error) {
	ps, err := e.store.ProductList(ctx, activeOnly)
	if err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	stock, err := e.store.StockList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list stock: %w", err)
	}
	avail := make(map[int64]int64, len(stock))
	for _, s := range stock {
		avail[s.ProductID] = s.Available
	}
	out := make([]ProductView, len(ps))
	for i, p := range ps {
		out[i] = ProductView{Product: p, Available: avail[p.ID]}
	}
	return out, nil
}

// AddStock adds units to a reusable or manual product.
func (e *Engine) AddStock(ctx context.Context, productID int64, n int64) (faka.ImportResult, error) {
	res, err := e.rules.StockAdd(ctx, productID, n)
	if err != nil {
		return res, fmt.Errorf("add stock: %w", err)
	}
	e.lane(productID).add(int64(res.Imported) - res.FulfilledUnits)
	return res, nil
}
