package payment_test

import (
	"testing"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
)

// M2: a provider URL is https unless its host is loopback.
func TestProviderURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://pay.example.com/":      "https://pay.example.com",
		"http://127.0.0.1:9000/gateway": "http://127.0.0.1:9000/gateway",
		"http://localhost:12111":        "http://localhost:12111",
		"http://[::1]:8080/":            "http://[::1]:8080",
	} {
		if got, err := payment.ProviderURL(in); err != nil || got != want {
			t.Errorf("ProviderURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"http://pay.example.com/", "http://192.168.1.2/", "http://localhost.evil.com/",
		"ftp://pay.example.com/", "https://user:pw@pay.example.com/", "https://pay.example.com/?a=1", "pay.example.com", ""} {
		if _, err := payment.ProviderURL(in); faka.ErrorCode(err) != faka.EInvalid {
			t.Errorf("ProviderURL(%q): %v, want invalid", in, err)
		}
	}
	if got, err := payment.BaseURL("http://shop.example.com/"); err != nil || got != "http://shop.example.com" {
		t.Errorf("BaseURL of an http shop: %q %v", got, err)
	}
}
