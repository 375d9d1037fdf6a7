package payment_test

import (
	"testing"

	"github.com/faka-dev/faka/payment"
)

func TestFormatAmount(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		amount   int64
		currency string
		want     string
	}{
		{990, "CNY", "9.90 CNY"},
		{5, "USD", "0.05 USD"},
		{100000, "EUR", "1000.00 EUR"},
		{500, "JPY", "500 JPY"},
		{-250, "USD", "-2.50 USD"},
	} {
		if got := payment.FormatAmount(tc.amount, tc.currency); got != tc.want {
			t.Errorf("FormatAmount(%d, %s) = %q, want %q", tc.amount, tc.currency, got, tc.want)
		}
	}
}
