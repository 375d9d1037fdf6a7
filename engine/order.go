package engine

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/faka-dev/faka"
)

// ConfirmPayment applies a verified gateway notification exactly once. A
// repeat of the same (gateway, trade_no) returns the first outcome with
// Duplicate set. A wrong amount or currency, or an unknown order, changes
// nothing and is an error.
//
// Copies of one notification that arrive together (gateways retry, and
// some send a notification several times at once) share one trip to the
// store: the first runs, the others wait for it and answer as duplicates.
// The store would find the same: the trade applied, nothing to change.
func (e *Engine) ConfirmPayment(ctx context.Context, n faka.Notification) (*faka.ConfirmResult, error) {
	switch {
	case n.Gateway == "" || n.TradeNo == "" || n.OrderNo == "":
		return nil, faka.Errorf(faka.EInvalid, "a notification needs gateway, trade_no and order_no")
	case len(n.TradeNo) > faka.MaxTradeNoLength || len(n.OrderNo) > faka.MaxOrderNoLength:
		return nil, faka.Errorf(faka.EInvalid, "trade_no or order_no is too long")
	case n.Amount <= 0:
		return nil, faka.Errorf(faka.EInvalid, "amount must be positive")
	}
	// The first copy runs on a context its request cannot cancel, so that
	// a gateway that hangs up does not fail the copies waiting for it.
	key := n.Gateway + "\x00" + n.TradeNo
	ran := false
	v, err, _ := e.confirms.Do(key, func() (any, error) {
		ran = true
		return e.confirm(context.WithoutCancel(ctx), n)
	})
	switch {
	case ran:
		res, _ := v.(*faka.ConfirmResult)
		return res, err
	case err != nil:
		// The first copy failed, perhaps for reasons of its own: this one
		// tries by itself.
		return e.confirm(ctx, n)
	}
	return asDuplicate(v.(*faka.ConfirmResult)), nil
}

// asDuplicate returns a confirmation's outcome as another copy of the
// notification sees it: the trade applied before it, nothing changed by
// it. Each caller gets its own copies of the order and payment.
func asDuplicate(r *faka.ConfirmResult) *faka.ConfirmResult {
	out := faka.ConfirmResult{Duplicate: true}
	if r.Order != nil {
		o := *r.Order
		out.Order = &o
	}
	if r.Payment != nil {
		p := *r.Payment
		out.Payment = &p
	}
	return &out
}

// confirm applies a notification through the store.
func (e *Engine) confirm(ctx context.Context, n faka.Notification) (*faka.ConfirmResult, error) {
	res, err := e.rules.PaymentConfirm(ctx, n)
	if err != nil {
		return nil, fmt.Errorf("confirm payment %s/%s: %w", n.Gateway, n.TradeNo, err)
	}
	if res.Late && res.LateUnits > 0 {
		e.lane(res.Order.ProductID).add(-res.LateUnits)
	}
	return res, nil
}

// Order returns an order by number (for the merchant).
func (e *Engine) Order(ctx context.Context, orderNo string) (*faka.Order, error) {
	o, err := e.store.OrderGet(ctx, orderNo)
	if err != nil {
		return nil, fmt.Errorf("order %s: %w", orderNo, err)
	}
	return o, nil
}

// OrderForBuyer returns an order when token is its buyer token. An unknown
// order and a wrong token give the same ErrNotFound, so neither reveals
// that the other exists.
func (e *Engine) OrderForBuyer(ctx context.Context, orderNo, token string) (*faka.Order, error) {
	notFound := faka.Errorf(faka.ENotFound, "no order with that number and token")
	if orderNo == "" || token == "" || len(orderNo) > faka.MaxOrderNoLength || len(token) > faka.MaxTokenLength {
		return nil, notFound
	}
	o, err := e.store.OrderGet(ctx, orderNo)
	if faka.ErrorCode(err) == faka.ENotFound {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("order %s: %w", orderNo, err)
	}
	h := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(h[:], o.TokenHash) != 1 {
		return nil, notFound
	}
	return o, nil
}

// CheckQueryPassword reports whether pw is the order's lookup password.
func (e *Engine) CheckQueryPassword(o *faka.Order, pw string) bool {
	if len(o.QueryPasswordHash) == 0 || pw == "" {
		return false
	}
	return subtle.ConstantTimeCompare(e.queryPasswordHash(pw), o.QueryPasswordHash) == 1
}

// OrderKeys returns the plaintext goods of a delivered order: its card
// keys, a reusable product's key, or a manual order's delivery note. It
// returns nil for an order that is not delivered.
func (e *Engine) OrderKeys(ctx context.Context, o *faka.Order) ([]string, error) {
	if o.Status != faka.StatusDelivered {
		return nil, nil
	}
	if o.Delivery == faka.DeliveryManual {
		if o.DeliveryNote == "" {
			return nil, nil
		}
		return []string{o.DeliveryNote}, nil
	}
	sealed, err := e.store.OrderKeys(ctx, o.ID)
	if err != nil {
		return nil, fmt.Errorf("keys of order %s: %w", o.OrderNo, err)
	}
	out := make([]string, 0, len(sealed))
	for _, sk := range sealed {
		k, err := e.kr.OpenKey(o.ProductID, o.Delivery == faka.DeliveryReusable, sk)
		if err != nil {
			return nil, fmt.Errorf("decrypt a key of order %s: %w", o.OrderNo, err)
		}
		out = append(out, k)
	}
	return out, nil
}

// CancelOrder cancels a pending order and puts its stock back on sale.
func (e *Engine) CancelOrder(ctx context.Context, orderNo string) (*faka.Order, error) {
	o, rel, err := e.rules.OrderCancel(ctx, orderNo)
	if err != nil {
		return nil, fmt.Errorf("cancel order %s: %w", orderNo, err)
	}
	for _, r := range rel {
		e.lane(r.ProductID).add(r.Units)
	}
	return o, nil
}

// RefundOrder marks a paid order refunded; its keys are voided, never
// sold again. Returning the money is done at the gateway.
func (e *Engine) RefundOrder(ctx context.Context, orderNo string) (*faka.Order, error) {
	o, err := e.rules.OrderRefund(ctx, orderNo)
	if err != nil {
		return nil, fmt.Errorf("refund order %s: %w", orderNo, err)
	}
	e.log.Info("order refunded", "order_no", o.OrderNo)
	return o, nil
}

// DeliverManual fulfils a paid manual-delivery order with the merchant's
// note (what the buyer sees as their goods).
func (e *Engine) DeliverManual(ctx context.Context, orderNo, note string) (*faka.Order, error) {
	note = strings.TrimSpace(note)
	if note == "" {
		return nil, faka.Errorf(faka.EInvalid, "note is required: it is what the buyer receives")
	}
	if strings.ContainsRune(note, 0) || !utf8.ValidString(note) {
		return nil, faka.Errorf(faka.EInvalid, "note must be valid text")
	}
	if len(note) > faka.MaxDescriptionLength {
		return nil, faka.Errorf(faka.EInvalid, "note is longer than %d bytes", faka.MaxDescriptionLength)
	}
	o, err := e.rules.OrderDeliverManual(ctx, orderNo, note)
	if err != nil {
		return nil, fmt.Errorf("deliver order %s: %w", orderNo, err)
	}
	return o, nil
}
