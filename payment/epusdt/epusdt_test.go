package epusdt_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment/epusdt"
)

const token = "tok"

func newGateway(t testing.TB, site string, c *http.Client) *epusdt.Gateway {
	t.Helper()
	g, err := epusdt.New(epusdt.Config{URL: site, Token: token}, "https://shop.example.com/", c)
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
		fields map[string]string
		signed string
		want   string // md5 of signed+token, computed outside Go (md5sum)
	}{
		{
			name: "create request",
			fields: map[string]string{"order_id": "2026A", "amount": "9.9", "signature": "ignored",
				"notify_url": "https://shop.example.com/pay/epusdt/notify", "redirect_url": "https://shop.example.com/orders/2026A?token=t"},
			signed: "amount=9.9&notify_url=https://shop.example.com/pay/epusdt/notify&order_id=2026A&redirect_url=https://shop.example.com/orders/2026A?token=t",
			want:   "d1575caf4473ef126d403356a3cb52f4",
		},
		{
			name: "notification, empty dropped",
			fields: map[string]string{"trade_id": "202611271323001", "order_id": "2026A", "amount": "9.9", "actual_amount": "1.37",
				"token": "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE", "block_transaction_id": "0b8e5f3c9a1d2e4f", "status": "2", "memo": ""},
			signed: "actual_amount=1.37&amount=9.9&block_transaction_id=0b8e5f3c9a1d2e4f&order_id=2026A&status=2&token=TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE&trade_id=202611271323001",
			want:   "28812475478c2e2c5ada565914edfadf",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := md5hex(tc.signed + token); got != tc.want {
				t.Fatalf("test vector: %s, want %s", got, tc.want)
			}
			if got := epusdt.Sign(tc.fields, token); got != tc.want {
				t.Fatalf("Sign = %s, want %s", got, tc.want)
			}
		})
	}
	for in, want := range map[string]string{"9.90": "9.9", "10.00": "10", "0.01": "0.01", "1234.5": "1234.5", "2": "2"} {
		if got, err := epusdt.FormatNumber(json.Number(in)); err != nil || got != want {
			t.Errorf("FormatNumber(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// server is a local epusdt speaking create-transaction.
type server struct {
	*httptest.Server
	mu    sync.Mutex
	got   map[string]any // the last request
	reply string         // file under testdata, or a body
	code  int
	calls int
}

func newServer(t *testing.T) *server {
	s := &server{reply: "testdata/create_ok.json", code: 200}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.Method != "POST" || r.URL.Path != epusdt.CreatePath || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			http.Error(w, "wrong request", 404)
			return
		}
		s.calls++
		body, _ := io.ReadAll(r.Body)
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		s.got = nil
		dec.Decode(&s.got)
		reply := s.reply
		if strings.HasPrefix(reply, "testdata/") {
			data, _ := os.ReadFile(reply)
			reply = string(data)
		}
		w.WriteHeader(s.code)
		io.WriteString(w, reply)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestPayURL(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	g := newGateway(t, srv.URL+"/", srv.Client())
	u, err := g.PayURL(t.Context(), &faka.Order{OrderNo: "2026A", Amount: 990, Currency: "CNY"}, "t")
	if err != nil {
		t.Fatal(err)
	}
	if u != "https://usdt.example.com/pay/checkout-counter/202611271323001" {
		t.Fatalf("pay URL %s", u)
	}
	got := srv.got
	want := map[string]string{"order_id": "2026A", "amount": "9.9", "notify_url": "https://shop.example.com/pay/epusdt/notify",
		// L8: no buyer token in the URL the provider gets. The signature is
		// the md5 of the sorted fields and the token, computed with md5sum.
		"redirect_url": "https://shop.example.com/orders/2026A", "signature": "208a68d80ccdc171326a2408ec9dabc5"}
	if len(got) != len(want) {
		t.Fatalf("request %v", got)
	}
	for k, v := range want {
		if s, _ := got[k].(string); k != "amount" && s != v {
			t.Errorf("%s = %v, want %s", k, got[k], v)
		}
	}
	if n, ok := got["amount"].(json.Number); !ok || n.String() != "9.9" {
		t.Errorf("amount %#v, want the JSON number 9.9", got["amount"])
	}
	// Asked again (the order page), the same page without a second
	// transaction, which epusdt would refuse.
	again, err := g.PayURL(t.Context(), &faka.Order{OrderNo: "2026A", Amount: 990, Currency: "CNY"}, "t")
	if err != nil || again != u || srv.calls != 1 {
		t.Fatalf("second PayURL %q %v after %d calls", again, err, srv.calls)
	}

	for _, tc := range []struct {
		name, reply string
		code        int
	}{
		{"refused", "testdata/create_fail.json", 200},
		{"HTTP 500", `{"status_code":500,"message":"boom"}`, 500},
		{"not JSON", `<html>`, 200},
		{"no payment_url", `{"status_code":200,"data":{"order_id":"X"}}`, 200},
		{"javascript payment_url", `{"status_code":200,"data":{"payment_url":"javascript:alert(1)"}}`, 200},
		{"another order", `{"status_code":200,"data":{"order_id":"OTHER","payment_url":"https://usdt.example.com/p"}}`, 200},
	} {
		srv.mu.Lock()
		srv.reply, srv.code = tc.reply, tc.code
		srv.mu.Unlock()
		if _, err := g.PayURL(t.Context(), &faka.Order{OrderNo: "X", Amount: 100, Currency: "CNY"}, "t"); faka.ErrorCode(err) != faka.EUnavailable {
			t.Errorf("%s: %v, want unavailable", tc.name, err)
		}
	}
	if _, err := g.PayURL(t.Context(), &faka.Order{OrderNo: "X", Amount: 100, Currency: "USD"}, "t"); faka.ErrorCode(err) != faka.EInvalid {
		t.Fatalf("USD: %v", err)
	}
}

// signed returns m with a correct signature, as JSON.
func signed(m map[string]any, tok string) string {
	fields := map[string]string{}
	for k, v := range m {
		switch v := v.(type) {
		case string:
			fields[k] = v
		case json.Number:
			fields[k], _ = epusdt.FormatNumber(v)
		}
	}
	m["signature"] = epusdt.Sign(fields, tok)
	b, _ := json.Marshal(m)
	return string(b)
}

func paidMessage() map[string]any {
	return map[string]any{"trade_id": "202611271323001", "order_id": "2026A", "amount": json.Number("9.90"),
		"actual_amount": json.Number("1.37"), "token": "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE",
		"block_transaction_id": "0b8e5f3c9a1d2e4f", "status": json.Number("2")}
}

func TestParseNotification(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "https://usdt.example.com", nil)
	want := faka.Notification{Gateway: "epusdt", OrderNo: "2026A", TradeNo: "202611271323001", Amount: 990, Currency: "CNY"}
	recorded, err := os.ReadFile("testdata/notify_paid.json")
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/pay/epusdt/notify", nil)
	if n, err := g.ParseNotification(r, recorded); err != nil || n != want {
		t.Fatalf("recorded: %+v, %v", n, err)
	}
	if n, err := g.ParseNotification(r, []byte(signed(paidMessage(), token))); err != nil || n != want {
		t.Fatalf("signed: %+v, %v", n, err)
	}
	with := func(k string, v any) string {
		m := paidMessage()
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return signed(m, token)
	}
	rec := string(recorded)
	for _, tc := range []struct {
		name, body, code string
	}{
		{"amount changed after signing", strings.Replace(rec, `"amount":9.9`, `"amount":0.01`, 1), faka.EUnauthorized},
		{"order changed after signing", strings.Replace(rec, `"2026A"`, `"2026B"`, 1), faka.EUnauthorized},
		{"status changed after signing", strings.Replace(rec, `"status":2`, `"status":3`, 1), faka.EUnauthorized},
		{"empty signature", strings.Replace(rec, "28812475478c2e2c5ada565914edfadf", "", 1), faka.EUnauthorized},
		{"no signature", `{"order_id":"2026A","status":2}`, faka.EUnauthorized},
		{"other token", signed(paidMessage(), "other-token"), faka.EUnauthorized},
		{"signature as number", `{"order_id":"2026A","signature":1}`, faka.EUnauthorized},
		{"unpaid", with("status", json.Number("1")), faka.EInvalid},
		{"expired", with("status", json.Number("3")), faka.EInvalid},
		{"status as string", with("status", "2"), faka.EInvalid},
		{"no order", with("order_id", nil), faka.EInvalid},
		{"no trade", with("trade_id", nil), faka.EInvalid},
		{"amount as string", with("amount", "9.90"), faka.EInvalid},
		{"three decimals", with("amount", json.Number("9.901")), faka.EInvalid},
		{"negative", with("amount", json.Number("-9.9")), faka.EInvalid},
		{"nested", `{"order_id":{"x":1},"signature":"00"}`, faka.EBadRequest},
		{"array", `[1]`, faka.EBadRequest},
		{"trailing", rec + "{}", faka.EBadRequest},
		{"empty", ``, faka.EBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := g.ParseNotification(r, []byte(tc.body))
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
	g := newGateway(t, "https://usdt.example.com", nil)
	w := httptest.NewRecorder()
	g.Acknowledge(w)
	if w.Code != 200 || w.Body.String() != "ok" {
		t.Fatalf("ack %d %q", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	g.Reject(w, faka.Errorf(faka.EUnauthorized, "x"))
	if w.Code != 400 || w.Body.String() != "fail" {
		t.Fatalf("reject %d %q", w.Code, w.Body)
	}
}
