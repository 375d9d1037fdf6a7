// Package stripe is the Stripe Checkout gateway (work in progress).
package stripe

import (
	_ "github.com/stripe/stripe-go/v85"
	_ "github.com/stripe/stripe-go/v85/webhook"
)
