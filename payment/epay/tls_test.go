package epay_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment/epay"
)

// M2: EPay's query reply is unsigned. A fake EPay answering "paid" over
// TLS whose certificate the client did not verify is not believed; the
// same reply over verified TLS is.
func TestQueryPaidOnlyOverVerifiedTLS(t *testing.T) {
	t.Parallel()
	paid, err := os.ReadFile("testdata/query_paid.json")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(paid) }))
	defer srv.Close()

	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	g, err := epay.New(epay.Config{PID: pid, Key: key, URL: srv.URL}, "https://shop.example.com", insecure)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := g.Query(t.Context(), "2026A"); ok || faka.ErrorCode(err) != faka.EUnavailable {
		t.Fatalf("paid over unverified TLS: paid %v, %v; want not applied", ok, err)
	}

	verified, err := epay.New(epay.Config{PID: pid, Key: key, URL: srv.URL}, "https://shop.example.com", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	if n, ok, err := verified.Query(t.Context(), "2026A"); !ok || err != nil || n.Amount != 990 {
		t.Fatalf("paid over verified TLS: %+v %v %v", n, ok, err)
	}
}

// M2: the EPay site must be https (the merchant key travels in the query
// string); plain http only to a loopback host.
func TestNewRefusesPlainHTTP(t *testing.T) {
	t.Parallel()
	for _, site := range []string{"http://pay.example.com/", "http://10.0.0.5/", "http://localhost.example.com/"} {
		if _, err := epay.New(epay.Config{PID: pid, Key: key, URL: site}, "https://shop.example.com", nil); faka.ErrorCode(err) != faka.EInvalid {
			t.Errorf("New with %s: %v, want invalid", site, err)
		}
	}
	for _, site := range []string{"https://pay.example.com/", "http://127.0.0.1:8080/", "http://localhost:9000/", "http://[::1]:9000/"} {
		if _, err := epay.New(epay.Config{PID: pid, Key: key, URL: site}, "http://127.0.0.1:8080", nil); err != nil {
			t.Errorf("New with %s: %v", site, err)
		}
	}
}
