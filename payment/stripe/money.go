package stripe

import (
	"strings"

	"github.com/faka-dev/faka"
)

// maxAmount bounds the amounts converted, far above anything Stripe
// charges (its limit is eight digits in most currencies), so that
// scaling never overflows.
const maxAmount = 1_000_000_000_000

// Digits returns how many decimal digits Stripe's smallest unit of
// currency has in its API: 0 for its zero-decimal currencies, 3 for the
// three-decimal ones, 2 otherwise. It mostly agrees with
// faka.MinorDigits; where it does not (ISK: whole krónur in faka,
// hundredths at Stripe; MGA: hundredths in faka, whole ariary at Stripe;
// BHD, JOD, KWD, OMR, TND: hundredths in faka, thousandths at Stripe) the
// amounts are scaled between the two.
func Digits(currency string) int {
	switch strings.ToUpper(currency) {
	case "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX",
		"VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	case "BHD", "JOD", "KWD", "OMR", "TND":
		return 3
	}
	return 2
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// ToStripe converts amount, in faka's minor units of currency (an
// upper-case ISO 4217 code), to Stripe's smallest unit. An amount that
// is not positive, too large, or not a whole number of Stripe's units
// (an MGA amount with cents) is EInvalid.
func ToStripe(amount int64, currency string) (int64, error) {
	if !faka.ValidCurrency(currency) {
		return 0, faka.Errorf(faka.EInvalid, "currency %q is not an upper-case ISO 4217 code", currency)
	}
	if amount <= 0 || amount > maxAmount {
		return 0, faka.Errorf(faka.EInvalid, "amount %d %s is out of range", amount, currency)
	}
	ours, theirs := faka.MinorDigits(currency), Digits(currency)
	switch {
	case theirs > ours:
		return amount * pow10(theirs-ours), nil
	case theirs < ours:
		p := pow10(ours - theirs)
		if amount%p != 0 {
			return 0, faka.Errorf(faka.EInvalid, "Stripe charges %s in whole units only", currency)
		}
		return amount / p, nil
	}
	return amount, nil
}

// FromStripe converts amount, in Stripe's smallest unit of currency
// (upper-case), to faka's minor units. An amount that is not positive,
// too large, or not a whole number of faka's units (a three-decimal
// amount ending in a digit other than 0) is EInvalid.
func FromStripe(amount int64, currency string) (int64, error) {
	if !faka.ValidCurrency(currency) {
		return 0, faka.Errorf(faka.EInvalid, "currency %q is not an upper-case ISO 4217 code", currency)
	}
	if amount <= 0 || amount > maxAmount*1000 {
		return 0, faka.Errorf(faka.EInvalid, "amount %d %s is out of range", amount, currency)
	}
	ours, theirs := faka.MinorDigits(currency), Digits(currency)
	switch {
	case theirs > ours:
		p := pow10(theirs - ours)
		if amount%p != 0 {
			return 0, faka.Errorf(faka.EInvalid, "amount %d %s is a fraction of faka's smallest unit", amount, currency)
		}
		return amount / p, nil
	case theirs < ours:
		return amount * pow10(ours-theirs), nil
	}
	return amount, nil
}
