package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/faka-dev/faka/payment/sandbox"
)

// client talks to a cluster's instances over HTTP as the buyers, the
// sandbox gateway and the merchant do.
type client struct {
	cl   *cluster
	http *http.Client
}

// newClient returns a client that keeps up to conns connections open to
// each instance.
func newClient(cl *cluster, conns int) *client {
	return &client{cl: cl, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns},
	}}
}

// close drops the idle connections.
func (c *client) close() { c.http.CloseIdleConnections() }

// errNoAnswer marks the errors of requests that got no complete HTTP
// answer.
var errNoAnswer = errors.New("no answer")

// reply is an HTTP answer.
type reply struct {
	status int
	body   []byte
	header http.Header
}

// do sends one request to instance i. err is set only when no HTTP answer
// came back: the instance is down, or died while answering.
func (c *client) do(ctx context.Context, i int, method, path string, body []byte, hdr map[string]string) (reply, error) {
	in := c.cl.instances[i]
	req, err := http.NewRequestWithContext(ctx, method, in.URL()+path, bytes.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s on %s: %w: %w", method, path, in.name, errNoAnswer, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s on %s: %w: read body: %w", method, path, in.name, errNoAnswer, err)
	}
	return reply{res.StatusCode, b, res.Header}, nil
}

// adminHeader authorises admin API calls.
func adminHeader() map[string]string {
	return map[string]string{"Authorization": "Bearer " + adminToken}
}

// createdOrder is the 201 body of POST /api/v1/orders.
type createdOrder struct {
	OrderNo   string `json:"order_no"`
	Token     string `json:"token"`
	Status    string `json:"status"`
	ProductID int64  `json:"product_id"`
	Quantity  int    `json:"quantity"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	ExpiresAt string `json:"expires_at"`
}

// orderView is GET /api/v1/orders/{order_no}.
type orderView struct {
	OrderNo  string   `json:"order_no"`
	Status   string   `json:"status"`
	Quantity int      `json:"quantity"`
	Keys     []string `json:"keys"`
}

// apiError is the body of every error answer.
type apiError struct {
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// errorCode returns the error code of an error body, or "".
func errorCode(b []byte) string {
	var e apiError
	if json.Unmarshal(b, &e) != nil || e.Error == nil {
		return ""
	}
	return e.Error.Code
}

// stock is one product's row of GET /api/v1/reconcile.
type stock struct {
	ID        int64 `json:"id"`
	Imported  int64 `json:"imported"`
	Available int64 `json:"available"`
	Reserved  int64 `json:"reserved"`
	Sold      int64 `json:"sold"`
	Void      int64 `json:"void"`
}

// reconcileReport is GET /api/v1/reconcile.
type reconcileReport struct {
	OK         bool              `json:"ok"`
	Products   []stock           `json:"products"`
	Violations []json.RawMessage `json:"violations"`
}

// product returns the row of product id, or a zero stock.
func (r *reconcileReport) product(id int64) stock {
	for _, p := range r.Products {
		if p.ID == id {
			return p
		}
	}
	return stock{}
}

// reconcile asks instance i to check the invariants now.
func (c *client) reconcile(ctx context.Context, i int) (*reconcileReport, error) {
	rp, err := c.do(ctx, i, "GET", "/api/v1/reconcile", nil, adminHeader())
	if err != nil {
		return nil, err
	}
	var r reconcileReport
	if rp.status != http.StatusOK {
		return nil, fmt.Errorf("reconcile on %s: %d %s", c.cl.instances[i].name, rp.status, rp.body)
	}
	if err := json.Unmarshal(rp.body, &r); err != nil {
		return nil, fmt.Errorf("reconcile on %s: %w: %s", c.cl.instances[i].name, err, rp.body)
	}
	return &r, nil
}

// notification returns a sandbox payment notification for an order and
// its signature, as the sandbox gateway would send them.
func notification(o *order, tradeNo string) (body []byte, hdr map[string]string) {
	body = fmt.Appendf(nil, `{"order_no":%q,"trade_no":%q,"amount":%d,"currency":%q,"status":"paid"}`,
		o.No, tradeNo, o.Amount, o.Currency)
	return body, map[string]string{
		"Content-Type":        "application/json",
		"X-Sandbox-Signature": sandbox.Sign([]byte(sandboxSecret), body),
	}
}

// failures reports errors from many goroutines through t.Errorf: the
// first few of each kind in full, the rest as a count at the end, so that
// one systematic bug does not bury everything else.
type failures struct {
	t  *testing.T
	mu sync.Mutex
	n  map[string]int
}

// maxReported is how many failures of one kind are reported in full.
const maxReported = 10

func newFailures(t *testing.T) *failures {
	f := &failures{t: t, n: map[string]int{}}
	t.Cleanup(f.summary)
	return f
}

// add reports a failure of a kind.
func (f *failures) add(kind, format string, args ...any) {
	f.t.Helper()
	f.mu.Lock()
	f.n[kind]++
	n := f.n[kind]
	f.mu.Unlock()
	if n <= maxReported {
		f.t.Errorf("%s: %s", kind, fmt.Sprintf(format, args...))
	}
}

// summary reports how many failures of each kind were not shown.
func (f *failures) summary() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for kind, n := range f.n {
		if n > maxReported {
			f.t.Errorf("%s: %d failures in all, %d not shown", kind, n, n-maxReported)
		}
	}
}
