// Package epay is the EPay (易支付, 彩虹 v1 protocol) gateway. The buyer is
// sent to {url}submit.php with the order's fields signed by MD5; EPay
// notifies /pay/epay/notify by GET or POST form with the same signature
// scheme, and is answered "success" once the payment is applied (or was
// before). Orders may be queried through {url}api.php for notifications
// that never came.
//
// The signature: drop sign, sign_type and empty values; sort the rest by
// name; join them as k=v (unescaped) with '&'; append the merchant key;
// the lower-case hex MD5 of that.
package epay

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
)

// Name is the gateway's name.
const Name = "epay"

// Currency is the only currency EPay takes.
const Currency = "CNY"

// TradeSuccess is the trade_status of a paid trade.
const TradeSuccess = "TRADE_SUCCESS"

// DefaultType is the payment type used when none is configured.
const DefaultType = "alipay"

// MaxTradeNoLength bounds a notification's trade_no.
const MaxTradeNoLength = 128

// maxReply bounds what is read of an API reply.
const maxReply = 64 << 10

// Config is a merchant's EPay account.
type Config struct {
	PID  string // merchant id
	Key  string // merchant key (secret)
	URL  string // the EPay site, e.g. "https://pay.example.com/"
	Type string // payment type offered (alipay, wxpay, qqpay, …); empty: alipay
}

// Gateway is the EPay gateway. It is safe for concurrent use.
type Gateway struct {
	pid, key, base, payType string
	publicURL               string
	client                  *http.Client
}

var (
	_ payment.GetNotifier = (*Gateway)(nil)
	_ payment.Querier     = (*Gateway)(nil)
)

// New returns an EPay gateway for cfg whose notify and return URLs are
// under publicURL; client makes the API calls (nil: http.DefaultClient).
func New(cfg Config, publicURL string, client *http.Client) (*Gateway, error) {
	cfg.PID, cfg.Key, cfg.Type = strings.TrimSpace(cfg.PID), strings.TrimSpace(cfg.Key), strings.TrimSpace(cfg.Type)
	switch {
	case cfg.PID == "" || !payment.Printable(cfg.PID, 64):
		return nil, faka.Errorf(faka.EInvalid, "pid must be 1 to 64 printable ASCII characters")
	case cfg.Key == "" || !payment.Printable(cfg.Key, 256):
		return nil, faka.Errorf(faka.EInvalid, "key must be 1 to 256 printable ASCII characters")
	case cfg.Type != "" && !payment.Printable(cfg.Type, 32):
		return nil, faka.Errorf(faka.EInvalid, "type must be at most 32 printable ASCII characters")
	}
	base, err := payment.ProviderURL(cfg.URL)
	if err != nil {
		return nil, faka.Errorf(faka.EInvalid, "url: %s, such as https://pay.example.com/", faka.ErrorMessage(err))
	}
	base += "/"
	pub, err := payment.BaseURL(publicURL)
	if err != nil {
		return nil, fmt.Errorf("epay: public URL: %w", err)
	}
	if cfg.Type == "" {
		cfg.Type = DefaultType
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &Gateway{pid: cfg.PID, key: cfg.Key, base: base, payType: cfg.Type,
		publicURL: strings.TrimRight(pub, "/"), client: client}, nil
}

// Kind is EPay as a gateway the merchant configures: {pid, key, url,
// type}.
func Kind() payment.Kind {
	return payment.Kind{
		Name: Name,
		Fields: []payment.Field{
			{Name: "pid", Required: true},
			{Name: "key", Required: true, Secret: true},
			{Name: "url", Required: true},
			{Name: "type"},
		},
		New: func(s payment.Settings, env payment.Env) (payment.Gateway, error) {
			return New(Config{PID: s["pid"], Key: s["key"], URL: s["url"], Type: s["type"]}, env.PublicURL, env.Client)
		},
	}
}

// Sign returns the signature of params under key: the lower-case hex MD5
// of the sorted, non-empty k=v pairs other than sign and sign_type, joined
// with '&' and followed by the key.
func Sign(params map[string]string, key string) string {
	return payment.SortedMD5(params, key, "sign", "sign_type")
}

// Name returns "epay".
func (g *Gateway) Name() string { return Name }

// NotifiesByGet marks EPay as notifying by GET too.
func (g *Gateway) NotifiesByGet() {}

// PayURL returns {url}submit.php with the order's signed fields. Only CNY
// orders can be paid through EPay.
func (g *Gateway) PayURL(_ context.Context, o *faka.Order, token string) (string, error) {
	if o.Currency != Currency {
		return "", faka.Errorf(faka.EInvalid, "epay takes CNY only, not %s", o.Currency)
	}
	p := map[string]string{
		"pid":          g.pid,
		"type":         g.payType,
		"out_trade_no": o.OrderNo,
		"notify_url":   g.publicURL + "/pay/" + Name + "/notify",
		"return_url":   payment.ReturnURL(g.publicURL, o.OrderNo),
		"name":         "Order " + o.OrderNo,
		"money":        payment.FormatYuan(o.Amount),
	}
	p["sign"] = Sign(p, g.key)
	p["sign_type"] = "MD5"
	q := url.Values{}
	for k, v := range p {
		q.Set(k, v)
	}
	return g.base + "submit.php?" + q.Encode(), nil
}

// params returns the notification's fields: the query string of a GET,
// the form body of a POST (or its query string when the body is empty).
// A field given twice is refused: which copy was signed is ambiguous.
func params(r *http.Request, body []byte) (map[string]string, error) {
	var vals url.Values
	var err error
	if r.Method == http.MethodPost && len(body) > 0 {
		vals, err = url.ParseQuery(string(body))
	} else {
		vals, err = url.ParseQuery(r.URL.RawQuery)
	}
	if err != nil {
		return nil, faka.Errorf(faka.EBadRequest, "malformed notification: %w", err)
	}
	p := make(map[string]string, len(vals))
	for k, vs := range vals {
		if len(vs) != 1 {
			return nil, faka.Errorf(faka.EBadRequest, "malformed notification: %q is given %d times", k, len(vs))
		}
		p[k] = vs[0]
	}
	return p, nil
}

// ParseNotification verifies the signature over the fields, then checks
// the merchant, the trade status and the amount. Nothing but the
// signature is looked at before it verifies.
func (g *Gateway) ParseNotification(r *http.Request, body []byte) (faka.Notification, error) {
	p, err := params(r, body)
	if err != nil {
		return faka.Notification{}, err
	}
	if err := g.verify(p); err != nil {
		return faka.Notification{}, err
	}
	return g.notification(p)
}

func (g *Gateway) verify(p map[string]string) error {
	sig, err := hex.DecodeString(p["sign"])
	if err != nil || len(sig) != md5.Size {
		return faka.Errorf(faka.EUnauthorized, "missing or malformed sign")
	}
	want, _ := hex.DecodeString(Sign(p, g.key))
	if !hmac.Equal(sig, want) {
		return faka.Errorf(faka.EUnauthorized, "the signature does not verify")
	}
	if st := p["sign_type"]; st != "" && !strings.EqualFold(st, "MD5") {
		return faka.Errorf(faka.EInvalid, "sign_type must be MD5")
	}
	return nil
}

// notification checks signed fields and states the payment.
func (g *Gateway) notification(p map[string]string) (faka.Notification, error) {
	switch {
	case !hmac.Equal([]byte(p["pid"]), []byte(g.pid)):
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "pid is not this shop's")
	case p["trade_status"] != TradeSuccess:
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "trade_status must be %s", TradeSuccess)
	case !payment.Printable(p["out_trade_no"], 64):
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "out_trade_no is required")
	case !payment.Printable(p["trade_no"], MaxTradeNoLength):
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "trade_no must be 1 to %d printable ASCII characters", MaxTradeNoLength)
	}
	amount, err := payment.ParseYuan(p["money"])
	if err != nil {
		return faka.Notification{}, err
	}
	if amount <= 0 {
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "money must be positive")
	}
	return faka.Notification{Gateway: Name, OrderNo: p["out_trade_no"], TradeNo: p["trade_no"],
		Amount: amount, Currency: Currency}, nil
}

// Acknowledge replies 200 "success", which stops EPay's retries.
func (g *Gateway) Acknowledge(w http.ResponseWriter) { payment.ReplyText(w, http.StatusOK, "success") }

// Reject replies "fail": 400 for a refused notification, 500 or 503 when
// the failure is ours, so that EPay retries.
func (g *Gateway) Reject(w http.ResponseWriter, err error) {
	payment.ReplyText(w, payment.RejectStatus(err), "fail")
}

// Query asks EPay about order orderNo through {url}api.php?act=order. A
// trade EPay does not know, or has not been paid, is not paid; a reply
// that cannot be read is an EUnavailable error.
func (g *Gateway) Query(ctx context.Context, orderNo string) (faka.Notification, bool, error) {
	q := url.Values{"act": {"order"}, "pid": {g.pid}, "key": {g.key}, "out_trade_no": {orderNo}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.base+"api.php?"+q.Encode(), nil)
	if err != nil {
		return faka.Notification{}, false, fmt.Errorf("epay: query: %w", err)
	}
	res, err := g.client.Do(req)
	if err != nil {
		// The error text holds the URL, and so the key: keep it out.
		return faka.Notification{}, false, faka.Errorf(faka.EUnavailable, "epay: query %s: the EPay API did not answer", orderNo)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return faka.Notification{}, false, faka.Errorf(faka.EUnavailable, "epay: query %s: HTTP %d", orderNo, res.StatusCode)
	}
	var raw map[string]any
	dec := json.NewDecoder(io.LimitReader(res.Body, maxReply))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return faka.Notification{}, false, faka.Errorf(faka.EUnavailable, "epay: query %s: malformed reply: %w", orderNo, err)
	}
	f := func(k string) string { return scalar(raw[k]) }
	if f("code") != "1" || f("status") != "1" {
		return faka.Notification{}, false, nil
	}
	if !trustedTransport(res) {
		// The protocol signs no query reply: only the channel vouches for
		// it, and an unverified one could be anybody answering "paid".
		return faka.Notification{}, false, faka.Errorf(faka.EUnavailable,
			"epay: query %s: the reply says paid but is unsigned and did not come over verified TLS; not applied", orderNo)
	}
	p := map[string]string{"pid": f("pid"), "trade_status": TradeSuccess, "out_trade_no": f("out_trade_no"),
		"trade_no": f("trade_no"), "money": f("money")}
	if p["pid"] == "" {
		p["pid"] = g.pid // some versions leave it out of the reply
	}
	if p["out_trade_no"] != orderNo {
		return faka.Notification{}, false, faka.Errorf(faka.EUnavailable, "epay: query %s: the reply is about order %q", orderNo, p["out_trade_no"])
	}
	n, err := g.notification(p)
	if err != nil {
		return faka.Notification{}, false, fmt.Errorf("epay: query %s: %w", orderNo, err)
	}
	return n, true, nil
}

// UnsignedQuery marks EPay's query replies as unsigned
// (payment.UnsignedQuerier): a paid state from one is applied only when it
// came over verified TLS, and the poller logs it as such.
func (g *Gateway) UnsignedQuery() bool { return true }

// trustedTransport reports whether res came over TLS whose certificate
// chain was verified, or over plain http from a loopback host (a local
// mock: nobody else is on that path).
func trustedTransport(res *http.Response) bool {
	if res.TLS != nil {
		return len(res.TLS.VerifiedChains) > 0
	}
	return res.Request != nil && res.Request.URL.Scheme == "http" && payment.LoopbackHost(res.Request.URL.Hostname())
}

// scalar writes a JSON string or number as text; anything else is "".
func scalar(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}
