package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/faka-dev/faka"
)

type shopBody struct {
	Name            string `json:"name"`
	Tagline         string `json:"tagline"`
	Notice          string `json:"notice"`
	Contact         string `json:"contact"`
	LogoURL         string `json:"logo_url"`
	Timezone        string `json:"timezone"`
	DefaultLanguage string `json:"default_language"`
}

func (b *bundle) shopSettings() shopBody {
	b.t.Helper()
	return decode[shopBody](b.t, b.do("GET", "/api/v1/shop", ""), http.StatusOK)
}

func TestShopAPIDefaultsAndPatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	want := shopBody{Name: "faka", Timezone: "Asia/Shanghai", DefaultLanguage: "zh-CN"}
	if got := b.shopSettings(); got != want {
		t.Fatalf("never set: %+v, want %+v", got, want)
	}
	got := decode[shopBody](t, b.admin("PATCH", "/api/v1/shop", `{"name":"  Moon Cards ","tagline":"keys in a second",
		"notice":"**Open** 24/7","logo_url":"https://cdn.example.com/moon.png"}`), http.StatusOK)
	want = shopBody{Name: "Moon Cards", Tagline: "keys in a second", Notice: "**Open** 24/7",
		LogoURL: "https://cdn.example.com/moon.png", Timezone: "Asia/Shanghai", DefaultLanguage: "zh-CN"}
	if got != want {
		t.Fatalf("PATCH returned %+v, want %+v", got, want)
	}
	// Absent fields keep their value; the reply and a later GET agree.
	got = decode[shopBody](t, b.admin("PATCH", "/api/v1/shop", `{"timezone":"Europe/Berlin","default_language":"en","contact":"support@moon.test"}`), http.StatusOK)
	want.Timezone, want.DefaultLanguage, want.Contact = "Europe/Berlin", "en", "support@moon.test"
	if got != want {
		t.Fatalf("second PATCH returned %+v, want %+v", got, want)
	}
	if got := b.shopSettings(); got != want {
		t.Fatalf("GET after PATCH: %+v, want %+v", got, want)
	}
	// An empty body changes nothing and answers the settings.
	if got := decode[shopBody](t, b.admin("PATCH", "/api/v1/shop", `{}`), http.StatusOK); got != want {
		t.Fatalf("empty PATCH: %+v", got)
	}
}

func TestShopAPIRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.admin("PATCH", "/api/v1/shop", `{"name":"Kept","notice":"kept"}`)
	before := b.shopSettings()
	if before.Name != "Kept" {
		t.Fatalf("setup PATCH did not save: %+v", before)
	}
	for _, tc := range []struct {
		name, body string
		auth       string
		status     int
		code       string
		field      string // the message names it
	}{
		{"no token", `{"name":"x"}`, "", http.StatusUnauthorized, faka.EUnauthorized, ""},
		{"wrong token", `{"name":"x"}`, "Bearer wrong-token-0123456789abcdef0", http.StatusUnauthorized, faka.EUnauthorized, ""},
		{"empty name", `{"name":"   "}`, "admin", http.StatusUnprocessableEntity, faka.EInvalid, "name"},
		{"long name", `{"name":"` + strings.Repeat("名", 101) + `"}`, "admin", http.StatusUnprocessableEntity, faka.EInvalid, "name"},
		{"long tagline", `{"tagline":"` + strings.Repeat("t", 201) + `"}`, "admin", http.StatusUnprocessableEntity, faka.EInvalid, "tagline"},
		{"long notice", `{"notice":"` + strings.Repeat("n", 20001) + `"}`, "admin", http.StatusUnprocessableEntity, faka.EInvalid, "notice"},
		{"long contact", `{"contact":"` + strings.Repeat("c", 501) + `"}`, "admin", http.StatusUnprocessableEntity, faka.EInvalid, "contact"},
		{"http logo", `{"logo_url":"http://example.com/a.png"}`, "admin", http.StatusUnprocessableEntity, faka.EInvalid, "logo_url"},
		{"script logo", `{"logo_url":"javascript:alert(1)"}`, "admin", http.StatusUnprocessableEntity, faka.EInvalid, "logo_url"},
		{"unknown zone", `{"timezone":"Mars/Base"}`, "admin", http.StatusUnprocessableEntity, faka.EInvalid, "timezone"},
		{"local zone", `{"timezone":"Local"}`, "admin", http.StatusUnprocessableEntity, faka.EInvalid, "timezone"},
		{"language", `{"default_language":"de"}`, "admin", http.StatusUnprocessableEntity, faka.EInvalid, "default_language"},
		{"good and bad", `{"name":"Changed","timezone":"Nowhere"}`, "admin", http.StatusUnprocessableEntity, faka.EInvalid, "timezone"},
		{"unknown field", `{"nmae":"x"}`, "admin", http.StatusBadRequest, faka.EBadRequest, "nmae"},
		{"wrong type", `{"name":5}`, "admin", http.StatusBadRequest, faka.EBadRequest, "name"},
		{"malformed", `{"name":`, "admin", http.StatusBadRequest, faka.EBadRequest, ""},
		{"too large", `{"notice":"` + strings.Repeat("x", 70<<10) + `"}`, "admin", http.StatusRequestEntityTooLarge, faka.ETooLarge, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w *httptest.ResponseRecorder
			switch tc.auth {
			case "admin":
				w = b.admin("PATCH", "/api/v1/shop", tc.body)
			case "":
				w = b.do("PATCH", "/api/v1/shop", tc.body)
			default:
				w = b.do("PATCH", "/api/v1/shop", tc.body, "Authorization", tc.auth)
			}
			wantError(t, w, tc.status, tc.code)
			if msg := decode[apiError](t, w, tc.status).Error.Message; tc.field != "" && !strings.Contains(msg, tc.field) {
				t.Errorf("message %q does not name %s", msg, tc.field)
			}
			if got := b.shopSettings(); got != before {
				t.Fatalf("settings changed to %+v", got)
			}
		})
	}
}

// Every time a buyer or the merchant reads is in the shop's zone and
// says which; the API keeps RFC 3339 with an offset.
func TestPagesShowShopTimeZone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.shopProduct(3, "", faka.ProductShop{})
	br := b.browser()
	orderNo, token := br.checkout(p.ID, 1, "buyer@example.com")
	o, err := b.e.Order(t.Context(), orderNo)
	if err != nil {
		t.Fatal(err)
	}
	admin := b.browser()
	admin.remote = "192.0.2.50:1"
	admin.signIn()
	for _, zone := range []string{"Asia/Shanghai", "America/New_York"} {
		if zone != faka.DefaultShopTimezone {
			decode[shopBody](t, b.admin("PATCH", "/api/v1/shop", `{"timezone":"`+zone+`"}`), http.StatusOK)
		}
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		want := o.CreatedAt.In(loc).Format("2006-01-02 15:04") + " (" + zone + ")"
		for _, tc := range []struct {
			who  *browser
			path string
		}{
			{br, "/orders/" + orderNo + "?token=" + url.QueryEscape(token)},
			{br, "/lookup"},
			{admin, "/admin/orders"},
			{admin, "/admin/orders/" + orderNo},
		} {
			if body := page(t, tc.who.get(tc.path), http.StatusOK); !strings.Contains(body, want) {
				t.Errorf("%s in %s lacks %q", tc.path, zone, want)
			}
		}
		dash := "time zone, " + zone + "."
		if body := page(t, admin.get("/admin"), http.StatusOK); !strings.Contains(body, dash) {
			t.Errorf("the dashboard in %s lacks %q", zone, dash)
		}
	}
	api := decode[struct {
		ExpiresAt string `json:"expires_at"`
	}](t, b.admin("GET", "/api/v1/orders/"+orderNo, ""), http.StatusOK)
	if _, err := time.Parse(time.RFC3339, api.ExpiresAt); err != nil || !strings.ContainsAny(api.ExpiresAt[19:], "Z+-") {
		t.Errorf("API expires_at %q is not RFC 3339 with an offset: %v", api.ExpiresAt, err)
	}
}

// A visitor whose browser names no language faka has gets the shop's
// default language; one who names one gets it.
func TestShopDefaultLanguage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser()
	for _, tc := range []struct {
		setting, accept, want string
	}{
		{"", "", `<html lang="zh-CN">`},
		{"en", "", `<html lang="en">`},
		{"en", "fr-FR,fr;q=0.9", `<html lang="en">`},
		{"en", "zh-CN,zh;q=0.9", `<html lang="zh-CN">`},
		{"zh-CN", "en-US", `<html lang="en">`},
		{"zh-CN", "de", `<html lang="zh-CN">`},
	} {
		if tc.setting != "" {
			decode[shopBody](t, b.admin("PATCH", "/api/v1/shop", `{"default_language":"`+tc.setting+`"}`), http.StatusOK)
		}
		br.lang = tc.accept
		if body := page(t, br.get("/"), http.StatusOK); !strings.Contains(body, tc.want) {
			t.Errorf("default %q, Accept-Language %q: page lacks %s", tc.setting, tc.accept, tc.want)
		}
	}
}

// The sandbox's pay page is in the visitor's language with the shop's
// header and a way back to the order; a cancelled order is not paid.
func TestSandboxPayPageInShopLayout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	decode[shopBody](t, b.admin("PATCH", "/api/v1/shop", `{"name":"月光卡铺 <i>","logo_url":"/static/logo.png?a=1&b=2"}`), http.StatusOK)
	p := b.cardProduct(2, "")
	c := b.order(p.ID, 1)
	u, err := url.Parse(c.PayURL)
	if err != nil {
		t.Fatal(err)
	}
	back := `href="/orders/` + c.OrderNo + "?token=" + url.QueryEscape(c.Token) + `"`
	for _, tc := range []struct {
		accept string
		want   []string
	}{
		{"zh-CN,zh;q=0.9", []string{`<html lang="zh-CN">`, "<h1>沙盒支付</h1>", ">付款</button>", "返回订单"}},
		{"en-US,en;q=0.8", []string{`<html lang="en">`, "<h1>Sandbox payment</h1>", ">Pay</button>", "Back to the order"}},
	} {
		w := b.do("GET", u.RequestURI(), "", "Accept-Language", tc.accept)
		body := page(t, w, http.StatusOK)
		for _, want := range append(tc.want, "月光卡铺 &lt;i&gt;</a>", "· 月光卡铺 &lt;i&gt;</title>",
			`src="/static/logo.png?a=1&amp;b=2"`, back, `class="testmode"`) {
			if !strings.Contains(body, want) {
				t.Errorf("pay page (%s) lacks %q", tc.accept, want)
			}
		}
		if strings.Contains(body, "<i>") {
			t.Errorf("the shop name is not escaped on the pay page")
		}
	}

	// The buyer cancels, then presses Pay on the old page: refused,
	// nothing changes.
	decode[order](t, b.do("POST", "/api/v1/orders/"+c.OrderNo+"/cancel", "", "X-Order-Token", c.Token), http.StatusOK)
	before := b.state()
	w := b.do("POST", "/pay/sandbox/"+c.OrderNo+"/pay", "token="+url.QueryEscape(c.Token),
		"Content-Type", "application/x-www-form-urlencoded", "Accept-Language", "zh-CN")
	body := page(t, w, http.StatusConflict)
	if !strings.Contains(body, "已无法付款") || !strings.Contains(body, "已取消") || strings.Contains(body, "<form method=\"post\" action=\"/pay/") {
		t.Fatalf("Pay on a cancelled order:\n%s", body)
	}
	b.unchanged(before)
	if o := b.getOrder(c); o.Status != "cancelled" || len(o.Keys) != 0 {
		t.Fatalf("cancelled order after Pay: %+v", o)
	}
	if got := b.counter("faka_notifications_total", "gateway", "sandbox", "outcome", "applied"); got != 0 {
		t.Fatalf("applied notifications %v after Pay on a cancelled order", got)
	}
}

// PATCH /api/v1/shop changes the name (and logo) in the header and
// <title> of every page, the tagline is the storefront's meta
// description, and the notice shows on the home page only, sanitised.
func TestShopNameOnEveryPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.shopProduct(3, "", faka.ProductShop{})
	br := b.browser()
	orderNo, token := br.checkout(p.ID, 1, "buyer@example.com")
	admin := b.browser()
	admin.remote = "192.0.2.51:1"
	admin.signIn()

	body := `{"name":"Moon & <Cards>","tagline":"Keys \"fast\"","logo_url":"https://cdn.example.com/m.png",
		"contact":"QQ 12345 <b>x</b>","notice":"**Open** all night <script>alert(1)</script> [x](javascript:alert(2))"}`
	decode[shopBody](t, b.admin("PATCH", "/api/v1/shop", body), http.StatusOK)
	const name = "Moon &amp; &lt;Cards&gt;"
	logo := `<img class="logo" src="https://cdn.example.com/m.png"`
	for _, tc := range []struct {
		who   *browser
		path  string
		admin bool
	}{
		{br, "/", false},
		{br, "/products/" + fmt.Sprint(p.ID), false},
		{br, "/orders/" + orderNo + "?token=" + url.QueryEscape(token), false},
		{br, "/lookup", false},
		{admin, "/admin", true},
		{admin, "/admin/orders", true},
	} {
		got := page(t, tc.who.get(tc.path), http.StatusOK)
		brand := `width="32" height="32">` + name + "</a>"
		if tc.admin {
			brand = `width="32" height="32">` + name + " <small>"
		}
		for _, want := range []string{logo, brand, " · " + name + "</title>"} {
			if !strings.Contains(got, want) {
				t.Errorf("%s lacks %q", tc.path, want)
			}
		}
		if strings.Contains(got, "<Cards>") {
			t.Errorf("%s: the shop name is not escaped", tc.path)
		}
		desc := `<meta name="description" content="Keys &#34;fast&#34;">`
		if has := strings.Contains(got, desc); has == tc.admin {
			t.Errorf("%s: meta description shown %v, want %v", tc.path, has, !tc.admin)
		}
		contact := "QQ 12345 &lt;b&gt;x&lt;/b&gt;"
		if has := strings.Contains(got, contact); has == tc.admin {
			t.Errorf("%s: contact shown %v, want %v", tc.path, has, !tc.admin)
		}
		if has := strings.Contains(got, "data-notice="); has != (tc.path == "/") {
			t.Errorf("%s: notice shown %v", tc.path, has)
		}
	}
	home := page(t, br.get("/"), http.StatusOK)
	for _, want := range []string{`<details class="notice" open data-notice="`, "<strong>Open</strong> all night", "Notice"} {
		if !strings.Contains(home, want) {
			t.Errorf("home lacks %q", want)
		}
	}
	if strings.Contains(home, "alert(1)</script>") || strings.Contains(home, "javascript:") {
		t.Error("the notice's script or javascript: link reached the page")
	}
	// A new notice has a new id, so a buyer who folded the old one sees it.
	firstID := home[strings.Index(home, `data-notice="`):][:26]
	decode[shopBody](t, b.admin("PATCH", "/api/v1/shop", `{"notice":"New hours"}`), http.StatusOK)
	home = page(t, br.get("/"), http.StatusOK)
	if !strings.Contains(home, "New hours") || strings.Contains(home, firstID) {
		t.Errorf("a changed notice keeps its id %s", firstID)
	}
	decode[shopBody](t, b.admin("PATCH", "/api/v1/shop", `{"notice":"","logo_url":""}`), http.StatusOK)
	home = page(t, br.get("/"), http.StatusOK)
	if strings.Contains(home, "data-notice=") || strings.Contains(home, `class="logo"`) {
		t.Error("an empty notice or logo still shows")
	}
}

func TestConsoleShopSettings(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if w := b.browser().get("/admin/shop"); w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/admin/login") {
		t.Fatalf("GET /admin/shop without a session: %d %s", w.Code, w.Header().Get("Location"))
	}
	br := b.browser()
	br.signIn()
	form := url.Values{"name": {"Shop <One>"}, "tagline": {"t"}, "notice": {"# hi"}, "contact": {"c"},
		"logo_url": {"/static/l.png"}, "timezone": {"Europe/Berlin"}, "default_language": {"en"}}

	body := page(t, br.get("/admin/shop"), http.StatusOK)
	for _, want := range []string{`<h1>Shop settings</h1>`, `name="name" value="faka"`, `value="Asia/Shanghai"`,
		`<option value="zh-CN" selected>`, `action="/admin/shop"`, `href="/admin/shop" aria-current="page"`} {
		if !strings.Contains(body, want) {
			t.Errorf("settings page lacks %q", want)
		}
	}
	zh := b.browser()
	zh.cookies, zh.lang = br.cookies, "zh-CN"
	if body := page(t, zh.get("/admin/shop"), http.StatusOK); !strings.Contains(body, "<h1>店铺设置</h1>") || !strings.Contains(body, "时区") {
		t.Error("the settings page is not in Chinese for a Chinese browser")
	}

	// Refused: shown again as typed, with the problem, nothing saved.
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("timezone", "Mars/Base")
	body = page(t, br.post("/admin/shop", bad), http.StatusUnprocessableEntity)
	if !strings.Contains(body, `class="error"`) || !strings.Contains(body, "timezone") || !strings.Contains(body, `value="Mars/Base"`) ||
		!strings.Contains(body, `value="Shop &lt;One&gt;"`) {
		t.Fatalf("refused form:\n%s", body)
	}
	if got := b.shopSettings(); got.Name != "faka" || got.Timezone != "Asia/Shanghai" {
		t.Fatalf("a refused form saved %+v", got)
	}
	// Cross-site: refused by the console's CSRF defence.
	if w := br.post("/admin/shop", form, "Sec-Fetch-Site", "cross-site"); w.Code != http.StatusForbidden {
		t.Fatalf("cross-site save: %d", w.Code)
	}
	if got := b.shopSettings(); got.Name != "faka" {
		t.Fatalf("a cross-site form saved %+v", got)
	}

	w := br.post("/admin/shop", form)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/admin/shop?done=shop" {
		t.Fatalf("save: %d %s\n%s", w.Code, w.Header().Get("Location"), w.Body)
	}
	want := shopBody{Name: "Shop <One>", Tagline: "t", Notice: "# hi", Contact: "c", LogoURL: "/static/l.png",
		Timezone: "Europe/Berlin", DefaultLanguage: "en"}
	if got := b.shopSettings(); got != want {
		t.Fatalf("saved %+v, want %+v", got, want)
	}
	body = page(t, br.get("/admin/shop?done=shop"), http.StatusOK)
	for _, want := range []string{"Shop settings saved.", `Shop &lt;One&gt; <small>`, `value="Europe/Berlin"`, `<option value="en" selected>`} {
		if !strings.Contains(body, want) {
			t.Errorf("after saving, the page lacks %q", want)
		}
	}
}

// The product page shows the total before paying: for the form's
// quantity, with what app.js needs to keep it up to date.
func TestProductPageTotal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.cardProduct(10, `,"min_quantity":2,"max_quantity":5`)
	br := b.browser()
	body := page(t, br.get(fmt.Sprintf("/products/%d", p.ID)), http.StatusOK)
	want := `Total: <output class="amount" data-total data-unit="990" data-digits="2" data-prefix="¥" data-suffix="">¥19.80</output>`
	if !strings.Contains(body, want) || !strings.Contains(body, "data-total-quantity") {
		t.Fatalf("product page lacks the total %s:\n%s", want, body)
	}
	// A refused form shows the total of the quantity typed, when it is one
	// the product sells.
	form := url.Values{"quantity": {"4"}, "email": {"not-an-email"}, "gateway": {"sandbox"}}
	body = page(t, br.post(fmt.Sprintf("/products/%d/buy", p.ID), form), http.StatusUnprocessableEntity)
	if !strings.Contains(body, `data-suffix="">¥39.60</output>`) {
		t.Errorf("refused form: total for 4 missing")
	}
	form.Set("quantity", "9")
	body = page(t, br.post(fmt.Sprintf("/products/%d/buy", p.ID), form), http.StatusUnprocessableEntity)
	if !strings.Contains(body, `data-suffix="">¥19.80</output>`) {
		t.Errorf("refused form with quantity out of range: total not the last valid one")
	}
}
