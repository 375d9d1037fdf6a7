package alipay_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/faka-dev/faka/payment/alipay"
)

// The test keys live in testdata/: made once by TestTestdata -update,
// for these tests only.
const (
	merchantKeyFile = "testdata/TEST-ONLY-merchant-app-private-key.pem"
	alipayKeyFile   = "testdata/TEST-ONLY-fake-alipay-private-key.pem"
)

const (
	appID     = "2021000000000001"
	publicURL = "https://shop.example.com"
)

// keyMark heads the test key files.
const keyMark = "TEST KEY ONLY: made for faka's tests of payment/alipay. It is public; never use it for a real Alipay app.\n"

var (
	keysOnce               sync.Once
	merchantKey, aliKey    *rsa.PrivateKey
	keysErr                error
	merchantPub, alipayPub *rsa.PublicKey
)

// loadKeys reads the test keys: the merchant app's ("merchant") and the
// key the fake Alipay signs with ("Alipay").
func loadKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		if merchantKey, keysErr = readKey(merchantKeyFile); keysErr != nil {
			return
		}
		if aliKey, keysErr = readKey(alipayKeyFile); keysErr != nil {
			return
		}
		merchantPub, alipayPub = &merchantKey.PublicKey, &aliKey.PublicKey
	})
	if keysErr != nil {
		t.Fatalf("test keys: %v (make them with go test -run TestTestdata -update)", keysErr)
	}
}

func readKey(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, os.ErrInvalid
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	return k.(*rsa.PrivateKey), nil
}

// The forms keys are given in.
func b64(der []byte) string { return base64.StdEncoding.EncodeToString(der) }

func pkcs1(k *rsa.PrivateKey) string { return b64(x509.MarshalPKCS1PrivateKey(k)) }

func pkcs8(k *rsa.PrivateKey) string {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return b64(der)
}

func pkix(k *rsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		panic(err)
	}
	return b64(der)
}

func pemOf(typ, b64der string) string {
	der, _ := base64.StdEncoding.DecodeString(b64der)
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func config() alipay.Config {
	return alipay.Config{AppID: appID, PrivateKey: pkcs8(merchantKey), AlipayPublicKey: pkix(alipayPub)}
}

// newGateway returns a gateway of the test app: mode "" is page mode.
func newGateway(t testing.TB, mode, apiURL string, client *http.Client) *alipay.Gateway {
	t.Helper()
	loadKeys(t)
	cfg := config()
	cfg.Mode, cfg.APIURL = mode, apiURL
	g, err := alipay.New(cfg, publicURL+"/", client)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// signContent is what Alipay signs in a notification, written out here
// from Alipay's documentation rather than taken from gopay: the fields
// but sign and sign_type, sorted by name, empty ones left out, as k=v
// joined with '&'.
func signContent(p map[string]string, skip ...string) string {
	names := make([]string, 0, len(p))
	for k, v := range p {
		if v != "" && !slices.Contains(skip, k) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	var b strings.Builder
	for i, k := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k + "=" + p[k])
	}
	return b.String()
}

func rsaSign(key *rsa.PrivateKey, h crypto.Hash, content string) string {
	hh := h.New()
	hh.Write([]byte(content))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, h, hh.Sum(nil))
	if err != nil {
		panic(err)
	}
	return b64(sig)
}

func rsaVerify(pub *rsa.PublicKey, h crypto.Hash, content, sign string) bool {
	sig, err := base64.StdEncoding.DecodeString(sign)
	if err != nil {
		return false
	}
	hh := h.New()
	hh.Write([]byte(content))
	return rsa.VerifyPKCS1v15(pub, h, hh.Sum(nil), sig) == nil
}

// signedForm returns the notification fields p signed by key (SHA-256,
// sign_type RSA2 unless p says otherwise), form-encoded.
func signedForm(p map[string]string, key *rsa.PrivateKey) string {
	return signedFormHash(p, key, crypto.SHA256)
}

func signedFormHash(p map[string]string, key *rsa.PrivateKey, h crypto.Hash) string {
	q := url.Values{}
	for k, v := range p {
		q.Set(k, v)
	}
	if _, ok := p["sign_type"]; !ok {
		q.Set("sign_type", "RSA2")
	}
	q.Set("sign", rsaSign(key, h, signContent(p, "sign", "sign_type")))
	return q.Encode()
}

// paidFields is a notification of a paid trade of order 2026A, with the
// fields Alipay sends for a computer website payment.
func paidFields() map[string]string {
	return map[string]string{
		"gmt_create":       "2026-03-01 12:00:01",
		"charset":          "utf-8",
		"gmt_payment":      "2026-03-01 12:00:09",
		"notify_time":      "2026-03-01 12:00:10",
		"subject":          "Order 2026A",
		"buyer_id":         "2088102177846880",
		"invoice_amount":   "9.90",
		"version":          "1.0",
		"notify_id":        "2026030100222120010046881419",
		"fund_bill_list":   `[{"amount":"9.90","fundChannel":"ALIPAYACCOUNT"}]`,
		"notify_type":      "trade_status_sync",
		"out_trade_no":     "2026A",
		"total_amount":     "9.90",
		"trade_status":     alipay.TradeSuccess,
		"trade_no":         "2026030122001446881419000001",
		"auth_app_id":      appID,
		"receipt_amount":   "9.90",
		"point_amount":     "0.00",
		"buyer_pay_amount": "9.90",
		"app_id":           appID,
		"seller_id":        "2088102177302314",
	}
}

func with(p map[string]string, kv ...string) map[string]string {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(p, kv[i])
		} else {
			p[kv[i]] = kv[i+1]
		}
	}
	return p
}

func post(body string) *http.Request {
	r, _ := http.NewRequest("POST", publicURL+"/pay/alipay/notify", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	return r
}
