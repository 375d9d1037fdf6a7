package alipay

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-pay/gopay"
	ali "github.com/go-pay/gopay/alipay"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
)

// Sub-codes of Alipay's business errors that the gateway acts on.
const (
	subTradeNotExist = "ACQ.TRADE_NOT_EXIST"
	subTradeHasPaid  = "ACQ.TRADE_HAS_SUCCESS"
	subTradeHasClose = "ACQ.TRADE_HAS_CLOSE"
)

// notWaiting are alipay.trade.close's sub-codes for a trade that is not
// waiting for payment any more: closed, or paid.
var notWaiting = map[string]bool{
	"ACQ.TRADE_STATUS_ERROR":          true,
	"ACQ.REASON_ILLEGAL_STATUS":       true,
	"ACQ.REASON_TRADE_STATUS_INVALID": true,
}

// redirector sends the requests gopay makes to Alipay's gateways to
// another URL instead (api_url, for tests): gopay names the gateways
// itself.
type redirector struct {
	to   *url.URL
	next http.RoundTripper
}

func (t redirector) RoundTrip(r *http.Request) (*http.Response, error) {
	switch r.URL.Host {
	case "openapi.alipay.com", "openapi-sandbox.dl.alipaydev.com":
		r = r.Clone(r.Context())
		u := *r.URL
		u.Scheme, u.Host, u.Path, u.RawPath = t.to.Scheme, t.to.Host, t.to.Path, t.to.RawPath
		r.URL, r.Host = &u, ""
	}
	return t.next.RoundTrip(r)
}

// redirected returns a copy of c whose requests to Alipay go to to.
func redirected(c *http.Client, to string) *http.Client {
	u, _ := url.Parse(to) // checked by absURL
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	cc := *c
	cc.Transport = redirector{to: u, next: next}
	return &cc
}

// clipped keeps an error's text short: gopay puts whole reply bodies into
// its errors.
type clipped struct{ err error }

func (c clipped) Error() string {
	s := c.err.Error()
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "…"
	}
	return s
}

func (c clipped) Unwrap() error { return c.err }

// apiError codes an error of a call to Alipay. Nothing of ours that is
// secret is in it: requests carry signatures, never the key, and a
// transport error names only the gateway URL.
func apiError(op string, err error) error {
	if be, ok := ali.IsBizError(err); ok {
		return faka.Errorf(faka.EUnavailable, "alipay: %s: Alipay answered %s %s (%s %s)", op, be.Code, be.SubCode, be.Msg, be.SubMsg)
	}
	return &faka.Error{Code: faka.EUnavailable, Message: "alipay: " + op + ": Alipay did not answer, or its reply could not be read", Err: clipped{err}}
}

// verifyReply checks the signature of a successful reply: Alipay signs
// the JSON of the xxx_response member as sent, SHA256withRSA.
func (g *Gateway) verifyReply(op, sign, signData string) error {
	if sign == "" || signData == "" {
		return faka.Errorf(faka.EUnavailable, "alipay: %s: the reply is not signed", op)
	}
	if ok, err := ali.VerifySyncSign(g.alipayPub, signData, sign); !ok || err != nil {
		return faka.Errorf(faka.EUnavailable, "alipay: %s: the reply's signature does not verify with the Alipay public key", op)
	}
	return nil
}

// Query asks Alipay about order orderNo (alipay.trade.query by
// out_trade_no). A trade Alipay does not know, one waiting for payment
// and a closed one are not paid; a paid one (TRADE_SUCCESS or
// TRADE_FINISHED) is returned as its notification would be. A reply that
// is not signed by Alipay, or not about this order, is an EUnavailable
// error, like a failed call.
func (g *Gateway) Query(ctx context.Context, orderNo string) (faka.Notification, bool, error) {
	status, n, err := g.query(ctx, orderNo)
	if err != nil {
		return faka.Notification{}, false, err
	}
	if status == TradeSuccess || status == TradeFinished {
		return n, true, nil
	}
	return faka.Notification{}, false, nil
}

// query returns the status of order orderNo's trade ("" when Alipay knows
// none) and, when it is paid, the payment.
func (g *Gateway) query(ctx context.Context, orderNo string) (string, faka.Notification, error) {
	op := "query order " + orderNo
	if !payment.Printable(orderNo, MaxOrderNoLength) {
		return "", faka.Notification{}, faka.Errorf(faka.EInvalid, "alipay: %s: malformed order number", op)
	}
	bm := make(gopay.BodyMap)
	bm.Set("out_trade_no", orderNo)
	rsp, err := g.client.TradeQuery(ctx, bm)
	if err != nil {
		if be, ok := ali.IsBizError(err); ok && be.SubCode == subTradeNotExist {
			return "", faka.Notification{}, nil
		}
		return "", faka.Notification{}, apiError(op, err)
	}
	if err := g.verifyReply(op, rsp.Sign, rsp.SignData); err != nil {
		return "", faka.Notification{}, err
	}
	r := rsp.Response
	if r.OutTradeNo != orderNo {
		return "", faka.Notification{}, faka.Errorf(faka.EUnavailable, "alipay: %s: the reply is about order %q", op, r.OutTradeNo)
	}
	switch r.TradeStatus {
	case WaitBuyerPay, TradeClosed:
		return r.TradeStatus, faka.Notification{}, nil
	case TradeSuccess, TradeFinished:
		n, err := g.paid(r.TradeStatus, r.OutTradeNo, r.TradeNo, r.TotalAmount)
		if err != nil {
			return "", faka.Notification{}, faka.Errorf(faka.EUnavailable, "alipay: %s: %w", op, err)
		}
		return r.TradeStatus, n, nil
	}
	return "", faka.Notification{}, faka.Errorf(faka.EUnavailable, "alipay: %s: unknown trade_status %q", op, r.TradeStatus)
}

// CloseTrade closes order orderNo's trade (alipay.trade.close), so that
// the buyer cannot pay it any more. A trade Alipay does not know (a page
// payment is made only once the buyer logs in at Alipay) or has closed is
// not an error; a paid one is an EConflict error.
func (g *Gateway) CloseTrade(ctx context.Context, orderNo string) error {
	op := "close order " + orderNo
	if !payment.Printable(orderNo, MaxOrderNoLength) {
		return faka.Errorf(faka.EInvalid, "alipay: %s: malformed order number", op)
	}
	bm := make(gopay.BodyMap)
	bm.Set("out_trade_no", orderNo)
	rsp, err := g.client.TradeClose(ctx, bm)
	if err == nil {
		if err := g.verifyReply(op, rsp.Sign, rsp.SignData); err != nil {
			return err
		}
		g.forget(orderNo)
		return nil
	}
	be, ok := ali.IsBizError(err)
	switch {
	case ok && be.SubCode == subTradeNotExist:
		g.forget(orderNo)
		return nil
	case !ok || !notWaiting[be.SubCode]:
		return apiError(op, err)
	}
	// Not waiting for payment: closed already, or paid?
	status, n, err := g.query(ctx, orderNo)
	switch {
	case err != nil:
		return err
	case status == TradeSuccess || status == TradeFinished:
		return faka.Errorf(faka.EConflict, "alipay: %s: the trade was paid (%s, %s)", op, n.TradeNo, payment.FormatAmount(n.Amount, n.Currency))
	case status == TradeClosed || status == "":
		g.forget(orderNo)
		return nil
	}
	return faka.Errorf(faka.EUnavailable, "alipay: %s: Alipay refused to close a trade in status %s", op, status)
}

// code is the QR page's CodeFunc: the qr_code of order o's
// alipay.trade.precreate trade. The errors are for the buyer to read.
func (g *Gateway) code(ctx context.Context, o *faka.Order) (string, error) {
	if err := checkOrder(o); err != nil {
		return "", err
	}
	now := g.now()
	if !o.ReservedUntil.IsZero() && !now.Before(o.ReservedUntil) {
		return "", faka.Errorf(faka.EConflict, "The reservation of this order has ended: it can no longer be paid with Alipay.")
	}
	bm := tradeParams(o)
	key := bm.JsonBody()
	if c, ok := g.cached(o.OrderNo, key, now); ok {
		return c, nil
	}
	op := "precreate order " + o.OrderNo
	rsp, err := g.client.TradePrecreate(ctx, bm)
	if err != nil {
		if be, ok := ali.IsBizError(err); ok {
			switch be.SubCode {
			case subTradeHasPaid:
				return "", faka.Errorf(faka.EConflict, "This order has been paid with Alipay; it shows as paid once Alipay's notice arrives.")
			case subTradeHasClose:
				return "", faka.Errorf(faka.EConflict, "The Alipay trade of this order is closed: it can no longer be paid with Alipay.")
			}
		}
		return "", &faka.Error{Code: faka.EUnavailable, Message: "Alipay did not give a payment code; try again in a moment.", Err: apiError(op, err)}
	}
	if err := g.verifyReply(op, rsp.Sign, rsp.SignData); err != nil {
		return "", &faka.Error{Code: faka.EUnavailable, Message: "Alipay did not give a payment code; try again in a moment.", Err: err}
	}
	r := rsp.Response
	if r.OutTradeNo != o.OrderNo || !validCode(r.QrCode) {
		return "", &faka.Error{Code: faka.EUnavailable, Message: "Alipay did not give a payment code; try again in a moment.",
			Err: errors.New("alipay: " + op + ": the reply is about another order, or its qr_code is malformed")}
	}
	g.remember(o.OrderNo, cachedCode{code: r.QrCode, key: key, until: now.Add(codeLife)})
	return r.QrCode, nil
}

// validCode reports whether s looks like a precreate qr_code: an https
// URL (https://qr.alipay.com/…) of printable ASCII.
func validCode(s string) bool {
	if !payment.Printable(s, 1024) || !strings.HasPrefix(s, "https://") {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.Host != ""
}

func (g *Gateway) cached(orderNo, key string, now time.Time) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.codes[orderNo]
	if !ok || c.key != key || !now.Before(c.until) {
		return "", false
	}
	return c.code, true
}

func (g *Gateway) remember(orderNo string, c cachedCode) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.codes[orderNo]; !ok && len(g.codes) >= maxCodes {
		now := g.now()
		for k, old := range g.codes {
			if !now.Before(old.until) {
				delete(g.codes, k)
			}
		}
		for k := range g.codes {
			if len(g.codes) < maxCodes {
				break
			}
			delete(g.codes, k)
		}
	}
	g.codes[orderNo] = c
}

// forget drops the code kept for orderNo: its trade is closed.
func (g *Gateway) forget(orderNo string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.codes, orderNo)
}
