package engine

import (
	"context"
	"fmt"

	"github.com/faka-dev/faka"
)

// What the merchant's console reads through the engine. Reading changes
// nothing, but key plaintext exists only where the keyring is.

// Stock returns the live stock of every product.
func (e *Engine) Stock(ctx context.Context) ([]faka.Stock, error) {
	st, err := e.store.StockList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list stock: %w", err)
	}
	return st, nil
}

// Payments returns the payments recorded for an order.
func (e *Engine) Payments(ctx context.Context, orderID int64) ([]*faka.Payment, error) {
	ps, err := e.store.PaymentsByOrder(ctx, orderID)
	if err != nil {
		return nil, fmt.Errorf("payments of order %d: %w", orderID, err)
	}
	return ps, nil
}

// OpenSealed decrypts a card key of a product for the merchant. Callers
// record each use in the key audit log.
func (e *Engine) OpenSealed(productID int64, sk faka.SealedKey) (string, error) {
	k, err := e.kr.OpenKey(productID, false, sk)
	if err != nil {
		return "", fmt.Errorf("decrypt a key of product %d: %w", productID, err)
	}
	return k, nil
}
