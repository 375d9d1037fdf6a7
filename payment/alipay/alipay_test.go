package alipay_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"math/big"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/payment/alipay"
)

func TestKind(t *testing.T) {
	t.Parallel()
	loadKeys(t)
	k := alipay.Kind()
	if k.Name != "alipay" || alipay.Name != "alipay" {
		t.Fatalf("name %q", k.Name)
	}
	fields := map[string]payment.Field{}
	for _, f := range k.Fields {
		fields[f.Name] = f
	}
	for name, want := range map[string]payment.Field{
		"app_id":            {Name: "app_id", Required: true},
		"private_key":       {Name: "private_key", Required: true, Secret: true, Multiline: true},
		"alipay_public_key": {Name: "alipay_public_key", Required: true, Multiline: true},
		"mode":              {Name: "mode"},
		"sandbox":           {Name: "sandbox"},
		"api_url":           {Name: "api_url"},
	} {
		if fields[name] != want {
			t.Errorf("field %s = %+v, want %+v", name, fields[name], want)
		}
	}
	if len(fields) != 6 {
		t.Errorf("fields %v", k.Fields)
	}
	// PEM as a multi-line field holds it.
	s := payment.Settings{"app_id": appID, "private_key": pemOf("RSA PRIVATE KEY", pkcs1(merchantKey)), "alipay_public_key": pemOf("PUBLIC KEY", pkix(alipayPub))}
	env := payment.Env{PublicURL: publicURL}
	for sandbox, host := range map[string]string{"": "openapi.alipay.com", "false": "openapi.alipay.com", "true": "openapi-sandbox.dl.alipaydev.com"} {
		s["sandbox"] = sandbox
		g, err := k.New(s, env)
		if err != nil {
			t.Fatalf("sandbox %q: %v", sandbox, err)
		}
		raw, err := g.PayURL(t.Context(), &faka.Order{OrderNo: "2026A", Amount: 990, Currency: "CNY"}, "tok")
		if err != nil {
			t.Fatal(err)
		}
		if u, _ := url.Parse(raw); u.Host != host || u.Path != "/gateway.do" {
			t.Errorf("sandbox %q: pay URL %s", sandbox, raw)
		}
	}
	s["sandbox"] = "yes"
	if _, err := k.New(s, env); faka.ErrorCode(err) != faka.EInvalid {
		t.Fatalf("sandbox yes: %v", err)
	}
	s["sandbox"], s["mode"] = "", "qr"
	g, err := k.New(s, env)
	if err != nil || g.Name() != "alipay" || g.(*alipay.Gateway).Mode() != alipay.ModeQR {
		t.Fatalf("mode qr: %v", err)
	}
}

// TestNewKeys gives the keys in every form Alipay's tools and OpenSSL
// export them, and bad ones, which are refused without being shown.
func TestNewKeys(t *testing.T) {
	t.Parallel()
	loadKeys(t)
	pubPKCS1 := b64(x509.MarshalPKCS1PublicKey(alipayPub))
	good := []struct{ name, priv, pub string }{
		{"base64 PKCS#8 and PKIX (Alipay's key tool)", pkcs8(merchantKey), pkix(alipayPub)},
		{"base64 PKCS#1", pkcs1(merchantKey), pkix(alipayPub)},
		{"PEM", pemOf("PRIVATE KEY", pkcs8(merchantKey)), pemOf("PUBLIC KEY", pkix(alipayPub))},
		{"PEM PKCS#1", pemOf("RSA PRIVATE KEY", pkcs1(merchantKey)), pemOf("RSA PUBLIC KEY", pubPKCS1)},
		{"PEM on one line", strings.ReplaceAll(pemOf("RSA PRIVATE KEY", pkcs1(merchantKey)), "\n", " "),
			strings.ReplaceAll(pemOf("PUBLIC KEY", pkix(alipayPub)), "\n", " ")},
		{"base64 in lines", strings.Join(chunks(pkcs8(merchantKey), 64), "\n"), " " + pkix(alipayPub) + " "},
	}
	for _, tc := range good {
		cfg := alipay.Config{AppID: appID, PrivateKey: tc.priv, AlipayPublicKey: tc.pub}
		g, err := alipay.New(cfg, publicURL, nil)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		// The parsed key signs: the pay URL verifies with the merchant's public key.
		raw, err := g.PayURL(t.Context(), &faka.Order{OrderNo: "K1", Amount: 1, Currency: "CNY"}, "t")
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(raw)
		if !verifyRequest(u.Query()) {
			t.Errorf("%s: the pay URL's signature does not verify", tc.name)
		}
	}

	short, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	cert := selfSigned(t, aliKey)
	truncated := pkcs8(merchantKey)[:400]
	bad := []struct {
		name  string
		cfg   alipay.Config
		field string
	}{
		{"no app_id", alipay.Config{PrivateKey: pkcs8(merchantKey), AlipayPublicKey: pkix(alipayPub)}, "app_id"},
		{"app_id with a space", alipay.Config{AppID: "2021 0001", PrivateKey: pkcs8(merchantKey), AlipayPublicKey: pkix(alipayPub)}, "app_id"},
		{"no private key", alipay.Config{AppID: appID, AlipayPublicKey: pkix(alipayPub)}, "private_key"},
		{"truncated private key", alipay.Config{AppID: appID, PrivateKey: truncated, AlipayPublicKey: pkix(alipayPub)}, "private_key"},
		{"public key as private key", alipay.Config{AppID: appID, PrivateKey: pkix(merchantPub), AlipayPublicKey: pkix(alipayPub)}, "private_key"},
		{"not base64", alipay.Config{AppID: appID, PrivateKey: "MIIE!!secret!!", AlipayPublicKey: pkix(alipayPub)}, "private_key"},
		{"PEM without end", alipay.Config{AppID: appID, PrivateKey: "-----BEGIN PRIVATE KEY-----\n" + pkcs8(merchantKey), AlipayPublicKey: pkix(alipayPub)}, "private_key"},
		{"1024-bit private key", alipay.Config{AppID: appID, PrivateKey: pkcs1(short), AlipayPublicKey: pkix(alipayPub)}, "private_key"},
		{"no Alipay key", alipay.Config{AppID: appID, PrivateKey: pkcs8(merchantKey)}, "alipay_public_key"},
		{"private key as Alipay key", alipay.Config{AppID: appID, PrivateKey: pkcs8(merchantKey), AlipayPublicKey: pkcs1(aliKey)}, "alipay_public_key"},
		{"1024-bit Alipay key", alipay.Config{AppID: appID, PrivateKey: pkcs8(merchantKey), AlipayPublicKey: pkix(&short.PublicKey)}, "alipay_public_key"},
		{"certificate (cert mode)", alipay.Config{AppID: appID, PrivateKey: pkcs8(merchantKey), AlipayPublicKey: cert}, "certificate mode"},
		{"the app's own public key", alipay.Config{AppID: appID, PrivateKey: pkcs8(merchantKey), AlipayPublicKey: pkix(merchantPub)}, "alipay_public_key"},
		{"bad mode", alipay.Config{AppID: appID, PrivateKey: pkcs8(merchantKey), AlipayPublicKey: pkix(alipayPub), Mode: "wap"}, "mode"},
		{"bad api_url", alipay.Config{AppID: appID, PrivateKey: pkcs8(merchantKey), AlipayPublicKey: pkix(alipayPub), APIURL: "ftp://x/"}, "api_url"},
		{"api_url with query", alipay.Config{AppID: appID, PrivateKey: pkcs8(merchantKey), AlipayPublicKey: pkix(alipayPub), APIURL: "http://x/gateway.do?charset=utf-8"}, "api_url"},
	}
	for _, tc := range bad {
		_, err := alipay.New(tc.cfg, publicURL, nil)
		if faka.ErrorCode(err) != faka.EInvalid || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: %v, want invalid naming %s", tc.name, err, tc.field)
			continue
		}
		for _, secret := range []string{tc.cfg.PrivateKey, truncated[:40], pkcs8(merchantKey)[40:80], "secret"} {
			if secret != "" && strings.Contains(err.Error(), secret) {
				t.Errorf("%s: the error shows the key: %v", tc.name, err)
			}
		}
	}
	if _, err := alipay.New(config(), "shop.example.com", nil); err == nil {
		t.Error("a public URL without scheme was taken")
	}
}

func chunks(s string, n int) []string {
	var out []string
	for len(s) > n {
		out, s = append(out, s[:n]), s[n:]
	}
	return append(out, s)
}

// selfSigned returns a PEM certificate of key's public key, as Alipay's
// certificate mode gives one.
func selfSigned(t *testing.T, key *rsa.PrivateKey) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("CERTIFICATE", b64(der))
}

// verifyRequest checks a request's signature with the merchant's public
// key: every parameter but sign, sorted, empty ones left out (sign_type
// is signed in requests).
func verifyRequest(q url.Values) bool {
	p := map[string]string{}
	for k := range q {
		p[k] = q.Get(k)
	}
	return rsaVerify(merchantPub, crypto.SHA256, signContent(p, "sign"), p["sign"])
}

// beijingTime parses Alipay's "yyyy-MM-dd HH:mm:ss" in UTC+8.
func beijingTime(s string) (time.Time, error) {
	return time.ParseInLocation(time.DateTime, s, time.FixedZone("CST", 8*3600))
}

func TestPayURL(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "", "", nil)
	until := time.Date(2026, 3, 1, 4, 5, 0, 0, time.UTC) // 12:05 in Beijing
	o := &faka.Order{OrderNo: "2026A", Amount: 990, Currency: "CNY", ReservedUntil: until}
	before := time.Now()
	raw, err := g.PayURL(t.Context(), o, "tok/+=")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "https" || u.Host != "openapi.alipay.com" || u.Path != "/gateway.do" {
		t.Fatalf("pay URL %s", raw)
	}
	q := u.Query()
	for k, v := range q {
		if len(v) != 1 {
			t.Fatalf("%s given %d times", k, len(v))
		}
	}
	want := map[string]string{
		"app_id":     appID,
		"method":     "alipay.trade.page.pay",
		"format":     "JSON",
		"charset":    "utf-8",
		"sign_type":  "RSA2",
		"version":    "1.0",
		"notify_url": "https://shop.example.com/pay/alipay/notify",
		"return_url": "https://shop.example.com/orders/2026A", // L8: no buyer token for the provider
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	ts, err := beijingTime(q.Get("timestamp"))
	if err != nil || ts.Before(before.Add(-time.Second).Truncate(time.Second)) || ts.After(time.Now().Add(time.Second)) {
		t.Errorf("timestamp %q is not now in Beijing time (%v)", q.Get("timestamp"), err)
	}
	if len(q) != len(want)+3 { // + timestamp, biz_content, sign
		t.Errorf("unexpected parameters in %v", q)
	}
	var biz map[string]string
	if err := json.Unmarshal([]byte(q.Get("biz_content")), &biz); err != nil {
		t.Fatalf("biz_content %q: %v", q.Get("biz_content"), err)
	}
	wantBiz := map[string]string{
		"out_trade_no": "2026A",
		"total_amount": "9.90",
		"subject":      "Order 2026A",
		"product_code": "FAST_INSTANT_TRADE_PAY",
		"time_expire":  "2026-03-01 12:05:00",
	}
	if len(biz) != len(wantBiz) {
		t.Errorf("biz_content %v, want %v", biz, wantBiz)
	}
	for k, v := range wantBiz {
		if biz[k] != v {
			t.Errorf("biz_content %s = %q, want %q", k, biz[k], v)
		}
	}
	if !verifyRequest(q) {
		t.Fatal("the signature does not verify with the merchant's public key")
	}
	q.Set("biz_content", strings.Replace(q.Get("biz_content"), "9.90", "0.01", 1))
	if verifyRequest(q) {
		t.Fatal("a changed biz_content still verifies")
	}

	for _, tc := range []struct {
		amount int64
		yuan   string
	}{{1, "0.01"}, {100, "1.00"}, {123456, "1234.56"}, {10, "0.10"}} {
		raw, err := g.PayURL(t.Context(), &faka.Order{OrderNo: "X", Amount: tc.amount, Currency: "CNY"}, "t")
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(raw)
		var biz map[string]string
		json.Unmarshal([]byte(u.Query().Get("biz_content")), &biz)
		if biz["total_amount"] != tc.yuan {
			t.Errorf("total_amount for %d = %q, want %q", tc.amount, biz["total_amount"], tc.yuan)
		}
		if _, ok := biz["time_expire"]; ok {
			t.Errorf("time_expire without a reservation end: %v", biz)
		}
	}
	for _, o := range []*faka.Order{
		{OrderNo: "X", Amount: 100, Currency: "USD"},
		{OrderNo: "X", Amount: 0, Currency: "CNY"},
		{OrderNo: "X", Amount: 100_000_000_01, Currency: "CNY"},
		{OrderNo: "", Amount: 100, Currency: "CNY"},
	} {
		if _, err := g.PayURL(t.Context(), o, "t"); faka.ErrorCode(err) != faka.EInvalid {
			t.Errorf("PayURL(%+v) = %v, want invalid", o, err)
		}
	}

	api := newGateway(t, "", "http://127.0.0.1:9/fake/gateway.do", nil)
	raw, _ = api.PayURL(t.Context(), o, "t")
	if !strings.HasPrefix(raw, "http://127.0.0.1:9/fake/gateway.do?") {
		t.Errorf("pay URL with api_url: %s", raw)
	}
	qr := newGateway(t, alipay.ModeQR, "", nil)
	raw, _ = qr.PayURL(t.Context(), o, "tok/+=")
	if raw != "https://shop.example.com/pay/alipay/qr/2026A?token=tok%2F%2B%3D" {
		t.Errorf("QR mode pay URL %s", raw)
	}
}

func TestParseNotification(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "", "", nil)
	read := func(name string) string {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	want := faka.Notification{Gateway: "alipay", OrderNo: "2026A", TradeNo: "2026030122001446881419000001", Amount: 990, Currency: "CNY"}
	for _, tc := range []struct {
		file string
		want faka.Notification
	}{
		{"notify_paid.form", want},
		{"notify_finished.form", want},
		// The engine compares the amount with the order's: here it is only stated.
		{"notify_other_amount.form", faka.Notification{Gateway: "alipay", OrderNo: "2026A", TradeNo: want.TradeNo, Amount: 1, Currency: "CNY"}},
	} {
		body := read(tc.file)
		n, err := g.ParseNotification(post(body), []byte(body))
		if err != nil || n != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.file, n, err, tc.want)
		}
	}

	// The same notification, again and at once: the same statement each
	// time (the engine applies it once).
	paid := read("notify_paid.form")
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 4 {
				n, err := g.ParseNotification(post(paid), []byte(paid))
				if err != nil || n != want {
					t.Errorf("again: %+v, %v", n, err)
				}
			}
		})
	}
	wg.Wait()

	sign := url.Values{}
	if v, err := url.ParseQuery(paid); err == nil {
		sign.Set("sign", v.Get("sign"))
	}
	for _, tc := range []struct {
		name, body, code string
	}{
		{"amount changed after signing", read("notify_tampered_amount.form"), faka.EUnauthorized},
		{"signed with another key", read("notify_other_key.form"), faka.EUnauthorized},
		{"signed SHA1 (sign_type RSA)", read("notify_sign_type_rsa.form"), faka.EUnauthorized},
		{"RSA2-signed, sign_type RSA", strings.Replace(paid, "sign_type=RSA2", "sign_type=RSA", 1), faka.EInvalid},
		{"RSA2-signed, sign_type MD5", strings.Replace(paid, "sign_type=RSA2", "sign_type=MD5", 1), faka.EInvalid},
		{"RSA2-signed, no sign_type", strings.Replace(paid, "&sign_type=RSA2", "", 1), faka.EInvalid},
		{"another app", read("notify_other_app.form"), faka.EInvalid},
		{"waiting for payment", read("notify_wait_buyer_pay.form"), faka.EInvalid}, // ignored: see below
		{"closed", read("notify_closed.form"), faka.EInvalid},
		{"no out_trade_no", read("notify_no_out_trade_no.form"), faka.EInvalid},
		{"an EPay notification", read("notify_epay.form"), faka.EUnauthorized},
		{"unsigned", unsigned(paidFields()), faka.EUnauthorized},
		{"empty sign", strings.Replace(paid, sign.Encode(), "sign=", 1), faka.EUnauthorized},
		{"forged sign", strings.Replace(paid, sign.Encode(), "sign="+url.QueryEscape(b64(make([]byte, 256))), 1), faka.EUnauthorized},
		{"sign not base64", strings.Replace(paid, sign.Encode(), "sign=%21%21", 1), faka.EUnauthorized},
		{"field added after signing", paid + "&passback_params=x", faka.EUnauthorized},
		{"field given twice", paid + "&total_amount=0.01", faka.EBadRequest},
		{"malformed form", "%zz", faka.EBadRequest},
		{"only a sign", sign.Encode(), faka.EUnauthorized},
		{"empty", "", faka.EUnauthorized},
		{"three decimals", signedForm(with(paidFields(), "total_amount", "9.901"), aliKey), faka.EInvalid},
		{"zero amount", signedForm(with(paidFields(), "total_amount", "0.00"), aliKey), faka.EInvalid},
		{"negative amount", signedForm(with(paidFields(), "total_amount", "-9.90"), aliKey), faka.EInvalid},
		{"no trade_no", signedForm(with(paidFields(), "trade_no", ""), aliKey), faka.EInvalid},
		{"trade_no with a space", signedForm(with(paidFields(), "trade_no", "2026 1"), aliKey), faka.EInvalid},
		{"app_id empty", signedForm(with(paidFields(), "app_id", ""), aliKey), faka.EInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := g.ParseNotification(post(tc.body), []byte(tc.body))
			if faka.ErrorCode(err) != tc.code {
				t.Fatalf("err %v, want %s", err, tc.code)
			}
			// Only a closed trade, or one waiting for payment, is genuine
			// and no payment: acknowledged (the server answers "success",
			// so that Alipay stops resending it), nothing applied.
			ignored := tc.name == "closed" || tc.name == "waiting for payment"
			if errors.Is(err, payment.ErrIgnored) != ignored {
				t.Fatalf("ignored: %v, want %v (%v)", !ignored, ignored, err)
			}
			if n != (faka.Notification{}) {
				t.Fatalf("refused, yet filled: %+v", n)
			}
		})
	}

	// A gateway of another app refuses this app's notification, though
	// Alipay signed it.
	cfg := config()
	cfg.AppID = "2021000000000002"
	other, err := alipay.New(cfg, publicURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.ParseNotification(post(paid), []byte(paid)); faka.ErrorCode(err) != faka.EInvalid {
		t.Fatalf("another app's gateway: %v", err)
	}
}

func TestReplies(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "", "", nil)
	w := httptest.NewRecorder()
	g.Acknowledge(w)
	if w.Code != 200 || w.Body.String() != "success" || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("ack %d %q %q", w.Code, w.Body, w.Header().Get("Content-Type"))
	}
	for code, status := range map[string]int{faka.EUnauthorized: 400, faka.EInvalid: 400, faka.EBadRequest: 400,
		faka.EInternal: 500, faka.EUnavailable: 503} {
		w := httptest.NewRecorder()
		g.Reject(w, faka.Errorf(code, "x"))
		if w.Code != status || w.Body.String() != "fail" {
			t.Errorf("reject %s: %d %q", code, w.Code, w.Body)
		}
	}
}
