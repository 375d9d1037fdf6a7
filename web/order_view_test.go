package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/faka-dev/faka"
)

// L6: the admin API's order view shows plaintext keys; each such view is
// in the key audit, like a reveal in the console. The buyer's own view is
// not an admin reveal.
func TestAdminOrderViewAudited(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.cardProduct(3, "")
	c := b.order(p.ID, 2)
	b.pay(c.OrderNo)
	if got := b.getOrder(c); len(got.Keys) != 2 {
		t.Fatalf("buyer view: %d keys", len(got.Keys))
	}
	audit := func() []faka.KeyAudit {
		t.Helper()
		a, err := b.st.KeyAuditList(context.Background(), p.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if a := audit(); len(a) != 0 {
		t.Fatalf("the buyer's view was audited: %+v", a)
	}
	view := decode[order](t, b.send(req{method: "GET", path: "/api/v1/orders/" + c.OrderNo, remote: "198.51.100.4:1",
		headers: []string{"Authorization", "Bearer " + adminToken}}), http.StatusOK)
	if len(view.Keys) != 2 {
		t.Fatalf("admin view: %d keys", len(view.Keys))
	}
	a := audit()
	if len(a) != 1 || a[0].Action != faka.AuditReveal || a[0].Count != 2 || a[0].IP != "198.51.100.4" || a[0].KeyID != 0 {
		t.Fatalf("audit after the admin's view: %+v, want one reveal of 2 keys from 198.51.100.4", a)
	}
	// The console's access log names it.
	br := b.browser()
	br.signIn()
	if body := page(t, br.get(fmt.Sprintf("/admin/products/%d/keys", p.ID)), http.StatusOK); !strings.Contains(body, "2 keys shown through the admin API") {
		t.Fatalf("the console's key access log does not show the API reveal:\n%s", body)
	}
}
