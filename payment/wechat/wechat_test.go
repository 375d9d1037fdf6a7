package wechat_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/payment/wechat"
)

func TestNew(t *testing.T) {
	t.Parallel()
	k := keys()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.merchant)}))
	oneLine := strings.ReplaceAll(strings.TrimSpace(privatePEM(k.merchant)), "\n", " ")

	good := []struct {
		name string
		edit func(c *wechat.Config)
	}{
		{"as given", func(*wechat.Config) {}},
		{"PKCS #1 private key", func(c *wechat.Config) { c.PrivateKey = pkcs1 }},
		{"PEM on one line (the settings API takes no line breaks)", func(c *wechat.Config) {
			c.PrivateKey = oneLine
			c.PublicKey = strings.ReplaceAll(c.PublicKey, "\n", " ")
		}},
		{"bare base64", func(c *wechat.Config) {
			s := strings.TrimSpace(c.PublicKey)
			s = strings.TrimPrefix(s, "-----BEGIN PUBLIC KEY-----")
			c.PublicKey = strings.TrimSuffix(s, "-----END PUBLIC KEY-----")
		}},
		{"backup API domain", func(c *wechat.Config) { c.APIURL = "https://api2.mch.weixin.qq.com/" }},
	}
	for _, tc := range good {
		c := config("")
		tc.edit(&c)
		if _, err := wechat.New(c, shop, nil); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}

	bad := []struct {
		name, field string
		edit        func(c *wechat.Config)
		secret      string // must not appear in the error
	}{
		{"no mchid", "mchid", func(c *wechat.Config) { c.MchID = "" }, ""},
		{"mchid with a slash", "mchid", func(c *wechat.Config) { c.MchID = "1900/0109" }, ""},
		{"no appid", "appid", func(c *wechat.Config) { c.AppID = "" }, ""},
		{"serial with quotes", "serial_no", func(c *wechat.Config) { c.SerialNo = `51"57` }, ""},
		{"APIv3 key of 31 bytes", "api_v3_key", func(c *wechat.Config) { c.APIv3Key = apiV3Key[:31] }, apiV3Key[:31]},
		{"APIv3 key of 33 bytes", "api_v3_key", func(c *wechat.Config) { c.APIv3Key = apiV3Key + "x" }, apiV3Key},
		{"APIv3 key with a space", "api_v3_key", func(c *wechat.Config) { c.APIv3Key = "t3st APIv3key0123456789abcdefghij" }, "t3st APIv3key"},
		{"platform certificate serial", "wechatpay_public_key_id", func(c *wechat.Config) { c.PublicKeyID = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1" }, ""},
		{"no private key", "private_key", func(c *wechat.Config) { c.PrivateKey = "" }, ""},
		{"garbled private key", "private_key", func(c *wechat.Config) { c.PrivateKey = strings.Replace(oneLine, "M", "!", 3) }, oneLine[40:80]},
		{"public key as private key", "private_key", func(c *wechat.Config) { c.PrivateKey = c.PublicKey }, ""},
		{"1024-bit private key", "private_key", func(c *wechat.Config) { c.PrivateKey = privatePEM(small) }, privatePEM(small)[40:80]},
		{"no WeChat Pay public key", "wechatpay_public_key", func(c *wechat.Config) { c.PublicKey = "" }, ""},
		{"1024-bit WeChat Pay key", "wechatpay_public_key", func(c *wechat.Config) { c.PublicKey = publicPEM(&small.PublicKey) }, ""},
		{"private key as WeChat Pay key", "wechatpay_public_key", func(c *wechat.Config) { c.PublicKey = privatePEM(k.wechat) }, privatePEM(k.wechat)[40:80]},
		{"the merchant's own key", "wechatpay_public_key", func(c *wechat.Config) { c.PublicKey = publicPEM(&k.merchant.PublicKey) }, ""},
		{"API URL without scheme", "api_url", func(c *wechat.Config) { c.APIURL = "api.mch.weixin.qq.com" }, ""},
		{"API URL with a query", "api_url", func(c *wechat.Config) { c.APIURL = "https://api.mch.weixin.qq.com/?x=1" }, ""},
	}
	for _, tc := range bad {
		c := config("")
		tc.edit(&c)
		_, err := wechat.New(c, shop, nil)
		if faka.ErrorCode(err) != faka.EInvalid {
			t.Errorf("%s: %v, want invalid", tc.name, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), tc.field+" ") {
			t.Errorf("%s: %q does not name %s", tc.name, err, tc.field)
		}
		if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
			t.Errorf("%s: the error shows the value: %q", tc.name, err)
		}
	}
	if _, err := wechat.New(config(""), "shop.example.com", nil); faka.ErrorCode(err) != faka.EInvalid {
		t.Errorf("relative public URL: %v", err)
	}
}

func TestKind(t *testing.T) {
	t.Parallel()
	k := wechat.Kind()
	if k.Name != "wechat" {
		t.Fatalf("name %q", k.Name)
	}
	want := map[string][3]bool{ // required, secret, multiline (a PEM key)
		"mchid": {true, false, false}, "appid": {true, false, false}, "serial_no": {true, false, false},
		"api_v3_key": {true, true, false}, "private_key": {true, true, true},
		"wechatpay_public_key": {true, false, true}, "wechatpay_public_key_id": {true, false, false}, "api_url": {false, false, false},
	}
	if len(k.Fields) != len(want) {
		t.Fatalf("fields %+v", k.Fields)
	}
	for _, f := range k.Fields {
		if w, ok := want[f.Name]; !ok || w != [3]bool{f.Required, f.Secret, f.Multiline} {
			t.Errorf("field %+v", f)
		}
	}
	c := config("")
	s := payment.Settings{"mchid": c.MchID, "appid": c.AppID, "serial_no": c.SerialNo, "api_v3_key": c.APIv3Key,
		"private_key": c.PrivateKey, "wechatpay_public_key": c.PublicKey, "wechatpay_public_key_id": c.PublicKeyID}
	g, err := k.New(s, payment.Env{PublicURL: shop})
	if err != nil || g.Name() != "wechat" {
		t.Fatalf("New: %v", err)
	}
	if _, ok := g.(payment.PageGateway); !ok {
		t.Error("not a PageGateway")
	}
	s["api_v3_key"] = "short"
	if _, err := k.New(s, payment.Env{PublicURL: shop}); faka.ErrorCode(err) != faka.EInvalid || strings.Contains(err.Error(), "short") {
		t.Errorf("short key: %v", err)
	}
}

func TestPayURL(t *testing.T) {
	t.Parallel()
	g := newGateway(t, config(""), nil)
	u, err := g.PayURL(t.Context(), &faka.Order{OrderNo: "20260101000000000042", Amount: 990, Currency: "CNY"}, "tok/+=")
	if err != nil || u != shop+"/pay/wechat/qr/20260101000000000042?token=tok%2F%2B%3D" {
		t.Fatalf("pay URL %q, %v", u, err)
	}
	if _, err := g.PayURL(t.Context(), &faka.Order{OrderNo: "20260101000000000042", Amount: 990, Currency: "USD"}, "t"); faka.ErrorCode(err) != faka.EInvalid {
		t.Fatalf("USD order: %v", err)
	}
	if _, err := g.PayURL(t.Context(), &faka.Order{OrderNo: "2026/01", Amount: 990, Currency: "CNY"}, "t"); faka.ErrorCode(err) != faka.EInvalid {
		t.Fatalf("order number with a slash: %v", err)
	}
}

func TestReplies(t *testing.T) {
	t.Parallel()
	g := newGateway(t, config(""), nil)
	w := httptest.NewRecorder()
	g.Acknowledge(w)
	if w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Fatalf("ack %d %q", w.Code, w.Body)
	}
	for code, status := range map[string]int{faka.EUnauthorized: 400, faka.EInvalid: 400, faka.EBadRequest: 400,
		faka.EInternal: 500, faka.EUnavailable: 503} {
		w := httptest.NewRecorder()
		g.Reject(w, faka.Errorf(code, "reason %s", strings.Repeat("é", 200)))
		var body struct{ Code, Message string }
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != status || body.Code != "FAIL" || body.Message == "" || len(body.Message) > 200 {
			t.Errorf("reject %s: %d %q (%v)", code, w.Code, w.Body, err)
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("reject %s: Content-Type %q", code, ct)
		}
	}
}
