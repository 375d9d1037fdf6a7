package payment_test

import (
	"testing"

	"github.com/faka-dev/faka/payment"
)

func TestYuan(t *testing.T) {
	t.Parallel()
	for minor, want := range map[int64]string{0: "0.00", 1: "0.01", 10: "0.10", 990: "9.90", 100: "1.00", 123456: "1234.56", -5: "-0.05"} {
		if got := payment.FormatYuan(minor); got != want {
			t.Errorf("FormatYuan(%d) = %q, want %q", minor, got, want)
		}
	}
	for s, want := range map[string]int64{"0": 0, "9.9": 990, "9.90": 990, "10": 1000, "0.01": 1, "1234.56": 123456, "007.5": 750} {
		if got, err := payment.ParseYuan(s); err != nil || got != want {
			t.Errorf("ParseYuan(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", ".", "1.", ".5", "9.901", "-1", "+1", "1e2", " 1", "1 ", "1,00", "0x10", "1.2.3", "99999999999999"} {
		if _, err := payment.ParseYuan(s); err == nil {
			t.Errorf("ParseYuan(%q) succeeded", s)
		}
	}
}
