package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/payment/qrpage"
	"github.com/faka-dev/faka/web"
)

// qrGateway pays by the shared QR page (as Alipay and WeChat Pay do) with
// a fixed code; it never verifies a notification.
type qrGateway struct{}

func (qrGateway) Name() string { return "qrtest" }

func (qrGateway) PayURL(_ context.Context, o *faka.Order, token string) (string, error) {
	return qrpage.Path("qrtest", o.OrderNo, token), nil
}

func (qrGateway) ParseNotification(*http.Request, []byte) (faka.Notification, error) {
	return faka.Notification{}, faka.Errorf(faka.EUnauthorized, "qrtest verifies nothing")
}

func (qrGateway) Acknowledge(w http.ResponseWriter) { w.Write([]byte("ok")) }

func (qrGateway) Reject(w http.ResponseWriter, _ error) { w.WriteHeader(http.StatusBadRequest) }

func (g qrGateway) Pages(h payment.Host) http.Handler {
	return qrpage.Handler(g.Name(), "QR Pay", h, func(context.Context, *faka.Order) (string, error) {
		return "https://qr.example/pay/1", nil
	})
}

// The QR pay page is in the shop's layout and the visitor's language.
func TestQRPayPageInShopLayout(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *web.Config) {
		if err := c.Gateways.Register(qrGateway{}); err != nil {
			t.Fatal(err)
		}
	})
	decode[shopBody](t, b.admin("PATCH", "/api/v1/shop", `{"name":"码上付 & Co"}`), http.StatusOK)
	p := b.cardProduct(1, "")
	c := decode[created](t, b.do("POST", "/api/v1/orders",
		fmt.Sprintf(`{"product_id":%d,"quantity":1,"email":"b@example.com","gateway":"qrtest"}`, p.ID)), http.StatusCreated)
	u, err := url.Parse(c.PayURL)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		accept string
		want   []string
	}{
		{"zh-CN", []string{`<html lang="zh-CN">`, "请用QR Pay扫码付款", "查看订单"}},
		{"en", []string{`<html lang="en">`, "Scan the code with QR Pay to pay", "View the order"}},
	} {
		body := page(t, b.do("GET", u.RequestURI(), "", "Accept-Language", tc.accept), http.StatusOK)
		for _, want := range append(tc.want, "码上付 &amp; Co</a>", "<title>QR Pay · 码上付 &amp; Co</title>",
			`<meta http-equiv="refresh" content="4">`, `src="data:image/png;base64,`, `href="https://qr.example/pay/1"`) {
			if !strings.Contains(body, want) {
				t.Errorf("QR page (%s) lacks %q", tc.accept, want)
			}
		}
	}
	// Cancelled: no code, the reason in the visitor's language.
	decode[order](t, b.do("POST", "/api/v1/orders/"+c.OrderNo+"/cancel", "", "X-Order-Token", c.Token), http.StatusOK)
	body := page(t, b.do("GET", u.RequestURI(), "", "Accept-Language", "zh-CN"), http.StatusConflict)
	if !strings.Contains(body, "已无法付款") || strings.Contains(body, "data:image/png") {
		t.Fatalf("QR page of a cancelled order:\n%s", body)
	}
}

// A server without the storefront (API only) still serves the sandbox's
// pay page: bare, in the visitor's language, saying it is test mode.
func TestSandboxPayPageWithoutStorefront(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *web.Config) { c.Shop, c.Accounts = nil, nil })
	p := b.cardProduct(1, "")
	c := b.order(p.ID, 1)
	u, err := url.Parse(c.PayURL)
	if err != nil {
		t.Fatal(err)
	}
	w := b.do("GET", u.RequestURI(), "", "Accept-Language", "zh-CN")
	body := w.Body.String()
	for _, want := range []string{`<html lang="zh-CN">`, "<h1>沙盒支付</h1>", `class="testmode"`, ">付款</button>",
		`action="/pay/sandbox/` + c.OrderNo + `/pay"`} {
		if w.Code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("bare pay page %d lacks %q:\n%s", w.Code, want, body)
		}
	}
	checkPageSafety(t, w)
}
