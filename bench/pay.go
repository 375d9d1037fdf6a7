package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faka-dev/faka/payment/sandbox"
)

// Pay is the result of paying every order of a drop through the sandbox
// gateway's notify endpoint, each notification sent 1+dup times at once.
type Pay struct {
	Orders        int
	Notifications int // sent: genuine and duplicate
	Acked         int // answered 200 "success"
	Failed        int
	Errors        []string

	Elapsed             time.Duration
	NotificationsPerSec float64
	NotifyLatency       Latency
	// Visible is from sending an order's notifications to its keys being
	// shown by GET /api/v1/orders/{order_no}.
	Visible Latency

	Delivered  int // orders seen delivered with all their keys
	LostPaid   int // orders whose payment was acknowledged but which show no keys
	Duplicates int // keys shown to more than one order
}

// orderView is the part of GET /api/v1/orders/{order_no} the check reads.
type orderView struct {
	Status string   `json:"status"`
	Keys   []string `json:"keys"`
}

// maxVisibleWait bounds how long a paid order is polled for its keys.
const maxVisibleWait = 10 * time.Second

// runPay pays every order with c workers. A worker sends one order's
// notification 1+dup times concurrently, waits for the first
// acknowledgement, then reads the order as its buyer until the keys show.
func runPay(ctx context.Context, t *target, orders []createdOrder, c, dup int, progress io.Writer) (*Pay, error) {
	copies := 1 + max(dup, 0)
	c = max(1, min(c, len(orders)))
	var (
		next     atomic.Int64
		done     atomic.Int64
		wg       sync.WaitGroup
		errs     errorList
		mu       sync.Mutex
		notify   []time.Duration
		visible  []time.Duration
		acked    int
		failedN  int
		deliv    int
		lost     int
		keyOwner = make(map[string]string, len(orders))
		dups     int
	)
	stop := ticker(progress, func() string {
		return fmt.Sprintf("  pay: %d/%d orders", done.Load(), len(orders))
	})
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conns := make([]*conn, copies)
			for j := range conns {
				conns[j] = newConn(t.ep)
				defer conns[j].close()
			}
			reader := newConn(t.ep)
			defer reader.close()
			var myNotify, myVisible []time.Duration
			var myAcked, myFailed, myDeliv, myLost int
			type owned struct{ key, orderNo string }
			var myKeys []owned
			type answer struct {
				took time.Duration
				ok   bool
			}
			answers := make(chan answer, copies)
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(len(orders)) {
					break
				}
				o := orders[i]
				body := []byte(fmt.Sprintf(`{"order_no":%q,"trade_no":%q,"amount":%d,"currency":%q,"status":"paid"}`,
					o.OrderNo, "BENCH-"+o.OrderNo, o.Amount, o.Currency))
				hdr := []header{{"Content-Type", "application/json"},
					{sandbox.SignatureHeader, sandbox.Sign([]byte(t.sandboxSecret), body)}}
				t0 := time.Now()
				for _, cn := range conns {
					go func() {
						s0 := time.Now()
						status, b, err := cn.do("POST", "/pay/sandbox/notify", hdr, body)
						ok := err == nil && status == 200 && string(b) == "success"
						if !ok {
							if err != nil {
								errs.add("notify: " + err.Error())
							} else {
								errs.add(fmt.Sprintf("notify: %d %.200s", status, b))
							}
						}
						answers <- answer{time.Since(s0), ok}
					}()
				}
				got, anyOK := 0, false
				for !anyOK && got < copies {
					a := <-answers
					got++
					myNotify = append(myNotify, a.took)
					anyOK = a.ok
				}
				var view orderView
				seen := false
				if anyOK {
					myAcked++
					view, seen = waitKeys(ctx, reader, o, &errs)
					if seen {
						myVisible = append(myVisible, time.Since(t0))
					}
				} else {
					myFailed++
				}
				for ; got < copies; got++ {
					myNotify = append(myNotify, (<-answers).took)
				}
				switch {
				case seen && len(view.Keys) == o.Quantity:
					myDeliv++
					for _, k := range view.Keys {
						myKeys = append(myKeys, owned{k, o.OrderNo})
					}
				case anyOK:
					myLost++
				}
				done.Add(1)
			}
			mu.Lock()
			defer mu.Unlock()
			notify = append(notify, myNotify...)
			visible = append(visible, myVisible...)
			acked += myAcked
			failedN += myFailed
			deliv += myDeliv
			lost += myLost
			for _, k := range myKeys {
				if prev, ok := keyOwner[k.key]; ok && prev != k.orderNo {
					dups++
					continue
				}
				keyOwner[k.key] = k.orderNo
			}
		}()
	}
	wg.Wait()
	stop()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bench: pay: %w", err)
	}
	return &Pay{
		Orders:              len(orders),
		Notifications:       len(notify),
		Acked:               acked,
		Failed:              failedN,
		Errors:              errs.msgs,
		Elapsed:             elapsed,
		NotificationsPerSec: Rate(len(notify), elapsed),
		NotifyLatency:       Summarize(notify),
		Visible:             Summarize(visible),
		Delivered:           deliv,
		LostPaid:            lost,
		Duplicates:          dups,
	}, nil
}

// waitKeys reads an order as its buyer until it shows delivered keys,
// for at most maxVisibleWait. An acknowledged notification has committed,
// so the first read normally shows them.
func waitKeys(ctx context.Context, cn *conn, o createdOrder, errs *errorList) (orderView, bool) {
	hdr := []header{{"X-Order-Token", o.Token}}
	deadline := time.Now().Add(maxVisibleWait)
	for ctx.Err() == nil {
		status, b, err := cn.do("GET", "/api/v1/orders/"+o.OrderNo, hdr, nil)
		var v orderView
		switch {
		case err != nil:
			errs.add("order view: " + err.Error())
		case status != 200:
			errs.add(fmt.Sprintf("order view: %d %.200s", status, b))
		default:
			if err := json.Unmarshal(b, &v); err != nil {
				errs.add("order view: " + err.Error())
			} else if v.Status == "delivered" && len(v.Keys) > 0 {
				return v, true
			}
		}
		if time.Now().After(deadline) {
			errs.add(fmt.Sprintf("order %s: no keys %v after its payment was acknowledged", o.OrderNo, maxVisibleWait))
			return v, false
		}
		time.Sleep(time.Millisecond)
	}
	return orderView{}, false
}
