// Package wechat is the WeChat Pay gateway (API v3, Native payment): the
// buyer scans a QR code with WeChat on the gateway's own page,
// /pay/wechat/qr/{order_no}; WeChat Pay notifies /pay/wechat/notify with a
// signed JSON body whose resource is encrypted with the merchant's APIv3
// key, and is answered 200 with an empty body once the payment is applied
// (or was before). Orders may be queried for notifications that never
// came, and closed once their reservation has ended.
//
// The API calls go through github.com/go-pay/gopay (which signs the
// requests with the merchant's API private key); the replies and the
// notifications are verified here with the WeChat Pay public key
// (微信支付公钥, whose id starts with PUB_KEY_ID_), the mode WeChat Pay
// recommends for new merchants. The older platform-certificate mode
// (平台证书) is not supported.
package wechat

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-pay/gopay/pkg/xhttp"
	"github.com/go-pay/gopay/wechat/v3"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/payment/qrpage"
)

// Name is the gateway's name.
const Name = "wechat"

// Title names the payment app on the QR page.
const Title = "WeChat Pay"

// Currency is the only currency a Native payment of a mainland merchant
// takes.
const Currency = "CNY"

// PublicKeyIDPrefix starts the id of a WeChat Pay public key.
const PublicKeyIDPrefix = "PUB_KEY_ID_"

// APIv3KeyLength is the length of the APIv3 key, in bytes: it is an
// AES-256 key.
const APIv3KeyLength = 32

// MinKeyBits is the smallest RSA key accepted; WeChat Pay's keys have 2048
// bits.
const MinKeyBits = 2048

// MaxTradeNoLength bounds a transaction_id (WeChat's have 28 digits).
const MaxTradeNoLength = 64

// MaxClockSkew is how far a notification's timestamp may be from our
// clock: older ones are refused as replays.
const MaxClockSkew = 5 * time.Minute

// Codes are kept in memory at most this many (one per unpaid order being
// shown).
const maxCodes = 10000

// maxReplyMB bounds what is read of an API reply, in MB (gopay counts in
// MB; the replies are a few hundred bytes).
const maxReplyMB = 1

// shanghai is the zone of WeChat Pay's times (time_expire is written
// with +08:00, as in WeChat's documentation).
var shanghai = time.FixedZone("CST", 8*60*60)

// Config is a merchant's WeChat Pay account in public-key mode.
type Config struct {
	MchID       string // 商户号 (mchid)
	AppID       string // the AppID bound to the merchant (appid)
	SerialNo    string // serial number of the merchant API certificate
	APIv3Key    string // APIv3 key, 32 characters (secret)
	PrivateKey  string // merchant API private key (apiclient_key.pem), PEM (secret)
	PublicKey   string // WeChat Pay public key (pub_key.pem), PEM
	PublicKeyID string // its id, PUB_KEY_ID_…
	// APIURL replaces https://api.mch.weixin.qq.com: a test server, or
	// the backup domain https://api2.mch.weixin.qq.com. Empty: the
	// default.
	APIURL string
	// Now is the clock notifications' timestamps are judged by; nil:
	// time.Now.
	Now func() time.Time
}

// Gateway is the WeChat Pay gateway. It is safe for concurrent use.
type Gateway struct {
	mchID, appID string
	apiV3Key     []byte
	pubKey       *rsa.PublicKey
	pubKeyID     string
	publicURL    string
	api          *wechat.ClientV3
	now          func() time.Time
	codes        codeCache
}

var (
	_ payment.PageGateway = (*Gateway)(nil)
	_ payment.Querier     = (*Gateway)(nil)
	_ payment.Closer      = (*Gateway)(nil)
)

// New returns a WeChat Pay gateway for cfg whose notify URL is under
// publicURL; client makes the API calls (nil: a client with a 15 s
// timeout). A bad setting is an EInvalid error that names the field and
// never repeats its value.
func New(cfg Config, publicURL string, client *http.Client) (*Gateway, error) {
	cfg.MchID, cfg.AppID, cfg.SerialNo = strings.TrimSpace(cfg.MchID), strings.TrimSpace(cfg.AppID), strings.TrimSpace(cfg.SerialNo)
	cfg.PublicKeyID = strings.TrimSpace(cfg.PublicKeyID)
	switch {
	case !token(cfg.MchID, 32):
		return nil, faka.Errorf(faka.EInvalid, "mchid must be the merchant id: 1 to 32 letters or digits")
	case !token(cfg.AppID, 32):
		return nil, faka.Errorf(faka.EInvalid, "appid must be the AppID bound to the merchant: 1 to 32 letters or digits")
	case !token(cfg.SerialNo, 64):
		return nil, faka.Errorf(faka.EInvalid, "serial_no must be the serial number of the merchant API certificate: 1 to 64 letters or digits")
	case len(cfg.APIv3Key) != APIv3KeyLength || !payment.Printable(cfg.APIv3Key, APIv3KeyLength):
		return nil, faka.Errorf(faka.EInvalid, "api_v3_key must be the APIv3 key: exactly %d printable ASCII characters", APIv3KeyLength)
	case !strings.HasPrefix(cfg.PublicKeyID, PublicKeyIDPrefix) || !token(cfg.PublicKeyID, 64):
		return nil, faka.Errorf(faka.EInvalid, "wechatpay_public_key_id must be the id of the WeChat Pay public key, %s… (platform certificates are not supported)", PublicKeyIDPrefix)
	}
	priv, err := parsePrivateKey(cfg.PrivateKey)
	if err != nil {
		return nil, faka.Errorf(faka.EInvalid, "private_key must be the merchant API private key (apiclient_key.pem) in PEM form: an RSA key of at least %d bits", MinKeyBits)
	}
	pub, err := parsePublicKey(cfg.PublicKey)
	if err != nil {
		return nil, faka.Errorf(faka.EInvalid, "wechatpay_public_key must be the WeChat Pay public key (pub_key.pem) in PEM form: an RSA key of at least %d bits", MinKeyBits)
	}
	if priv.PublicKey.Equal(pub) {
		return nil, faka.Errorf(faka.EInvalid, "wechatpay_public_key is the merchant's own public key; it must be the WeChat Pay public key")
	}
	apiURL := ""
	if strings.TrimSpace(cfg.APIURL) != "" {
		if apiURL, err = payment.ProviderURL(cfg.APIURL); err != nil {
			return nil, faka.Errorf(faka.EInvalid, "api_url must be an absolute http(s) URL such as https://api2.mch.weixin.qq.com")
		}
	}
	pubURL, err := payment.BaseURL(publicURL)
	if err != nil {
		return nil, faka.Errorf(faka.EInvalid, "wechat: the public URL must be an absolute http(s) URL")
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, faka.Errorf(faka.EInvalid, "private_key cannot be used")
	}
	privPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	api, err := wechat.NewClientV3(cfg.MchID, cfg.SerialNo, cfg.APIv3Key, string(privPEM))
	if err != nil {
		// Never wrapped: gopay's error text holds the key.
		return nil, faka.Errorf(faka.EInvalid, "private_key cannot be used")
	}
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	// xhttp.NewClient's own http.Client skips TLS verification: it is
	// replaced by ours, never used.
	hc := xhttp.NewClient()
	hc.HttpClient = client
	hc.SetBodySize(maxReplyMB)
	api.SetHttpClient(hc)
	if apiURL != "" {
		api.SetProxyHost(apiURL)
	}
	// Sent as Wechatpay-Serial: the key WeChat Pay signs its replies with.
	// gopay's own reply verification (AutoVerifySign…) stays off: the
	// replies are verified here, against this key only.
	api.WxSerialNo = cfg.PublicKeyID
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Gateway{mchID: cfg.MchID, appID: cfg.AppID, apiV3Key: []byte(cfg.APIv3Key), pubKey: pub, pubKeyID: cfg.PublicKeyID,
		publicURL: pubURL, api: api, now: now, codes: codeCache{m: map[string]*codeCall{}, max: maxCodes}}, nil
}

// Kind is WeChat Pay as a gateway the merchant configures: {mchid, appid,
// serial_no, api_v3_key, private_key, wechatpay_public_key,
// wechatpay_public_key_id, api_url}.
func Kind() payment.Kind {
	return payment.Kind{
		Name: Name,
		Fields: []payment.Field{
			{Name: "mchid", Required: true},
			{Name: "appid", Required: true},
			{Name: "serial_no", Required: true},
			{Name: "api_v3_key", Required: true, Secret: true},
			{Name: "private_key", Required: true, Secret: true, Multiline: true},
			{Name: "wechatpay_public_key", Required: true, Multiline: true},
			{Name: "wechatpay_public_key_id", Required: true},
			{Name: "api_url"},
		},
		New: func(s payment.Settings, env payment.Env) (payment.Gateway, error) {
			return New(Config{MchID: s["mchid"], AppID: s["appid"], SerialNo: s["serial_no"], APIv3Key: s["api_v3_key"],
				PrivateKey: s["private_key"], PublicKey: s["wechatpay_public_key"], PublicKeyID: s["wechatpay_public_key_id"],
				APIURL: s["api_url"]}, env.PublicURL, env.Client)
		},
	}
}

// token reports whether s is 1 to max ASCII letters, digits, '_' or '-':
// what ids put into URLs and headers unescaped may be.
func token(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ValidOrderNo reports whether s can be a WeChat Pay out_trade_no: 6 to
// 32 letters, digits, '_', '-' or '*'. gopay puts it into the API path
// unescaped (and signs that path), so nothing else may pass.
func ValidOrderNo(s string) bool {
	if len(s) < 6 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '-' || c == '*') {
			return false
		}
	}
	return true
}

// der reads key material as PEM — with its line breaks, or with them
// turned into spaces, since the settings API takes one line of text — or
// as bare base64 DER.
func der(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "-----BEGIN "); i >= 0 {
		rest := s[i+len("-----BEGIN "):]
		j := strings.Index(rest, "-----")
		if j < 0 {
			return nil, fmt.Errorf("no end of the BEGIN line")
		}
		rest = rest[j+len("-----"):]
		k := strings.Index(rest, "-----END ")
		if k < 0 {
			return nil, fmt.Errorf("no END line")
		}
		s = rest[:k]
	}
	b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("not base64")
	}
	return b, nil
}

// parsePrivateKey reads an RSA private key in PKCS #8 or PKCS #1 form.
func parsePrivateKey(s string) (*rsa.PrivateKey, error) {
	b, err := der(s)
	if err != nil {
		return nil, err
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(b); err == nil {
		var ok bool
		if key, ok = k.(*rsa.PrivateKey); !ok {
			return nil, fmt.Errorf("not an RSA key")
		}
	} else if key, err = x509.ParsePKCS1PrivateKey(b); err != nil {
		return nil, fmt.Errorf("not a private key")
	}
	if key.N.BitLen() < MinKeyBits {
		return nil, fmt.Errorf("shorter than %d bits", MinKeyBits)
	}
	return key, nil
}

// parsePublicKey reads an RSA public key in PKIX or PKCS #1 form, or the
// key of an X.509 certificate.
func parsePublicKey(s string) (*rsa.PublicKey, error) {
	b, err := der(s)
	if err != nil {
		return nil, err
	}
	var k any
	if k, err = x509.ParsePKIXPublicKey(b); err != nil {
		if k, err = x509.ParsePKCS1PublicKey(b); err != nil {
			c, cerr := x509.ParseCertificate(b)
			if cerr != nil {
				return nil, fmt.Errorf("not a public key")
			}
			k = c.PublicKey
		}
	}
	key, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("not an RSA key")
	}
	if key.N.BitLen() < MinKeyBits {
		return nil, fmt.Errorf("shorter than %d bits", MinKeyBits)
	}
	return key, nil
}

// Name returns "wechat".
func (g *Gateway) Name() string { return Name }

// PayURL returns the gateway's QR page for order o. The WeChat Pay trade
// is created when the page is first shown. Only CNY orders can be paid.
func (g *Gateway) PayURL(_ context.Context, o *faka.Order, token string) (string, error) {
	if o.Currency != Currency {
		return "", faka.Errorf(faka.EInvalid, "WeChat Pay takes CNY only, not %s", o.Currency)
	}
	if !ValidOrderNo(o.OrderNo) {
		return "", faka.Errorf(faka.EInvalid, "order number %q cannot be a WeChat Pay out_trade_no", o.OrderNo)
	}
	return g.publicURL + qrpage.Path(Name, o.OrderNo, token), nil
}

// Pages serves the QR page, /pay/wechat/qr/{order_no}?token=…, whose code
// is the Native trade's code_url.
func (g *Gateway) Pages(h payment.Host) http.Handler {
	return qrpage.Handler(Name, Title, h, g.code)
}

// code returns the code_url of order o's Native trade, creating the trade
// on first use. WeChat Pay closes the trade when the reservation ends
// (time_expire), so a code is kept until then and none is made for an
// order whose reservation has ended.
func (g *Gateway) code(ctx context.Context, o *faka.Order) (string, error) {
	if o.Currency != Currency {
		return "", faka.Errorf(faka.EInvalid, "WeChat Pay takes CNY only, not %s", o.Currency)
	}
	if !ValidOrderNo(o.OrderNo) {
		return "", faka.Errorf(faka.EInvalid, "order number %q cannot be a WeChat Pay out_trade_no", o.OrderNo)
	}
	now := g.now()
	if !o.ReservedUntil.IsZero() && !now.Before(o.ReservedUntil) {
		return "", faka.Errorf(faka.EConflict, "The reservation of order %s has ended, and WeChat Pay no longer takes payments for it. Please place a new order.", o.OrderNo)
	}
	return g.codes.get(ctx, o.OrderNo, now, func() (string, time.Time, error) {
		code, err := g.native(ctx, o)
		return code, o.ReservedUntil, err
	})
}

// codeCache keeps code URLs by order number until their trade expires,
// and lets concurrent loads of one new order's page share one API call.
type codeCache struct {
	mu  sync.Mutex
	m   map[string]*codeCall
	max int
}

type codeCall struct {
	done  chan struct{} // closed once code, until and err are set
	code  string
	until time.Time // zero: no known end
	err   error
}

// get returns the code kept for orderNo, or the one create returns. A
// failed create is not kept, so that the next load asks again.
func (c *codeCache) get(ctx context.Context, orderNo string, now time.Time, create func() (string, time.Time, error)) (string, error) {
	c.mu.Lock()
	call, ok := c.m[orderNo]
	if ok {
		select {
		case <-call.done:
			if !call.until.IsZero() && !now.Before(call.until) {
				delete(c.m, orderNo)
				ok = false
			}
		default:
		}
	}
	if ok {
		c.mu.Unlock()
		select {
		case <-call.done:
			return call.code, call.err
		case <-ctx.Done():
			return "", faka.Errorf(faka.EUnavailable, "wechat: waiting for the code of order %s: %w", orderNo, ctx.Err())
		}
	}
	c.evict(now)
	call = &codeCall{done: make(chan struct{})}
	c.m[orderNo] = call
	c.mu.Unlock()

	call.code, call.until, call.err = create()
	if call.err != nil {
		c.mu.Lock()
		if c.m[orderNo] == call {
			delete(c.m, orderNo)
		}
		c.mu.Unlock()
	}
	close(call.done)
	return call.code, call.err
}

// evict makes room for one more code: expired ones go first, then the
// one that expires soonest. c.mu is held.
func (c *codeCache) evict(now time.Time) {
	if len(c.m) < c.max {
		return
	}
	var soonest string
	var soonestAt time.Time
	for k, call := range c.m {
		select {
		case <-call.done:
		default:
			continue // in flight: its waiters need it
		}
		if !call.until.IsZero() && !now.Before(call.until) {
			delete(c.m, k)
			continue
		}
		if soonest == "" || (!call.until.IsZero() && (soonestAt.IsZero() || call.until.Before(soonestAt))) {
			soonest, soonestAt = k, call.until
		}
	}
	if len(c.m) >= c.max && soonest != "" {
		delete(c.m, soonest)
	}
}

// Acknowledge replies 200 with an empty body, which stops WeChat Pay's
// retries.
func (g *Gateway) Acknowledge(w http.ResponseWriter) { w.WriteHeader(http.StatusOK) }

// Reject replies {"code":"FAIL","message":…}: 400 for a refused
// notification, 500 or 503 when the failure is ours, so that WeChat Pay
// retries.
func (g *Gateway) Reject(w http.ResponseWriter, err error) {
	msg := faka.ErrorMessage(err)
	if len(msg) > 200 {
		msg = strings.ToValidUTF8(msg[:200], "")
	}
	body, _ := json.Marshal(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{"FAIL", msg})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(payment.RejectStatus(err))
	w.Write(body) //nolint:errcheck // WeChat Pay went away
}
