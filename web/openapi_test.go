package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// apiCheck sends requests to the real handler and checks each response
// (and the request, when it succeeded) against the served OpenAPI
// description, noting which operations were exercised.
type apiCheck struct {
	t      *testing.T
	b      *bundle
	router routers.Router
	seen   map[string]bool // "METHOD /path/{template}"
}

func (a *apiCheck) call(method, path, body string, headers ...string) *httptest.ResponseRecorder {
	a.t.Helper()
	hr := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" && (method == http.MethodPost || method == http.MethodPatch || method == http.MethodPut) {
		hr.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		hr.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	a.b.srv.ServeHTTP(w, hr)

	// The description's server is http://127.0.0.1:8080.
	vr := httptest.NewRequest(method, "http://127.0.0.1:8080"+path, strings.NewReader(body))
	vr.Header = hr.Header.Clone()
	route, params, err := a.router.FindRoute(vr)
	if err != nil {
		a.t.Errorf("%s %s is not in docs/openapi.yaml: %v", method, path, err)
		return w
	}
	a.seen[method+" "+route.Path] = true
	in := &openapi3filter.RequestValidationInput{Request: vr, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if w.Code < 300 {
		if err := openapi3filter.ValidateRequest(a.t.Context(), in); err != nil {
			a.t.Errorf("%s %s: the request does not match the description: %v", method, path, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: w.Code, Header: w.Header(),
		Body: io.NopCloser(bytes.NewReader(w.Body.Bytes())), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(a.t.Context(), out); err != nil {
		a.t.Errorf("%s %s → %d %s\ndoes not match the description: %v", method, path, w.Code, w.Body, err)
	}
	return w
}

func (a *apiCheck) admin(method, path, body string, headers ...string) *httptest.ResponseRecorder {
	return a.call(method, path, body, append(headers, "Authorization", "Bearer "+adminToken)...)
}

func (a *apiCheck) want(w *httptest.ResponseRecorder, status int) []byte {
	a.t.Helper()
	if w.Code != status {
		a.t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body)
	}
	return w.Body.Bytes()
}

// TestOpenAPIDescribesTheAPI loads the description the server serves at
// /api/v1/openapi.json, checks that it is a valid OpenAPI 3.1 document,
// drives every /api/v1 route through the real handler (successes and
// errors) checking each response against it, and checks that the
// description and the routes in web/server.go name the same operations,
// so that neither can drift from the other.
func TestOpenAPIDescribesTheAPI(t *testing.T) {
	t.Parallel()
	g := setupGatewayConsole(t)
	w := g.bundle.do("GET", "/api/v1/openapi.json", "")
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("openapi.json: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	doc, err := openapi3.NewLoader().LoadFromData(w.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("the description is not valid OpenAPI: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() || doc.Paths.Find("/api/v1/orders") == nil {
		t.Fatalf("openapi %s, paths %v", doc.OpenAPI, doc.Paths.InMatchingOrder())
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	a := &apiCheck{t: t, b: g.bundle, router: router, seen: map[string]bool{}}

	a.want(a.call("GET", "/api/v1/openapi.json", ""), 200)
	// The shop's settings.
	a.want(a.call("GET", "/api/v1/shop", ""), 200)
	a.want(a.call("PATCH", "/api/v1/shop", `{"name":"x"}`), 401)
	a.want(a.admin("PATCH", "/api/v1/shop", `{"name":`), 400)
	a.want(a.admin("PATCH", "/api/v1/shop", `{"timezone":"Mars/Olympus"}`), 422)
	a.want(a.admin("PATCH", "/api/v1/shop", `{"name":"Cards & Co","timezone":"Europe/Berlin"}`), 200)
	// Products.
	a.want(a.call("POST", "/api/v1/products", `{"name":"x","price":1,"currency":"CNY"}`), 401)
	a.want(a.admin("POST", "/api/v1/products", `{"name":`), 400)
	a.want(a.admin("POST", "/api/v1/products", `{"name":"","price":-1,"currency":"CNY"}`), 422)
	var card, reusable, manual struct{ ID int64 }
	json.Unmarshal(a.want(a.admin("POST", "/api/v1/products", `{"name":"Card","price":990,"currency":"CNY","delivery":"card","description":"d","reservation_ttl_seconds":600,"max_quantity":5}`), 201), &card)
	json.Unmarshal(a.want(a.admin("POST", "/api/v1/products", `{"name":"Licence","price":100,"currency":"CNY","delivery":"reusable","reusable_key":"R-1","stock":3}`), 201), &reusable)
	json.Unmarshal(a.want(a.admin("POST", "/api/v1/products", `{"name":"Service","price":500,"currency":"CNY","delivery":"manual","stock":2}`), 201), &manual)
	cardPath := fmt.Sprintf("/api/v1/products/%d", card.ID)
	a.want(a.admin("POST", cardPath+"/keys", "K-1\nK-2\nK-3\nK-1\n", "Content-Type", "text/plain"), 200)
	a.want(a.admin("POST", cardPath+"/keys", `["K"]`, "Content-Type", "application/json"), 400)
	a.want(a.call("POST", cardPath+"/keys", "K-9\n", "Content-Type", "text/plain"), 401)
	a.want(a.admin("POST", "/api/v1/products/999/keys", "K-9\n", "Content-Type", "text/plain"), 404)
	a.want(a.admin("POST", fmt.Sprintf("/api/v1/products/%d/stock", reusable.ID), `{"add":2}`), 200)
	a.want(a.admin("POST", fmt.Sprintf("/api/v1/products/%d/stock", reusable.ID), `{"add":0}`), 422)
	a.want(a.admin("POST", cardPath+"/stock", `{"add":1}`), 422)
	a.want(a.call("GET", "/api/v1/products", ""), 200)
	a.want(a.call("GET", cardPath, ""), 200)
	a.want(a.call("GET", "/api/v1/products/999", ""), 404)
	a.want(a.admin("PATCH", cardPath, `{"description":"new","active":true}`), 200)
	a.want(a.admin("PATCH", cardPath, `{"price":-5}`), 422)
	a.want(a.admin("PATCH", "/api/v1/products/999", `{"price":5}`), 404)

	// Orders.
	buy := func(pid int64, qty int, status int) created {
		var c created
		json.Unmarshal(a.want(a.call("POST", "/api/v1/orders", orderBody(pid, qty), "Idempotency-Key", fmt.Sprintf("k-%d-%d-%d", pid, qty, status)), status), &c)
		return c
	}
	paidOrder := buy(card.ID, 2, 201)
	a.want(a.call("POST", "/api/v1/orders", orderBody(card.ID, 2), "Idempotency-Key", fmt.Sprintf("k-%d-%d-%d", card.ID, 2, 201)), 201) // replayed
	pending := buy(card.ID, 1, 201)
	buy(card.ID, 5, 409) // sold out
	a.want(a.call("POST", "/api/v1/orders", `{"product_id":1,"quantity":1,"email":"not an email","gateway":"sandbox"}`), 422)
	a.want(a.call("POST", "/api/v1/orders", `{"product_id":`), 400)
	a.want(a.call("POST", "/api/v1/orders", orderBody(999, 1)), 422)
	a.want(a.call("GET", "/api/v1/orders/"+pending.OrderNo+"?token="+pending.Token, ""), 200)
	a.want(a.call("GET", "/api/v1/orders/"+pending.OrderNo, "", "X-Order-Token", "wrong"), 404)
	if w := g.bundle.notify(paid(paidOrder, "T-1"), sandboxSecret); w.Code != 200 {
		t.Fatalf("notify: %d %s", w.Code, w.Body)
	}
	var delivered order
	json.Unmarshal(a.want(a.call("GET", "/api/v1/orders/"+paidOrder.OrderNo, "", "X-Order-Token", paidOrder.Token), 200), &delivered)
	if delivered.Status != "delivered" || len(delivered.Keys) != 2 {
		t.Fatalf("the paid order: %+v", delivered)
	}
	a.want(a.admin("GET", "/api/v1/orders/"+paidOrder.OrderNo, ""), 200)
	a.want(a.call("POST", "/api/v1/orders/"+pending.OrderNo+"/cancel?token="+pending.Token, ""), 200)
	a.want(a.call("POST", "/api/v1/orders/"+pending.OrderNo+"/cancel?token="+pending.Token, ""), 409)
	a.want(a.call("POST", "/api/v1/orders/"+paidOrder.OrderNo+"/refund", ""), 401)
	a.want(a.admin("POST", "/api/v1/orders/"+paidOrder.OrderNo+"/refund", ""), 200)
	a.want(a.admin("POST", "/api/v1/orders/"+paidOrder.OrderNo+"/refund", ""), 409)
	a.want(a.admin("POST", "/api/v1/orders/nope/refund", ""), 404)
	service := buy(manual.ID, 1, 201)
	if w := g.bundle.notify(paid(service, "T-2"), sandboxSecret); w.Code != 200 {
		t.Fatalf("notify: %d %s", w.Code, w.Body)
	}
	a.want(a.admin("POST", "/api/v1/orders/"+service.OrderNo+"/deliver", `{"note":"done"}`), 200)
	a.want(a.admin("POST", "/api/v1/orders/"+service.OrderNo+"/deliver", `{"note":"again"}`), 409)
	a.want(a.admin("POST", "/api/v1/orders/"+service.OrderNo+"/deliver", `{"note":1}`), 400)

	// Operations and gateways.
	a.want(a.admin("GET", "/api/v1/reconcile", ""), 200)
	a.want(a.call("GET", "/api/v1/reconcile", ""), 401)
	a.want(a.call("GET", "/api/v1/gateways", ""), 200)
	a.want(a.admin("PUT", "/api/v1/gateways/epay", `{"pid":"1","key":"secret-key","url":"https://pay.example.com/","type":"","enabled":true}`), 200)
	a.want(a.admin("PUT", "/api/v1/gateways/epay", `{"pid":"1","key":"k","url":"ftp://x/","enabled":true}`), 422)
	a.want(a.admin("PUT", "/api/v1/gateways/paypal", `{"enabled":true}`), 404)
	a.want(a.call("PUT", "/api/v1/gateways/epay", `{"enabled":false}`), 401)
	a.want(a.admin("GET", "/api/v1/gateways", ""), 200)

	// Every operation described was exercised, and every /api/v1 route
	// the server registers is described.
	var described []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			described = append(described, method+" "+path)
		}
	}
	for _, op := range described {
		if !a.seen[op] {
			t.Errorf("the test never exercised %s", op)
		}
	}
	src, err := os.ReadFile("server.go")
	if err != nil {
		t.Fatal(err)
	}
	routes := regexp.MustCompile(`"((?:GET|POST|PUT|PATCH|DELETE) /api/v1/[^"]*)"`).FindAllStringSubmatch(string(src), -1)
	if len(routes) < 10 {
		t.Fatalf("found only %d API routes in server.go", len(routes))
	}
	for _, r := range routes {
		if !slices.Contains(described, r[1]) {
			t.Errorf("web/server.go serves %s, which docs/openapi.yaml does not describe", r[1])
		}
	}
}
