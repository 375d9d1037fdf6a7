package web

import (
	"strconv"
	"strings"

	"github.com/faka-dev/faka"
)

// currencySymbols are the currencies shown with a symbol; others with
// their code.
var currencySymbols = map[string]string{"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£"}

// formatMoney writes an amount in minor units for people: 990 CNY is
// "¥9.90", 500 JPY is "500 JPY", 1234 EUR is "€12.34".
func formatMoney(amount int64, currency string) string {
	var b strings.Builder
	if amount < 0 {
		b.WriteByte('-')
		amount = -amount
	}
	sym, hasSym := currencySymbols[currency]
	b.WriteString(sym)
	digits := faka.MinorDigits(currency)
	unit := int64(1)
	for range digits {
		unit *= 10
	}
	b.WriteString(strconv.FormatInt(amount/unit, 10))
	if digits > 0 {
		frac := strconv.FormatInt(amount%unit, 10)
		b.WriteByte('.')
		b.WriteString(strings.Repeat("0", digits-len(frac)))
		b.WriteString(frac)
	}
	if !hasSym {
		b.WriteByte(' ')
		b.WriteString(currency)
	}
	return b.String()
}

// parseMoney reads a price typed in major units ("9.9", "9.90", "10")
// into minor units. It refuses more decimals than the currency has.
func parseMoney(s, currency string) (int64, bool) {
	s = strings.TrimSpace(s)
	whole, frac, hasFrac := strings.Cut(s, ".")
	digits := faka.MinorDigits(currency)
	if whole == "" || len(whole) > 12 || len(frac) > digits || (hasFrac && frac == "") {
		return 0, false
	}
	for _, part := range []string{whole, frac} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return 0, false
			}
		}
	}
	frac += strings.Repeat("0", digits-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// formatMajor writes minor units as a plain decimal for a form field:
// 990 CNY is "9.90".
func formatMajor(amount int64, currency string) string {
	s := formatMoney(amount, currency)
	s = strings.TrimPrefix(s, currencySymbols[currency])
	return strings.TrimSuffix(s, " "+currency)
}
