package faka

// MinorDigits returns how many decimal digits a currency's minor unit has:
// 2 for CNY or USD (990 is 9.90), 0 for JPY or KRW (500 is 500).
func MinorDigits(currency string) int {
	switch currency {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX",
		"VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	}
	return 2
}
