package sandbox

import (
	"strconv"
	"strings"
)

// zeroDecimal reports whether a currency's minor unit is its major unit.
func zeroDecimal(currency string) bool {
	switch currency {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX",
		"VND", "VUV", "XAF", "XOF", "XPF":
		return true
	}
	return false
}

// FormatAmount writes an amount in minor units for people: 990 CNY is
// "9.90 CNY", 500 JPY is "500 JPY".
func FormatAmount(amount int64, currency string) string {
	var b strings.Builder
	if amount < 0 {
		b.WriteByte('-')
		amount = -amount
	}
	if zeroDecimal(currency) {
		b.WriteString(strconv.FormatInt(amount, 10))
	} else {
		b.WriteString(strconv.FormatInt(amount/100, 10))
		b.WriteByte('.')
		frac := amount % 100
		if frac < 10 {
			b.WriteByte('0')
		}
		b.WriteString(strconv.FormatInt(frac, 10))
	}
	b.WriteByte(' ')
	b.WriteString(currency)
	return b.String()
}
