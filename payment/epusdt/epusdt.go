// Package epusdt is the USDT gateway through an epusdt or BEpusdt server
// the merchant runs. PayURL creates the transaction with
// POST {url}/api/v1/order/create-transaction and sends the buyer to the
// payment page it returns; the server notifies /pay/epusdt/notify with a
// JSON body, answered "ok" once the payment is applied (or was before).
//
// The signature of a request or notification: take every field but
// signature whose value is not empty; sort them by name; join them as k=v
// with '&', numbers written as the shortest decimal that reads back the
// same (as the servers write their float64s); append the API token; the
// lower-case hex MD5 of that.
package epusdt

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
)

// Name is the gateway's name.
const Name = "epusdt"

// Currency is the currency of the amounts epusdt is given (it converts
// them to USDT itself).
const Currency = "CNY"

// StatusPaid is the status of a paid transaction.
const StatusPaid = 2

// CreatePath is the API path that creates a transaction.
const CreatePath = "/api/v1/order/create-transaction"

// MaxTradeIDLength bounds a notification's trade_id.
const MaxTradeIDLength = 128

const maxReply = 64 << 10

// Config is a merchant's epusdt server.
type Config struct {
	URL   string // the server, e.g. "https://usdt.example.com"
	Token string // the API token (secret)
}

// Gateway is the epusdt gateway. It is safe for concurrent use.
type Gateway struct {
	base, token string
	publicURL   string
	client      *http.Client

	// epusdt creates one transaction per order and refuses a second, but
	// the order page asks for the pay URL on every view: the URLs made
	// are kept for a while, in memory (another instance, or this one
	// after a restart, cannot show the URL again; the page works
	// without it).
	mu     sync.Mutex
	payURL map[string]cachedURL
}

type cachedURL struct {
	url string
	at  time.Time
}

// Pay URLs are kept this long, and at most this many.
const (
	payURLTTL  = 3 * time.Hour
	maxPayURLs = 10000
)

func (g *Gateway) cached(orderNo string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.payURL[orderNo]
	if !ok || time.Since(c.at) > payURLTTL {
		return "", false
	}
	return c.url, true
}

func (g *Gateway) remember(orderNo, u string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.payURL) >= maxPayURLs {
		for k, c := range g.payURL {
			if time.Since(c.at) > payURLTTL {
				delete(g.payURL, k)
			}
		}
		for k := range g.payURL {
			if len(g.payURL) < maxPayURLs {
				break
			}
			delete(g.payURL, k)
		}
	}
	g.payURL[orderNo] = cachedURL{url: u, at: time.Now()}
}

var _ payment.Gateway = (*Gateway)(nil)

// New returns an epusdt gateway for cfg whose notify and redirect URLs are
// under publicURL; client makes the API calls (nil: http.DefaultClient).
func New(cfg Config, publicURL string, client *http.Client) (*Gateway, error) {
	cfg.Token = strings.TrimSpace(cfg.Token)
	if cfg.Token == "" || len(cfg.Token) > 256 || strings.ContainsFunc(cfg.Token, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return nil, faka.Errorf(faka.EInvalid, "token must be 1 to 256 printable ASCII characters")
	}
	base, err := payment.ProviderURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	pub, err := payment.BaseURL(publicURL)
	if err != nil {
		return nil, fmt.Errorf("epusdt: public URL: %w", err)
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &Gateway{base: base, token: cfg.Token, publicURL: pub, client: client, payURL: map[string]cachedURL{}}, nil
}

// Kind is epusdt as a gateway the merchant configures: {url, token}.
func Kind() payment.Kind {
	return payment.Kind{
		Name: Name,
		Fields: []payment.Field{
			{Name: "url", Required: true},
			{Name: "token", Required: true, Secret: true},
		},
		New: func(s payment.Settings, env payment.Env) (payment.Gateway, error) {
			return New(Config{URL: s["url"], Token: s["token"]}, env.PublicURL, env.Client)
		},
	}
}

// Sign returns the signature of fields (already written as text) under
// token; signature and empty values are left out.
func Sign(fields map[string]string, token string) string {
	return payment.SortedMD5(fields, token, "signature")
}

// FormatNumber writes a JSON number as the servers do when they sign it:
// Go's %v of its float64 value ("9.9" for 9.90, "10" for 10.00).
func FormatNumber(n json.Number) (string, error) {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return "", err
	}
	return fmt.Sprint(f), nil
}

// Name returns "epusdt".
func (g *Gateway) Name() string { return Name }

// createReply is the body of a create-transaction reply.
type createReply struct {
	StatusCode int    `json:"status_code"`
	Message    string `json:"message"`
	Data       struct {
		TradeID    string `json:"trade_id"`
		OrderID    string `json:"order_id"`
		PaymentURL string `json:"payment_url"`
	} `json:"data"`
}

// PayURL creates the transaction of order o on the epusdt server and
// returns its payment page; asked again for the same order, it returns
// the same page without a second transaction. Only CNY orders can be
// paid.
func (g *Gateway) PayURL(ctx context.Context, o *faka.Order, token string) (string, error) {
	if o.Currency != Currency {
		return "", faka.Errorf(faka.EInvalid, "epusdt takes CNY amounts only, not %s", o.Currency)
	}
	if u, ok := g.cached(o.OrderNo); ok {
		return u, nil
	}
	amount, err := FormatNumber(json.Number(payment.FormatYuan(o.Amount)))
	if err != nil {
		return "", fmt.Errorf("epusdt: amount: %w", err)
	}
	fields := map[string]string{
		"order_id":     o.OrderNo,
		"amount":       amount,
		"notify_url":   g.publicURL + "/pay/" + Name + "/notify",
		"redirect_url": payment.ReturnURL(g.publicURL, o.OrderNo),
	}
	body, err := json.Marshal(map[string]any{
		"order_id":     fields["order_id"],
		"amount":       json.Number(amount), // the number as signed
		"notify_url":   fields["notify_url"],
		"redirect_url": fields["redirect_url"],
		"signature":    Sign(fields, g.token),
	})
	if err != nil {
		return "", fmt.Errorf("epusdt: encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.base+CreatePath, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("epusdt: create transaction: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := g.client.Do(req)
	if err != nil {
		// The transport error names the merchant's server; buyers see
		// this message, so it says only what failed.
		return "", faka.Errorf(faka.EUnavailable, "epusdt: create transaction for %s: the epusdt server did not answer", o.OrderNo)
	}
	defer res.Body.Close()
	var rep createReply
	if err := json.NewDecoder(io.LimitReader(res.Body, maxReply)).Decode(&rep); err != nil {
		return "", faka.Errorf(faka.EUnavailable, "epusdt: create transaction for %s: HTTP %d, malformed reply", o.OrderNo, res.StatusCode)
	}
	if res.StatusCode != http.StatusOK || rep.StatusCode != http.StatusOK {
		return "", faka.Errorf(faka.EUnavailable, "epusdt: create transaction for %s: HTTP %d, status %d: %.200s", o.OrderNo, res.StatusCode, rep.StatusCode, rep.Message)
	}
	if rep.Data.OrderID != "" && rep.Data.OrderID != o.OrderNo {
		return "", faka.Errorf(faka.EUnavailable, "epusdt: create transaction for %s: the reply is about order %q", o.OrderNo, rep.Data.OrderID)
	}
	u, err := url.Parse(rep.Data.PaymentURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", faka.Errorf(faka.EUnavailable, "epusdt: create transaction for %s: no usable payment_url in the reply", o.OrderNo)
	}
	g.remember(o.OrderNo, u.String())
	return u.String(), nil
}

// ParseNotification verifies the JSON notification's signature over all
// its non-empty fields, then checks that it states a paid transaction of
// a CNY amount in yuan with at most two decimals.
func (g *Gateway) ParseNotification(_ *http.Request, body []byte) (faka.Notification, error) {
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return faka.Notification{}, faka.Errorf(faka.EBadRequest, "malformed notification: the body must be a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return faka.Notification{}, faka.Errorf(faka.EBadRequest, "malformed notification: data after the JSON object")
	}
	fields := make(map[string]string, len(raw))
	for k, v := range raw {
		switch v := v.(type) {
		case nil:
		case string:
			fields[k] = v
		case json.Number:
			s, err := FormatNumber(v)
			if err != nil {
				return faka.Notification{}, faka.Errorf(faka.EBadRequest, "malformed notification: %s: %w", k, err)
			}
			fields[k] = s
		default:
			return faka.Notification{}, faka.Errorf(faka.EBadRequest, "malformed notification: %s must be a string or a number", k)
		}
	}
	sig, ok := raw["signature"].(string)
	got, err := hex.DecodeString(sig)
	if !ok || err != nil || len(got) != md5.Size {
		return faka.Notification{}, faka.Errorf(faka.EUnauthorized, "missing or malformed signature")
	}
	want, _ := hex.DecodeString(Sign(fields, g.token))
	if !hmac.Equal(got, want) {
		return faka.Notification{}, faka.Errorf(faka.EUnauthorized, "the signature does not verify")
	}
	// Signed: now look at the content.
	status, ok := raw["status"].(json.Number)
	orderID, _ := raw["order_id"].(string)
	tradeID, _ := raw["trade_id"].(string)
	amountNum, isNum := raw["amount"].(json.Number)
	switch {
	case !ok || status.String() != strconv.Itoa(StatusPaid):
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "status must be %d (paid)", StatusPaid)
	case !payment.Printable(orderID, 64):
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "order_id is required")
	case !payment.Printable(tradeID, MaxTradeIDLength):
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "trade_id must be 1 to %d printable ASCII characters", MaxTradeIDLength)
	case !isNum:
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "amount must be a number")
	}
	amount, err := payment.ParseYuan(amountNum.String())
	if err != nil {
		return faka.Notification{}, err
	}
	if amount <= 0 {
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "amount must be positive")
	}
	return faka.Notification{Gateway: Name, OrderNo: orderID, TradeNo: tradeID, Amount: amount, Currency: Currency}, nil
}

// Acknowledge replies 200 "ok", which stops epusdt's retries.
func (g *Gateway) Acknowledge(w http.ResponseWriter) { payment.ReplyText(w, http.StatusOK, "ok") }

// Reject replies "fail": 400 for a refused notification, 500 or 503 when
// the failure is ours, so that epusdt retries.
func (g *Gateway) Reject(w http.ResponseWriter, err error) {
	payment.ReplyText(w, payment.RejectStatus(err), "fail")
}
