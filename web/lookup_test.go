package web_test

import (
	"database/sql"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/faka-dev/faka"
)

// lookupRows counts the lookup rows of the store, read from its file.
func (b *bundle) lookupRows() int {
	b.t.Helper()
	db, err := sql.Open("sqlite", "file:"+b.db+"?mode=ro")
	if err != nil {
		b.t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM lookup_tokens`).Scan(&n); err != nil {
		b.t.Fatal(err)
	}
	return n
}

// L4: viewing an order by its token writes a lookup row once per
// (browser, order), not once per view: a script without cookies, or with
// made-up ones, writes nothing however often it looks.
func TestOrderViewsWriteOneLookupRow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.shopProduct(3, "", faka.ProductShop{})
	buyer := b.browser()
	orderNo, token := buyer.checkout(p.ID, 1, "buyer@example.com")
	base := b.lookupRows() // the checkout remembered the order in its browser
	if base != 1 {
		t.Fatalf("%d lookup rows after one checkout, want 1", base)
	}
	view := "/orders/" + orderNo + "?token=" + url.QueryEscape(token)
	for i := range 50 {
		script := b.browser() // a fresh browser each time: no cookie
		page(t, script.get(view), http.StatusOK)
		made := b.browser()
		made.cookies["faka_orders"] = &http.Cookie{Name: "faka_orders", Value: newMadeUpToken(i)}
		page(t, made.get(view), http.StatusOK)
	}
	if n := b.lookupRows(); n != base {
		t.Fatalf("%d lookup rows after 100 cookieless or made-up views, want %d", n, base)
	}
	for range 5 {
		page(t, buyer.get(view), http.StatusOK)
	}
	if n := b.lookupRows(); n != base {
		t.Fatalf("%d lookup rows after the buyer's own views, want %d", n, base)
	}
	// The buyer's browser, shown another order of theirs by its token,
	// remembers it once.
	other := b.browser()
	secondNo, secondToken := other.checkout(p.ID, 1, "buyer@example.com")
	second := "/orders/" + secondNo + "?token=" + url.QueryEscape(secondToken)
	for range 3 {
		page(t, buyer.get(second), http.StatusOK)
	}
	if n := b.lookupRows(); n != base+2 {
		t.Fatalf("%d lookup rows, want %d: the second checkout's and one for the buyer's browser", n, base+2)
	}
	if body := page(t, buyer.get("/lookup"), http.StatusOK); !strings.Contains(body, `href="/orders/`+secondNo+`"`) {
		t.Fatal("the buyer's browser does not list the order it viewed")
	}
}

// newMadeUpToken is a well-formed cookie token the server never issued.
func newMadeUpToken(i int) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%032d", i))
}
