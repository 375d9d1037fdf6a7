// Package sandbox is a payment gateway that moves no money, for tests and
// demos. Its pay page has a "Pay" button, and its notifications are JSON
// signed with HMAC-SHA256 under a shared secret (FAKA_SANDBOX_SECRET):
//
//	POST /pay/sandbox/notify
//	X-Sandbox-Signature: hex(HMAC-SHA256(secret, body))
//
//	{"order_no": "…", "trade_no": "…", "amount": 990, "currency": "CNY", "status": "paid"}
//
// A genuine notification, including a duplicate, is answered 200 "success";
// anything else 400 with a JSON error, and changes nothing.
package sandbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
)

// Name is the gateway's name.
const Name = "sandbox"

// SignatureHeader carries the hex HMAC-SHA256 of the notification body.
const SignatureHeader = "X-Sandbox-Signature"

// StatusPaid is the only status a notification may carry.
const StatusPaid = "paid"

// MaxTradeNoLength bounds a notification's trade_no.
const MaxTradeNoLength = 128

// Message is the JSON body of a sandbox notification.
type Message struct {
	OrderNo  string `json:"order_no"`
	TradeNo  string `json:"trade_no"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Status   string `json:"status"`
}

// Gateway is the sandbox gateway. It is safe for concurrent use.
type Gateway struct {
	secret    []byte
	publicURL string // without a trailing slash
}

var _ payment.PageGateway = (*Gateway)(nil)

// New returns a sandbox gateway that verifies notifications with secret
// and builds pay URLs under publicURL (e.g. "https://shop.example.com").
func New(secret []byte, publicURL string) (*Gateway, error) {
	if len(secret) == 0 {
		return nil, errors.New("sandbox: the secret is empty")
	}
	u, err := url.Parse(publicURL)
	if err != nil {
		return nil, fmt.Errorf("sandbox: public URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("sandbox: public URL %q must be an absolute http(s) URL", publicURL)
	}
	return &Gateway{
		secret:    bytes.Clone(secret),
		publicURL: strings.TrimRight(publicURL, "/"),
	}, nil
}

// Sign returns the X-Sandbox-Signature value for body.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Name returns "sandbox".
func (g *Gateway) Name() string { return Name }

// TestMode returns true: the sandbox moves no money (payment.TestGateway).
func (g *Gateway) TestMode() bool { return true }

// PayURL returns the sandbox pay page of o.
func (g *Gateway) PayURL(_ context.Context, o *faka.Order, token string) (string, error) {
	return g.publicURL + payPath(o.OrderNo) + "?token=" + url.QueryEscape(token), nil
}

// ParseNotification verifies the signature over the raw body, then reads
// the message. Nothing in the body is looked at before the signature
// verifies.
func (g *Gateway) ParseNotification(r *http.Request, body []byte) (faka.Notification, error) {
	sig, err := hex.DecodeString(strings.TrimSpace(r.Header.Get(SignatureHeader)))
	if err != nil || len(sig) != sha256.Size {
		return faka.Notification{}, faka.Errorf(faka.EUnauthorized, "missing or malformed %s header", SignatureHeader)
	}
	m := hmac.New(sha256.New, g.secret)
	m.Write(body)
	if !hmac.Equal(sig, m.Sum(nil)) {
		return faka.Notification{}, faka.Errorf(faka.EUnauthorized, "the signature does not verify")
	}
	msg, err := decode(body)
	if err != nil {
		return faka.Notification{}, err
	}
	return faka.Notification{
		Gateway:  Name,
		OrderNo:  msg.OrderNo,
		TradeNo:  msg.TradeNo,
		Amount:   msg.Amount,
		Currency: msg.Currency,
	}, nil
}

// decode reads a signed body strictly: one JSON object with known fields.
func decode(body []byte) (Message, error) {
	var msg Message
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&msg); err != nil {
		return Message{}, faka.Errorf(faka.EBadRequest, "malformed notification: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Message{}, faka.Errorf(faka.EBadRequest, "malformed notification: data after the JSON object")
	}
	switch {
	case msg.Status != StatusPaid:
		return Message{}, faka.Errorf(faka.EInvalid, "status must be %q", StatusPaid)
	case msg.OrderNo == "":
		return Message{}, faka.Errorf(faka.EInvalid, "order_no is required")
	case !payment.Printable(msg.TradeNo, MaxTradeNoLength):
		return Message{}, faka.Errorf(faka.EInvalid, "trade_no must be 1 to %d printable ASCII characters", MaxTradeNoLength)
	case msg.Amount <= 0:
		return Message{}, faka.Errorf(faka.EInvalid, "amount must be a positive number of minor units")
	case !faka.ValidCurrency(msg.Currency):
		return Message{}, faka.Errorf(faka.EInvalid, "currency must be a three-letter ISO 4217 code")
	}
	return msg, nil
}

// Acknowledge replies 200 "success".
func (g *Gateway) Acknowledge(w http.ResponseWriter) { payment.ReplyText(w, http.StatusOK, "success") }

// Reject replies 400 with a JSON error, or 500/503 when the failure is
// ours, so that a real gateway would retry.
func (g *Gateway) Reject(w http.ResponseWriter, err error) {
	status := payment.RejectStatus(err)
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]body{"error": {faka.ErrorCode(err), faka.ErrorMessage(err)}})
}
