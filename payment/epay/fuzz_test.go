package epay_test

import (
	"crypto/hmac"
	"encoding/hex"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/payment/epay"
)

// FuzzEPayNotification feeds arbitrary form bodies to ParseNotification.
// It must never panic, never accept a body whose sign does not verify
// under the key, and never accept a signed body that does not state a
// paid trade of this merchant. With sign set, the body is re-signed
// correctly so that the fuzzer explores the checks behind the signature.
func FuzzEPayNotification(f *testing.F) {
	f.Add("pid=1001&trade_no=T1&out_trade_no=2026A&money=9.90&trade_status=TRADE_SUCCESS&sign=00&sign_type=MD5", true, false)
	f.Add("pid=1001&trade_no=T1&out_trade_no=2026A&money=9.90&trade_status=TRADE_SUCCESS", false, true)
	f.Add("money=9.9&money=1", true, false)
	f.Add("", false, false)
	g := newGateway(f, "https://pay.example.com/")
	f.Fuzz(func(t *testing.T, body string, sign, get bool) {
		if sign {
			if vals, err := url.ParseQuery(body); err == nil {
				p := map[string]string{}
				for k, vs := range vals {
					p[k] = vs[0]
				}
				vals.Set("sign", epay.Sign(p, key))
				body = vals.Encode()
			}
		}
		r := post(body)
		raw := []byte(body)
		if get {
			r = httptest.NewRequest("GET", "/pay/epay/notify", nil)
			r.URL.RawQuery = body
			raw = nil
		}
		n, err := g.ParseNotification(r, raw)
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
		got, _ := hex.DecodeString(p["sign"])
		want, _ := hex.DecodeString(epay.Sign(p, key))
		if !hmac.Equal(got, want) || len(got) == 0 {
			t.Fatalf("accepted a body whose sign does not verify: %q", body)
		}
		amount, aerr := payment.ParseYuan(p["money"])
		if n.Gateway != "epay" || p["pid"] != pid || p["trade_status"] != epay.TradeSuccess || n.OrderNo != p["out_trade_no"] ||
			n.TradeNo == "" || n.Currency != "CNY" || aerr != nil || n.Amount != amount || n.Amount <= 0 {
			t.Fatalf("accepted %q as %+v", body, n)
		}
	})
}
