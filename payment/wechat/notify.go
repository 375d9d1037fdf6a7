package wechat

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
)

// The notification's headers.
const (
	HeaderSignature = "Wechatpay-Signature"
	HeaderTimestamp = "Wechatpay-Timestamp"
	HeaderNonce     = "Wechatpay-Nonce"
	HeaderSerial    = "Wechatpay-Serial"
)

// EventPaid is the event_type of a payment notification.
const EventPaid = "TRANSACTION.SUCCESS"

// TradeSuccess is the trade_state of a paid trade.
const TradeSuccess = "SUCCESS"

// Algorithm is how a notification's resource is encrypted.
const Algorithm = "AEAD_AES_256_GCM"

// SignedMessage is what WeChat Pay signs for a notification or an API
// reply: the timestamp, the nonce and the body, each followed by a line
// feed.
func SignedMessage(timestamp, nonce string, body []byte) []byte {
	m := make([]byte, 0, len(timestamp)+len(nonce)+len(body)+3)
	m = append(m, timestamp...)
	m = append(m, '\n')
	m = append(m, nonce...)
	m = append(m, '\n')
	m = append(m, body...)
	return append(m, '\n')
}

// verifySignature checks WeChat Pay's signature (base64 of RSA
// PKCS #1 v1.5 over SHA-256) of the timestamp, nonce and body under the
// key with id pubKeyID, and returns the timestamp. The timestamp must be
// decimal seconds and the nonce printable without spaces, so that the
// signed message splits in one way only.
func verifySignature(pub *rsa.PublicKey, pubKeyID, serial, timestamp, nonce, signature string, body []byte) (time.Time, error) {
	switch {
	case serial == "":
		return time.Time{}, faka.Errorf(faka.EUnauthorized, "the %s header is missing", HeaderSerial)
	case serial != pubKeyID:
		return time.Time{}, faka.Errorf(faka.EUnauthorized, "signed with key %.80q, not the configured WeChat Pay public key", serial)
	case signature == "":
		return time.Time{}, faka.Errorf(faka.EUnauthorized, "the %s header is missing", HeaderSignature)
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || ts <= 0 || len(timestamp) > 12 || timestamp[0] == '+' {
		return time.Time{}, faka.Errorf(faka.EUnauthorized, "the %s header must be decimal seconds", HeaderTimestamp)
	}
	if !payment.Printable(nonce, 128) {
		return time.Time{}, faka.Errorf(faka.EUnauthorized, "the %s header must be 1 to 128 printable ASCII characters", HeaderNonce)
	}
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil || len(sig) == 0 {
		return time.Time{}, faka.Errorf(faka.EUnauthorized, "the %s header is not base64", HeaderSignature)
	}
	sum := sha256.Sum256(SignedMessage(timestamp, nonce, body))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return time.Time{}, faka.Errorf(faka.EUnauthorized, "the signature does not verify with the WeChat Pay public key")
	}
	return time.Unix(ts, 0), nil
}

// envelope is a notification's body.
type envelope struct {
	ID           string    `json:"id"`
	CreateTime   string    `json:"create_time"`
	EventType    string    `json:"event_type"`
	ResourceType string    `json:"resource_type"`
	Summary      string    `json:"summary"`
	Resource     *resource `json:"resource"`
}

// resource is the encrypted part of a notification.
type resource struct {
	Algorithm      string `json:"algorithm"`
	Ciphertext     string `json:"ciphertext"`
	AssociatedData string `json:"associated_data"`
	OriginalType   string `json:"original_type"`
	Nonce          string `json:"nonce"`
}

// transaction is a trade as a decrypted notification and a query reply
// state it.
type transaction struct {
	AppID         string `json:"appid"`
	MchID         string `json:"mchid"`
	OutTradeNo    string `json:"out_trade_no"`
	TransactionID string `json:"transaction_id"`
	TradeType     string `json:"trade_type"`
	TradeState    string `json:"trade_state"`
	Amount        *struct {
		Total         *int64 `json:"total"`
		PayerTotal    *int64 `json:"payer_total"`
		Currency      string `json:"currency"`
		PayerCurrency string `json:"payer_currency"`
	} `json:"amount"`
}

// ParseNotification verifies a notification: the signature over
// "timestamp\nnonce\nbody\n" with the WeChat Pay public key (the
// Wechatpay-Serial header must be its id), a timestamp within
// MaxClockSkew of our clock, then the resource's AES-256-GCM encryption
// under the APIv3 key. Only then does it look at what the trade states:
// a TRANSACTION.SUCCESS event, trade_state SUCCESS, this merchant's mchid
// and appid, and a positive CNY amount.total.
func (g *Gateway) ParseNotification(r *http.Request, body []byte) (faka.Notification, error) {
	h := r.Header
	at, err := verifySignature(g.pubKey, g.pubKeyID, h.Get(HeaderSerial), h.Get(HeaderTimestamp), h.Get(HeaderNonce), h.Get(HeaderSignature), body)
	if err != nil {
		return faka.Notification{}, err
	}
	if skew := g.now().Sub(at); skew > MaxClockSkew || skew < -MaxClockSkew {
		return faka.Notification{}, faka.Errorf(faka.EUnauthorized, "the notification's timestamp is %s away from our clock (at most %s)", skew.Round(time.Second), MaxClockSkew)
	}
	// Signed and fresh: now look at the content.
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return faka.Notification{}, faka.Errorf(faka.EBadRequest, "malformed notification: the body must be a JSON object")
	}
	switch {
	case env.EventType != EventPaid:
		// Signed with this merchant's WeChat Pay key, and no payment (a
		// refund's notification sent here): acknowledged, so that WeChat
		// Pay stops resending it.
		return faka.Notification{}, payment.Ignored("event_type %.40q is not %s", env.EventType, EventPaid)
	case env.Resource == nil:
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "the notification has no resource")
	case env.Resource.Algorithm != Algorithm:
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "resource.algorithm must be %s", Algorithm)
	}
	plain, err := g.decrypt(env.Resource)
	if err != nil {
		return faka.Notification{}, err
	}
	var t transaction
	if err := json.Unmarshal(plain, &t); err != nil {
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "the decrypted resource is not a well-formed transaction")
	}
	if err := g.ours(&t); err != nil {
		return faka.Notification{}, err
	}
	if t.TradeState != TradeSuccess {
		// This merchant's trade, genuinely unpaid or closed: nothing to
		// apply, and nothing WeChat Pay should resend.
		return faka.Notification{}, payment.Ignored("trade_state %.40q is not %s", t.TradeState, TradeSuccess)
	}
	return g.notification(&t)
}

// decrypt opens a resource with the APIv3 key: AES-256-GCM, the nonce
// as given (12 characters), the associated data as given.
func (g *Gateway) decrypt(res *resource) ([]byte, error) {
	ct, err := base64.StdEncoding.DecodeString(res.Ciphertext)
	if err != nil {
		return nil, faka.Errorf(faka.EInvalid, "resource.ciphertext is not base64")
	}
	block, err := aes.NewCipher(g.apiV3Key)
	if err != nil {
		return nil, faka.Errorf(faka.EInternal, "wechat: the APIv3 key: %w", err) // New checked its length
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, faka.Errorf(faka.EInternal, "wechat: GCM: %w", err)
	}
	if len(res.Nonce) != aead.NonceSize() {
		// AEAD.Open panics on a nonce of another size.
		return nil, faka.Errorf(faka.EInvalid, "resource.nonce must be %d bytes", aead.NonceSize())
	}
	plain, err := aead.Open(nil, []byte(res.Nonce), ct, []byte(res.AssociatedData))
	if err != nil {
		return nil, faka.Errorf(faka.EUnauthorized, "the resource does not decrypt with the APIv3 key")
	}
	return plain, nil
}

// notification checks a trade that WeChat Pay stated (in a notification
// or a query reply) and states its payment. The amount is amount.total,
// what the order asked for: payer_total is less when a coupon paid part,
// and the merchant is paid total all the same.
func (g *Gateway) notification(t *transaction) (faka.Notification, error) {
	if err := g.ours(t); err != nil {
		return faka.Notification{}, err
	}
	switch {
	case t.TradeState != TradeSuccess:
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "trade_state %.40q is not %s", t.TradeState, TradeSuccess)
	case !ValidOrderNo(t.OutTradeNo):
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "out_trade_no is missing or malformed")
	case !payment.Printable(t.TransactionID, MaxTradeNoLength):
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "transaction_id must be 1 to %d printable ASCII characters", MaxTradeNoLength)
	case t.Amount == nil || t.Amount.Total == nil:
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "amount.total is missing")
	case *t.Amount.Total <= 0:
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "amount.total must be positive")
	case t.Amount.Currency != Currency:
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "amount.currency %.10q is not %s", t.Amount.Currency, Currency)
	}
	return faka.Notification{Gateway: Name, OrderNo: t.OutTradeNo, TradeNo: t.TransactionID,
		Amount: *t.Amount.Total, Currency: Currency}, nil
}

// ours checks that a trade is of this merchant and app.
func (g *Gateway) ours(t *transaction) error {
	switch {
	case !hmac.Equal([]byte(t.MchID), []byte(g.mchID)):
		return faka.Errorf(faka.EInvalid, "mchid is not this shop's")
	case !hmac.Equal([]byte(t.AppID), []byte(g.appID)):
		return faka.Errorf(faka.EInvalid, "appid is not this shop's")
	}
	return nil
}
