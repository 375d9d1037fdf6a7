package stripe_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fakeStripe stands in for api.stripe.com: the few endpoints the gateway
// calls, with Stripe's shapes, idempotency keys and errors.
type fakeStripe struct {
	t   testing.TB
	srv *httptest.Server
	key string // the secret key it accepts

	mu        sync.Mutex
	sessions  []*fakeSession // in creation order
	intents   []map[string]any
	idem      map[string]idemEntry // idempotency key → first request and reply
	creates   int                  // sessions really created
	requests  []fakeRequest
	fail      map[string]int   // "METHOD /path" → HTTP status to answer with
	rawSearch []byte           // when set, the search reply
	now       func() time.Time // Stripe's clock: time.Now unless set by newFakeStripeAt
}

type idemEntry struct {
	form  string
	reply []byte
}

type fakeRequest struct {
	Method, Path string
	Form         url.Values
	Header       http.Header
}

type fakeSession struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	URL               string            `json:"url"`
	Status            string            `json:"status"`
	PaymentStatus     string            `json:"payment_status"`
	Mode              string            `json:"mode"`
	ClientReferenceID string            `json:"client_reference_id"`
	Metadata          map[string]string `json:"metadata"`
	AmountTotal       int64             `json:"amount_total"`
	Currency          string            `json:"currency"`
	Created           int64             `json:"created"`
	ExpiresAt         int64             `json:"expires_at"`
	PaymentIntent     *string           `json:"payment_intent"`
	Livemode          bool              `json:"livemode"`
}

func newFakeStripe(t testing.TB, key string) *fakeStripe {
	return newFakeStripeAt(t, key, time.Now)
}

// newFakeStripeAt is newFakeStripe with the clock now.
func newFakeStripeAt(t testing.TB, key string, now func() time.Time) *fakeStripe {
	f := &fakeStripe{t: t, key: key, idem: map[string]idemEntry{}, fail: map[string]int{}, now: now}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/checkout/sessions", f.create)
	mux.HandleFunc("GET /v1/checkout/sessions", f.list)
	mux.HandleFunc("GET /v1/checkout/sessions/{id}", f.retrieve)
	mux.HandleFunc("POST /v1/checkout/sessions/{id}/expire", f.expire)
	mux.HandleFunc("GET /v1/payment_intents/search", f.search)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			f.error(w, http.StatusBadRequest, "invalid_request_error", "", "malformed form")
			return
		}
		f.mu.Lock()
		f.requests = append(f.requests, fakeRequest{r.Method, r.URL.Path, r.Form, r.Header.Clone()})
		status := f.fail[r.Method+" "+r.URL.Path]
		f.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+f.key {
			f.error(w, http.StatusUnauthorized, "invalid_request_error", "", "Invalid API Key provided: sk_test_****0000")
			return
		}
		if status != 0 {
			f.error(w, status, "api_error", "", "fake failure")
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeStripe) error(w http.ResponseWriter, status int, typ, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	// Real Stripe asks for no retry of most errors; the client would
	// otherwise sleep and retry.
	w.Header().Set("Stripe-Should-Retry", "false")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"type": typ, "code": code, "message": msg}})
}

func (f *fakeStripe) reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (f *fakeStripe) create(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	form := r.PostForm.Encode()
	key := r.Header.Get("Idempotency-Key")
	if e, ok := f.idem[key]; ok && key != "" {
		if e.form != form {
			f.error(w, http.StatusBadRequest, "idempotency_error", "",
				"Keys for idempotent requests can only be used with the same parameters they were first used with.")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Idempotent-Replayed", "true")
		w.Write(e.reply)
		return
	}
	amount, err := strconv.ParseInt(r.PostForm.Get("line_items[0][price_data][unit_amount]"), 10, 64)
	if err != nil || amount < 50 {
		f.error(w, http.StatusBadRequest, "invalid_request_error", "amount_too_small", "The Checkout Session's total amount due must add up to at least $0.50 usd")
		return
	}
	now := f.now().Unix()
	var expires int64
	if e := r.PostForm.Get("expires_at"); e != "" {
		// Stripe's bounds, from the time of the request.
		expires, err = strconv.ParseInt(e, 10, 64)
		if err != nil || expires < now+30*60 || expires > now+24*3600 {
			f.error(w, http.StatusBadRequest, "invalid_request_error", "parameter_invalid_integer",
				"The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.")
			return
		}
	}
	f.creates++
	s := &fakeSession{
		ID: fmt.Sprintf("cs_test_fake%04d", len(f.sessions)+1), Object: "checkout.session",
		Status: "open", PaymentStatus: "unpaid", Mode: r.PostForm.Get("mode"),
		ClientReferenceID: r.PostForm.Get("client_reference_id"),
		Metadata:          map[string]string{"order_no": r.PostForm.Get("metadata[order_no]")},
		AmountTotal:       amount, Currency: r.PostForm.Get("line_items[0][price_data][currency]"),
		Created: now, ExpiresAt: now + 24*3600,
	}
	s.URL = "https://checkout.stripe.com/c/pay/" + s.ID
	if expires != 0 {
		s.ExpiresAt = expires
	}
	f.sessions = append(f.sessions, s)
	body, _ := json.Marshal(s)
	if key != "" {
		f.idem[key] = idemEntry{form: form, reply: body}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

func (f *fakeStripe) find(id string) *fakeSession {
	for _, s := range f.sessions {
		if s.ID == id {
			return s
		}
	}
	return nil
}

func (f *fakeStripe) list(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.Form
	limit := 10
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l > 0 && l <= 100 {
		limit = l
	}
	gte, _ := strconv.ParseInt(q.Get("created[gte]"), 10, 64)
	var all []*fakeSession // newest first
	for _, s := range slices.Backward(f.sessions) {
		if s.Created >= gte && (q.Get("status") == "" || q.Get("status") == s.Status) {
			all = append(all, s)
		}
	}
	if after := q.Get("starting_after"); after != "" {
		i := slices.IndexFunc(all, func(s *fakeSession) bool { return s.ID == after })
		all = all[i+1:]
	}
	more := len(all) > limit
	if more {
		all = all[:limit]
	}
	f.reply(w, map[string]any{"object": "list", "data": all, "has_more": more, "url": "/v1/checkout/sessions"})
}

func (f *fakeStripe) retrieve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.find(r.PathValue("id"))
	if s == nil {
		f.error(w, http.StatusNotFound, "invalid_request_error", "resource_missing", "No such checkout.session: '"+r.PathValue("id")+"'")
		return
	}
	f.reply(w, s)
}

func (f *fakeStripe) expire(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.find(r.PathValue("id"))
	switch {
	case s == nil:
		f.error(w, http.StatusNotFound, "invalid_request_error", "resource_missing", "No such checkout.session: '"+r.PathValue("id")+"'")
	case s.Status != "open":
		f.error(w, http.StatusBadRequest, "invalid_request_error", "", `Only Checkout Sessions with a status in ["open"] can be expired.`)
	default:
		s.Status = "expired"
		f.reply(w, s)
	}
}

var searchQuery = regexp.MustCompile(`^metadata\['order_no'\]:'([^']*)' AND status:'succeeded'$`)

func (f *fakeStripe) search(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rawSearch != nil {
		w.Header().Set("Content-Type", "application/json")
		w.Write(f.rawSearch)
		return
	}
	m := searchQuery.FindStringSubmatch(r.Form.Get("query"))
	if m == nil {
		f.error(w, http.StatusBadRequest, "invalid_request_error", "", "unsupported query")
		return
	}
	data := []map[string]any{}
	for _, pi := range f.intents {
		if md, _ := pi["metadata"].(map[string]string); md["order_no"] == m[1] && pi["status"] == "succeeded" {
			data = append(data, pi)
		}
	}
	f.reply(w, map[string]any{"object": "search_result", "data": data, "has_more": false, "next_page": nil, "url": "/v1/payment_intents/search"})
}

// pay completes session id as the buyer paying would: a PaymentIntent
// piID that succeeded with the session's amount.
func (f *fakeStripe) pay(id, piID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.find(id)
	if s == nil {
		f.t.Fatalf("no session %s", id)
	}
	s.Status, s.PaymentStatus, s.PaymentIntent = "complete", "paid", &piID
	f.intents = append(f.intents, map[string]any{"id": piID, "object": "payment_intent", "status": "succeeded",
		"amount": s.AmountTotal, "amount_received": s.AmountTotal, "currency": s.Currency,
		"metadata": map[string]string{"order_no": s.Metadata["order_no"]}, "livemode": false})
}

func (f *fakeStripe) session(i int) fakeSession {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.sessions[i]
}

func (f *fakeStripe) counts() (creates, requests int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.creates, len(f.requests)
}

func (f *fakeStripe) lastRequest() fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		f.t.Fatal("no request was made")
	}
	return f.requests[len(f.requests)-1]
}

func (f *fakeStripe) setFail(route string, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if status == 0 {
		delete(f.fail, route)
	} else {
		f.fail[route] = status
	}
}
