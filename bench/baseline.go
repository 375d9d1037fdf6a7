package bench

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/mail"
	"strconv"
	"time"
)

// errSoldOut is a baseline's "not enough stock".
var errSoldOut = errors.New("sold out")

// baseline is a textbook way to sell card keys, served over the same HTTP
// stack as faka — net/http with the same server settings, the same
// POST /api/v1/orders body and the same 201 and 409 answers — so that the
// only difference measured is how stock is taken.
type baseline interface {
	// name is the baseline's short name in reports and flags.
	name() string
	// note says in one line what the baseline does and what bounds it.
	note() string
	// prepare makes a fresh product with keys units and returns its id.
	prepare(ctx context.Context, keys int) (int64, error)
	// reserve takes q units of a product for a new order, or errSoldOut.
	reserve(ctx context.Context, productID int64, q int, o *baselineOrder) error
	// taken reports how many units of a product were given out, counted
	// by the baseline's own store, and how many of them went to more than
	// one order; it is the oversell check.
	taken(ctx context.Context, productID int64) (units, doubles int, err error)
}

// baselineOrder is what a baseline's handler made up for a new order.
type baselineOrder struct {
	OrderNo   string
	TokenHash []byte
	Email     string
	Amount    int64
	Currency  string
	Until     time.Time
}

// orderRequest is the body of POST /api/v1/orders, as faka reads it.
type orderRequest struct {
	ProductID     int64  `json:"product_id"`
	Quantity      int64  `json:"quantity"`
	Email         string `json:"email"`
	Gateway       string `json:"gateway"`
	QueryPassword string `json:"query_password"`
}

// createdJSON is faka's 201 answer to POST /api/v1/orders.
type createdJSON struct {
	OrderNo   string `json:"order_no"`
	Token     string `json:"token"`
	Status    string `json:"status"`
	ProductID int64  `json:"product_id"`
	Quantity  int    `json:"quantity"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	ExpiresAt string `json:"expires_at"`
	PayURL    string `json:"pay_url"`
}

type errorJSON struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// baselineHandler serves POST /api/v1/orders for a baseline the way faka
// does: strict JSON decoding, the same checks, a random order number and
// buyer token, and faka's answers.
type baselineHandler struct {
	b       baseline
	baseURL string
	mux     *http.ServeMux
}

func newBaselineHandler(b baseline, baseURL string) *baselineHandler {
	h := &baselineHandler{b: b, baseURL: baseURL, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /api/v1/orders", h.createOrder)
	return h
}

// ServeHTTP sets the security headers faka sets on every answer.
func (h *baselineHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.mux.ServeHTTP(w, r)
}

func (h *baselineHandler) createOrder(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	var req orderRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "malformed JSON")
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, http.StatusBadRequest, "bad_request", "the body must hold one JSON object")
		return
	}
	a, err := mail.ParseAddress(req.Email)
	switch {
	case req.ProductID < 1:
		writeError(w, http.StatusUnprocessableEntity, "invalid", "product_id is required")
		return
	case req.Quantity < 1 || req.Quantity > 10000:
		writeError(w, http.StatusUnprocessableEntity, "invalid", "quantity must be between 1 and 10000")
		return
	case err != nil || a.Address != req.Email:
		writeError(w, http.StatusUnprocessableEntity, "invalid", "email must be a plain address")
		return
	case req.Gateway != "" && req.Gateway != "sandbox":
		writeError(w, http.StatusUnprocessableEntity, "invalid", "gateway is not enabled")
		return
	}
	token := randomToken()
	sum := sha256.Sum256([]byte(token))
	now := time.Now()
	o := &baselineOrder{OrderNo: newOrderNo(now), TokenHash: sum[:], Email: req.Email,
		Amount: 100 * req.Quantity, Currency: "CNY", Until: now.Add(5 * time.Minute)}
	switch err := h.b.reserve(r.Context(), req.ProductID, int(req.Quantity), o); {
	case errors.Is(err, errSoldOut):
		writeError(w, http.StatusConflict, "sold_out", "Sold out: not enough stock for this quantity.")
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	w.Header().Set("Location", "/api/v1/orders/"+o.OrderNo)
	writeJSON(w, http.StatusCreated, createdJSON{
		OrderNo: o.OrderNo, Token: token, Status: "pending", ProductID: req.ProductID,
		Quantity: int(req.Quantity), Amount: o.Amount, Currency: o.Currency,
		ExpiresAt: o.Until.UTC().Format(time.RFC3339),
		PayURL:    h.baseURL + "/pay/sandbox/" + o.OrderNo + "?token=" + token,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) // a failed write means the client went away
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e errorJSON
	e.Error.Code, e.Error.Message = code, msg
	writeJSON(w, status, e)
}

// randomToken returns 256 random bits, URL-safe, like faka's buyer token.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newOrderNo returns an order number shaped like faka's.
func newOrderNo(now time.Time) string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000_000_000))
	if err != nil {
		panic("bench: crypto/rand failed: " + err.Error())
	}
	return fmt.Sprintf("%s%012d", now.UTC().Format("20060102"), n.Int64())
}

// floorBody is the HTTP floor's constant answer: faka's sold-out body.
var floorBody = []byte(`{"error":{"code":"sold_out","message":"Sold out: not enough stock for this quantity."}}` + "\n")

// floorHandler is baseline (d), the HTTP floor: it reads the request body
// and answers a constant sold-out, so its rate is the most this machine's
// net/http server and the load generator can do together.
func floorHandler(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(floorBody)))
	w.WriteHeader(http.StatusConflict)
	_, _ = w.Write(floorBody)
}

// floorBaseline is baseline (d), the HTTP floor.
type floorBaseline struct{}

func (floorBaseline) name() string { return "floor" }

func (floorBaseline) note() string {
	return "(d) HTTP floor: a handler that reads the body and answers a constant sold-out — the ceiling of this machine's net/http server with the load generator beside it"
}

func (floorBaseline) prepare(context.Context, int) (int64, error) { return 1, nil }

func (floorBaseline) reserve(context.Context, int64, int, *baselineOrder) error { return errSoldOut }

func (floorBaseline) taken(context.Context, int64) (int, int, error) { return 0, 0, nil }

func (floorBaseline) handler() http.Handler { return http.HandlerFunc(floorHandler) }

// serveLoopback serves h on a free loopback port with the settings faka's
// server uses, until stop is called.
func serveLoopback(h http.Handler) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("bench: listen: %w", err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
