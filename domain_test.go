package faka_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/faka-dev/faka"
)

// TestTransitions checks the whole state machine of docs/ARCHITECTURE.md §4: every
// listed move is allowed and every other pair is refused.
func TestTransitions(t *testing.T) {
	t.Parallel()
	allowed := map[[2]faka.OrderStatus]bool{}
	for _, m := range [][2]faka.OrderStatus{
		{faka.StatusPending, faka.StatusDelivered}, {faka.StatusPending, faka.StatusPaid},
		{faka.StatusPending, faka.StatusExpired}, {faka.StatusPending, faka.StatusCancelled},
		{faka.StatusPaid, faka.StatusDelivered},
		{faka.StatusExpired, faka.StatusDelivered}, {faka.StatusExpired, faka.StatusPaidAwaitingStock},
		{faka.StatusExpired, faka.StatusPaid},
		{faka.StatusCancelled, faka.StatusDelivered}, {faka.StatusCancelled, faka.StatusPaidAwaitingStock},
		{faka.StatusCancelled, faka.StatusPaid},
		{faka.StatusPaidAwaitingStock, faka.StatusDelivered}, {faka.StatusPaidAwaitingStock, faka.StatusPaid},
		{faka.StatusPaid, faka.StatusRefunded}, {faka.StatusDelivered, faka.StatusRefunded},
		{faka.StatusPaidAwaitingStock, faka.StatusRefunded},
	} {
		allowed[m] = true
	}
	all := []faka.OrderStatus{faka.StatusPending, faka.StatusPaid, faka.StatusDelivered, faka.StatusExpired,
		faka.StatusCancelled, faka.StatusPaidAwaitingStock, faka.StatusRefunded}
	for _, from := range all {
		for _, to := range all {
			got := faka.CanTransition(from, to)
			if got != allowed[[2]faka.OrderStatus{from, to}] {
				t.Errorf("%s → %s: allowed=%v", from, to, got)
			}
			if err := faka.Transition(from, to); (err == nil) != got ||
				(err != nil && faka.ErrorCode(err) != faka.EInvalidState) {
				t.Errorf("Transition(%s, %s) = %v", from, to, err)
			}
		}
	}
}

func TestProductValidate(t *testing.T) {
	t.Parallel()
	ok := func() faka.Product {
		return faka.Product{Name: "Card", Price: 990, Currency: "cny", ReservationTTL: 3 * time.Second,
			Description: "line one\nline\ttwo"}
	}
	p := ok()
	p.Normalize()
	if err := p.ValidateNew(); err != nil {
		t.Fatalf("valid product refused: %v", err)
	}
	if p.Currency != "CNY" || p.MinQuantity != 1 || p.MaxQuantity != faka.DefaultMaxQuantity || p.Delivery != faka.DeliveryCard {
		t.Fatalf("defaults not filled: %+v", p)
	}
	for name, mutate := range map[string]func(*faka.Product){
		"no name":          func(p *faka.Product) { p.Name = " " },
		"zero price":       func(p *faka.Product) { p.Price = 0 },
		"negative price":   func(p *faka.Product) { p.Price = -1 },
		"bad currency":     func(p *faka.Product) { p.Currency = "C1Y" },
		"bad delivery":     func(p *faka.Product) { p.Delivery = "email" },
		"ttl too short":    func(p *faka.Product) { p.ReservationTTL = time.Millisecond },
		"fractional ttl":   func(p *faka.Product) { p.ReservationTTL = 1500 * time.Millisecond },
		"max below min":    func(p *faka.Product) { p.MinQuantity, p.MaxQuantity = 5, 2 },
		"NUL in name":      func(p *faka.Product) { p.Name = "a\x00b" },
		"NUL in text":      func(p *faka.Product) { p.Description = "a\x00b" },
		"newline in name":  func(p *faka.Product) { p.Name = "a\nb" },
		"reusable no key":  func(p *faka.Product) { p.Delivery = faka.DeliveryReusable },
		"key on card":      func(p *faka.Product) { p.ReusableKey = "K" },
		"invalid UTF-8":    func(p *faka.Product) { p.Name = "\xff" },
		"quantity too big": func(p *faka.Product) { p.MaxQuantity = faka.MaxQuantityLimit + 1 },
	} {
		p := ok()
		mutate(&p)
		p.Normalize()
		if err := p.ValidateNew(); faka.ErrorCode(err) != faka.EInvalid {
			t.Errorf("%s: got %v, want an invalid error", name, err)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	if got, err := faka.NormalizeEmail("  Buyer@Example.COM "); err != nil || got != "Buyer@example.com" {
		t.Fatalf("got %q %v", got, err)
	}
	for _, bad := range []string{"", "no-at", "a@b", "Name <a@example.com>", "a@example.com\x00", "a b@example.com"} {
		if _, err := faka.NormalizeEmail(bad); faka.ErrorCode(err) != faka.EInvalid {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestErrorCodes(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("reserve: %w", faka.Errorf(faka.ESoldOut, "only %d left", 2))
	if faka.ErrorCode(err) != faka.ESoldOut || faka.ErrorCode(nil) != "" {
		t.Fatalf("ErrorCode(%v) = %q, want sold_out through the wrapping", err, faka.ErrorCode(err))
	}
	// A sentinel says what it means, also wrapped: never "reserve: ".
	if got := fmt.Errorf("reserve: %w", faka.ErrSoldOut).Error(); got == "reserve: " || !strings.HasPrefix(got, "reserve: Sold out") {
		t.Fatalf("wrapped sentinel prints %q", got)
	}
	if faka.ErrorCode(errors.New("boom")) != faka.EInternal || faka.ErrorMessage(errors.New("secret detail")) == "secret detail" {
		t.Fatal("an internal error leaks its detail")
	}
	wrapped := faka.Errorf(faka.EInvalid, "bad: %w", errors.New("cause"))
	if errors.Unwrap(wrapped) == nil || faka.ErrorMessage(wrapped) != "bad: cause" {
		t.Fatalf("wrapping: %v", wrapped)
	}
	// The cause is said once, whichever way the error was made.
	if got := wrapped.Error(); got != "bad: cause" {
		t.Fatalf("Error() = %q, want %q", got, "bad: cause")
	}
	if got := (&faka.Error{Code: faka.EInvalid, Message: "bad", Err: errors.New("cause")}).Error(); got != "bad: cause" {
		t.Fatalf("Error() = %q, want %q", got, "bad: cause")
	}
}

// TestStockBounds checks the one place where a product's initial stock
// and added units are bounded: a card product gets no units, nothing is
// negative, and no figure can grow to overflow a column.
func TestStockBounds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d     faka.Delivery
		stock int64
		ok    bool
	}{
		{faka.DeliveryCard, 0, true},
		{faka.DeliveryCard, 3, false},
		{faka.DeliveryManual, -1, false},
		{faka.DeliveryManual, faka.MaxStock, true},
		{faka.DeliveryReusable, faka.MaxStock + 1, false},
		{faka.DeliveryReusable, 9223372036854775807, false},
	} {
		err := faka.CheckInitialStock(tc.d, tc.stock)
		if (err == nil) != tc.ok || (err != nil && faka.ErrorCode(err) != faka.EInvalid) {
			t.Errorf("CheckInitialStock(%s, %d) = %v, want ok=%v", tc.d, tc.stock, err, tc.ok)
		}
	}
	for n, ok := range map[int64]bool{0: false, -5: false, 1: true, faka.MaxStock: true, faka.MaxStock + 1: false,
		9223372036854775807: false} {
		if err := faka.CheckStockAdd(n); (err == nil) != ok {
			t.Errorf("CheckStockAdd(%d) = %v, want ok=%v", n, err, ok)
		}
	}
}
