package payment

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"slices"

	"github.com/faka-dev/faka"
)

// ErrIgnored is wrapped by a ParseNotification error for a genuine
// notification (its signature verified, it is this merchant's) that states
// no payment faka acts on: a trade closed unpaid, an event of another type,
// a checkout still processing. The server applies nothing and answers it
// with the gateway's Acknowledge, so that the provider stops resending it.
// A gateway must never wrap it before the signature has verified.
var ErrIgnored = errors.New("payment: genuine notification acknowledged and ignored")

// Ignored returns an EInvalid error wrapping ErrIgnored.
func Ignored(format string, args ...any) error {
	return faka.Errorf(faka.EInvalid, format+": %w", append(args, ErrIgnored)...)
}

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

// SortedMD5 is the signature many Chinese gateways use: the lower-case hex
// MD5 of the fields' k=v pairs sorted by key, empty values and the skipped
// keys left out, joined with '&' (values unescaped), followed by secret.
func SortedMD5(fields map[string]string, secret string, skip ...string) string {
	names := make([]string, 0, len(fields))
	for k, v := range fields {
		if v != "" && !slices.Contains(skip, k) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	h := md5.New()
	for i, k := range names {
		if i > 0 {
			io.WriteString(h, "&")
		}
		io.WriteString(h, k+"="+fields[k])
	}
	io.WriteString(h, secret)
	return hex.EncodeToString(h.Sum(nil))
}
