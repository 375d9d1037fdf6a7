package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/web"
)

func TestCreateAndListProducts(t *testing.T) {
	t.Parallel()
	b := setup(t)

	card := b.cardProduct(3, `,"description":"A card","reservation_ttl_seconds":120,"max_quantity":5`)
	if card.ID == 0 || card.Available != 3 || card.ReservationTTLSeconds != 120 || card.MaxQuantity != 5 ||
		card.MinQuantity != 1 || !card.Active || card.Delivery != "card" || card.Description != "A card" {
		t.Fatalf("card product %+v", card)
	}
	w := b.admin("POST", "/api/v1/products",
		`{"name":"Shared account","price":500,"currency":"usd","delivery":"reusable","reusable_key":"user:pass","stock":10}`)
	reusable := decode[product](t, w, http.StatusCreated)
	if reusable.Available != 10 || reusable.Currency != "USD" || strings.Contains(w.Body.String(), "user:pass") {
		t.Fatalf("reusable product %s", w.Body)
	}
	if loc := w.Header().Get("Location"); loc != fmt.Sprintf("/api/v1/products/%d", reusable.ID) {
		t.Fatalf("Location %q", loc)
	}
	hidden := decode[product](t, b.admin("POST", "/api/v1/products",
		`{"name":"Hidden","price":100,"currency":"CNY","delivery":"manual","stock":2,"active":false}`), http.StatusCreated)

	type list struct {
		Products []product `json:"products"`
	}
	public := decode[list](t, b.do("GET", "/api/v1/products", ""), http.StatusOK)
	if len(public.Products) != 2 {
		t.Fatalf("public list %+v, want the 2 active products", public.Products)
	}
	all := decode[list](t, b.admin("GET", "/api/v1/products?all=1", ""), http.StatusOK)
	if len(all.Products) != 3 {
		t.Fatalf("admin list %+v, want 3", all.Products)
	}
	wantError(t, b.do("GET", "/api/v1/products?all=1", ""), http.StatusUnauthorized, faka.EUnauthorized)

	got := decode[product](t, b.do("GET", fmt.Sprintf("/api/v1/products/%d", card.ID), ""), http.StatusOK)
	if got != card {
		t.Fatalf("GET product %+v, want %+v", got, card)
	}
	wantError(t, b.do("GET", fmt.Sprintf("/api/v1/products/%d", hidden.ID), ""), http.StatusNotFound, faka.ENotFound)
	decode[product](t, b.admin("GET", fmt.Sprintf("/api/v1/products/%d", hidden.ID), ""), http.StatusOK)
	wantError(t, b.do("GET", "/api/v1/products/999", ""), http.StatusNotFound, faka.ENotFound)
	wantError(t, b.do("GET", "/api/v1/products/abc", ""), http.StatusNotFound, faka.ENotFound)
}

func TestUpdateProduct(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.cardProduct(1, "")
	path := fmt.Sprintf("/api/v1/products/%d", p.ID)

	got := decode[product](t, b.admin("PATCH", path, `{"name":"New name","price":1290,"active":false}`), http.StatusOK)
	if got.Name != "New name" || got.Price != 1290 || got.Active || got.Description != p.Description || got.Available != 1 {
		t.Fatalf("patched %+v", got)
	}
	for _, body := range []string{
		`{"currency":"USD"}`,
		`{"delivery":"manual"}`,
		`{"stock":5}`,
		`{"reusable_key":"x"}`,
		`{"price":0}`,
		`{"reservation_ttl_seconds":-1}`,
		`{"min_quantity":5,"max_quantity":2}`,
	} {
		wantError(t, b.admin("PATCH", path, body), http.StatusUnprocessableEntity, faka.EInvalid)
	}
	wantError(t, b.admin("PATCH", "/api/v1/products/999", `{"name":"x"}`), http.StatusNotFound, faka.ENotFound)
	wantError(t, b.do("PATCH", path, `{"name":"x"}`), http.StatusUnauthorized, faka.EUnauthorized)
	if got := decode[product](t, b.admin("GET", path, ""), http.StatusOK); got.Name != "New name" {
		t.Fatalf("after refused patches %+v", got)
	}
}

func TestCreateProductInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	before := b.state()
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"no name", `{"price":990,"currency":"CNY"}`, 422, faka.EInvalid},
		{"zero price", `{"name":"x","price":0,"currency":"CNY"}`, 422, faka.EInvalid},
		{"bad currency", `{"name":"x","price":1,"currency":"yuan"}`, 422, faka.EInvalid},
		{"bad delivery", `{"name":"x","price":1,"currency":"CNY","delivery":"post"}`, 422, faka.EInvalid},
		{"stock on card", `{"name":"x","price":1,"currency":"CNY","stock":5}`, 422, faka.EInvalid},
		{"negative stock", `{"name":"x","price":1,"currency":"CNY","delivery":"manual","stock":-1}`, 422, faka.EInvalid},
		{"reusable without key", `{"name":"x","price":1,"currency":"CNY","delivery":"reusable"}`, 422, faka.EInvalid},
		{"huge ttl", `{"name":"x","price":1,"currency":"CNY","reservation_ttl_seconds":99999999999999}`, 422, faka.EInvalid},
		{"price overflow", `{"name":"x","price":100000000000000000000,"currency":"CNY"}`, 422, faka.EInvalid},
		{"fractional price", `{"name":"x","price":9.9,"currency":"CNY"}`, 422, faka.EInvalid},
		{"price as string", `{"name":"x","price":"9.90","currency":"CNY"}`, 400, faka.EBadRequest},
		{"unknown field", `{"name":"x","price":1,"currency":"CNY","colour":"red"}`, 400, faka.EBadRequest},
		{"malformed", `{"name":"x",`, 400, faka.EBadRequest},
		{"trailing data", `{"name":"x","price":1,"currency":"CNY"} {}`, 400, faka.EBadRequest},
		{"not an object", `[1,2]`, 400, faka.EBadRequest},
		{"empty", ``, 400, faka.EBadRequest},
		{"too large", `{"name":"` + strings.Repeat("x", 70<<10) + `"}`, 413, faka.ETooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, b.admin("POST", "/api/v1/products", tc.body), tc.status, tc.code)
		})
	}
	wantError(t, b.admin("POST", "/api/v1/products", `{}`, "Content-Type", "multipart/form-data; boundary=x"),
		http.StatusBadRequest, faka.EBadRequest)
	b.unchanged(before)
}

func TestImportKeysAndStock(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.cardProduct(2, "")
	keys := fmt.Sprintf("/api/v1/products/%d/keys", p.ID)

	res := decode[faka.ImportResult](t, b.admin("POST", keys, "KEY-NEW-1\r\nKEY-NEW-1\n\n"+fmt.Sprintf("KEY-%d-0000\n", p.ID),
		"Content-Type", "text/plain; charset=utf-8"), http.StatusOK)
	if res.Imported != 1 || res.Duplicates != 2 {
		t.Fatalf("import %+v, want 1 imported and 2 duplicates", res)
	}
	if st := b.stock(p.ID); st.Available != 3 || st.Imported != 3 {
		t.Fatalf("stock %+v", st)
	}

	before := b.state()
	wantError(t, b.admin("POST", keys, "K", "Content-Type", "application/json"), http.StatusBadRequest, faka.EBadRequest)
	wantError(t, b.do("POST", keys, "K", "Content-Type", "text/plain"), http.StatusUnauthorized, faka.EUnauthorized)
	big := strings.Repeat("ABCDEFGHIJKLMNOPQRSTUVWXYZ01234\n", (32<<20)/32+1)
	wantError(t, b.admin("POST", keys, big, "Content-Type", "text/plain"), http.StatusRequestEntityTooLarge, faka.ETooLarge)
	b.unchanged(before)

	m := decode[product](t, b.admin("POST", "/api/v1/products",
		`{"name":"Service","price":100,"currency":"CNY","delivery":"manual","stock":1}`), http.StatusCreated)
	stock := fmt.Sprintf("/api/v1/products/%d/stock", m.ID)
	res = decode[faka.ImportResult](t, b.admin("POST", stock, `{"add":4}`), http.StatusOK)
	if res.Imported != 4 {
		t.Fatalf("add stock %+v", res)
	}
	if st := b.stock(m.ID); st.Available != 5 {
		t.Fatalf("manual stock %+v, want 5 available", st)
	}
	before = b.state()
	wantError(t, b.admin("POST", stock, `{"add":0}`), http.StatusUnprocessableEntity, faka.EInvalid)
	wantError(t, b.admin("POST", stock, `{}`), http.StatusUnprocessableEntity, faka.EInvalid)
	wantError(t, b.admin("POST", stock, `{"add":"many"}`), http.StatusBadRequest, faka.EBadRequest)
	wantError(t, b.admin("POST", fmt.Sprintf("/api/v1/products/%d/stock", p.ID), `{"add":1}`),
		http.StatusUnprocessableEntity, faka.EInvalid)
	b.unchanged(before)
}

func TestAdminAuth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	closed := setup(t, func(c *web.Config) { c.AdminToken = "" })
	for _, tc := range []struct {
		name string
		b    *bundle
		auth string
	}{
		{"missing", b, ""},
		{"wrong", b, "Bearer not-the-token"},
		{"prefix of token", b, "Bearer " + adminToken[:5]},
		{"wrong scheme", b, "Basic " + adminToken},
		{"closed admin API", closed, "Bearer "},
		{"closed admin API with a guess", closed, "Bearer " + adminToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.b.state()
			for _, path := range []string{"/api/v1/products", "/api/v1/products/1/keys", "/api/v1/orders/X/refund"} {
				w := tc.b.do("POST", path, `{"name":"x","price":1,"currency":"CNY"}`, "Authorization", tc.auth)
				wantError(t, w, http.StatusUnauthorized, faka.EUnauthorized)
				if w.Header().Get("WWW-Authenticate") == "" {
					t.Fatal("no WWW-Authenticate header")
				}
			}
			wantError(t, tc.b.do("GET", "/api/v1/reconcile", "", "Authorization", tc.auth), http.StatusUnauthorized, faka.EUnauthorized)
			tc.b.unchanged(before)
		})
	}
}

// TestStockOverflowRefused: stock beyond faka.MaxStock, at creation or
// added later, is 422 and changes nothing, on any store (a SQLite column
// once overflowed into a float and took the shop down).
func TestStockOverflowRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	before := b.state()
	wantError(t, b.admin("POST", "/api/v1/products",
		`{"name":"Huge","price":100,"currency":"CNY","delivery":"reusable","reusable_key":"K","stock":9223372036854775807}`),
		http.StatusUnprocessableEntity, faka.EInvalid)
	b.unchanged(before)
	w := b.admin("POST", "/api/v1/products",
		`{"name":"Big","price":100,"currency":"CNY","delivery":"manual","stock":1000000000}`)
	p := decode[struct {
		ID int64 `json:"id"`
	}](t, w, http.StatusCreated)
	before = b.state()
	for _, n := range []string{"9223372036854775807", "1000000001", "0", "-1"} {
		wantError(t, b.admin("POST", fmt.Sprintf("/api/v1/products/%d/stock", p.ID), `{"add":`+n+`}`),
			http.StatusUnprocessableEntity, faka.EInvalid)
	}
	b.unchanged(before)
	if st := b.stock(p.ID); st.Available != 1_000_000_000 {
		t.Fatalf("stock after refused adds: %+v", st)
	}
}
