package payment

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/faka-dev/faka"
)

// FormatAmount writes an amount in minor units for people: 990 CNY is
// "9.90 CNY", 500 JPY is "500 JPY".
func FormatAmount(amount int64, currency string) string {
	var b strings.Builder
	if amount < 0 {
		b.WriteByte('-')
		amount = -amount
	}
	if faka.MinorDigits(currency) == 0 {
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

// ReturnURL is where a provider sends the buyer back after paying: the
// shop's order page, without the buyer's order token. The provider (and
// whoever reads its logs) must not get the key to the buyer's keys; the
// buyer's browser finds the order by the cookie checkout set, or by a
// lookup.
func ReturnURL(publicURL, orderNo string) string {
	return publicURL + "/orders/" + url.PathEscape(orderNo)
}

// PageStatus is the HTTP status of a gateway's page (not a notification
// reply) that shows err to a buyer.
func PageStatus(err error) int {
	switch faka.ErrorCode(err) {
	case faka.ENotFound:
		return http.StatusNotFound
	case faka.EUnauthorized:
		return http.StatusUnauthorized
	case faka.ETooLarge:
		return http.StatusRequestEntityTooLarge
	case faka.EConflict, faka.EInvalidState:
		return http.StatusConflict
	case faka.EUnavailable:
		return http.StatusServiceUnavailable
	case faka.EInternal:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// PageErrorText is err as a gateway's page tells the buyer, in l's
// language: the shop's messages for no such order (pay.notfound), a link
// without the order token (pay.notoken) and an internal failure
// (pay.failed, whose details are for the logs); the error's own message
// otherwise, such as a provider's refusal.
func PageErrorText(l Printer, err error) string {
	switch faka.ErrorCode(err) {
	case faka.ENotFound:
		return l.T("pay.notfound")
	case faka.EUnauthorized:
		return l.T("pay.notoken")
	case faka.EInternal:
		return l.T("pay.failed")
	}
	return faka.ErrorMessage(err)
}
