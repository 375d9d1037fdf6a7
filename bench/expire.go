package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Expire is the result of the expiry phase: a short-TTL product is
// reserved out, nobody pays, and the reservations must come back on sale.
type Expire struct {
	ProductID int64
	Keys      int
	TTL       time.Duration
	Reserved  int
	// Released is how many units were on sale again when polling stopped.
	Released int64
	// ReleaseLag is from the moment the last reservation was due (the end
	// of the reserving drop plus the TTL, an upper bound) until every unit
	// was on sale again; the sweeper runs about once a second.
	ReleaseLag time.Duration
	Expired    bool // an unpaid order shows status expired
	Resold     bool // a released key was reserved again
	Errors     []string
}

// maxReleaseWait bounds the wait for released reservations beyond the TTL.
const maxReleaseWait = 20 * time.Second

// runExpire reserves every key of a fresh product with a ttl reservation,
// pays nothing, and waits for the keys to be available again.
func runExpire(ctx context.Context, t *target, keys int, ttl time.Duration, c int, progress io.Writer) (*Expire, error) {
	ttlSec := max(1, int(ttl/time.Second))
	ttl = time.Duration(ttlSec) * time.Second
	pid, err := t.createProduct("bench expire", ttlSec, keys)
	if err != nil {
		return nil, err
	}
	d, err := runDrop(ctx, t.ep, "faka-expire", pid, keys, keys, min(c, keys), progress)
	if err != nil {
		return nil, err
	}
	due := time.Now().Add(ttl)
	res := &Expire{ProductID: pid, Keys: keys, TTL: ttl, Reserved: d.Accepted, Errors: d.Errors}
	if d.Accepted == 0 {
		return res, fmt.Errorf("bench: expire: no reservation was accepted: %v", d.Errors)
	}
	fmt.Fprintf(progress, "  expire: %d units reserved with a %v TTL; waiting for their release\n", d.Accepted, ttl)

	cn := newConn(t.ep)
	defer cn.close()
	path := "/api/v1/products/" + strconv.FormatInt(pid, 10)
	deadline := due.Add(maxReleaseWait)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		status, b, err := cn.do("GET", path, nil, nil)
		if err != nil {
			return res, fmt.Errorf("bench: expire: %w", err)
		}
		var p struct {
			Available int64 `json:"available"`
		}
		if status != 200 || json.Unmarshal(b, &p) != nil {
			return res, fmt.Errorf("bench: expire: GET %s: %d %.200s", path, status, b)
		}
		res.Released = p.Available
		if p.Available >= int64(keys) {
			res.ReleaseLag = max(0, time.Since(due))
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("bench: expire: %w", err)
	}

	o := d.Orders[0]
	status, b, err := cn.do("GET", "/api/v1/orders/"+o.OrderNo, []header{{"X-Order-Token", o.Token}}, nil)
	var v orderView
	if err == nil && status == 200 && json.Unmarshal(b, &v) == nil {
		res.Expired = v.Status == "expired"
	}
	status, b, err = cn.do("POST", "/api/v1/orders", []header{{"Content-Type", "application/json"}},
		orderBody(nil, pid, 1))
	res.Resold = err == nil && status == 201
	if !res.Resold {
		res.Errors = append(res.Errors, fmt.Sprintf("reorder after expiry: %d %.200s %v", status, b, err))
	}
	return res, nil
}
