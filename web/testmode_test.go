package web_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/web"
)

// realGateway stands for a gateway that moves money (EPay, Alipay, …).
type realGateway struct{}

func (realGateway) Name() string { return "realpay" }
func (realGateway) PayURL(_ context.Context, o *faka.Order, _ string) (string, error) {
	return "https://pay.example/" + o.OrderNo, nil
}
func (realGateway) ParseNotification(*http.Request, []byte) (faka.Notification, error) {
	return faka.Notification{}, faka.Errorf(faka.EUnauthorized, "realpay: not under test")
}
func (realGateway) Acknowledge(http.ResponseWriter)   {}
func (realGateway) Reject(http.ResponseWriter, error) {}

var checkedRE = regexp.MustCompile(`name="gateway" value="([a-z_-]+)" checked`)

// M1: the sandbox left on beside a real gateway is neither the API's
// default nor the storefront's pre-selected choice, and every storefront
// page says the shop is in test mode.
func TestSandboxBesideARealGateway(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *web.Config) {
		if err := c.Gateways.Register(realGateway{}); err != nil {
			t.Fatal(err)
		}
	})
	p := b.shopProduct(3, "", faka.ProductShop{})
	br := b.browser()
	body := page(t, br.get(fmt.Sprintf("/products/%d", p.ID)), http.StatusOK)
	if m := checkedRE.FindStringSubmatch(body); m == nil || m[1] != "realpay" {
		t.Fatalf("pre-selected gateway %v, want realpay", m)
	}
	for _, path := range []string{"/", fmt.Sprintf("/products/%d", p.ID), "/lookup"} {
		if body := page(t, br.get(path), http.StatusOK); !strings.Contains(body, `class="testmode"`) {
			t.Errorf("%s has no test-mode banner", path)
		}
	}
	// An API order that names no gateway goes to the real one.
	w := b.do("POST", "/api/v1/orders", fmt.Sprintf(`{"product_id":%d,"quantity":1,"email":"buyer@example.com"}`, p.ID))
	c := decode[created](t, w, http.StatusCreated)
	if !strings.HasPrefix(c.PayURL, "https://pay.example/") {
		t.Fatalf("an order naming no gateway pays at %q, want the real gateway", c.PayURL)
	}
	gws := decode[struct {
		Gateways []struct {
			Name    string `json:"name"`
			Default bool   `json:"default"`
		} `json:"gateways"`
	}](t, b.do("GET", "/api/v1/gateways", ""), http.StatusOK)
	for _, g := range gws.Gateways {
		if g.Default != (g.Name == "realpay") {
			t.Fatalf("gateways %+v: the default must be realpay", gws.Gateways)
		}
	}
}

// Without the sandbox there is no banner.
func TestNoBannerWithoutSandbox(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *web.Config) {
		c.Gateways.Remove("sandbox")
		if err := c.Gateways.Register(realGateway{}); err != nil {
			t.Fatal(err)
		}
	})
	if body := page(t, b.browser().get("/"), http.StatusOK); strings.Contains(body, `class="testmode"`) {
		t.Fatal("a test-mode banner without the sandbox")
	}
}
