package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment/sandbox"
	"github.com/faka-dev/faka/web"
)

// browser sends requests to a bundle's server the way a browser would:
// keeping cookies, with a language, from one client address.
type browser struct {
	t       *testing.T
	b       *bundle
	cookies map[string]*http.Cookie
	lang    string
	remote  string
}

func (b *bundle) browser() *browser {
	return &browser{t: b.t, b: b, cookies: map[string]*http.Cookie{}, lang: "en", remote: "192.0.2.10:1234"}
}

func (br *browser) do(method, path string, body string, headers ...string) *httptest.ResponseRecorder {
	br.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = br.remote
	r.Header.Set("Accept", "text/html,application/xhtml+xml")
	if br.lang != "" {
		r.Header.Set("Accept-Language", br.lang)
	}
	if method == http.MethodPost {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		// What a browser sends with a form posted from our own page.
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		r.Header.Set("Origin", "http://example.com")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			r.Header.Del(headers[i])
		} else {
			r.Header.Set(headers[i], headers[i+1])
		}
	}
	for _, c := range br.cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	br.b.srv.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(br.cookies, c.Name)
		} else {
			br.cookies[c.Name] = c
		}
	}
	return w
}

func (br *browser) get(path string, headers ...string) *httptest.ResponseRecorder {
	return br.do(http.MethodGet, path, "", headers...)
}

func (br *browser) post(path string, form url.Values, headers ...string) *httptest.ResponseRecorder {
	return br.do(http.MethodPost, path, form.Encode(), headers...)
}

// page checks the status of an HTML response and returns its body.
func page(t *testing.T, w *httptest.ResponseRecorder, status int) string {
	t.Helper()
	body := w.Body.String()
	if w.Code != status {
		t.Fatalf("status %d, want %d:\n%s", w.Code, status, body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("Content-Type %q, want HTML", ct)
	}
	checkPageSafety(t, w)
	return body
}

var inlineScript = regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>`)

// checkPageSafety checks the headers every page has and that no page
// carries an inline script.
func checkPageSafety(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	h := w.Header()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q allows inline code", csp)
	}
	for name, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
		"Referrer-Policy": "no-referrer"} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	for _, tag := range inlineScript.FindAllString(w.Body.String(), -1) {
		if !strings.Contains(tag, "src=") {
			t.Errorf("inline script on the page: %s", tag)
		}
	}
}

// buy posts the product form and returns the response.
func (br *browser) buy(pid int64, qty int, email string, extra ...string) *httptest.ResponseRecorder {
	br.t.Helper()
	form := url.Values{"quantity": {fmt.Sprint(qty)}, "email": {email}, "gateway": {"sandbox"}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	return br.post(fmt.Sprintf("/products/%d/buy", pid), form)
}

// checkout buys qty units and returns the order number and token from
// the pay URL the buyer is sent to.
func (br *browser) checkout(pid int64, qty int, email string, extra ...string) (orderNo, token string) {
	br.t.Helper()
	w := br.buy(pid, qty, email, extra...)
	if w.Code != http.StatusSeeOther {
		br.t.Fatalf("checkout: %d\n%s", w.Code, w.Body)
	}
	u, err := url.Parse(w.Header().Get("Location"))
	if err != nil || !strings.HasPrefix(u.Path, "/pay/sandbox/") {
		br.t.Fatalf("checkout went to %q", w.Header().Get("Location"))
	}
	return strings.TrimPrefix(u.Path, "/pay/sandbox/"), u.Query().Get("token")
}

// pay pays an order through the sandbox notification.
func (b *bundle) pay(orderNo string) {
	b.t.Helper()
	o, err := b.e.Order(context.Background(), orderNo)
	if err != nil {
		b.t.Fatal(err)
	}
	w := b.notify(sandbox.Message{OrderNo: orderNo, TradeNo: "T" + orderNo, Amount: o.Amount,
		Currency: o.Currency, Status: "paid"}, sandboxSecret)
	if w.Code != http.StatusOK {
		b.t.Fatalf("notify: %d %s", w.Code, w.Body)
	}
}

// shopProduct creates a product with n keys and a presentation.
func (b *bundle) shopProduct(n int, fields string, ps faka.ProductShop) product {
	b.t.Helper()
	p := b.cardProduct(n, fields)
	ps.ProductID = p.ID
	if ps.StockDisplay == "" {
		ps.StockDisplay = faka.StockExact
	}
	if err := b.st.ProductShopSet(context.Background(), ps); err != nil {
		b.t.Fatal(err)
	}
	return p
}

func TestHome(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	games := &faka.Category{Name: "Games & <Fun>", Sort: 1}
	if err := b.st.CategoryCreate(ctx, games); err != nil {
		t.Fatal(err)
	}
	exact := b.shopProduct(3, `,"name":"Exact card"`, faka.ProductShop{CategoryID: games.ID, LowStock: 1})
	b.shopProduct(2, `,"name":"Level card","price":1234,"currency":"USD"`, faka.ProductShop{StockDisplay: faka.StockLevel, LowStock: 5})
	b.shopProduct(9, `,"name":"Hidden card"`, faka.ProductShop{StockDisplay: faka.StockHidden})
	b.shopProduct(0, `,"name":"Empty card"`, faka.ProductShop{StockDisplay: faka.StockHidden})
	b.shopProduct(1, `,"name":"Needs two","min_quantity":2`, faka.ProductShop{})
	gone := b.shopProduct(1, `,"name":"Withdrawn card"`, faka.ProductShop{})
	b.admin("PATCH", fmt.Sprintf("/api/v1/products/%d", gone.ID), `{"active":false}`)

	body := page(t, b.browser().get("/"), http.StatusOK)
	for _, want := range []string{
		"Games &amp; &lt;Fun&gt;", // the category, escaped
		"Other",                   // uncategorised products come last
		fmt.Sprintf(`href="/products/%d"`, exact.ID),
		"¥9.90", "3 in stock",
		"$12.34", "Low stock",
		"Hidden card",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("home lacks %q", want)
		}
	}
	if strings.Contains(body, "Withdrawn card") {
		t.Error("an inactive product is on the home page")
	}
	if strings.Index(body, "Exact card") > strings.Index(body, "Other") {
		t.Error("the category's products are not first")
	}
	// Hidden stock shows no number, but a product that is gone is marked.
	for _, name := range []string{"Empty card", "Needs two"} {
		card := body[strings.Index(body, name):]
		card = card[:strings.Index(card, "</li>")]
		if !strings.Contains(card, "Sold out") {
			t.Errorf("%s is not marked sold out: %s", name, card)
		}
	}
	hidden := body[strings.Index(body, "Hidden card"):]
	if hidden = hidden[:strings.Index(hidden, "</li>")]; strings.Contains(hidden, "in stock") || strings.Contains(hidden, "stock") {
		t.Errorf("hidden stock shows a number: %s", hidden)
	}
}

func TestLanguage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser()
	br.lang = ""
	if body := page(t, br.get("/lookup"), http.StatusOK); !strings.Contains(body, "订单查询") || !strings.Contains(body, `lang="zh-CN"`) {
		t.Fatal("no Accept-Language: the page is not in Chinese")
	}
	br.lang = "fr-FR, en;q=0.8, zh;q=0.5"
	if body := page(t, br.get("/lookup"), http.StatusOK); !strings.Contains(body, "Find my order") {
		t.Fatal("Accept-Language prefers en: the page is not in English")
	}
	// The switch sets a cookie that wins over Accept-Language.
	body := page(t, br.get("/lookup?lang=zh-CN"), http.StatusOK)
	if !strings.Contains(body, "订单查询") || !strings.Contains(body, `href="/lookup?lang=en"`) {
		t.Fatalf("?lang=zh-CN:\n%s", body)
	}
	if body := page(t, br.get("/lookup"), http.StatusOK); !strings.Contains(body, "订单查询") {
		t.Fatal("the language choice was not remembered")
	}
	if c := br.cookies["faka_lang"]; c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("language cookie %+v", c)
	}
}

// TestXSSEscaped puts script into everything a merchant or a buyer types
// and checks that none of it reaches a page as markup.
func TestXSSEscaped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const name = `<script>alert("name")</script><img src=x onerror=alert(1)>`
	desc := strings.Join([]string{
		"# Title",
		`<script>alert("desc")</script>`,
		`<img src="x" onerror="alert(2)">`,
		`<iframe src="https://evil.example"></iframe>`,
		`[click](javascript:alert(3))`,
		`[data](data:text/html;base64,PHNjcmlwdD5hbGVydCg0KTwvc2NyaXB0Pg==)`,
		`<a href="javascript:alert(5)">raw link</a>`,
		`<div onclick="alert(6)" style="background:url(javascript:alert(7))">div</div>`,
		"**bold** and [a link](https://example.com/x)",
	}, "\n\n")
	fields := fmt.Sprintf(`,"name":%q,"description":%q`, name, desc)
	p := b.shopProduct(2, fields, faka.ProductShop{})
	br := b.browser()

	bad := []string{"<script>alert", "<img src=x", `<img src="x"`, `onerror="`, "<iframe", "javascript:", "onclick", "data:text/html"}
	home := page(t, br.get("/"), http.StatusOK)
	prod := page(t, br.get(fmt.Sprintf("/products/%d", p.ID)), http.StatusOK)
	for _, body := range []string{home, prod} {
		for _, s := range bad {
			if strings.Contains(body, s) {
				t.Errorf("a page contains %q", s)
			}
		}
	}
	if !strings.Contains(prod, "&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;") {
		t.Error("the product name is not shown escaped")
	}
	for _, want := range []string{"<h1>Title</h1>", "<strong>bold</strong>", `href="https://example.com/x"`, `rel="nofollow noreferrer"`} {
		if !strings.Contains(prod, want) {
			t.Errorf("the description lacks %q", want)
		}
	}

	// An email that is a script: refused, and shown back escaped.
	evil := `"><script>alert(8)</script>@example.com`
	body := page(t, br.buy(p.ID, 1, evil), http.StatusUnprocessableEntity)
	if strings.Contains(body, "<script>alert(8)") || !strings.Contains(body, "&#34;&gt;&lt;script&gt;alert(8)") {
		t.Fatalf("the email is not escaped on the form:\n%s", body)
	}
	// A valid address with markup characters in its local part.
	odd := `a&b'x@example.com`
	orderNo, token := br.checkout(p.ID, 1, odd)
	b.pay(orderNo)
	body = page(t, br.get("/orders/"+orderNo+"?token="+url.QueryEscape(token)), http.StatusOK)
	if !strings.Contains(body, "a&amp;***@example.com") {
		t.Fatalf("the email is not escaped on the order page:\n%s", body)
	}
}

func TestProductPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.shopProduct(3, `,"min_quantity":1,"max_quantity":3,"reservation_ttl_seconds":600`, faka.ProductShop{})
	br := b.browser()
	body := page(t, br.get(fmt.Sprintf("/products/%d", p.ID)), http.StatusOK)
	for _, want := range []string{
		`action="/products/` + fmt.Sprint(p.ID) + `/buy"`, `name="quantity" min="1" max="3"`, `name="email"`,
		`name="query_password"`, `value="sandbox"`, "¥9.90", "held for 10 minutes", `name="nonce"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("product page lacks %q", want)
		}
	}
	for _, path := range []string{"/products/999", "/products/x", "/products/0"} {
		if body := page(t, br.get(path), http.StatusNotFound); !strings.Contains(body, "Not found") {
			t.Errorf("%s: %s", path, body)
		}
	}
	b.admin("PATCH", fmt.Sprintf("/api/v1/products/%d", p.ID), `{"active":false}`)
	page(t, br.get(fmt.Sprintf("/products/%d", p.ID)), http.StatusNotFound)
}

func TestCheckout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.shopProduct(3, `,"max_quantity":5`, faka.ProductShop{})
	br := b.browser()

	// Invalid input: the form comes back with the problem and nothing is
	// reserved.
	before := b.state()
	for _, tc := range []struct {
		qty   int
		email string
		extra []string
		want  string
	}{
		{0, "a@example.com", nil, "quantity from 1 to 5"},
		{6, "a@example.com", nil, "quantity from 1 to 5"},
		{1, "not-an-email", nil, "valid email address"},
		{1, "a@example.com", []string{"gateway", "nope"}, "choose a payment method"},
		{1, "a@example.com", []string{"query_password", strings.Repeat("x", 129)}, "at most 128"},
	} {
		body := page(t, br.buy(p.ID, tc.qty, tc.email, tc.extra...), http.StatusUnprocessableEntity)
		if !strings.Contains(body, tc.want) || !strings.Contains(body, `class="error"`) {
			t.Errorf("qty %d email %q: the page lacks %q", tc.qty, tc.email, tc.want)
		}
	}
	b.unchanged(before)

	// A good order goes to the gateway's pay page and is remembered.
	nonce := "abcdefghijabcdefghijabcdefghijabcdefghij123"
	orderNo, token := br.checkout(p.ID, 2, "buyer@example.com", "nonce", nonce, "query_password", "s3cret")
	if st := b.stock(p.ID); st.Reserved != 2 {
		t.Fatalf("reserved %d, want 2", st.Reserved)
	}
	c := br.cookies["faka_orders"]
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Fatalf("orders cookie %+v", c)
	}
	// The same form sent twice makes one order.
	again, token2 := br.checkout(p.ID, 2, "buyer@example.com", "nonce", nonce, "query_password", "s3cret")
	if again != orderNo || token2 != token {
		t.Fatalf("a resent form made order %s, want %s", again, orderNo)
	}
	if st := b.stock(p.ID); st.Reserved != 2 {
		t.Fatalf("after a resend reserved %d, want 2", st.Reserved)
	}
	// The same form changed and sent again is a new order: the buyer
	// changed their mind.
	if other, _ := br.checkout(p.ID, 1, "buyer@example.com", "nonce", nonce); other == orderNo {
		t.Fatal("a changed form replayed the first order")
	}

	// Not enough left: a clear sold-out page, nothing reserved.
	before = b.state()
	body := page(t, br.buy(p.ID, 2, "late@example.com"), http.StatusConflict)
	if !strings.Contains(body, "Sold out") || !strings.Contains(body, "not enough stock") {
		t.Fatalf("sold out page:\n%s", body)
	}
	b.unchanged(before)
	if got := b.counter("faka_orders_total", "outcome", "sold_out"); got != 1 {
		t.Fatalf("sold_out orders %v", got)
	}
}

func TestCheckoutRateLimited(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *web.Config) { c.OrderRate = 2 })
	p := b.shopProduct(10, "", faka.ProductShop{})
	br := b.browser()
	br.checkout(p.ID, 1, "a@example.com")
	br.checkout(p.ID, 1, "b@example.com")
	w := br.buy(p.ID, 1, "c@example.com")
	body := page(t, w, http.StatusTooManyRequests)
	if !strings.Contains(body, "Too many requests") || w.Header().Get("Retry-After") == "" {
		t.Fatalf("rate limited page %v:\n%s", w.Header(), body)
	}
	// The API and the storefront share the limit of one client.
	if w := b.send(req{method: "POST", path: "/api/v1/orders", body: orderBody(p.ID, 1), remote: br.remote}); w.Code != http.StatusTooManyRequests {
		t.Fatalf("API after the storefront used the limit: %d", w.Code)
	}
}

// TestCrossOriginRefused checks the CSRF defence of every form: a POST
// that a browser marks as coming from another site changes nothing.
func TestCrossOriginRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.shopProduct(2, "", faka.ProductShop{})
	br := b.browser()
	before := b.state()
	form := url.Values{"quantity": {"1"}, "email": {"a@example.com"}, "gateway": {"sandbox"}}
	for _, h := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Sec-Fetch-Site", "", "Origin", "https://evil.example"},
	} {
		for _, path := range []string{fmt.Sprintf("/products/%d/buy", p.ID), "/lookup", "/lookup/forget", "/admin/login"} {
			w := br.post(path, form, h...)
			if body := page(t, w, http.StatusForbidden); !strings.Contains(body, "another site") {
				t.Errorf("%s with %v:\n%s", path, h, body)
			}
		}
	}
	b.unchanged(before)
	// A plain client without browser headers (curl, a gateway) is not a
	// cross-site browser request.
	w := br.post(fmt.Sprintf("/products/%d/buy", p.ID), form, "Sec-Fetch-Site", "", "Origin", "")
	if w.Code != http.StatusSeeOther {
		t.Fatalf("form without browser headers: %d", w.Code)
	}
}

func TestOrderPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.shopProduct(3, `,"name":"Game card"`, faka.ProductShop{})
	br := b.browser()
	orderNo, token := br.checkout(p.ID, 2, "buyer@example.com")
	withToken := "/orders/" + orderNo + "?token=" + url.QueryEscape(token)

	body := page(t, br.get(withToken), http.StatusOK)
	for _, want := range []string{orderNo, "Awaiting payment", `<meta http-equiv="refresh" content="5">`,
		`class="countdown" data-deadline="`, "/pay/sandbox/" + orderNo, "bu***@example.com", "Game card", "¥19.80"} {
		if !strings.Contains(body, want) {
			t.Errorf("pending order page lacks %q", want)
		}
	}
	if strings.Contains(body, "KEY-") {
		t.Fatal("keys shown before payment")
	}

	b.pay(orderNo)
	body = page(t, br.get(withToken), http.StatusOK)
	keys := []string{fmt.Sprintf("KEY-%d-0000", p.ID), fmt.Sprintf("KEY-%d-0001", p.ID)}
	for _, want := range append([]string{"Delivered", `data-copy="` + keys[0] + `"`, "keys.txt?token="}, keys...) {
		if !strings.Contains(body, want) {
			t.Errorf("delivered order page lacks %q", want)
		}
	}
	if strings.Contains(body, `http-equiv="refresh"`) {
		t.Error("a delivered order page still refreshes")
	}

	// The .txt download.
	w := br.get("/orders/" + orderNo + "/keys.txt?token=" + url.QueryEscape(token))
	if w.Code != http.StatusOK || w.Body.String() != keys[0]+"\n"+keys[1]+"\n" ||
		!strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") ||
		w.Header().Get("Content-Disposition") != `attachment; filename="order-`+orderNo+`.txt"` ||
		w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("keys.txt: %d %v %q", w.Code, w.Header(), w.Body)
	}

	// The browser that bought it needs no token; another needs proof.
	if body := page(t, br.get("/orders/"+orderNo), http.StatusOK); !strings.Contains(body, keys[0]) {
		t.Fatal("the buyer's browser does not open its own order")
	}
	stranger := b.browser()
	stranger.remote = "192.0.2.99:1"
	for _, path := range []string{
		"/orders/" + orderNo,
		"/orders/" + orderNo + "?token=wrong",
		"/orders/" + orderNo + "/keys.txt",
		"/orders/" + orderNo + "/keys.txt?token=wrong",
		"/orders/20990101000000000000?token=" + url.QueryEscape(token),
	} {
		body := page(t, stranger.get(path), http.StatusNotFound)
		if strings.Contains(body, "KEY-") {
			t.Fatalf("%s shows keys to a stranger", path)
		}
	}
	// A stranger's forged cookie opens nothing either.
	stranger.cookies["faka_orders"] = &http.Cookie{Name: "faka_orders", Value: "x"}
	page(t, stranger.get("/orders/"+orderNo), http.StatusNotFound)
}

func TestOrderPageStates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser()
	manual := decode[product](t, b.admin("POST", "/api/v1/products",
		`{"name":"Setup service","price":500,"currency":"CNY","delivery":"manual","stock":5}`), http.StatusCreated)
	orderNo, token := br.checkout(manual.ID, 1, "m@example.com")
	b.pay(orderNo)
	withToken := "/orders/" + orderNo + "?token=" + url.QueryEscape(token)
	body := page(t, br.get(withToken), http.StatusOK)
	if !strings.Contains(body, "Paid, awaiting delivery") || !strings.Contains(body, `content="30"`) {
		t.Fatalf("paid manual order:\n%s", body)
	}
	b.admin("POST", "/api/v1/orders/"+orderNo+"/deliver", `{"note":"Login: <user>\nPassword: pw"}`)
	body = page(t, br.get(withToken), http.StatusOK)
	if !strings.Contains(body, "Login: &lt;user&gt;\nPassword: pw") || strings.Contains(body, "keys.txt") {
		t.Fatalf("delivered manual order:\n%s", body)
	}

	card := b.shopProduct(2, "", faka.ProductShop{})
	orderNo, token = br.checkout(card.ID, 1, "c@example.com")
	if _, err := b.e.CancelOrder(context.Background(), orderNo); err != nil {
		t.Fatal(err)
	}
	body = page(t, br.get("/orders/"+orderNo+"?token="+url.QueryEscape(token)), http.StatusOK)
	if !strings.Contains(body, "Cancelled") || !strings.Contains(body, "Buy again") || strings.Contains(body, `http-equiv="refresh"`) {
		t.Fatalf("cancelled order:\n%s", body)
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.shopProduct(3, "", faka.ProductShop{})
	buyer := b.browser()
	orderNo, _ := buyer.checkout(p.ID, 1, "Buyer@Example.com", "query_password", "pass phrase 1")
	b.pay(orderNo)

	other := b.browser()
	other.remote = "192.0.2.20:1"
	// The lookup page lists nothing in a fresh browser.
	if body := page(t, other.get("/lookup"), http.StatusOK); !strings.Contains(body, "No orders yet") {
		t.Fatalf("fresh lookup page:\n%s", body)
	}
	// Wrong email and unknown order: one answer, no keys, no cookie.
	answers := map[string]string{}
	for name, form := range map[string]url.Values{
		"wrong email":    {"order_no": {orderNo}, "proof": {"someone@example.com"}},
		"wrong password": {"order_no": {orderNo}, "proof": {"pass phrase 2"}},
		"unknown order":  {"order_no": {"20990101000000000001"}, "proof": {"buyer@example.com"}},
	} {
		w := other.post("/lookup", form)
		body := page(t, w, http.StatusNotFound)
		if strings.Contains(body, "KEY-") || other.cookies["faka_orders"] != nil {
			t.Fatalf("%s: keys or a cookie without proof", name)
		}
		i := strings.Index(body, `<p class="error"`)
		answers[name] = body[i : i+strings.Index(body[i:], "</p>")]
	}
	if answers["wrong email"] != answers["unknown order"] || answers["wrong password"] != answers["unknown order"] ||
		!strings.Contains(answers["unknown order"], "No order matches") {
		t.Fatalf("lookup answers differ: %q", answers)
	}

	// L9: the buyer set a query password, so the email alone, which
	// others may know, does not open the order; the same answer as above.
	w := other.post("/lookup", url.Values{"order_no": {orderNo}, "proof": {"buyer@example.com"}})
	if body := page(t, w, http.StatusNotFound); strings.Contains(body, "KEY-") || other.cookies["faka_orders"] != nil {
		t.Fatal("the email alone opened an order that has a query password")
	}
	// The query password opens the order and remembers it.
	w = other.post("/lookup", url.Values{"order_no": {orderNo}, "proof": {"pass phrase 1"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/orders/"+orderNo {
		t.Fatalf("lookup by query password: %d %v", w.Code, w.Header())
	}
	if body := page(t, other.get("/orders/"+orderNo), http.StatusOK); !strings.Contains(body, fmt.Sprintf("KEY-%d-0000", p.ID)) {
		t.Fatal("the looked-up order shows no key")
	}
	if body := page(t, other.get("/lookup"), http.StatusOK); !strings.Contains(body, `href="/orders/`+orderNo+`"`) {
		t.Fatal("the lookup page does not list the remembered order")
	}
	// Without a query password, the email in any case opens an order, in
	// a third browser.
	plainNo, _ := buyer.checkout(p.ID, 1, "Plain@Example.com")
	third := b.browser()
	third.remote = "192.0.2.30:1"
	if w := third.post("/lookup", url.Values{"order_no": {plainNo}, "proof": {"plain@EXAMPLE.com"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("lookup by email of an order without query password: %d", w.Code)
	}
	// Forgetting clears the cookie.
	if w := other.post("/lookup/forget", nil); w.Code != http.StatusSeeOther {
		t.Fatalf("forget: %d", w.Code)
	}
	page(t, other.get("/orders/"+orderNo), http.StatusNotFound)

	// Missing fields.
	page(t, other.post("/lookup", url.Values{"order_no": {orderNo}}), http.StatusUnprocessableEntity)
}

func TestLookupRateLimited(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.shopProduct(1, "", faka.ProductShop{})
	orderNo, _ := b.browser().checkout(p.ID, 1, "buyer@example.com")
	// Per order number, whoever asks: guessing one order's email from many
	// addresses is stopped too.
	var last *httptest.ResponseRecorder
	for i := range 6 {
		br := b.browser()
		br.remote = fmt.Sprintf("198.51.100.%d:1", i+1)
		last = br.post("/lookup", url.Values{"order_no": {orderNo}, "proof": {fmt.Sprintf("guess%d@example.com", i)}})
	}
	if page(t, last, http.StatusTooManyRequests); last.Header().Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	// Even the right answer waits now.
	br := b.browser()
	br.remote = "198.51.100.200:1"
	page(t, br.post("/lookup", url.Values{"order_no": {orderNo}, "proof": {"buyer@example.com"}}), http.StatusTooManyRequests)
	// Per client, across order numbers.
	one := b.browser()
	one.remote = "203.0.113.5:1"
	for i := range 20 {
		w := one.post("/lookup", url.Values{"order_no": {fmt.Sprintf("2099010100000000%04d", i)}, "proof": {"a@example.com"}})
		if w.Code != http.StatusNotFound {
			t.Fatalf("lookup %d: %d", i, w.Code)
		}
	}
	page(t, one.post("/lookup", url.Values{"order_no": {"20990101000000009999"}, "proof": {"a@example.com"}}), http.StatusTooManyRequests)
}

func TestPagesAndAssets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser()
	body := page(t, br.get("/"), http.StatusOK)
	m := regexp.MustCompile(`href="(/static/app\.css\?v=[0-9a-f]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no stylesheet link:\n%s", body)
	}
	w := br.get(m[1])
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/css") ||
		!strings.Contains(w.Header().Get("Cache-Control"), "immutable") {
		t.Fatalf("stylesheet: %d %v", w.Code, w.Header())
	}
	js := regexp.MustCompile(`<script src="(/static/app\.js\?v=[0-9a-f]+)" defer></script>`).FindStringSubmatch(body)
	if js == nil {
		t.Fatal("no script tag")
	}
	if w := br.get(js[1]); w.Code != http.StatusOK || !strings.Contains(w.Header().Get("Content-Type"), "javascript") {
		t.Fatalf("script: %d %v", w.Code, w.Header())
	}
	if w := br.get("/static/nope.js"); w.Code != http.StatusNotFound {
		t.Fatalf("unknown asset: %d", w.Code)
	}
	// An unknown page is an HTML 404 for browsers, JSON for the API.
	if body := page(t, br.get("/nope"), http.StatusNotFound); !strings.Contains(body, "There is no such page") {
		t.Fatalf("404 page:\n%s", body)
	}
	wantError(t, b.do("GET", "/nope", ""), http.StatusNotFound, faka.ENotFound)
}
