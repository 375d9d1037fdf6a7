package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/password"
	"github.com/faka-dev/faka/web"
)

const (
	ownerEmail = "owner@example.com"
	ownerPass  = "correct horse battery"
)

// account creates a console account.
func (b *bundle) account(email, pw string) *faka.Admin {
	b.t.Helper()
	h, err := password.Hash(pw, password.Params{Memory: 64, Time: 1, Threads: 1})
	if err != nil {
		b.t.Fatal(err)
	}
	a := &faka.Admin{Email: email, PasswordHash: h}
	if err := b.st.AdminCreate(context.Background(), a); err != nil {
		b.t.Fatal(err)
	}
	return a
}

// signIn creates the owner's account and signs the browser in.
func (br *browser) signIn() {
	br.t.Helper()
	br.b.account(ownerEmail, ownerPass)
	w := br.post("/admin/login", url.Values{"email": {ownerEmail}, "password": {ownerPass}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/admin" {
		br.t.Fatalf("sign in: %d %v\n%s", w.Code, w.Header(), w.Body)
	}
}

func TestConsoleNeedsSignIn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.cardProduct(1, "")
	br := b.browser()
	for _, path := range []string{"/admin", "/admin/", "/admin/products", "/admin/products/new", fmt.Sprintf("/admin/products/%d/keys", p.ID),
		"/admin/categories", "/admin/orders", "/admin/orders/X", "/admin/reconcile"} {
		w := br.get(path)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/admin/login?next="+url.QueryEscape(path) {
			t.Errorf("GET %s without a session: %d %v", path, w.Code, w.Header().Get("Location"))
		}
	}
	before := b.state()
	for _, path := range []string{fmt.Sprintf("/admin/products/%d/keys", p.ID), fmt.Sprintf("/admin/products/%d/keys/export", p.ID),
		"/admin/products", "/admin/keys/1/reveal", "/admin/categories"} {
		w := br.post(path, url.Values{"keys": {"NEW-KEY"}, "name": {"x"}})
		if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/admin/login") || strings.Contains(w.Body.String(), "KEY-") {
			t.Errorf("POST %s without a session: %d %v", path, w.Code, w.Header())
		}
	}
	b.unchanged(before)
	if cats, _ := b.st.CategoryList(context.Background()); len(cats) != 0 {
		t.Fatal("a category was made without a session")
	}
	// The API's bearer token is no console session.
	if w := br.get("/admin", "Authorization", "Bearer "+adminToken); w.Code != http.StatusSeeOther {
		t.Fatalf("console with the API token: %d", w.Code)
	}
	// A forged or unknown session cookie is no session either.
	br.cookies["faka_admin"] = &http.Cookie{Name: "faka_admin", Value: strings.Repeat("A", 43)}
	if w := br.get("/admin"); w.Code != http.StatusSeeOther {
		t.Fatalf("console with a made-up session: %d", w.Code)
	}
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser()
	body := page(t, br.get("/admin/login"), http.StatusOK)
	if !strings.Contains(body, "faka admin create --email") {
		t.Fatal("the sign-in page of a shop without accounts does not say how to make one")
	}
	b.account(ownerEmail, ownerPass)

	// A wrong password and an unknown account read alike.
	wrong := page(t, br.post("/admin/login", url.Values{"email": {ownerEmail}, "password": {"nope nope nope"}}), http.StatusUnauthorized)
	unknown := page(t, br.post("/admin/login", url.Values{"email": {"who@example.com"}, "password": {ownerPass}}), http.StatusUnauthorized)
	errorOf := func(s string) string {
		i := strings.Index(s, `<p class="error"`)
		return s[i : i+strings.Index(s[i:], "</p>")]
	}
	if errorOf(wrong) != errorOf(unknown) || !strings.Contains(wrong, "Wrong email or password") {
		t.Fatalf("sign-in failures differ: %q vs %q", errorOf(wrong), errorOf(unknown))
	}
	if br.cookies["faka_admin"] != nil {
		t.Fatal("a failed sign-in set a session cookie")
	}

	// Success goes back where the visitor was headed, inside the console only.
	w := br.post("/admin/login", url.Values{"email": {"OWNER@example.com"}, "password": {ownerPass}, "next": {"/admin/orders?status=paid"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/admin/orders?status=paid" {
		t.Fatalf("sign in: %d %v", w.Code, w.Header())
	}
	c := br.cookies["faka_admin"]
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.MaxAge <= 0 {
		t.Fatalf("session cookie %+v", c)
	}
	if body := page(t, br.get("/admin"), http.StatusOK); !strings.Contains(body, ownerEmail) || !strings.Contains(body, "Dashboard") {
		t.Fatalf("dashboard:\n%s", body)
	}
	// The session is no API credential.
	if w := br.get("/api/v1/reconcile"); w.Code != http.StatusUnauthorized {
		t.Fatalf("API with a console session: %d", w.Code)
	}
	for _, next := range []string{"https://evil.example/", "//evil.example/admin", "/admin\\@evil"} { // within the per-account limit
		other := b.browser()
		w := other.post("/admin/login", url.Values{"email": {ownerEmail}, "password": {ownerPass}, "next": {next}})
		if w.Header().Get("Location") != "/admin" {
			t.Errorf("next %q sent the merchant to %q", next, w.Header().Get("Location"))
		}
	}

	// Sign out ends the session in the database, not just the cookie.
	stolen := *c
	if w := br.post("/admin/logout", nil); w.Code != http.StatusSeeOther || br.cookies["faka_admin"] != nil {
		t.Fatalf("sign out: %d, cookie %v", w.Code, br.cookies["faka_admin"])
	}
	br.cookies["faka_admin"] = &stolen
	if w := br.get("/admin"); w.Code != http.StatusSeeOther {
		t.Fatalf("the old session still works: %d", w.Code)
	}
}

func TestSessionExpires(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.account(ownerEmail, ownerPass)
	token := strings.Repeat("B", 43)
	h := hashOf(token)
	if err := b.st.SessionCreate(context.Background(), &faka.AdminSession{TokenHash: h, AdminID: a.ID,
		ExpiresAt: time.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	br := b.browser()
	br.cookies["faka_admin"] = &http.Cookie{Name: "faka_admin", Value: token}
	if w := br.get("/admin"); w.Code != http.StatusSeeOther {
		t.Fatalf("an expired session: %d", w.Code)
	}
}

// L1: failing against the merchant's email from anywhere must not lock
// the merchant out. Guesses are limited per (account, client) and per
// client; the right password from another client still signs in.
func TestSignInThrottled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.account(ownerEmail, ownerPass)
	// One client guessing at one account is stopped after five.
	guesser := b.browser()
	guesser.remote = "198.51.100.1:1"
	for i := range 5 {
		page(t, guesser.post("/admin/login", url.Values{"email": {ownerEmail}, "password": {fmt.Sprintf("guess %d guess", i)}}), http.StatusUnauthorized)
	}
	w := guesser.post("/admin/login", url.Values{"email": {ownerEmail}, "password": {"guess 6 guess"}})
	if body := page(t, w, http.StatusTooManyRequests); !strings.Contains(body, "Too many sign-in attempts") || w.Header().Get("Retry-After") == "" {
		t.Fatalf("6th guess from one client: %s", body)
	}
	// Guesses from many other addresses are each refused as wrong, not
	// held against the account.
	for i := range 6 {
		br := b.browser()
		br.remote = fmt.Sprintf("198.51.100.%d:1", i+10)
		page(t, br.post("/admin/login", url.Values{"email": {ownerEmail}, "password": {fmt.Sprintf("guess %d guess", i)}}), http.StatusUnauthorized)
	}
	// The merchant, from another client, signs in with the right password.
	merchant := b.browser()
	merchant.remote = "192.0.2.7:1"
	if w := merchant.post("/admin/login", url.Values{"email": {ownerEmail}, "password": {ownerPass}}); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/admin" {
		t.Fatalf("the right password from another client after the guesses: %d\n%s", w.Code, w.Body)
	}
	// Per client, across accounts.
	one := b.browser()
	one.remote = "203.0.113.9:1"
	for i := range 10 {
		if w := one.post("/admin/login", url.Values{"email": {fmt.Sprintf("u%d@example.com", i)}, "password": {"x x x x x x"}}); w.Code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, w.Code)
		}
	}
	page(t, one.post("/admin/login", url.Values{"email": {"u99@example.com"}, "password": {"x x x x x x"}}), http.StatusTooManyRequests)
}

func TestSecureCookies(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *web.Config) { c.PublicURL = "https://shop.example" })
	br := b.browser()
	br.signIn()
	for _, name := range []string{"__Host-faka_admin", "__Host-faka_lang"} {
		c := br.cookies[name]
		if name == "__Host-faka_lang" {
			br.get("/?lang=en")
			c = br.cookies[name]
		}
		if c == nil || !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" {
			t.Errorf("cookie %s: %+v", name, c)
		}
	}
	if br.cookies["faka_admin"] != nil {
		t.Error("an https shop set a cookie without the __Host- prefix")
	}
	// The public origin is trusted even when a proxy rewrote Host.
	w := br.post("/admin/logout", nil, "Origin", "https://shop.example", "Sec-Fetch-Site", "")
	if w.Code != http.StatusSeeOther {
		t.Fatalf("sign out from the public origin: %d", w.Code)
	}
}

func hashOf(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

var revealRe = regexp.MustCompile(`formaction="/admin/keys/(\d+)/reveal"`)

func TestConsoleProductsAndKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser()
	br.signIn()
	ctx := context.Background()

	// A category, then a product in it.
	if w := br.post("/admin/categories", url.Values{"name": {"Game <cards>"}, "sort": {"1"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("new category: %d %s", w.Code, w.Body)
	}
	cats, _ := b.st.CategoryList(ctx)
	if len(cats) != 1 || cats[0].Name != "Game <cards>" {
		t.Fatalf("categories %+v", cats)
	}
	page(t, br.post("/admin/categories", url.Values{"name": {"  "}}), http.StatusUnprocessableEntity)
	body := page(t, br.get("/admin/products/new"), http.StatusOK)
	if !strings.Contains(body, "Game &lt;cards&gt;") {
		t.Fatal("the product form does not offer the category")
	}
	form := url.Values{"name": {"Steam card"}, "description": {"**Fast**"}, "category_id": {fmt.Sprint(cats[0].ID)},
		"delivery": {"card"}, "currency": {"CNY"}, "price": {"12.5"}, "ttl_seconds": {"600"}, "min_quantity": {"1"},
		"max_quantity": {"3"}, "stock_display": {"level"}, "low_stock": {"2"}, "active": {"1"}, "stock": {"0"}}
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("price", "12.555")
	if body := page(t, br.post("/admin/products", bad), http.StatusUnprocessableEntity); !strings.Contains(body, "at most 2 decimals") ||
		!strings.Contains(body, `value="Steam card"`) {
		t.Fatalf("bad price:\n%s", body)
	}
	w := br.post("/admin/products", form)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("new product: %d\n%s", w.Code, w.Body)
	}
	m := regexp.MustCompile(`^/admin/products/(\d+)/keys\?done=created$`).FindStringSubmatch(w.Header().Get("Location"))
	if m == nil {
		t.Fatalf("after create: %s", w.Header().Get("Location"))
	}
	var pid int64
	fmt.Sscan(m[1], &pid)
	prod, err := b.e.Product(ctx, pid)
	if err != nil || prod.Price != 1250 || prod.ReservationTTL != 10*time.Minute || prod.MaxQuantity != 3 || !prod.Active {
		t.Fatalf("product %+v %v", prod, err)
	}
	shops, _ := b.st.ProductShopList(ctx)
	if shops[0].CategoryID != cats[0].ID || shops[0].StockDisplay != faka.StockLevel || shops[0].LowStock != 2 {
		t.Fatalf("presentation %+v", shops[0])
	}

	// Keys: pasted and uploaded, with the report.
	w = br.post(fmt.Sprintf("/admin/products/%d/keys", pid), url.Values{"keys": {"AAA-1\nAAA-2\nAAA-1\n\nbad\x01key\n"}})
	if loc := w.Header().Get("Location"); w.Code != http.StatusSeeOther || !strings.Contains(loc, "imported=2") ||
		!strings.Contains(loc, "duplicates=1") || !strings.Contains(loc, "rejected=1") {
		t.Fatalf("import: %d %s", w.Code, loc)
	}
	body = page(t, br.get(w.Header().Get("Location")), http.StatusOK)
	if !strings.Contains(body, "2 imported, 1 duplicates skipped, 1 rejected") {
		t.Fatalf("import report missing:\n%s", body)
	}
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("file", "keys.txt")
	fw.Write([]byte("BBB-1\r\nBBB-2\r\nAAA-2\r\n"))
	mw.Close()
	w = br.do("POST", fmt.Sprintf("/admin/products/%d/keys", pid), mp.String(), "Content-Type", mw.FormDataContentType())
	if loc := w.Header().Get("Location"); w.Code != http.StatusSeeOther || !strings.Contains(loc, "imported=2") || !strings.Contains(loc, "duplicates=1") {
		t.Fatalf("upload: %d %s", w.Code, loc)
	}
	if st := b.stock(pid); st.Available != 4 {
		t.Fatalf("available %d, want 4", st.Available)
	}
	page(t, br.post(fmt.Sprintf("/admin/products/%d/keys", pid), url.Values{"keys": {"  "}}), http.StatusUnprocessableEntity)

	// The list masks every secret.
	keysPage := fmt.Sprintf("/admin/products/%d/keys", pid)
	body = page(t, br.get(keysPage), http.StatusOK)
	for _, k := range []string{"AAA-1", "AAA-2", "BBB-1", "BBB-2"} {
		if strings.Contains(body, k) {
			t.Fatalf("the key list shows %s unmasked", k)
		}
	}
	ids := revealRe.FindAllStringSubmatch(body, -1)
	if len(ids) != 4 {
		t.Fatalf("%d reveal buttons, want 4", len(ids))
	}
	// Reveal one: shown once, logged.
	w = br.post("/admin/keys/"+ids[3][1]+"/reveal", url.Values{"back": {keysPage + "?state=available"}})
	body = page(t, w, http.StatusOK)
	if !strings.Contains(body, `<code class="key secret">AAA-1</code>`) || strings.Contains(body, "BBB-2") {
		t.Fatalf("reveal of the oldest key:\n%s", body)
	}
	audit, _ := b.st.KeyAuditList(ctx, pid, 10)
	if len(audit) != 1 || audit[0].Action != faka.AuditReveal || audit[0].KeyID == 0 || audit[0].AdminID == 0 || audit[0].IP != "192.0.2.10" {
		t.Fatalf("audit after reveal %+v", audit)
	}
	if body := page(t, br.get(keysPage), http.StatusOK); strings.Contains(body, "AAA-1</code>") || !strings.Contains(body, "Revealed key") {
		t.Fatal("a reveal stays on the page, or is not in the log")
	}

	// Void two available keys; a sold one cannot be voided.
	orderNo, _ := b.browser().checkout(pid, 1, "buyer@example.com")
	b.pay(orderNo)
	sold, _ := b.st.KeyList(ctx, faka.KeyFilter{ProductID: pid, States: []faka.KeyState{faka.KeySold}})
	avail, _ := b.st.KeyList(ctx, faka.KeyFilter{ProductID: pid, States: []faka.KeyState{faka.KeyAvailable}})
	w = br.post(fmt.Sprintf("/admin/products/%d/keys/void", pid), url.Values{"key": {fmt.Sprint(avail[0].ID), fmt.Sprint(sold[0].ID)}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("void: %d", w.Code)
	}
	if st := b.stock(pid); st.Void != 1 || st.Sold != 1 || st.Available != 2 {
		t.Fatalf("after void %+v", st)
	}

	// Export the unsold keys: a text file, logged.
	w = br.post(fmt.Sprintf("/admin/products/%d/keys/export", pid), nil)
	lines := strings.Fields(w.Body.String())
	if w.Code != http.StatusOK || len(lines) != 2 || !strings.HasPrefix(w.Header().Get("Content-Disposition"), "attachment") ||
		w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("export: %d %v %q", w.Code, w.Header(), w.Body)
	}
	if audit, _ := b.st.KeyAuditList(ctx, pid, 10); len(audit) != 2 || audit[0].Action != faka.AuditExport || audit[0].Count != 2 {
		t.Fatalf("audit after export %+v", audit)
	}

	// Edit, take off sale, and the shop no longer shows it.
	form.Set("name", "Steam card 2")
	form.Set("price", "13")
	if w := br.post(fmt.Sprintf("/admin/products/%d", pid), form); w.Code != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", w.Code, w.Body)
	}
	if p, _ := b.e.Product(ctx, pid); p.Name != "Steam card 2" || p.Price != 1300 || p.Delivery != faka.DeliveryCard {
		t.Fatalf("after edit %+v", p)
	}
	if w := br.post(fmt.Sprintf("/admin/products/%d/active", pid), url.Values{"active": {"0"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("deactivate: %d", w.Code)
	}
	if body := page(t, b.browser().get("/"), http.StatusOK); strings.Contains(body, "Steam card 2") {
		t.Fatal("a product taken off sale is in the shop")
	}
	if body := page(t, br.get("/admin/products"), http.StatusOK); !strings.Contains(body, "Steam card 2") || !strings.Contains(body, "Off sale") {
		t.Fatal("the console does not list the product off sale")
	}

	// Categories: rename, delete.
	if w := br.post(fmt.Sprintf("/admin/categories/%d", cats[0].ID), url.Values{"name": {"Cards"}, "sort": {"0"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("rename category: %d", w.Code)
	}
	if w := br.post(fmt.Sprintf("/admin/categories/%d/delete", cats[0].ID), nil); w.Code != http.StatusSeeOther {
		t.Fatalf("delete category: %d", w.Code)
	}
	if cats, _ := b.st.CategoryList(ctx); len(cats) != 0 {
		t.Fatalf("categories after delete %+v", cats)
	}
}

func TestConsoleCountedStock(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser()
	br.signIn()
	form := url.Values{"name": {"Shared licence"}, "delivery": {"reusable"}, "currency": {"USD"}, "price": {"5"},
		"ttl_seconds": {"300"}, "min_quantity": {"1"}, "max_quantity": {"5"}, "stock_display": {"exact"}, "low_stock": {"1"},
		"active": {"1"}, "reusable_key": {"LICENCE-XYZ"}, "stock": {"3"}}
	w := br.post("/admin/products", form)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("new reusable product: %d %s", w.Code, w.Body)
	}
	var pid int64
	fmt.Sscanf(w.Header().Get("Location"), "/admin/products/%d/keys", &pid)
	body := page(t, br.get(fmt.Sprintf("/admin/products/%d/keys", pid)), http.StatusOK)
	if !strings.Contains(body, `action="/admin/products/`+fmt.Sprint(pid)+`/stock"`) || strings.Contains(body, "LICENCE-XYZ") {
		t.Fatal("the stock page of a reusable product")
	}
	if w := br.post(fmt.Sprintf("/admin/products/%d/stock", pid), url.Values{"add": {"7"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("add stock: %d", w.Code)
	}
	if st := b.stock(pid); st.Available != 10 {
		t.Fatalf("available %d, want 10", st.Available)
	}
	page(t, br.post(fmt.Sprintf("/admin/products/%d/stock", pid), url.Values{"add": {"0"}}), http.StatusUnprocessableEntity)
	if p, _ := b.e.Product(context.Background(), pid); p.Price != 500 || p.Currency != "USD" {
		t.Fatalf("product %+v", p)
	}
	// A card product gets no number of units.
	form.Set("delivery", "card")
	form.Del("reusable_key")
	page(t, br.post("/admin/products", form), http.StatusUnprocessableEntity)
}

func TestConsoleOrders(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser()
	br.signIn()
	card := b.shopProduct(3, `,"name":"Card <b>"`, faka.ProductShop{})
	buyer := b.browser()
	paidNo, _ := buyer.checkout(card.ID, 1, "alice@example.com")
	b.pay(paidNo)
	pendingNo, _ := buyer.checkout(card.ID, 1, "bob@example.com")
	manual := decode[product](t, b.admin("POST", "/api/v1/products",
		`{"name":"Setup","price":500,"currency":"CNY","delivery":"manual","stock":2}`), http.StatusCreated)
	manualNo, _ := buyer.checkout(manual.ID, 1, "carol@example.com")
	b.pay(manualNo)

	// Search.
	for q, want := range map[string][]string{
		"":                               {paidNo, pendingNo, manualNo},
		"?email=ALICE@example.com":       {paidNo},
		"?status=pending":                {pendingNo},
		"?q=" + paidNo[:len(paidNo)-3]:   {paidNo},
		"?from=2000-01-01&to=2000-01-02": {},
	} {
		body := page(t, br.get("/admin/orders"+q), http.StatusOK)
		n := strings.Count(body, `<a href="/admin/orders/2`)
		if n != len(want) {
			t.Errorf("search %q: %d orders, want %d", q, n, len(want))
		}
		for _, no := range want {
			if !strings.Contains(body, no) {
				t.Errorf("search %q lacks %s", q, no)
			}
		}
	}
	if body := page(t, br.get("/admin/orders?from=yesterday"), http.StatusOK); !strings.Contains(body, "2006-01-02") {
		t.Error("a bad date is not explained")
	}

	// Detail: payments, keys masked, ledger; refund.
	body := page(t, br.get("/admin/orders/"+paidNo), http.StatusOK)
	for _, want := range []string{"alice@example.com", "Card &lt;b&gt;", "T" + paidNo, "Applied, delivered", "Reserve", "Sell", "Refund"} {
		if !strings.Contains(body, want) {
			t.Errorf("order detail lacks %q", want)
		}
	}
	if strings.Contains(body, fmt.Sprintf("KEY-%d-", card.ID)) {
		t.Fatal("the order detail shows a key unmasked")
	}
	m := revealRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no reveal button on the order")
	}
	body = page(t, br.post("/admin/keys/"+m[1]+"/reveal", url.Values{"order": {paidNo}}), http.StatusOK)
	if !strings.Contains(body, fmt.Sprintf("KEY-%d-0000", card.ID)) || !strings.Contains(body, "alice@example.com") {
		t.Fatalf("reveal on the order page:\n%s", body)
	}
	if w := br.post("/admin/orders/"+paidNo+"/refund", nil); w.Code != http.StatusSeeOther {
		t.Fatalf("refund: %d %s", w.Code, w.Body)
	}
	if o, _ := b.e.Order(context.Background(), paidNo); o.Status != faka.StatusRefunded {
		t.Fatalf("after refund: %s", o.Status)
	}
	// Refunding twice is refused with the reason, on the order page.
	if body := page(t, br.post("/admin/orders/"+paidNo+"/refund", nil), http.StatusConflict); !strings.Contains(body, `class="error"`) {
		t.Fatal("a second refund is not explained")
	}

	// A manual order: deliver with a note.
	body = page(t, br.get("/admin/orders/"+manualNo), http.StatusOK)
	if !strings.Contains(body, `action="/admin/orders/`+manualNo+`/deliver"`) {
		t.Fatal("no deliver form on a paid manual order")
	}
	page(t, br.post("/admin/orders/"+manualNo+"/deliver", url.Values{"note": {" "}}), http.StatusConflict)
	if w := br.post("/admin/orders/"+manualNo+"/deliver", url.Values{"note": {"Account: x / pw: y"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("deliver: %d", w.Code)
	}
	if o, _ := b.e.Order(context.Background(), manualNo); o.Status != faka.StatusDelivered || o.DeliveryNote != "Account: x / pw: y" {
		t.Fatalf("after deliver %+v", o)
	}

	// Cancel a pending order.
	if w := br.post("/admin/orders/"+pendingNo+"/cancel", nil); w.Code != http.StatusSeeOther {
		t.Fatalf("cancel: %d", w.Code)
	}
	if o, _ := b.e.Order(context.Background(), pendingNo); o.Status != faka.StatusCancelled {
		t.Fatalf("after cancel: %s", o.Status)
	}
	page(t, br.get("/admin/orders/20990101000000000000"), http.StatusNotFound)

	// The dashboard counts the sales and draws them.
	body = page(t, br.get("/admin"), http.StatusOK)
	for _, want := range []string{"<svg", `class="bar"`, "Orders today", "Card &lt;b&gt;", "paid"} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	if !regexp.MustCompile(`<span class="value">3</span>`).MatchString(body) {
		t.Errorf("dashboard does not count 3 orders today:\n%s", body)
	}
	// Reconciliation.
	if body := page(t, br.get("/admin/reconcile"), http.StatusOK); !strings.Contains(body, "Every invariant holds") {
		t.Fatalf("reconcile page:\n%s", body)
	}
}

func TestConsoleCrossOrigin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.cardProduct(2, "")
	br := b.browser()
	br.signIn()
	before := b.state()
	w := br.post(fmt.Sprintf("/admin/products/%d/keys", p.ID), url.Values{"keys": {"EVIL-1"}}, "Sec-Fetch-Site", "cross-site")
	if w.Code != http.StatusForbidden {
		t.Fatalf("cross-site import: %d", w.Code)
	}
	w = br.post(fmt.Sprintf("/admin/products/%d/keys/export", p.ID), nil, "Sec-Fetch-Site", "", "Origin", "https://evil.example")
	if w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), "KEY-") {
		t.Fatalf("cross-origin export: %d", w.Code)
	}
	b.unchanged(before)
}

// TestDashboardLastBackup: the console says when the embedded database
// was last backed up, warns when it never was or long ago, and shows
// nothing when the store has no such backups (PostgreSQL).
func TestDashboardLastBackup(t *testing.T) {
	t.Parallel()
	var at time.Time
	var done bool
	b := setup(t, func(c *web.Config) {
		c.LastBackup = func() (time.Time, string, bool) { return at, "/backups/faka-1.db", done }
	})
	br := b.browser()
	br.signIn()
	br.get("/?lang=en")
	if body := page(t, br.get("/admin"), http.StatusOK); !strings.Contains(body, "No backup yet") {
		t.Fatalf("dashboard without a backup does not say so")
	}
	at, done = time.Now().Add(-time.Hour), true
	body := page(t, br.get("/admin"), http.StatusOK)
	if !strings.Contains(body, "Last backup:") || !strings.Contains(body, "/backups/faka-1.db") || strings.Contains(body, "two days ago") {
		t.Fatalf("dashboard after a fresh backup lacks it or calls it stale")
	}
	at = time.Now().Add(-72 * time.Hour)
	if body := page(t, br.get("/admin"), http.StatusOK); !strings.Contains(body, "more than two days ago") {
		t.Fatalf("dashboard does not warn of a stale backup")
	}
	plain := setup(t)
	pb := plain.browser()
	pb.signIn()
	if body := page(t, pb.get("/admin"), http.StatusOK); strings.Contains(body, "backup") {
		t.Fatalf("dashboard without LastBackup talks of backups")
	}
}
