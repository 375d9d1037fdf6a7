package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-pay/gopay"
	"github.com/go-pay/gopay/wechat/v3"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
)

// Trade states of a query reply other than SUCCESS. REFUND is a trade
// paid and then refunded (from the merchant platform): no goods for it.
var unpaidStates = map[string]bool{
	"NOTPAY":     true,
	"USERPAYING": true,
	"CLOSED":     true,
	"REVOKED":    true,
	"PAYERROR":   true,
	"REFUND":     true,
}

// Error codes of the API replies (WeChat's documentation spells some in
// two ways over its versions).
var (
	notExist      = map[string]bool{"ORDER_NOT_EXIST": true, "ORDERNOTEXIST": true}
	closedAlready = map[string]bool{"ORDER_CLOSED": true, "ORDERCLOSED": true}
	paidAlready   = map[string]bool{"ORDERPAID": true, "ORDER_PAID": true}
)

// native creates the Native trade of order o and returns its code_url.
// The trade expires when the reservation does.
func (g *Gateway) native(ctx context.Context, o *faka.Order) (string, error) {
	bm := make(gopay.BodyMap)
	bm.Set("appid", g.appID).
		Set("mchid", g.mchID).
		Set("description", "Order "+o.OrderNo).
		Set("out_trade_no", o.OrderNo).
		Set("notify_url", g.publicURL+"/pay/"+Name+"/notify").
		SetBodyMap("amount", func(b gopay.BodyMap) {
			b.Set("total", o.Amount).Set("currency", Currency)
		})
	if !o.ReservedUntil.IsZero() {
		bm.Set("time_expire", o.ReservedUntil.In(shanghai).Format(time.RFC3339))
	}
	rsp, err := g.api.V3TransactionNative(ctx, bm)
	if err != nil {
		return "", unavailable(ctx, "create the trade of order", o.OrderNo, err)
	}
	if rsp.Code != wechat.Success {
		if paidAlready[rsp.ErrResponse.Code] {
			return "", faka.Errorf(faka.EConflict, "Order %s has been paid through WeChat Pay; it shows as paid once the payment is confirmed.", o.OrderNo)
		}
		return "", apiError("create the trade of order", o.OrderNo, rsp.Code, rsp.ErrResponse)
	}
	if err := g.verifyReply(rsp.SignInfo, "create the trade of order", o.OrderNo); err != nil {
		return "", err
	}
	code := ""
	if rsp.Response != nil {
		code = rsp.Response.CodeUrl
	}
	if !payment.Printable(code, 1024) {
		return "", faka.Errorf(faka.EUnavailable, "wechat: create the trade of order %s: the reply has no usable code_url", o.OrderNo)
	}
	return code, nil
}

// Query asks WeChat Pay about order orderNo (by out_trade_no). A paid
// trade is checked like a notification; a trade WeChat Pay does not know,
// or has not been paid (NOTPAY, USERPAYING, CLOSED, REVOKED, PAYERROR,
// REFUND), is not paid; a reply that does not verify, or that cannot be
// read, is an EUnavailable error.
func (g *Gateway) Query(ctx context.Context, orderNo string) (faka.Notification, bool, error) {
	const op = "query order"
	if !ValidOrderNo(orderNo) {
		return faka.Notification{}, false, faka.Errorf(faka.EInvalid, "order number %q cannot be a WeChat Pay out_trade_no", orderNo)
	}
	rsp, err := g.api.V3TransactionQueryOrder(ctx, wechat.OutTradeNo, orderNo)
	if err != nil {
		return faka.Notification{}, false, unavailable(ctx, op, orderNo, err)
	}
	if rsp.Code != wechat.Success {
		if notExist[rsp.ErrResponse.Code] {
			return faka.Notification{}, false, nil
		}
		return faka.Notification{}, false, apiError(op, orderNo, rsp.Code, rsp.ErrResponse)
	}
	if err := g.verifyReply(rsp.SignInfo, op, orderNo); err != nil {
		return faka.Notification{}, false, err
	}
	// What was signed, read again strictly (gopay's struct has no way to
	// tell a missing amount from zero).
	var t transaction
	if err := json.Unmarshal([]byte(rsp.SignInfo.SignBody), &t); err != nil {
		return faka.Notification{}, false, faka.Errorf(faka.EUnavailable, "wechat: %s %s: malformed reply", op, orderNo)
	}
	switch {
	case t.OutTradeNo != orderNo:
		return faka.Notification{}, false, faka.Errorf(faka.EUnavailable, "wechat: %s %s: the reply is about order %.40q", op, orderNo, t.OutTradeNo)
	case t.TradeState == TradeSuccess:
		n, err := g.notification(&t)
		if err != nil {
			return faka.Notification{}, false, fmt.Errorf("wechat: %s %s: %w", op, orderNo, err)
		}
		return n, true, nil
	case unpaidStates[t.TradeState]:
		if err := g.ours(&t); err != nil {
			return faka.Notification{}, false, fmt.Errorf("wechat: %s %s: %w", op, orderNo, err)
		}
		return faka.Notification{}, false, nil
	}
	return faka.Notification{}, false, faka.Errorf(faka.EUnavailable, "wechat: %s %s: unknown trade_state %.40q", op, orderNo, t.TradeState)
}

// CloseTrade closes order orderNo's trade so that it can no longer be
// paid. A trade already closed, or that WeChat Pay does not know, is
// not an error; a paid one is EConflict.
//
// A close WeChat Pay accepts (204) is not taken on trust: a payment
// completing while the close is processed may be answered 204 all the
// same. So the trade is queried once more, and an EConflict error is
// returned if it is paid, for the poller to apply as a late payment; a
// query that fails is returned as its error, so that the poller checks
// again.
func (g *Gateway) CloseTrade(ctx context.Context, orderNo string) error {
	const op = "close the trade of order"
	if !ValidOrderNo(orderNo) {
		return faka.Errorf(faka.EInvalid, "order number %q cannot be a WeChat Pay out_trade_no", orderNo)
	}
	rsp, err := g.api.V3TransactionCloseOrder(ctx, orderNo)
	if err != nil {
		return unavailable(ctx, op, orderNo, err)
	}
	switch code := rsp.ErrResponse.Code; {
	case rsp.Code == wechat.Success:
		if err := g.verifyReply(rsp.SignInfo, op, orderNo); err != nil {
			return err
		}
		n, paid, err := g.Query(ctx, orderNo)
		switch {
		case err != nil:
			return fmt.Errorf("wechat: %s %s: closed, but the query after it failed: %w", op, orderNo, err)
		case paid:
			return faka.Errorf(faka.EConflict, "wechat: %s %s: closed, yet the trade has been paid (transaction %s)", op, orderNo, n.TradeNo)
		}
		return nil
	case closedAlready[code] || notExist[code]:
		return nil
	case paidAlready[code]:
		return faka.Errorf(faka.EConflict, "wechat: %s %s: the trade has been paid", op, orderNo)
	}
	return apiError(op, orderNo, rsp.Code, rsp.ErrResponse)
}

// verifyReply checks the signature of a successful API reply, as of a
// notification but for the timestamp: the TLS connection vouches for
// freshness, and a reply about the right order replayed says nothing
// false.
func (g *Gateway) verifyReply(si *wechat.SignInfo, op, orderNo string) error {
	if si == nil {
		return faka.Errorf(faka.EUnavailable, "wechat: %s %s: the reply is not signed", op, orderNo)
	}
	_, err := verifySignature(g.pubKey, g.pubKeyID, si.HeaderSerial, si.HeaderTimestamp, si.HeaderNonce, si.HeaderSignature, []byte(si.SignBody))
	if err != nil {
		return &faka.Error{Code: faka.EUnavailable, Message: fmt.Sprintf("wechat: %s %s: the reply does not verify", op, orderNo), Err: err}
	}
	return nil
}

// apiError states a reply that refused the request. WeChat's message is
// kept short: it is shown to buyers on the QR page.
func apiError(op, orderNo string, status int, e wechat.ErrResponse) error {
	code, msg := e.Code, e.Message
	if code == "" {
		code = "no error code"
	}
	if len(msg) > 160 {
		msg = strings.ToValidUTF8(msg[:160], "") + "…"
	}
	return faka.Errorf(faka.EUnavailable, "wechat: %s %s: WeChat Pay answered HTTP %d %.40s: %s", op, orderNo, status, code, msg)
}

// unavailable states a call that got no reply, or one gopay could not
// read. The message says only what failed; the cause (no secrets in it:
// gopay's errors name the URL, which holds mchid and the order number, or
// quote the reply) is kept for the logs.
func unavailable(ctx context.Context, op, orderNo string, err error) error {
	if ctx.Err() != nil {
		return &faka.Error{Code: faka.EUnavailable, Message: fmt.Sprintf("wechat: %s %s: cancelled", op, orderNo), Err: ctx.Err()}
	}
	if errors.Is(err, gopay.UnmarshalErr) {
		return &faka.Error{Code: faka.EUnavailable, Message: fmt.Sprintf("wechat: %s %s: malformed reply", op, orderNo), Err: err}
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // without the URL
	}
	return &faka.Error{Code: faka.EUnavailable, Message: fmt.Sprintf("wechat: %s %s: WeChat Pay did not answer", op, orderNo), Err: err}
}
