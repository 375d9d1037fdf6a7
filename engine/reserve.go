package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"math/big"
	"time"

	"github.com/faka-dev/faka"
)

// ReserveRequest is one buyer's order attempt.
type ReserveRequest struct {
	ProductID     int64
	Quantity      int
	Email         string
	Gateway       string
	QueryPassword string // optional; lets the buyer look the order up later

	// IdempotencyKey is the client's Idempotency-Key header, if any, and
	// RequestHash a fingerprint of the request body it came with.
	IdempotencyKey string
	RequestHash    []byte
}

// Reservation is a created (or replayed) order and the buyer's token.
type Reservation struct {
	Order *faka.Order
	Token string
	// Replayed is true when an earlier request with the same
	// Idempotency-Key created this order.
	Replayed bool
}

// Reserve creates a pending order holding quantity units of a product, or
// fails with ErrSoldOut (nothing written), an EInvalid error, or, for an
// Idempotency-Key whose twin is still being served, an EConflict error.
func (e *Engine) Reserve(ctx context.Context, req ReserveRequest) (*Reservation, error) {
	email, err := faka.NormalizeEmail(req.Email)
	if err != nil {
		return nil, err
	}
	if req.Gateway == "" {
		return nil, faka.Errorf(faka.EInvalid, "gateway is required")
	}
	if err := faka.CheckQueryPassword(req.QueryPassword); err != nil {
		return nil, err
	}
	if err := faka.CheckIdempotencyKey(req.IdempotencyKey); err != nil {
		return nil, err
	}
	if req.IdempotencyKey != "" {
		res, release, err := e.idempotent(ctx, req)
		if res != nil || err != nil {
			return res, err
		}
		defer release()
	}
	p, err := e.Product(ctx, req.ProductID)
	if faka.ErrorCode(err) == faka.ENotFound {
		return nil, faka.Errorf(faka.EInvalid, "product %d does not exist", req.ProductID)
	}
	if err != nil {
		return nil, err
	}
	if !p.Active {
		return nil, faka.Errorf(faka.EInvalid, "product %d is not on sale", req.ProductID)
	}
	if err := p.CheckQuantity(req.Quantity); err != nil {
		return nil, err
	}

	l := e.lane(p.ID)
	ok, err := l.take(ctx, req.Quantity)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, faka.ErrSoldOut
	}

	token := randomToken()
	tokenHash := sha256.Sum256([]byte(token))
	params := faka.ReserveParams{
		OrderNo:   newOrderNo(time.Now()),
		TokenHash: tokenHash[:],
		Quantity:  req.Quantity,
		UnitPrice: p.Price,
		Amount:    p.Price * int64(req.Quantity),
		Currency:  p.Currency,
		Email:     email,
		Gateway:   req.Gateway,
		TTL:       p.ReservationTTL,
	}
	if req.QueryPassword != "" {
		params.QueryPasswordHash = e.queryPasswordHash(req.QueryPassword)
	}
	if req.IdempotencyKey != "" {
		params.IdempotencyKey = req.IdempotencyKey
		params.RequestHash = req.RequestHash
		params.SealedToken = e.kr.Seal(idemAAD(req.IdempotencyKey), []byte(token))
	}
	r := &request{params: params, done: make(chan faka.ReserveOutcome, 1)}
	l.submit(r)
	// The batch outlives the buyer's request: wait for it even if the
	// buyer leaves, so that an order created for them is reported.
	out := <-r.done
	if out.Err != nil {
		if faka.ErrorCode(out.Err) == faka.EConflict && req.IdempotencyKey != "" {
			// Another instance stored this key first: answer as it did.
			res, _, err := e.idempotent(ctx, req)
			if res != nil || err != nil {
				return res, err
			}
		}
		return nil, out.Err
	}
	return &Reservation{Order: out.Order, Token: token}, nil
}

// idempotent answers a request whose Idempotency-Key was seen: the stored
// order when the body matches, EInvalid when it does not, EConflict while
// the twin is in flight here. For a new key it marks it in flight and
// returns a release func.
func (e *Engine) idempotent(ctx context.Context, req ReserveRequest) (*Reservation, func(), error) {
	rec, err := e.store.IdempotencyGet(ctx, req.IdempotencyKey)
	switch faka.ErrorCode(err) {
	case "":
		if subtle.ConstantTimeCompare(rec.RequestHash, req.RequestHash) != 1 {
			return nil, nil, faka.Errorf(faka.EInvalid, "this Idempotency-Key was used with a different request")
		}
		o, err := e.store.OrderGet(ctx, rec.OrderNo)
		if err != nil {
			return nil, nil, fmt.Errorf("idempotent replay: %w", err)
		}
		token, err := e.kr.Open(idemAAD(req.IdempotencyKey), rec.SealedToken)
		if err != nil {
			return nil, nil, fmt.Errorf("idempotent replay: %w", err)
		}
		return &Reservation{Order: o, Token: string(token), Replayed: true}, nil, nil
	case faka.ENotFound:
	default:
		return nil, nil, fmt.Errorf("idempotency key: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.inflight[req.IdempotencyKey] {
		return nil, nil, faka.Errorf(faka.EConflict, "a request with this Idempotency-Key is still being processed")
	}
	e.inflight[req.IdempotencyKey] = true
	return nil, func() {
		e.mu.Lock()
		delete(e.inflight, req.IdempotencyKey)
		e.mu.Unlock()
	}, nil
}

func idemAAD(key string) []byte { return []byte("faka/idempotency/" + key) }

// queryPasswordHash is keyed by the master key, so a stolen database does
// not allow offline guessing of buyers' lookup passwords.
func (e *Engine) queryPasswordHash(pw string) []byte {
	return e.kr.Fingerprint("faka/query-password/" + pw)
}

// randomToken returns 256 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// newOrderNo returns the date and 12 random digits: readable over the
// phone, unguessable enough that it is no key to anything by itself (the
// token or the buyer's email is always required as well).
func newOrderNo(now time.Time) string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000_000_000))
	if err != nil {
		panic("engine: crypto/rand failed: " + err.Error())
	}
	return fmt.Sprintf("%s%012d", now.UTC().Format("20060102"), n.Int64())
}
