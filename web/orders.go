package web

import (
	"crypto/sha256"
	"encoding/binary"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/payment"
)

// orderRequest is the body of POST /api/v1/orders.
type orderRequest struct {
	ProductID     int64  `json:"product_id"`
	Quantity      int64  `json:"quantity"`
	Email         string `json:"email"`
	Gateway       string `json:"gateway"`
	QueryPassword string `json:"query_password"`
}

// createdJSON is the 201 body of POST /api/v1/orders; a replay with the
// same Idempotency-Key gets the same body.
type createdJSON struct {
	OrderNo   string           `json:"order_no"`
	Token     string           `json:"token"`
	Status    faka.OrderStatus `json:"status"`
	ProductID int64            `json:"product_id"`
	Quantity  int              `json:"quantity"`
	Amount    int64            `json:"amount"`
	Currency  string           `json:"currency"`
	ExpiresAt string           `json:"expires_at"`
	PayURL    string           `json:"pay_url"`
}

// orderJSON is an order as its buyer or the admin sees it.
type orderJSON struct {
	OrderNo     string           `json:"order_no"`
	Status      faka.OrderStatus `json:"status"`
	ProductID   int64            `json:"product_id"`
	Quantity    int              `json:"quantity"`
	Amount      int64            `json:"amount"`
	Currency    string           `json:"currency"`
	Email       string           `json:"email,omitempty"`
	Gateway     string           `json:"gateway,omitempty"`
	CreatedAt   string           `json:"created_at,omitempty"`
	ExpiresAt   string           `json:"expires_at,omitempty"`
	PaidAt      string           `json:"paid_at,omitempty"`
	DeliveredAt string           `json:"delivered_at,omitempty"`
	PayURL      string           `json:"pay_url,omitempty"`
	Keys        []string         `json:"keys"`
}

// createOrder serves POST /api/v1/orders: rate limits, then validation,
// then the engine's reservation. An unknown or inactive product_id is 422
// invalid, like any other unacceptable field of the body.
func (s *Server) createOrder(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if wait, ok := s.ipLimit.allow(s.clientKey(r)); !ok {
		s.rateLimited(w, r, wait, "too many orders from your network")
		return
	}
	req, gw, err := s.readOrder(w, r)
	var res *engine.Reservation
	var payURL string
	if err == nil {
		res, payURL, err = s.checkout(r.Context(), req, gw)
	}
	if wait, ok := asEmailLimited(err); ok {
		s.rateLimited(w, r, wait, "too many orders for this email address")
		return
	}
	if gerr, ok := asPayURL(err); ok {
		if faka.ErrorCode(gerr) == faka.EInvalid {
			// The gateway cannot take this order at all (a currency it
			// does not accept): the buyer should choose another.
			s.writeError(w, r, faka.Errorf(faka.EInvalid, "gateway: %s", faka.ErrorMessage(gerr)))
			return
		}
		s.writeError(w, r, faka.Errorf(faka.EUnavailable, "the %s gateway cannot take payments now: %w", gw.Name(), gerr))
		return
	}
	if faka.ErrorCode(err) == faka.ENotFound {
		err = faka.Errorf(faka.EInvalid, "product_id: product %d is not on sale", req.ProductID)
	}
	if err != nil {
		s.metrics.order(orderOutcome(err))
		s.writeError(w, r, err)
		return
	}
	o := res.Order
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.Header().Set("Location", "/api/v1/orders/"+o.OrderNo)
	writeJSON(w, http.StatusCreated, createdJSON{
		OrderNo:   o.OrderNo,
		Token:     res.Token,
		Status:    o.Status,
		ProductID: o.ProductID,
		Quantity:  o.Quantity,
		Amount:    o.Amount,
		Currency:  o.Currency,
		ExpiresAt: timeString(o.ReservedUntil),
		PayURL:    payURL,
	})
}

// readOrder reads and checks the order body and the Idempotency-Key, and
// picks the gateway.
func (s *Server) readOrder(w http.ResponseWriter, r *http.Request) (engine.ReserveRequest, payment.Gateway, error) {
	idemKey := r.Header.Get("Idempotency-Key") // checked by the engine
	var body orderRequest
	if err := decodeJSON(w, r, &body); err != nil {
		return engine.ReserveRequest{}, nil, err
	}
	email, emailErr := faka.NormalizeEmail(body.Email)
	var gw payment.Gateway
	var ok bool
	if body.Gateway == "" {
		gw, ok = s.gateways.Default()
	} else {
		gw, ok = s.gateways.Get(body.Gateway)
	}
	switch {
	case body.ProductID < 1:
		return engine.ReserveRequest{}, nil, faka.Errorf(faka.EInvalid, "product_id is required")
	case body.Quantity < 1 || body.Quantity > faka.MaxQuantityLimit:
		return engine.ReserveRequest{}, nil, faka.Errorf(faka.EInvalid, "quantity must be between 1 and %d", faka.MaxQuantityLimit)
	case emailErr != nil:
		return engine.ReserveRequest{}, nil, faka.Errorf(faka.EInvalid, "email must be a plain address such as buyer@example.com")
	case !ok && body.Gateway == "":
		return engine.ReserveRequest{}, nil, faka.Errorf(faka.EInvalid, "no payment gateway is enabled")
	case !ok:
		return engine.ReserveRequest{}, nil, faka.Errorf(faka.EInvalid, "gateway %q is not enabled; use one of %s", body.Gateway, strings.Join(s.gateways.Names(), ", "))
	}
	req := engine.ReserveRequest{
		ProductID:      body.ProductID,
		Quantity:       int(body.Quantity),
		Email:          email,
		Gateway:        gw.Name(),
		QueryPassword:  body.QueryPassword,
		IdempotencyKey: idemKey,
	}
	if idemKey != "" {
		req.RequestHash = requestHash(req, s.clientKey(r))
	}
	return req, gw, nil
}

// requestHash fingerprints the parsed order for Idempotency-Key checks:
// SHA-256 over a version tag and the fields, each length-prefixed, so
// that no two different requests encode alike and JSON spelling (field
// order, spaces, an omitted default gateway) does not matter. The client
// (its address, see clientKey) is one of the fields: a replay of someone
// else's key and body from another client is a different request, refused
// with 422, and never gets the first buyer's token.
func requestHash(req engine.ReserveRequest, client string) []byte {
	h := sha256.New()
	field := func(s string) {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	field("faka order v2")
	field(strconv.FormatInt(req.ProductID, 10))
	field(strconv.Itoa(req.Quantity))
	field(req.Email)
	field(req.Gateway)
	field(req.QueryPassword)
	field(client)
	return h.Sum(nil)
}

// orderOutcome names the faka_orders_total outcome of a failed order.
func orderOutcome(err error) string {
	switch faka.ErrorCode(err) {
	case faka.ESoldOut:
		return "sold_out"
	case faka.ERateLimited:
		return "rate_limited"
	case faka.EInternal, faka.EUnavailable:
		return "error"
	}
	return "invalid"
}

func (s *Server) rateLimited(w http.ResponseWriter, r *http.Request, wait time.Duration, msg string) {
	s.metrics.order("rate_limited")
	secs := int64((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	s.writeError(w, r, faka.Errorf(faka.ERateLimited, "%s; retry in %d s", msg, max(secs, 1)))
}
