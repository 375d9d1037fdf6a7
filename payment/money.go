package payment

import (
	"context"
	"strconv"
	"strings"

	"github.com/faka-dev/faka"
)

// maxYuan bounds amounts read from providers, far above any real order,
// so that conversions to minor units never overflow.
const maxYuan = 1_000_000_000_000

// FormatYuan writes minor units (fen) as yuan with two decimals: 990 is
// "9.90". A negative amount keeps its sign.
func FormatYuan(minor int64) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	frac := strconv.FormatInt(minor%100, 10)
	if len(frac) == 1 {
		frac = "0" + frac
	}
	return sign + strconv.FormatInt(minor/100, 10) + "." + frac
}

// ParseYuan reads a non-negative decimal amount of yuan with at most two
// decimals ("9.9", "9.90", "10") as minor units. Signs, exponents, spaces
// and more decimals are EInvalid: a provider stating fractions of a fen
// is not stating our amount.
func ParseYuan(s string) (int64, error) {
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || len(whole) > 13 || !digits(whole) || (dot && (frac == "" || len(frac) > 2 || !digits(frac))) {
		return 0, faka.Errorf(faka.EInvalid, "amount %q is not a decimal number of yuan with at most two decimals", s)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > maxYuan {
		return 0, faka.Errorf(faka.EInvalid, "amount %q is out of range", s)
	}
	f := int64(0)
	if dot {
		f, _ = strconv.ParseInt(frac, 10, 64)
		if len(frac) == 1 {
			f *= 10
		}
	}
	return w*100 + f, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Querier is a gateway that can be asked whether an order was paid, for
// notifications that never came. The poller calls it.
type Querier interface {
	// Query asks the provider about order orderNo. paid is false while
	// the trade is unpaid or unknown there; when paid, n states the
	// payment for the engine, which checks it like a notification.
	Query(ctx context.Context, orderNo string) (n faka.Notification, paid bool, err error)
}

// GetNotifier is a gateway whose provider may also send notifications as
// GET requests with the fields in the query string (EPay does).
type GetNotifier interface {
	Gateway
	// NotifiesByGet is a marker; it is never called.
	NotifiesByGet()
}

// Closer is a gateway whose provider can close an unpaid trade, so that a
// buyer cannot pay an order whose reservation has expired. The poller
// calls it once an order has expired or been cancelled unpaid.
type Closer interface {
	// CloseTrade closes the provider's trade for order orderNo. A trade
	// the provider does not know, or has already closed, is not an error;
	// a trade that was paid meanwhile is an EConflict error (the payment
	// is then applied as a late one).
	CloseTrade(ctx context.Context, orderNo string) error
}
