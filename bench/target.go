package bench

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// target is the faka server under test, driven through its public and
// admin HTTP API only.
type target struct {
	ep            endpoint
	adminToken    string
	sandboxSecret string

	mu       sync.Mutex // guards admin and lastUsed
	admin    *conn
	lastUsed time.Time
}

// adminIdle is how long the admin connection may sit unused before it is
// dialled afresh: the server closes idle keep-alive connections (faka
// after two minutes), and a request written into a connection the server
// has just closed fails without being retried.
const adminIdle = 30 * time.Second

func newTarget(ep endpoint, adminToken, sandboxSecret string) *target {
	return &target{ep: ep, adminToken: adminToken, sandboxSecret: sandboxSecret, admin: newConn(ep)}
}

// adminDo sends one admin request and decodes a 2xx JSON answer into out.
func (t *target) adminDo(method, path, contentType string, body []byte, out any) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if time.Since(t.lastUsed) > adminIdle {
		t.admin.close()
	}
	defer func() { t.lastUsed = time.Now() }()
	hdr := []header{{"Authorization", "Bearer " + t.adminToken}}
	if contentType != "" {
		hdr = append(hdr, header{"Content-Type", contentType})
	}
	status, b, err := t.admin.do(method, path, hdr, body)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if status/100 != 2 {
		return fmt.Errorf("bench: %s %s: %d %.300s", method, path, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("bench: %s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// createProduct creates a card product of max one unit per order and
// imports keys fresh keys into it.
func (t *target) createProduct(name string, ttlSeconds, keys int) (int64, error) {
	body, err := json.Marshal(map[string]any{
		"name": name, "price": 100, "currency": "CNY", "delivery": "card",
		"max_quantity": 1, "reservation_ttl_seconds": ttlSeconds,
	})
	if err != nil {
		return 0, fmt.Errorf("bench: product body: %w", err)
	}
	var p struct {
		ID int64 `json:"id"`
	}
	if err := t.adminDo("POST", "/api/v1/products", "application/json", body, &p); err != nil {
		return 0, err
	}
	var imp struct {
		Imported int `json:"imported"`
	}
	if err := t.adminDo("POST", "/api/v1/products/"+strconv.FormatInt(p.ID, 10)+"/keys", "text/plain",
		keyList(p.ID, keys), &imp); err != nil {
		return 0, err
	}
	if imp.Imported != keys {
		return 0, fmt.Errorf("bench: imported %d keys of %d into product %d", imp.Imported, keys, p.ID)
	}
	return p.ID, nil
}

// keyList returns n distinct made-up card keys, one per line.
func keyList(productID int64, n int) []byte {
	run := make([]byte, 6)
	_, _ = rand.Read(run)
	tag := hex.EncodeToString(run)
	var b strings.Builder
	b.Grow(n * 32)
	for i := range n {
		fmt.Fprintf(&b, "BENCH-%d-%s-%07d\n", productID, tag, i)
	}
	return []byte(b.String())
}

// stockJSON is one product's figures in GET /api/v1/reconcile.
type stockJSON struct {
	ID        int64 `json:"id"`
	Imported  int64 `json:"imported"`
	Available int64 `json:"available"`
	Reserved  int64 `json:"reserved"`
	Sold      int64 `json:"sold"`
	Void      int64 `json:"void"`
}

// reconcileJSON is the answer of GET /api/v1/reconcile.
type reconcileJSON struct {
	OK         bool              `json:"ok"`
	Products   []stockJSON       `json:"products"`
	Violations []json.RawMessage `json:"violations"`
}

func (t *target) reconcile() (*reconcileJSON, error) {
	var r reconcileJSON
	if err := t.adminDo("GET", "/api/v1/reconcile", "", nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// stock returns one product's figures from reconciliation.
func (r *reconcileJSON) stock(id int64) (stockJSON, bool) {
	for _, p := range r.Products {
		if p.ID == id {
			return p, true
		}
	}
	return stockJSON{}, false
}
