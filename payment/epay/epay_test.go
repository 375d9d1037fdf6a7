package epay_test

import (
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment/epay"
)

const (
	pid = "1001"
	key = "k3y"
)

func newGateway(t testing.TB, site string) *epay.Gateway {
	t.Helper()
	g, err := epay.New(epay.Config{PID: pid, Key: key, URL: site}, "https://shop.example.com/", nil)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestSign checks the signature against strings written out by hand.
func TestSign(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		params map[string]string
		key    string
		signed string // what is hashed, written by hand
		want   string // its MD5, computed outside Go (md5sum)
	}{
		{
			name: "notification",
			params: map[string]string{"pid": "1001", "trade_no": "T20260001", "out_trade_no": "2026A", "type": "alipay",
				"name": "Order 2026A", "money": "9.90", "trade_status": "TRADE_SUCCESS", "sign": "ignored", "sign_type": "MD5"},
			key:    "k3y",
			signed: "money=9.90&name=Order 2026A&out_trade_no=2026A&pid=1001&trade_no=T20260001&trade_status=TRADE_SUCCESS&type=alipay",
			want:   "ec691e9bb4338a5d697ad640aaf28423",
		},
		{
			name:   "unescaped values, empty ones dropped",
			params: map[string]string{"d": "%41", "b": "x y+z", "a": "1", "c": "中文", "e": "", "sign": "", "sign_type": ""},
			key:    "k",
			signed: "a=1&b=x y+z&c=中文&d=%41",
			want:   "83d64649b73bbdd5d0ec8ac49a0c879e",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := md5hex(tc.signed + tc.key); got != tc.want {
				t.Fatalf("test vector: md5 %s, want %s", got, tc.want)
			}
			if got := epay.Sign(tc.params, tc.key); got != tc.want {
				t.Fatalf("Sign = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	for _, c := range []epay.Config{
		{PID: "", Key: key, URL: "https://pay.example.com/"},
		{PID: pid, Key: "", URL: "https://pay.example.com/"},
		{PID: pid, Key: key, URL: ""},
		{PID: pid, Key: key, URL: "pay.example.com"},
		{PID: pid, Key: key, URL: "ftp://pay.example.com/"},
		{PID: pid, Key: key, URL: "https://pay.example.com/?x=1"},
		{PID: "10 01", Key: key, URL: "https://pay.example.com/"},
	} {
		if _, err := epay.New(c, "https://shop.example.com", nil); faka.ErrorCode(err) != faka.EInvalid {
			t.Errorf("New(%+v) = %v, want invalid", c, err)
		}
	}
}

func TestPayURL(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "https://pay.example.com/sub")
	o := &faka.Order{OrderNo: "2026A", Amount: 990, Currency: "CNY"}
	raw, err := g.PayURL(t.Context(), o, "tok/+=")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "https" || u.Host != "pay.example.com" || u.Path != "/sub/submit.php" {
		t.Fatalf("pay URL %s", raw)
	}
	q := u.Query()
	want := map[string]string{
		"pid":          pid,
		"type":         "alipay",
		"out_trade_no": "2026A",
		"notify_url":   "https://shop.example.com/pay/epay/notify",
		"return_url":   "https://shop.example.com/orders/2026A", // L8: no buyer token for the provider
		"name":         "Order 2026A",
		"money":        "9.90",
		"sign_type":    "MD5",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	signed := "money=9.90&name=Order 2026A&notify_url=https://shop.example.com/pay/epay/notify&out_trade_no=2026A&pid=1001" +
		"&return_url=https://shop.example.com/orders/2026A&type=alipay"
	if q.Get("sign") != md5hex(signed+key) {
		t.Fatalf("sign %s, want md5 of %q", q.Get("sign"), signed)
	}
	if len(q) != len(want)+1 {
		t.Fatalf("unexpected fields in %v", q)
	}
	for _, tc := range []struct {
		amount int64
		money  string
	}{{1, "0.01"}, {100, "1.00"}, {123456, "1234.56"}, {10, "0.10"}} {
		raw, _ := g.PayURL(t.Context(), &faka.Order{OrderNo: "X", Amount: tc.amount, Currency: "CNY"}, "t")
		u, _ := url.Parse(raw)
		if got := u.Query().Get("money"); got != tc.money {
			t.Errorf("money for %d = %q, want %q", tc.amount, got, tc.money)
		}
	}
	if _, err := g.PayURL(t.Context(), &faka.Order{OrderNo: "X", Amount: 100, Currency: "USD"}, "t"); faka.ErrorCode(err) != faka.EInvalid {
		t.Fatalf("USD order: %v", err)
	}
}

// signedForm returns p signed with k, form-encoded.
func signedForm(p map[string]string, k string) string {
	q := url.Values{}
	for name, v := range p {
		q.Set(name, v)
	}
	q.Set("sign", epay.Sign(p, k))
	q.Set("sign_type", "MD5")
	return q.Encode()
}

func paidParams() map[string]string {
	return map[string]string{"pid": pid, "trade_no": "T20260001", "out_trade_no": "2026A", "type": "alipay",
		"name": "Order 2026A", "money": "9.90", "trade_status": epay.TradeSuccess}
}

func post(body string) *http.Request {
	r := httptest.NewRequest("POST", "/pay/epay/notify", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func TestParseNotification(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "https://pay.example.com/")
	want := faka.Notification{Gateway: "epay", OrderNo: "2026A", TradeNo: "T20260001", Amount: 990, Currency: "CNY"}

	recorded, err := os.ReadFile("testdata/notify_paid.form")
	if err != nil {
		t.Fatal(err)
	}
	n, err := g.ParseNotification(post(string(recorded)), recorded)
	if err != nil || n != want {
		t.Fatalf("recorded POST: %+v, %v", n, err)
	}
	n, err = g.ParseNotification(httptest.NewRequest("GET", "/pay/epay/notify?"+string(recorded), nil), nil)
	if err != nil || n != want {
		t.Fatalf("recorded GET: %+v, %v", n, err)
	}
	upper := strings.Replace(string(recorded), "ec691e9bb4338a5d697ad640aaf28423", "EC691E9BB4338A5D697AD640AAF28423", 1)
	if _, err := g.ParseNotification(post(upper), []byte(upper)); err != nil {
		t.Fatalf("upper-case sign: %v", err)
	}

	tampered, _ := os.ReadFile("testdata/notify_tampered_status.form")
	with := func(k, v string) map[string]string {
		p := paidParams()
		if v == "" {
			delete(p, k)
		} else {
			p[k] = v
		}
		return p
	}
	good := signedForm(paidParams(), key)
	for _, tc := range []struct {
		name, body, code string
	}{
		{"status changed after signing", string(tampered), faka.EUnauthorized},
		{"unsigned", "pid=1001&out_trade_no=2026A&money=9.90&trade_status=TRADE_SUCCESS&trade_no=T1", faka.EUnauthorized},
		{"empty sign", strings.Replace(good, "sign="+epay.Sign(paidParams(), key), "sign=", 1), faka.EUnauthorized},
		{"other merchant's key", signedForm(paidParams(), "other-key"), faka.EUnauthorized},
		{"amount changed after signing", strings.Replace(good, "money=9.90", "money=0.01", 1), faka.EUnauthorized},
		{"field added after signing", good + "&param=x", faka.EUnauthorized},
		{"field given twice", good + "&money=0.01", faka.EBadRequest},
		{"other pid", signedForm(with("pid", "1002"), key), faka.EInvalid},
		{"unpaid", signedForm(with("trade_status", "WAIT_BUYER_PAY"), key), faka.EInvalid},
		{"no status", signedForm(with("trade_status", ""), key), faka.EInvalid},
		{"no order", signedForm(with("out_trade_no", ""), key), faka.EInvalid},
		{"no trade_no", signedForm(with("trade_no", ""), key), faka.EInvalid},
		{"three decimals", signedForm(with("money", "9.901"), key), faka.EInvalid},
		{"negative money", signedForm(with("money", "-9.90"), key), faka.EInvalid},
		{"zero money", signedForm(with("money", "0.00"), key), faka.EInvalid},
		{"exponent money", signedForm(with("money", "9.9e0"), key), faka.EInvalid},
		{"sign_type SHA", strings.Replace(good, "sign_type=MD5", "sign_type=SHA256", 1), faka.EInvalid},
		{"malformed form", "%zz", faka.EBadRequest},
		{"empty", "", faka.EUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := g.ParseNotification(post(tc.body), []byte(tc.body))
			if faka.ErrorCode(err) != tc.code {
				t.Fatalf("err %v, want %s", err, tc.code)
			}
			if n != (faka.Notification{}) {
				t.Fatalf("refused, yet filled: %+v", n)
			}
		})
	}
}

func TestReplies(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "https://pay.example.com/")
	w := httptest.NewRecorder()
	g.Acknowledge(w)
	if w.Code != 200 || w.Body.String() != "success" {
		t.Fatalf("ack %d %q", w.Code, w.Body)
	}
	for code, status := range map[string]int{faka.EUnauthorized: 400, faka.EInvalid: 400, faka.EInternal: 500, faka.EUnavailable: 503} {
		w := httptest.NewRecorder()
		g.Reject(w, faka.Errorf(code, "x"))
		if w.Code != status || w.Body.String() != "fail" {
			t.Errorf("reject %s: %d %q", code, w.Code, w.Body)
		}
	}
}

// TestQuery asks a local server that speaks EPay's api.php.
func TestQuery(t *testing.T) {
	t.Parallel()
	reply := map[string]string{} // out_trade_no → file or raw body
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/api.php" || q.Get("act") != "order" || q.Get("pid") != pid || q.Get("key") != key {
			http.Error(w, `{"code":-2,"msg":"bad request"}`, http.StatusOK)
			return
		}
		body, ok := reply[q.Get("out_trade_no")]
		if !ok {
			body = "testdata/query_unknown.json"
		}
		if strings.HasPrefix(body, "testdata/") {
			data, err := os.ReadFile(body)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			body = string(data)
		}
		if body == "HTTP 502" {
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		w.Write([]byte(body))
	}))
	defer srv.Close()
	g, err := epay.New(epay.Config{PID: pid, Key: key, URL: srv.URL}, "https://shop.example.com", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	reply["2026A"] = "testdata/query_paid.json"
	n, paid, err := g.Query(t.Context(), "2026A")
	want := faka.Notification{Gateway: "epay", OrderNo: "2026A", TradeNo: "T20260001", Amount: 990, Currency: "CNY"}
	if err != nil || !paid || n != want {
		t.Fatalf("paid order: %+v %v %v", n, paid, err)
	}
	reply["2026A"] = "testdata/query_unpaid.json"
	if _, paid, err := g.Query(t.Context(), "2026A"); err != nil || paid {
		t.Fatalf("unpaid order: paid %v, %v", paid, err)
	}
	if _, paid, err := g.Query(t.Context(), "NOPE"); err != nil || paid {
		t.Fatalf("unknown order: paid %v, %v", paid, err)
	}
	reply["OTHER"] = "testdata/query_paid.json" // about 2026A, not OTHER
	if _, paid, err := g.Query(t.Context(), "OTHER"); err == nil || paid {
		t.Fatalf("reply about another order: paid %v, %v", paid, err)
	}
	reply["PID"] = `{"code":1,"status":1,"pid":"9999","out_trade_no":"PID","trade_no":"T","money":"1.00"}`
	if _, paid, err := g.Query(t.Context(), "PID"); err == nil || paid {
		t.Fatalf("reply of another merchant: paid %v, %v", paid, err)
	}
	reply["BAD"] = `not json`
	if _, _, err := g.Query(t.Context(), "BAD"); faka.ErrorCode(err) != faka.EUnavailable {
		t.Fatalf("malformed reply: %v", err)
	}
	reply["DOWN"] = "HTTP 502"
	if _, _, err := g.Query(t.Context(), "DOWN"); faka.ErrorCode(err) != faka.EUnavailable {
		t.Fatalf("HTTP 502: %v", err)
	}
	srv.Close()
	_, _, err = g.Query(t.Context(), "2026A")
	if faka.ErrorCode(err) != faka.EUnavailable || strings.Contains(err.Error(), key) {
		t.Fatalf("server down: %v (must not show the key)", err)
	}
}
