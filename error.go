// Package faka holds the domain of the faka store: products, card keys,
// orders, payments, the inventory ledger, the order state machine, error
// codes and the interfaces that storage drivers and payment gateways
// implement. It imports only the standard library.
package faka

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes. The HTTP layer maps each to one status in a single table.
const (
	EInvalid      = "invalid"       // the request is well-formed but not acceptable
	EBadRequest   = "bad_request"   // the request could not be parsed
	ENotFound     = "not_found"     // no such thing, or not visible to the caller
	EConflict     = "conflict"      // the state of a thing forbids the request
	ESoldOut      = "sold_out"      // not enough stock for the requested quantity
	EUnauthorized = "unauthorized"  // credentials are missing or wrong
	EForbidden    = "forbidden"     // credentials are fine but not enough
	ERateLimited  = "rate_limited"  // too many requests from this client
	EUnavailable  = "unavailable"   // a dependency is down; try again later
	ETooLarge     = "too_large"     // the request body is too large
	EInternal     = "internal"      // a bug or an unexpected failure
	EInvalidState = "invalid_state" // an order state transition that the state machine forbids
)

// Error is the error type of the domain. Code is one of the E* constants,
// Message is meant for a person, and Err is the wrapped cause, if any.
type Error struct {
	Code    string
	Message string
	Err     error
}

// Error returns the message, with the cause when there is one.
func (e *Error) Error() string {
	switch {
	case e.Err != nil && e.Message != "":
		// Errorf's message already ends with the wrapped error's text.
		if inner := e.Err.Error(); !strings.HasSuffix(e.Message, inner) {
			return e.Message + ": " + inner
		}
		return e.Message
	case e.Err != nil:
		return e.Err.Error()
	case e.Message != "":
		return e.Message
	default:
		// A sentinel such as ErrSoldOut: its code's message, so that a
		// wrapped sentinel never reads "reserve: " with nothing after it.
		if m, ok := defaultMessages[e.Code]; ok {
			return m
		}
		return e.Code
	}
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
// A %w verb in format wraps its operand as the cause.
func Errorf(code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), Err: errors.Unwrap(err)}
}

// Sentinel errors, for returning. Tell error kinds apart with ErrorCode
// (the one way, in code and tests): errors.Is matches only the same value.
var (
	ErrSoldOut           = &Error{Code: ESoldOut}
	ErrNotFound          = &Error{Code: ENotFound}
	ErrConflict          = &Error{Code: EConflict}
	ErrInvalid           = &Error{Code: EInvalid}
	ErrInvalidTransition = &Error{Code: EInvalidState}
	ErrUnauthorized      = &Error{Code: EUnauthorized}
)

// ErrorCode returns the code of the first *Error in err's chain, or
// EInternal when there is none (and "" for a nil error).
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the person-readable message of err. Internal errors
// get a generic message: their details are for the logs, not for clients.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != EInternal {
		if e.Message != "" {
			return e.Message
		}
		return defaultMessages[e.Code]
	}
	return "An internal error occurred."
}

var defaultMessages = map[string]string{
	EInvalid:      "The request is not valid.",
	EBadRequest:   "The request could not be read.",
	ENotFound:     "Not found.",
	EConflict:     "The request conflicts with the current state.",
	ESoldOut:      "Sold out: not enough stock for this quantity.",
	EUnauthorized: "Authentication is required.",
	EForbidden:    "Not allowed.",
	ERateLimited:  "Too many requests; try again shortly.",
	EUnavailable:  "Temporarily unavailable; try again shortly.",
	ETooLarge:     "The request body is too large.",
	EInvalidState: "The order cannot move to that state.",
}
