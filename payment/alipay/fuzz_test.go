package alipay_test

import (
	"crypto"
	"crypto/rsa"
	"net/url"
	"testing"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/payment/alipay"
)

// FuzzAlipayNotification feeds arbitrary form bodies to ParseNotification.
// It must never panic, never accept a body whose sign does not verify
// with the test Alipay key (checked here with crypto/rsa, not gopay), and
// never accept a signed body that does not state a paid trade of this
// app. With sign set, the body is signed with the test Alipay key first,
// so that the fuzzer explores the checks behind the signature.
func FuzzAlipayNotification(f *testing.F) {
	f.Add(signedForm(paidFields(), aliKeyFor(f)), false)
	f.Add(unsigned(paidFields()), true)
	f.Add("total_amount=9.9&total_amount=1", true)
	f.Add("", false)
	g := newGateway(f, "", "", nil)
	f.Fuzz(func(t *testing.T, body string, sign bool) {
		if sign {
			if vals, err := url.ParseQuery(body); err == nil {
				p := map[string]string{}
				for k, vs := range vals {
					p[k] = vs[0]
				}
				vals.Set("sign", rsaSign(aliKey, crypto.SHA256, signContent(p, "sign", "sign_type")))
				body = vals.Encode()
			}
		}
		n, err := g.ParseNotification(post(body), []byte(body))
		if err != nil {
			if faka.ErrorCode(err) == faka.EInternal {
				t.Fatalf("an internal error for bad input: %v", err)
			}
			if n != (faka.Notification{}) {
				t.Fatalf("refused, yet filled: %+v", n)
			}
			return
		}
		vals, perr := url.ParseQuery(body)
		if perr != nil {
			t.Fatalf("accepted an unparsable body %q", body)
		}
		p := map[string]string{}
		for k, vs := range vals {
			if len(vs) != 1 {
				t.Fatalf("accepted %q given %d times", k, len(vs))
			}
			p[k] = vs[0]
		}
		if !rsaVerify(alipayPub, crypto.SHA256, signContent(p, "sign", "sign_type"), p["sign"]) {
			t.Fatalf("accepted a body not signed with the test Alipay key: %q", body)
		}
		amount, aerr := payment.ParseYuan(p["total_amount"])
		status := p["trade_status"]
		if n.Gateway != "alipay" || p["app_id"] != appID || p["sign_type"] != "RSA2" ||
			(status != alipay.TradeSuccess && status != alipay.TradeFinished) ||
			n.OrderNo != p["out_trade_no"] || n.OrderNo == "" || n.TradeNo != p["trade_no"] || n.TradeNo == "" ||
			n.Currency != "CNY" || aerr != nil || n.Amount != amount || n.Amount <= 0 {
			t.Fatalf("accepted %q as %+v", body, n)
		}
	})
}

// aliKeyFor loads the keys for a seed made before f.Fuzz.
func aliKeyFor(f *testing.F) *rsa.PrivateKey {
	loadKeys(f)
	return aliKey
}
