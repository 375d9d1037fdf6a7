package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// outcome is how the server answered one order attempt.
type outcome uint8

const (
	accepted outcome = iota // 201: an order holds the stock
	soldOut                 // 409 sold_out: turned away, nothing written
	failed                  // anything else: counted as an error
)

// sample is one request: when its answer arrived (since the phase began),
// how long it took, and what it was.
type sample struct {
	end  time.Duration
	took time.Duration
	out  outcome
}

// createdOrder is the part of a 201 answer to POST /api/v1/orders that the
// later phases need.
type createdOrder struct {
	OrderNo  string `json:"order_no"`
	Token    string `json:"token"`
	Status   string `json:"status"`
	Quantity int    `json:"quantity"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// Drop is the result of one flash sale against one target: attempts
// order attempts of one unit each by c concurrent buyers, for keys keys.
type Drop struct {
	Target      string
	Concurrency int
	Keys        int
	Attempts    int

	Accepted int
	SoldOut  int
	Failed   int
	Errors   []string // the first few unexpected answers

	Elapsed time.Duration
	// SellOut is when the last accepted order's answer arrived, once all
	// keys were taken; zero when they were not.
	SellOut time.Duration

	Latency         Latency // every attempt
	AcceptedLatency Latency
	SoldOutLatency  Latency

	AttemptsPerSec float64
	AcceptedPerSec float64
	// SoldOutPerSec is the rate of sold-out answers after the sell-out:
	// what turning a buyer away costs once nothing is left.
	SoldOutPerSec float64

	// Orders are the accepted orders, for the pay phase.
	Orders []createdOrder

	// CPUPerAttempt is the CPU microseconds this process (the in-process
	// server or baseline, and the load generator) spent per attempt;
	// ServiceCPUPerAttempt those of the local database and Redis
	// processes. Zero where they could not be read.
	CPUPerAttempt        float64
	ServiceCPUPerAttempt float64
}

// setCPU records the CPU spent between two samples taken around the drop.
func (d *Drop) setCPU(a, b cpuSample) {
	d.CPUPerAttempt, d.ServiceCPUPerAttempt = cpuPer(a, b, d.Attempts)
}

// maxErrors is how many unexpected answers a phase keeps for the report.
const maxErrors = 5

// errorList collects the first few errors of a phase from many goroutines.
type errorList struct {
	mu   sync.Mutex
	n    int
	msgs []string
}

func (e *errorList) add(msg string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if len(e.msgs) < maxErrors {
		e.msgs = append(e.msgs, msg)
	}
}

// runDrop sends attempts order attempts for productID with c workers, each
// on its own keep-alive connection, and classifies the answers.
func runDrop(ctx context.Context, ep endpoint, target string, productID int64, keys, attempts, c int, progress io.Writer) (*Drop, error) {
	if c < 1 || attempts < 1 {
		return nil, fmt.Errorf("bench: need at least one buyer and one attempt")
	}
	var (
		next  atomic.Int64
		done  atomic.Int64
		wg    sync.WaitGroup
		errs  errorList
		mu    sync.Mutex
		all   = make([]sample, 0, attempts)
		order []createdOrder
	)
	stop := ticker(progress, func() string {
		return fmt.Sprintf("  drop %s c=%d: %d/%d attempts", target, c, done.Load(), attempts)
	})
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cn := newConn(ep)
			defer cn.close()
			hdr := []header{{"Content-Type", "application/json"}}
			var body []byte
			local := make([]sample, 0, attempts/c+1)
			var mine []createdOrder
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(attempts) {
					break
				}
				body = orderBody(body[:0], productID, i)
				t0 := time.Now()
				status, b, err := cn.do("POST", "/api/v1/orders", hdr, body)
				t1 := time.Now()
				s := sample{end: t1.Sub(start), took: t1.Sub(t0), out: failed}
				switch {
				case err != nil:
					errs.add(err.Error())
				case status == 201:
					var o createdOrder
					if err := json.Unmarshal(b, &o); err != nil || o.OrderNo == "" {
						errs.add(fmt.Sprintf("201 with an unreadable body: %.200s", b))
						break
					}
					s.out = accepted
					mine = append(mine, o)
				case status == 409 && bytes.Contains(b, []byte(`"sold_out"`)):
					s.out = soldOut
				default:
					errs.add(fmt.Sprintf("%d %.200s", status, b))
				}
				local = append(local, s)
				done.Add(1)
			}
			mu.Lock()
			all = append(all, local...)
			order = append(order, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	stop()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bench: drop %s: %w", target, err)
	}
	d := summarizeDrop(all, keys)
	d.Target, d.Concurrency, d.Keys, d.Attempts = target, c, keys, attempts
	d.Orders = order
	d.Errors = errs.msgs
	return d, nil
}

// orderBody appends the JSON body of buyer i's order attempt.
func orderBody(b []byte, productID, i int64) []byte {
	b = append(b, `{"product_id":`...)
	b = strconv.AppendInt(b, productID, 10)
	b = append(b, `,"quantity":1,"email":"buyer`...)
	b = strconv.AppendInt(b, i, 10)
	b = append(b, `@example.com","gateway":"sandbox"}`...)
	return b
}

// summarizeDrop computes the figures of a drop from its samples: one unit
// per accepted order, keys units in stock.
func summarizeDrop(all []sample, keys int) *Drop {
	d := &Drop{}
	var lat, acc, so []time.Duration
	var lastAccepted, firstSoldOut time.Duration
	firstSoldOut = -1
	for _, s := range all {
		d.Elapsed = max(d.Elapsed, s.end)
		lat = append(lat, s.took)
		switch s.out {
		case accepted:
			d.Accepted++
			acc = append(acc, s.took)
			lastAccepted = max(lastAccepted, s.end)
		case soldOut:
			d.SoldOut++
			so = append(so, s.took)
			if firstSoldOut < 0 || s.end < firstSoldOut {
				firstSoldOut = s.end
			}
		default:
			d.Failed++
		}
	}
	if d.Accepted >= keys && keys > 0 {
		d.SellOut = lastAccepted
	}
	// Sold-out answers per second once nothing was left (or, when the
	// stock never ran out, from the first sold-out answer on).
	from := d.SellOut
	if from == 0 && firstSoldOut >= 0 {
		from = firstSoldOut
	}
	var after int
	for _, s := range all {
		if s.out == soldOut && s.end > from {
			after++
		}
	}
	d.SoldOutPerSec = Rate(after, d.Elapsed-from)
	d.Latency = Summarize(lat)
	d.AcceptedLatency = Summarize(acc)
	d.SoldOutLatency = Summarize(so)
	d.AttemptsPerSec = Rate(len(all), d.Elapsed)
	d.AcceptedPerSec = Rate(d.Accepted, d.Elapsed)
	return d
}

// ticker prints line() to w every second until the returned func is
// called.
func ticker(w io.Writer, line func() string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintln(w, line())
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}
