// Package alipay is the Alipay (支付宝) gateway, through the open platform's
// gateway.do API in public key mode (公钥模式), signed RSA2 (SHA256withRSA),
// with github.com/go-pay/gopay.
//
// Two ways to pay, chosen by the setting "mode":
//
//   - "page" (电脑网站支付, the default): PayURL is a signed
//     alipay.trade.page.pay URL; the buyer pays on Alipay's site and comes
//     back to the order page.
//   - "qr" (当面付): PayURL is faka's QR page (payment/qrpage), which shows
//     the code of an alipay.trade.precreate trade for the buyer to scan.
//
// Either way Alipay notifies POST /pay/alipay/notify with a form signed by
// Alipay's key; the gateway verifies it with the Alipay public key and
// answers "success". Both ask Alipay to refuse payment once the order's
// reservation has ended (time_expire). Query (alipay.trade.query) finds
// payments whose notification never came; CloseTrade (alipay.trade.close)
// closes an unpaid trade when the order expires.
//
// Certificate mode (公钥证书模式: app_cert_sn, alipay_root_cert_sn) is not
// supported: the app must use public key mode.
package alipay

import (
	"context"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // gopay stamps requests in Asia/Shanghai time, which must load on hosts without a zone database

	"github.com/go-pay/gopay"
	ali "github.com/go-pay/gopay/alipay"
	"github.com/go-pay/gopay/pkg/xhttp"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/payment/qrpage"
)

// Name is the gateway's name.
const Name = "alipay"

// Currency is the only currency the gateway takes.
const Currency = "CNY"

// Modes of payment.
const (
	ModePage = "page" // 电脑网站支付: alipay.trade.page.pay redirect
	ModeQR   = "qr"   // 当面付: alipay.trade.precreate QR code on faka's page
)

// Trade statuses, as notifications and alipay.trade.query state them.
const (
	TradeSuccess  = "TRADE_SUCCESS"  // paid; refunds still possible
	TradeFinished = "TRADE_FINISHED" // paid; no more refunds
	WaitBuyerPay  = "WAIT_BUYER_PAY" // created, not paid
	TradeClosed   = "TRADE_CLOSED"   // closed unpaid, or paid and refunded in full
)

// Gateways of the open platform.
const (
	ProductionURL = "https://openapi.alipay.com/gateway.do"
	SandboxURL    = "https://openapi-sandbox.dl.alipaydev.com/gateway.do"
)

// SignType is the only signature type accepted: RSA with SHA-256.
const SignType = "RSA2"

// Bounds of what Alipay takes and states.
const (
	MaxOrderNoLength = 64 // out_trade_no
	MaxTradeNoLength = 64 // trade_no
	maxAppIDLength   = 32
	maxAmount        = 100_000_000_00 // total_amount at most 100000000.00 yuan, in fen
	minKeyBits       = 2048           // RSA2 keys are 2048 bits or more
)

// beijing is the time zone of Alipay's times (time_expire): China keeps
// UTC+8 all year.
var beijing = time.FixedZone("CST", 8*60*60)

// Config is a merchant's Alipay app.
type Config struct {
	AppID string // the app's APPID
	// PrivateKey is the app's RSA private key (应用私钥): PKCS#1 or
	// PKCS#8, PEM or the bare base64 that Alipay's key tool exports.
	PrivateKey string
	// AlipayPublicKey is Alipay's public key (支付宝公钥) shown once the
	// app's public key is uploaded: PEM or bare base64.
	AlipayPublicKey string
	Mode            string // ModePage (default) or ModeQR
	Sandbox         bool   // use Alipay's sandbox gateway
	// APIURL replaces the gateway URL (tests); empty: production or
	// sandbox.
	APIURL string
}

// Gateway is the Alipay gateway. It is safe for concurrent use.
type Gateway struct {
	appID     string
	alipayPub string // Alipay's public key: base64 of the PKIX DER, as gopay takes it
	mode      string
	gateway   string // where the buyer's browser goes in page mode
	publicURL string
	client    *ali.Client // never changed after New
	now       func() time.Time

	// The QR page asks for the code on every load while the order is
	// unpaid: codes are kept a while, in memory. alipay.trade.precreate
	// gives the same code again for the same order and parameters, so
	// another instance, or this one after a restart, shows the same.
	mu    sync.Mutex
	codes map[string]cachedCode // by order number
}

type cachedCode struct {
	code, key string
	until     time.Time
}

// Bounds of the codes kept in memory. A precreate code stays valid for
// two hours at Alipay.
const (
	maxCodes = 10000
	codeLife = time.Hour
)

var (
	_ payment.PageGateway = (*Gateway)(nil)
	_ payment.Querier     = (*Gateway)(nil)
	_ payment.Closer      = (*Gateway)(nil)
)

// New returns an Alipay gateway for cfg whose notify and return URLs are
// under publicURL; httpClient makes the API calls (nil: one with a 15 s
// timeout). It parses the keys and makes no network call. A bad setting
// is an EInvalid error naming the field, never showing a key.
func New(cfg Config, publicURL string, httpClient *http.Client) (*Gateway, error) {
	appID := strings.TrimSpace(cfg.AppID)
	if !payment.Printable(appID, maxAppIDLength) {
		return nil, faka.Errorf(faka.EInvalid, "app_id must be the app's APPID: 1 to %d printable ASCII characters", maxAppIDLength)
	}
	priv, err := parsePrivateKey(cfg.PrivateKey)
	if err != nil {
		return nil, err
	}
	pub, err := parsePublicKey(cfg.AlipayPublicKey)
	if err != nil {
		return nil, err
	}
	if pub.Equal(&priv.PublicKey) {
		return nil, faka.Errorf(faka.EInvalid, "alipay_public_key is the app's own public key: use the Alipay public key (支付宝公钥) that Alipay shows once the app's key is set")
	}
	mode := strings.TrimSpace(cfg.Mode)
	switch mode {
	case "":
		mode = ModePage
	case ModePage, ModeQR:
	default:
		return nil, faka.Errorf(faka.EInvalid, "mode must be %q (computer website payment) or %q (QR code, face-to-face payment)", ModePage, ModeQR)
	}
	pubURL, err := payment.BaseURL(publicURL)
	if err != nil {
		return nil, fmt.Errorf("alipay: public URL: %w", err)
	}
	gateway := ProductionURL
	if cfg.Sandbox {
		gateway = SandboxURL
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 15 * time.Second}
	}
	if s := strings.TrimSpace(cfg.APIURL); s != "" {
		to, err := payment.ProviderURL(s)
		if err != nil {
			return nil, faka.Errorf(faka.EInvalid, "api_url: %s, such as http://127.0.0.1:9000/gateway.do", faka.ErrorMessage(err))
		}
		gateway = to
		httpClient = redirected(httpClient, to)
	}

	privDER := x509.MarshalPKCS1PrivateKey(priv)
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, faka.Errorf(faka.EInvalid, "alipay_public_key cannot be used")
	}
	// gopay takes both keys as bare base64 and wraps them in PEM itself.
	client, err := ali.NewClient(appID, base64.StdEncoding.EncodeToString(privDER), !cfg.Sandbox)
	if err != nil {
		// gopay's error shows the key: keep it out.
		return nil, faka.Errorf(faka.EInvalid, "private_key cannot be used")
	}
	client.NotifyUrl = pubURL + "/pay/" + Name + "/notify"
	client.SetLocation("Asia/Shanghai") // timestamps in Beijing time, as Alipay reads them
	hc := xhttp.NewClient()             // its default transport skips TLS verification: replaced
	hc.HttpClient = httpClient
	hc.SetBodySize(1) // MB
	client.SetHttpClient(hc)

	return &Gateway{appID: appID, alipayPub: base64.StdEncoding.EncodeToString(pubDER), mode: mode,
		gateway: gateway, publicURL: pubURL, client: client, now: time.Now, codes: map[string]cachedCode{}}, nil
}

// Kind is Alipay as a gateway the merchant configures: {app_id,
// private_key, alipay_public_key, mode, sandbox, api_url}.
func Kind() payment.Kind {
	return payment.Kind{
		Name: Name,
		Fields: []payment.Field{
			{Name: "app_id", Required: true},
			{Name: "private_key", Required: true, Secret: true, Multiline: true},
			{Name: "alipay_public_key", Required: true, Multiline: true},
			{Name: "mode"},    // page (default) or qr
			{Name: "sandbox"}, // true or false (default)
			{Name: "api_url"}, // tests only
		},
		New: func(s payment.Settings, env payment.Env) (payment.Gateway, error) {
			var sandbox bool
			switch strings.TrimSpace(s["sandbox"]) {
			case "", "false":
			case "true":
				sandbox = true
			default:
				return nil, faka.Errorf(faka.EInvalid, "sandbox must be true or false")
			}
			return New(Config{AppID: s["app_id"], PrivateKey: s["private_key"], AlipayPublicKey: s["alipay_public_key"],
				Mode: s["mode"], Sandbox: sandbox, APIURL: s["api_url"]}, env.PublicURL, env.Client)
		},
	}
}

// keyDER reads a key given as PEM (the lines may have been joined with
// spaces, as a one-line settings field does) or as bare base64.
func keyDER(s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-----BEGIN ") {
		_, rest, ok := strings.Cut(s[len("-----BEGIN "):], "-----")
		if !ok {
			return nil, false
		}
		body, tail, ok := strings.Cut(rest, "-----END ")
		if !ok || !strings.HasSuffix(tail, "-----") {
			return nil, false
		}
		s = body
	}
	s = strings.Join(strings.Fields(s), "")
	if s == "" {
		return nil, false
	}
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if der, err = base64.RawStdEncoding.DecodeString(s); err != nil {
			return nil, false
		}
	}
	return der, true
}

func parsePrivateKey(s string) (*rsa.PrivateKey, error) {
	bad := faka.Errorf(faka.EInvalid, "private_key must be the app's RSA private key (应用私钥), PKCS#1 or PKCS#8, as PEM or base64")
	der, ok := keyDER(s)
	if !ok {
		return nil, bad
	}
	key, err := x509.ParsePKCS1PrivateKey(der)
	if err != nil {
		k8, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, bad
		}
		if key, ok = k8.(*rsa.PrivateKey); !ok {
			return nil, bad
		}
	}
	if key.N.BitLen() < minKeyBits {
		return nil, faka.Errorf(faka.EInvalid, "private_key must be an RSA key of at least %d bits (RSA2)", minKeyBits)
	}
	return key, nil
}

func parsePublicKey(s string) (*rsa.PublicKey, error) {
	bad := faka.Errorf(faka.EInvalid, "alipay_public_key must be Alipay's RSA public key (支付宝公钥, public key mode) as PEM or base64")
	der, ok := keyDER(s)
	if !ok {
		return nil, bad
	}
	if _, err := x509.ParseCertificate(der); err == nil {
		return nil, faka.Errorf(faka.EInvalid, "alipay_public_key is a certificate: certificate mode is not supported; set the app to public key mode and give Alipay's public key")
	}
	var key *rsa.PublicKey
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		if key, ok = k.(*rsa.PublicKey); !ok {
			return nil, bad
		}
	} else if key, err = x509.ParsePKCS1PublicKey(der); err != nil {
		return nil, bad
	}
	if key.N.BitLen() < minKeyBits {
		return nil, faka.Errorf(faka.EInvalid, "alipay_public_key must be an RSA key of at least %d bits (RSA2)", minKeyBits)
	}
	return key, nil
}

// Name returns "alipay".
func (g *Gateway) Name() string { return Name }

// Mode returns ModePage or ModeQR.
func (g *Gateway) Mode() string { return g.mode }

// checkOrder refuses an order Alipay cannot take.
func checkOrder(o *faka.Order) error {
	if o.Currency != Currency {
		return faka.Errorf(faka.EInvalid, "alipay takes CNY only, not %s", o.Currency)
	}
	if o.Amount <= 0 || o.Amount > maxAmount {
		return faka.Errorf(faka.EInvalid, "alipay takes amounts from 0.01 to 100000000.00 CNY")
	}
	if !payment.Printable(o.OrderNo, MaxOrderNoLength) {
		return faka.Errorf(faka.EInvalid, "alipay: order number %q cannot be an out_trade_no", o.OrderNo)
	}
	return nil
}

// tradeParams are the business parameters (biz_content) of order o's
// trade: the same for every call about the order, so that precreate
// answers the same code again.
func tradeParams(o *faka.Order) gopay.BodyMap {
	bm := make(gopay.BodyMap)
	bm.Set("out_trade_no", o.OrderNo).
		Set("total_amount", payment.FormatYuan(o.Amount)).
		Set("subject", "Order "+o.OrderNo)
	if !o.ReservedUntil.IsZero() {
		// Alipay refuses payment after this (its own clock decides).
		bm.Set("time_expire", TimeExpire(o.ReservedUntil))
	}
	return bm
}

// TimeExpire writes t as Alipay's time_expire: "2006-01-02 15:04:05" in
// Beijing time.
func TimeExpire(t time.Time) string { return t.In(beijing).Format(time.DateTime) }

// PayURL returns where the buyer of order o, who holds token, pays. In
// page mode it is Alipay's page for a signed alipay.trade.page.pay; in QR
// mode it is faka's QR page, which makes the trade when it is shown.
func (g *Gateway) PayURL(_ context.Context, o *faka.Order, token string) (string, error) {
	if err := checkOrder(o); err != nil {
		return "", err
	}
	if g.mode == ModeQR {
		return g.publicURL + qrpage.Path(Name, o.OrderNo, token), nil
	}
	biz := tradeParams(o)
	biz.Set("product_code", "FAST_INSTANT_TRADE_PAY")
	bm := make(gopay.BodyMap)
	bm.Set("return_url", payment.ReturnURL(g.publicURL, o.OrderNo)).
		Set("biz_content", biz)
	// RequestParam rather than TradePagePay: the latter also copies
	// return_url into biz_content and always names the real gateway.
	params, err := g.client.RequestParam(bm, "alipay.trade.page.pay")
	if err != nil {
		return "", fmt.Errorf("alipay: sign the pay URL of order %s: %w", o.OrderNo, err)
	}
	return g.gateway + "?" + params, nil
}

// Pages serves the QR page in QR mode; in page mode there is none.
func (g *Gateway) Pages(h payment.Host) http.Handler {
	if g.mode != ModeQR {
		return http.NotFoundHandler()
	}
	return qrpage.Handler(Name, "Alipay", h, g.code)
}

// ParseNotification verifies a notification's RSA2 signature with Alipay's
// public key, then checks the app, the trade status and the amount.
// Nothing but the signature is looked at before it verifies.
func (g *Gateway) ParseNotification(_ *http.Request, body []byte) (faka.Notification, error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return faka.Notification{}, faka.Errorf(faka.EBadRequest, "malformed notification: %w", err)
	}
	for k, vs := range vals {
		if len(vs) != 1 {
			// Which copy was signed is ambiguous (gopay would drop both).
			return faka.Notification{}, faka.Errorf(faka.EBadRequest, "malformed notification: %q is given %d times", k, len(vs))
		}
	}
	bm, err := ali.ParseNotifyByURLValues(vals)
	if err != nil {
		return faka.Notification{}, faka.Errorf(faka.EBadRequest, "malformed notification: %w", err)
	}
	if err := g.verify(bm); err != nil {
		return faka.Notification{}, err
	}
	if st := bm.GetString("sign_type"); st != SignType {
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "sign_type must be %s", SignType)
	}
	if !hmac.Equal([]byte(bm.GetString("app_id")), []byte(g.appID)) {
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "app_id is not this shop's")
	}
	switch st := bm.GetString("trade_status"); st {
	case TradeClosed, WaitBuyerPay:
		// Sent when a trade closes, our own CloseTrade included, and, if
		// the app subscribes to it, when a trade is created: genuine, and
		// no payment. Acknowledged, so that Alipay stops resending it
		// (for 25 hours otherwise).
		return faka.Notification{}, payment.Ignored("trade %s is %s: no payment", bm.GetString("out_trade_no"), st)
	}
	return g.paid(bm.GetString("trade_status"), bm.GetString("out_trade_no"), bm.GetString("trade_no"), bm.GetString("total_amount"))
}

// verify checks the notification's sign: the fields but sign and
// sign_type, sorted, empty ones left out, joined as k=v with '&', signed
// SHA256withRSA by Alipay. SHA-256 is required whatever sign_type says.
func (g *Gateway) verify(bm gopay.BodyMap) error {
	if bm.GetString("sign") == "" {
		return faka.Errorf(faka.EUnauthorized, "missing sign")
	}
	c := make(gopay.BodyMap, len(bm))
	for k, v := range bm {
		c[k] = v
	}
	c.Set("sign_type", SignType) // gopay picks the hash from it, then leaves it out of the signed text
	if ok, err := ali.VerifySign(g.alipayPub, c); !ok || err != nil {
		return faka.Errorf(faka.EUnauthorized, "the signature does not verify with the Alipay public key")
	}
	return nil
}

// paid checks what a verified notification or query reply states and
// returns the payment.
func (g *Gateway) paid(status, orderNo, tradeNo, totalAmount string) (faka.Notification, error) {
	switch {
	case status != TradeSuccess && status != TradeFinished:
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "trade_status must be %s or %s", TradeSuccess, TradeFinished)
	case !payment.Printable(orderNo, MaxOrderNoLength):
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "out_trade_no must be 1 to %d printable ASCII characters", MaxOrderNoLength)
	case !payment.Printable(tradeNo, MaxTradeNoLength):
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "trade_no must be 1 to %d printable ASCII characters", MaxTradeNoLength)
	}
	amount, err := payment.ParseYuan(totalAmount)
	if err != nil {
		return faka.Notification{}, err
	}
	if amount <= 0 {
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "total_amount must be positive")
	}
	return faka.Notification{Gateway: Name, OrderNo: orderNo, TradeNo: tradeNo, Amount: amount, Currency: Currency}, nil
}

// Acknowledge replies 200 "success", which stops Alipay's retries.
func (g *Gateway) Acknowledge(w http.ResponseWriter) { payment.ReplyText(w, http.StatusOK, "success") }

// Reject replies "fail": 400 for a refused notification, 500 or 503 when
// the failure is ours. Alipay retries anything but "success" (up to eight
// times over 25 hours).
func (g *Gateway) Reject(w http.ResponseWriter, err error) {
	payment.ReplyText(w, payment.RejectStatus(err), "fail")
}
