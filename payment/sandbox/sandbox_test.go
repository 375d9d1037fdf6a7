package sandbox_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment/sandbox"
)

const secret = "s3cret"

func newGateway(t testing.TB) *sandbox.Gateway {
	t.Helper()
	g, err := sandbox.New([]byte(secret), "https://shop.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// notification builds a request carrying body with the given signature.
func notification(body, sig string) *http.Request {
	r := httptest.NewRequest("POST", "/pay/sandbox/notify", strings.NewReader(body))
	if sig != "" {
		r.Header.Set(sandbox.SignatureHeader, sig)
	}
	return r
}

func TestNew(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		secret, url string
	}{
		{"", "https://shop.example.com"},
		{"x", ""},
		{"x", "shop.example.com"},
		{"x", "ftp://shop.example.com"},
		{"x", "https://"},
	} {
		if _, err := sandbox.New([]byte(tc.secret), tc.url); err == nil {
			t.Errorf("New(%q, %q) succeeded", tc.secret, tc.url)
		}
	}
}

func TestPayURL(t *testing.T) {
	t.Parallel()
	g := newGateway(t)
	u, err := g.PayURL(t.Context(), &faka.Order{OrderNo: "2026A"}, "tok/+=")
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://shop.example.com/pay/sandbox/2026A?token=tok%2F%2B%3D"; u != want {
		t.Fatalf("PayURL = %q, want %q", u, want)
	}
}

func TestParseNotification(t *testing.T) {
	t.Parallel()
	g := newGateway(t)
	good := `{"order_no":"2026A","trade_no":"T-1","amount":990,"currency":"CNY","status":"paid"}`
	n, err := g.ParseNotification(notification(good, sandbox.Sign([]byte(secret), []byte(good))), []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	want := faka.Notification{Gateway: "sandbox", OrderNo: "2026A", TradeNo: "T-1", Amount: 990, Currency: "CNY"}
	if n != want {
		t.Fatalf("notification %+v, want %+v", n, want)
	}
	upper := strings.ToUpper(sandbox.Sign([]byte(secret), []byte(good)))
	if _, err := g.ParseNotification(notification(good, upper), []byte(good)); err != nil {
		t.Fatalf("upper-case hex signature: %v", err)
	}

	sign := func(body string) string { return sandbox.Sign([]byte(secret), []byte(body)) }
	goodSig := sign(good)
	for _, tc := range []struct {
		name, body, sig, code string
	}{
		{"unsigned", good, "", faka.EUnauthorized},
		{"not hex", good, "xyz", faka.EUnauthorized},
		{"truncated", good, goodSig[:62], faka.EUnauthorized},
		{"other secret", good, sandbox.Sign([]byte("other"), []byte(good)), faka.EUnauthorized},
		{"tampered amount", strings.Replace(good, "990", "1", 1), goodSig, faka.EUnauthorized},
		{"tampered currency", strings.Replace(good, "CNY", "USD", 1), goodSig, faka.EUnauthorized},
		{"tampered order", strings.Replace(good, "2026A", "2026B", 1), goodSig, faka.EUnauthorized},
		{"malformed", `{"order_no":`, sign(`{"order_no":`), faka.EBadRequest},
		{"trailing", good + `{}`, sign(good + `{}`), faka.EBadRequest},
		{"unknown field", `{"order_no":"a","x":1}`, sign(`{"order_no":"a","x":1}`), faka.EBadRequest},
		{"amount as string", `{"amount":"990"}`, sign(`{"amount":"990"}`), faka.EBadRequest},
		{"not paid", strings.Replace(good, `"paid"`, `"refunded"`, 1), sign(strings.Replace(good, `"paid"`, `"refunded"`, 1)), faka.EInvalid},
		{"no order", strings.Replace(good, "2026A", "", 1), sign(strings.Replace(good, "2026A", "", 1)), faka.EInvalid},
		{"no trade", strings.Replace(good, "T-1", "", 1), sign(strings.Replace(good, "T-1", "", 1)), faka.EInvalid},
		{"space in trade", strings.Replace(good, "T-1", "T 1", 1), sign(strings.Replace(good, "T-1", "T 1", 1)), faka.EInvalid},
		{"zero amount", strings.Replace(good, "990", "0", 1), sign(strings.Replace(good, "990", "0", 1)), faka.EInvalid},
		{"negative amount", strings.Replace(good, "990", "-990", 1), sign(strings.Replace(good, "990", "-990", 1)), faka.EInvalid},
		{"lower-case currency", strings.Replace(good, "CNY", "cny", 1), sign(strings.Replace(good, "CNY", "cny", 1)), faka.EInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := g.ParseNotification(notification(tc.body, tc.sig), []byte(tc.body))
			if code := faka.ErrorCode(err); code != tc.code {
				t.Fatalf("code %q (%v), want %q", code, err, tc.code)
			}
			if n != (faka.Notification{}) {
				t.Fatalf("a refused notification came back filled: %+v", n)
			}
		})
	}
}

func TestReplies(t *testing.T) {
	t.Parallel()
	g := newGateway(t)
	w := httptest.NewRecorder()
	g.Acknowledge(w)
	if w.Code != http.StatusOK || w.Body.String() != "success" {
		t.Fatalf("Acknowledge: %d %q", w.Code, w.Body)
	}
	for _, tc := range []struct {
		err    error
		status int
	}{
		{faka.Errorf(faka.EUnauthorized, "bad signature"), http.StatusBadRequest},
		{faka.Errorf(faka.ENotFound, "no order"), http.StatusBadRequest},
		{faka.Errorf(faka.EInvalid, "amount"), http.StatusBadRequest},
		{faka.Errorf(faka.EInternal, "disk on fire"), http.StatusInternalServerError},
		{faka.Errorf(faka.EUnavailable, "busy"), http.StatusServiceUnavailable},
	} {
		w := httptest.NewRecorder()
		g.Reject(w, tc.err)
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != tc.status ||
			body.Error.Code != faka.ErrorCode(tc.err) {
			t.Fatalf("Reject(%v): %d %s", tc.err, w.Code, w.Body)
		}
		if strings.Contains(w.Body.String(), "disk on fire") {
			t.Fatal("an internal error leaked to the gateway")
		}
	}
}
