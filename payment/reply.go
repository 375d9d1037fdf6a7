package payment

import (
	"io"
	"net/http"

	"github.com/faka-dev/faka"
)

// Printable reports whether s is 1 to max printable ASCII characters
// without spaces: what an order number, trade number or merchant id in a
// notification must be.
func Printable(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// ReplyText writes a plain-text reply, the form most gateways expect.
func ReplyText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, body) //nolint:errcheck // the gateway went away
}

// RejectStatus is the HTTP status for a refused notification: 400 when the
// notification is at fault, 500 or 503 when faka is, so that the gateway
// retries.
func RejectStatus(err error) int {
	switch faka.ErrorCode(err) {
	case faka.EInternal:
		return http.StatusInternalServerError
	case faka.EUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}
