package web

import "github.com/faka-dev/faka"

// totalView is the product page's total before paying: quantity × unit
// price, rendered by the server for the form's quantity and kept up to
// date by app.js from the data-* attributes as the buyer changes it.
type totalView struct {
	Text   string // the total for the form's quantity, as formatMoney writes it
	Unit   int64  // the unit price in minor units
	Digits int    // minor digits of the currency
	Prefix string // the currency's symbol, if it has one
	Suffix string // " CODE" for a currency without a symbol

	currency string
}

// newTotal returns the total of quantity units at unit (minor units) of
// currency.
func newTotal(unit int64, currency string, quantity int) totalView {
	t := totalView{Text: formatMoney(unit*int64(quantity), currency), Unit: unit, Digits: faka.MinorDigits(currency),
		currency: currency}
	if sym, ok := currencySymbols[currency]; ok {
		t.Prefix = sym
	} else {
		t.Suffix = " " + currency
	}
	return t
}

// of returns the total for another quantity.
func (t totalView) of(quantity int) totalView {
	return newTotal(t.Unit, t.currency, quantity)
}
