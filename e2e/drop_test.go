package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The drop's fixed settings.
const (
	clusterSize = 3
	price       = 500 // minor units of CNY
	ttl         = 3 * time.Second
	// overdueSlack is how long past its reservation an order may stay
	// pending. The sweepers run every second on every instance, but one
	// sweep releases up to 500 orders in one transaction, order by order,
	// and the orders it holds stay pending until it commits: under this
	// drop on two cores that has taken up to 5 s. Twice that still catches
	// a sweeper that is stuck, dead or missing.
	overdueSlack = 10 * time.Second
	// retryFor bounds how long one request is retried across instances
	// in the fault test.
	retryFor = 45 * time.Second
	// maxTries bounds the same in attempts.
	maxTries = 200
)

// dropConfig is one run of the drop scenario.
type dropConfig struct {
	faults bool // kill instances and flush Redis under load
}

// order is an order a buyer was told about with a 201.
type order struct {
	No       string
	Token    string
	Quantity int
	Amount   int64
	Currency string
	Instance int // index of the instance that answered
	seq      int // place in the order the buyers were answered

	// paid is set once some instance answered "success" to its
	// notification: from then on it must not be lost.
	paid atomic.Bool
}

// dropRun is the state of one run of the scenario.
type dropRun struct {
	t                       *testing.T
	cfg                     dropConfig
	keys, attempts, workers int
	cl                      *cluster
	c                       *client
	fail                    *failures
	databaseURL             string
	runID                   string // makes Idempotency-Keys unique per run

	productID int64
	total     int64

	mu          sync.Mutex
	orders      []*order
	byNo        map[string]*order
	lastCreated time.Time
	dropEnded   time.Time // when the last attempt of the drop was answered
	latencies   []time.Duration

	stats retryStats
}

// retryStats count what the fault test's buyers and gateway went through.
type retryStats struct {
	down        atomic.Int64 // requests that got no answer and went to another instance
	unavailable atomic.Int64 // 503 answers, retried on another instance
	replayed    atomic.Int64 // retried orders answered with the first attempt's order
}

// take returns the counts and resets them.
func (s *retryStats) take() string {
	return fmt.Sprintf("%d requests retried on another instance after no answer, %d after a 503, %d orders replayed by Idempotency-Key",
		s.down.Swap(0), s.unavailable.Swap(0), s.replayed.Swap(0))
}

// runDrop runs the scenario: a product with a 3 s reservation TTL and
// 2,000 keys imported through instance 1; 10,000 order attempts of 1–3
// keys from 200 concurrent buyers, round-robin over three instances; about
// two thirds of the orders paid (as many as the stock covers), each
// notification sent three times at once to three different instances; the
// rest left to expire. The drop outlasts the TTL, so keys sell more than
// once and many payments come after their order expired.
//
// With cfg.faults, instance 2 is killed and restarted halfway through the
// drop, Redis is flushed at 60 % of it, and instance 3 is killed and
// restarted halfway through the payments; requests that get no answer go
// to the next instance. Then every invariant is checked on every instance.
func runDrop(t *testing.T, svc services, bin string, cfg dropConfig) {
	r := &dropRun{t: t, cfg: cfg, keys: 2000, attempts: 10000, workers: 200,
		byNo: map[string]*order{}, runID: fmt.Sprintf("%016x", rand.Uint64())}
	if testing.Short() {
		r.keys, r.attempts, r.workers = 400, 2000, 50
	}
	began := time.Now()
	r.fail = newFailures(t)
	r.databaseURL = freshDatabase(t, svc.databaseURL)
	var redisURL string
	if svc.redisURL != "" {
		redisURL = redisNamespace(t, svc.redisURL)
	}
	r.cl = startCluster(t, clusterConfig{bin: bin, size: clusterSize, databaseURL: r.databaseURL, redisURL: redisURL})
	r.c = newClient(r.cl, r.workers)
	t.Cleanup(r.c.close)
	ctx := t.Context()
	t.Logf("%d instances on PostgreSQL, Redis gate: %v; %d keys, %d attempts, %d buyers at once",
		clusterSize, r.cl.redisURL != "", r.keys, r.attempts, r.workers)

	r.stockProduct(ctx)
	mon := startMonitor(ctx, r)
	r.drop(ctx)
	if t.Failed() {
		mon.stop()
		t.FailNow()
	}
	r.checkAfterDrop(ctx)
	paid, unpaid := r.choosePaid()
	r.pay(ctx, paid)
	r.awaitExpiry(ctx)
	mon.stop()
	r.verify(ctx, paid, unpaid)
	r.onSaleEverywhere(ctx)
	t.Logf("run took %v", time.Since(began).Round(time.Millisecond))
}

// stockProduct creates the product and imports the keys through instance 1.
func (r *dropRun) stockProduct(ctx context.Context) {
	t := r.t
	rp, err := r.c.do(ctx, 0, "POST", "/api/v1/products", fmt.Appendf(nil,
		`{"name":"Flash card","price":%d,"currency":"CNY","delivery":"card","reservation_ttl_seconds":%d,"max_quantity":3}`,
		price, int(ttl/time.Second)), adminHeader())
	if err != nil || rp.status != http.StatusCreated {
		t.Fatalf("create product: %d %s %v", rp.status, rp.body, err)
	}
	var p struct{ ID int64 }
	if err := json.Unmarshal(rp.body, &p); err != nil || p.ID == 0 {
		t.Fatalf("create product: %s %v", rp.body, err)
	}
	r.productID = p.ID

	var upload strings.Builder
	for i := range r.keys {
		fmt.Fprintf(&upload, "E2E-%05d-%016x\n", i, rand.Uint64())
	}
	hdr := adminHeader()
	hdr["Content-Type"] = "text/plain"
	rp, err = r.c.do(ctx, 0, "POST", fmt.Sprintf("/api/v1/products/%d/keys", p.ID), []byte(upload.String()), hdr)
	var imp struct{ Imported, Duplicates, Rejected int }
	if err != nil || rp.status != http.StatusOK || json.Unmarshal(rp.body, &imp) != nil {
		t.Fatalf("import keys: %d %s %v", rp.status, rp.body, err)
	}
	if imp.Imported != r.keys || imp.Duplicates != 0 || imp.Rejected != 0 {
		t.Fatalf("import = %+v, want %d imported", imp, r.keys)
	}
	r.total = int64(r.keys)
}

// send sends a request to instance first. In the fault test it goes on to
// the next instances, the same request again, while none answers (the
// instance is down or died answering) or the answer is 503: a buyer, or a
// gateway, would retry. It returns the last answer and the instance that
// gave it.
func (r *dropRun) send(ctx context.Context, first int, method, path string, body []byte, hdr map[string]string) (rp reply, at int, err error) {
	deadline := time.Now().Add(retryFor)
	for try := 0; ; try++ {
		at = (first + try) % clusterSize
		rp, err = r.c.do(ctx, at, method, path, body, hdr)
		retry := err != nil || rp.status == http.StatusServiceUnavailable
		if !r.cfg.faults || !retry || try+1 >= maxTries || time.Now().After(deadline) || ctx.Err() != nil {
			return rp, at, err
		}
		if err != nil {
			r.stats.down.Add(1)
		} else {
			r.stats.unavailable.Add(1)
		}
		if (try+1)%clusterSize == 0 {
			time.Sleep(100 * time.Millisecond) // every instance tried: give them a moment
		}
	}
}

// drop fires the order attempts, round-robin over the instances.
func (r *dropRun) drop(ctx context.Context) {
	var (
		next, soldOut atomic.Int64
		wg, faults    sync.WaitGroup
		killAt        = int64(r.attempts / 2)
		flushAt       = int64(r.attempts * 3 / 5)
	)
	start := time.Now()
	for range r.workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(r.attempts) {
					return
				}
				if r.cfg.faults && i == killAt {
					faults.Go(func() { r.crash(1, "the drop") })
				}
				if r.cfg.faults && i == flushAt {
					faults.Go(func() { r.flushRedis(ctx) })
				}
				if r.attempt(ctx, int(i)) {
					soldOut.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	r.dropEnded = time.Now()
	faults.Wait()

	r.mu.Lock()
	defer r.mu.Unlock()
	lat := slices.Clone(r.latencies)
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(float64(len(lat)-1)*p)]
	}
	perInstance := make([]int, clusterSize)
	var units int
	for _, o := range r.orders {
		perInstance[o.Instance]++
		units += o.Quantity
	}
	r.t.Logf("drop: %d attempts in %v = %.0f attempts/s; p50 %v p99 %v max %v; %d orders (%d units; by instance %v), %d sold out",
		r.attempts, elapsed.Round(time.Millisecond), float64(r.attempts)/elapsed.Seconds(),
		pct(0.5), pct(0.99), pct(1), len(r.orders), units, perInstance, soldOut.Load())
	if r.cfg.faults {
		r.t.Logf("drop: %s", r.stats.take())
	}
}

// attempt is one buyer's order attempt; it reports whether the buyer was
// told the product is sold out.
func (r *dropRun) attempt(ctx context.Context, i int) (soldOut bool) {
	q := 1 + rand.IntN(3)
	body := fmt.Appendf(nil, `{"product_id":%d,"quantity":%d,"email":"buyer%d@example.com","gateway":"sandbox"}`,
		r.productID, q, i)
	hdr := map[string]string{"Content-Type": "application/json"}
	if r.cfg.faults {
		// A buyer who retries on another instance must not get a second
		// order for one click.
		hdr["Idempotency-Key"] = fmt.Sprintf("e2e-%s-%d", r.runID, i)
	}
	t0 := time.Now()
	rp, at, err := r.send(ctx, i%clusterSize, "POST", "/api/v1/orders", body, hdr)
	status, b := rp.status, rp.body
	d := time.Since(t0)
	r.mu.Lock()
	r.latencies = append(r.latencies, d)
	r.mu.Unlock()
	switch {
	case err != nil:
		if ctx.Err() == nil {
			r.fail.add("order attempt", "%v", err)
		}
	case status == http.StatusConflict && errorCode(b) == "sold_out":
		return true
	case status == http.StatusCreated:
		var c createdOrder
		if err := json.Unmarshal(b, &c); err != nil {
			r.fail.add("order attempt", "201 with a body that is not an order: %s", b)
			return false
		}
		if c.OrderNo == "" || c.Token == "" || c.ProductID != r.productID || c.Quantity != q ||
			c.Amount != int64(q)*price || c.Currency != "CNY" || (!r.cfg.faults && c.Status != "pending") {
			r.fail.add("order attempt", "ordered %d, got %s", q, b)
			return false
		}
		if rp.header.Get("Idempotent-Replayed") == "true" {
			r.stats.replayed.Add(1)
		}
		r.addOrder(&order{No: c.OrderNo, Token: c.Token, Quantity: c.Quantity, Amount: c.Amount,
			Currency: c.Currency, Instance: at})
	default:
		r.fail.add("order attempt", "%s: %d %s", r.cl.instances[at].name, status, b)
	}
	return false
}

// addOrder records a created order; two attempts must never get one order.
func (r *dropRun) addOrder(o *order) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.byNo[o.No]; dup {
		r.fail.add("order attempt", "two attempts were given order %s", o.No)
		return
	}
	o.seq = len(r.orders)
	r.byNo[o.No] = o
	r.orders = append(r.orders, o)
	r.lastCreated = time.Now()
}

// crash kills instance i with SIGKILL and restarts it on the same port.
func (r *dropRun) crash(i int, during string) {
	in := r.cl.instances[i]
	down, err := in.restart()
	if err != nil {
		r.fail.add("restart", "%s: %v", in.name, err)
		return
	}
	r.t.Logf("killed %s with SIGKILL during %s; it answered again %v later", in.name, during, down.Round(time.Millisecond))
}

// flushRedis empties the cluster's Redis database under load.
func (r *dropRun) flushRedis(ctx context.Context) {
	if r.cl.redisURL == "" {
		r.t.Log("no Redis to flush during the drop")
		return
	}
	if err := flushRedis(ctx, r.cl.redisURL); err != nil {
		r.fail.add("redis", "%v", err)
		return
	}
	r.t.Log("flushed Redis during the drop")
}

// checkAfterDrop checks the state the drop left: every instance's
// reconciliation agrees, every instance sold, and the drop sold the whole
// stock at least once.
func (r *dropRun) checkAfterDrop(ctx context.Context) {
	t := r.t
	r.mu.Lock()
	var units int64
	perInstance := make([]int, clusterSize)
	for _, o := range r.orders {
		units += int64(o.Quantity)
		perInstance[o.Instance]++
	}
	r.mu.Unlock()
	for i := range clusterSize {
		rep, err := r.c.reconcile(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		p := rep.product(r.productID)
		if !rep.OK || p.Imported != r.total || p.Reserved+p.Sold > r.total {
			t.Errorf("after the drop, %s reconciles to %+v, violations %s", r.cl.instances[i].name, p, rep.Violations)
		}
		if i == 0 {
			t.Logf("after the drop: available %d, reserved %d, sold %d of %d", p.Available, p.Reserved, p.Sold, p.Imported)
			if !r.cfg.faults {
				r.checkUndersell(ctx, p.Available)
			}
		}
	}
	for i, n := range perInstance {
		if n == 0 {
			t.Errorf("%s created no order in the drop", r.cl.instances[i].name)
		}
	}
	if units < r.total-2 {
		t.Errorf("the drop ordered %d units of %d: stock left unsold", units, r.total)
	}
	if r.cl.redisURL != "" {
		// The instances share the gate under the Redis key prefix they
		// were given (and refilled it after the flush, in the fault test).
		if n, err := redisKeys(ctx, r.cl.redisURL); err != nil {
			t.Error(err)
		} else if n == 0 {
			t.Errorf("after the drop, the instances keep no Redis key under %s", r.cl.redisURL)
		}
	}
}

// undersellSlack is how long before the end of the drop a key released by
// expiry may go unsold: each instance's admission gate learns of keys that
// another instance's sweeper released at its next resynchronisation (5 s
// by default), and a second more covers the sweep and the last answers.
const undersellSlack = 6 * time.Second

// checkUndersell fails the run when the drop left keys unsold that its
// buyers should have got. A gate that errs only on the high side leaves
// less than one order's worth (2 units at most 3 a buyer) of the keys that
// were on sale while buyers kept coming; keys that expiry released in the
// drop's last undersellSlack may not have reached every gate yet, so they
// are allowed too, however long the drop ran.
func (r *dropRun) checkUndersell(ctx context.Context, available int64) {
	t := r.t
	conn, err := pgx.Connect(ctx, r.databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var late int64
	if err := conn.QueryRow(ctx, `SELECT COALESCE(sum(d_available), 0) FROM ledger
		WHERE product_id = $1 AND event = 'release' AND created_at > $2`,
		r.productID, r.dropEnded.Add(-undersellSlack)).Scan(&late); err != nil {
		t.Fatal(err)
	}
	if available > 2+late {
		t.Errorf("undersold: %d keys left on sale after %d attempts; only %d were released in the drop's last %v",
			available, r.attempts, late, undersellSlack)
	}
}

// choosePaid picks about two thirds of the orders to pay, at most the
// stock in units, so that every paid order can end delivered. They are
// paid oldest first: the first payments come after their order expired,
// while younger orders still hold the keys, and must wait for stock
// (paid_awaiting_stock) until those orders expire in turn.
func (r *dropRun) choosePaid() (paid, unpaid []*order) {
	r.mu.Lock()
	all := slices.Clone(r.orders)
	r.mu.Unlock()
	rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	want := len(all) * 2 / 3
	var units int64
	for _, o := range all {
		if len(paid) < want && units+int64(o.Quantity) <= r.total {
			paid = append(paid, o)
			units += int64(o.Quantity)
		} else {
			unpaid = append(unpaid, o)
		}
	}
	bySeq := func(a, b *order) int { return a.seq - b.seq }
	slices.SortFunc(paid, bySeq)
	slices.SortFunc(unpaid, bySeq)
	r.t.Logf("paying %d orders (%d units), leaving %d unpaid", len(paid), units, len(unpaid))
	return paid, unpaid
}

// pay sends each paid order's notification three times at once, to three
// different instances, all with the same trade_no. In the fault test
// instance 3 is killed and restarted halfway through.
func (r *dropRun) pay(ctx context.Context, paid []*order) {
	var (
		wg, faults sync.WaitGroup
		sem        = make(chan struct{}, r.workers)
		killAt     = len(paid) * 3 / 2
		sent       int
	)
	start := time.Now()
	for j, o := range paid {
		body, hdr := notification(o, "E2E-"+o.No)
		for k := range clusterSize {
			if r.cfg.faults && sent == killAt {
				faults.Go(func() { r.crash(2, "the payments") })
			}
			sent++
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				rp, at, err := r.send(ctx, (j+k)%clusterSize, "POST", "/pay/sandbox/notify", body, hdr)
				switch {
				case err != nil:
					r.fail.add("notify", "order %s: %v", o.No, err)
				case rp.status != http.StatusOK || string(rp.body) != "success":
					r.fail.add("notify", "order %s on %s: %d %q", o.No, r.cl.instances[at].name, rp.status, rp.body)
				default:
					o.paid.Store(true)
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	r.dropEnded = time.Now()
	faults.Wait()
	for _, o := range paid {
		if !o.paid.Load() {
			r.fail.add("notify", "no instance acknowledged the payment of order %s", o.No)
		}
	}
	r.t.Logf("payments: %d notifications for %d orders in %v = %.0f/s",
		sent, len(paid), elapsed.Round(time.Millisecond), float64(sent)/elapsed.Seconds())
	if r.cfg.faults {
		r.t.Logf("payments: %s", r.stats.take())
	}
}

// awaitExpiry waits until no key is reserved any more: every unpaid order
// has expired, within its TTL and the sweeper's slack after the last order
// was created.
func (r *dropRun) awaitExpiry(ctx context.Context) {
	r.mu.Lock()
	deadline := r.lastCreated.Add(ttl + overdueSlack)
	r.mu.Unlock()
	deadline = later(deadline, time.Now().Add(time.Second))
	for i := 0; ; i++ {
		rep, err := r.c.reconcile(ctx, i%clusterSize)
		if err != nil {
			r.t.Fatal(err)
		}
		p := rep.product(r.productID)
		if p.Reserved == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%d units still reserved %v after the last order was created (TTL %v)", p.Reserved,
				time.Since(deadline.Add(-ttl-overdueSlack)).Round(time.Millisecond), ttl)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// verify checks every order the buyers know of through the order page,
// and every instance's reconciliation against what the buyers hold.
func (r *dropRun) verify(ctx context.Context, paid, unpaid []*order) {
	t := r.t
	views := r.fetchOrders(ctx, append(slices.Clone(paid), unpaid...))
	owner := map[string]string{} // key → order number
	var soldUnits, awaitingUnits int64
	var delivered, awaiting int
	for _, o := range paid {
		v, ok := views[o.No]
		switch {
		case !ok:
		case v.Status == "delivered" && len(v.Keys) == o.Quantity:
			delivered++
			soldUnits += int64(o.Quantity)
			for _, k := range v.Keys {
				if prev, dup := owner[k]; dup {
					r.fail.add("key sold twice", "key %q delivered to %s and %s", k, prev, o.No)
				}
				owner[k] = o.No
			}
		case v.Status == "paid_awaiting_stock" && len(v.Keys) == 0:
			awaiting++
			awaitingUnits += int64(o.Quantity)
		default:
			r.fail.add("paid order", "order %s of %d keys was paid (acknowledged: %v) and is %s with %d keys",
				o.No, o.Quantity, o.paid.Load(), v.Status, len(v.Keys))
		}
	}
	for _, o := range unpaid {
		if v, ok := views[o.No]; ok && (v.Status != "expired" || len(v.Keys) != 0) {
			r.fail.add("unpaid order", "order %s was never paid and is %s with %d keys", o.No, v.Status, len(v.Keys))
		}
	}
	t.Logf("verified: %d orders delivered (%d keys, all different), %d awaiting stock, %d expired",
		delivered, soldUnits, awaiting, len(unpaid))

	for i := range clusterSize {
		rep, err := r.c.reconcile(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		p := rep.product(r.productID)
		want := stock{ID: r.productID, Imported: r.total, Available: r.total - soldUnits, Sold: soldUnits}
		if !rep.OK || p != want {
			t.Errorf("%s reconciles to ok=%v %+v, want %+v (the buyers' keys); violations %s",
				r.cl.instances[i].name, rep.OK, p, want, rep.Violations)
		}
		// Backorders are served first, oldest first, whenever keys come
		// back (docs/ARCHITECTURE.md §4): with enough keys on sale for all of them,
		// none may still wait.
		if awaiting > 0 && p.Available >= awaitingUnits {
			t.Errorf("%d paid orders (%d units) await stock while %s has %d keys on sale",
				awaiting, awaitingUnits, r.cl.instances[i].name, p.Available)
		}
	}
	conn, err := pgx.Connect(ctx, r.databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if s, err := overdueSeconds(ctx, conn); err != nil {
		t.Fatal(err)
	} else if s > 0 {
		t.Errorf("an order is still pending %.1f s past its reservation", s)
	}
	// One payment, one effect (docs/ARCHITECTURE.md §1.4): every copy of a
	// notification carried the same trade_no, so each paid order has
	// exactly one payment, and none is an extra.
	outcomes, dbOrders, err := paymentOutcomes(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	var payments int
	for _, n := range outcomes {
		payments += n
	}
	if payments != len(paid) || outcomes["extra"] != 0 {
		t.Errorf("%d orders were paid, with one trade_no each, and the database holds %d payments: %v", len(paid), payments, outcomes)
	}
	t.Logf("payments by outcome when applied: %v; orders in the database: %d, known to the buyers: %d",
		outcomes, dbOrders, len(paid)+len(unpaid))
}

// fetchOrders reads every order through its buyer's token, spread over
// the instances.
func (r *dropRun) fetchOrders(ctx context.Context, orders []*order) map[string]orderView {
	var (
		mu    sync.Mutex
		views = map[string]orderView{}
		wg    sync.WaitGroup
		sem   = make(chan struct{}, r.workers)
	)
	for i, o := range orders {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			rp, at, err := r.send(ctx, i%clusterSize, "GET", "/api/v1/orders/"+o.No, nil,
				map[string]string{"X-Order-Token": o.Token})
			var v orderView
			if err != nil || rp.status != http.StatusOK || json.Unmarshal(rp.body, &v) != nil || v.OrderNo != o.No || v.Quantity != o.Quantity {
				r.fail.add("order page", "order %s on %s: %d %s %v", o.No, r.cl.instances[at].name, rp.status, rp.body, err)
				return
			}
			mu.Lock()
			views[o.No] = v
			mu.Unlock()
		})
	}
	wg.Wait()
	return views
}

// onSaleEverywhere checks that the keys released by expiry are on sale
// again through every instance, each admission gate having caught up
// with what the others' sweepers released.
func (r *dropRun) onSaleEverywhere(ctx context.Context) {
	rep, err := r.c.reconcile(ctx, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	if rep.product(r.productID).Available < clusterSize {
		return
	}
	start := time.Now()
	for i := range clusterSize {
		body := fmt.Appendf(nil, `{"product_id":%d,"quantity":1,"email":"late%d@example.com","gateway":"sandbox"}`, r.productID, i)
		for {
			rp, err := r.c.do(ctx, i, "POST", "/api/v1/orders", body, map[string]string{"Content-Type": "application/json"})
			if err == nil && rp.status == http.StatusCreated {
				break
			}
			if time.Since(start) > 15*time.Second {
				r.t.Errorf("%s does not sell the %d keys back on sale: %d %s %v",
					r.cl.instances[i].name, rep.product(r.productID).Available, rp.status, rp.body, err)
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	r.t.Logf("released keys on sale through every instance after %v", time.Since(start).Round(time.Millisecond))
}

// monitor checks invariants in the background while the run goes on:
// that reconciliation stays ok, and that no reservation outlives its TTL
// by more than overdueSlack, by the database's clock.
type monitor struct {
	t      *testing.T
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	mu             sync.Mutex
	maxOverdue     float64
	longestTx      float64 // seconds
	longestTxQuery string  // what it was running when seen
	reconciles     int
}

// startMonitor starts the background checks of a run.
func startMonitor(ctx context.Context, r *dropRun) *monitor {
	ctx, cancel := context.WithCancel(ctx)
	m := &monitor{t: r.t, cancel: cancel}
	conn, err := pgx.Connect(ctx, r.databaseURL)
	if err != nil {
		cancel()
		r.t.Fatal(err)
	}
	r.t.Cleanup(m.stop) // if the run ends early
	m.wg.Go(func() {
		defer conn.Close(context.Background())
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			s, err := overdueSeconds(ctx, conn)
			if err != nil {
				if ctx.Err() == nil {
					r.fail.add("monitor", "overdue query: %v", err)
				}
				return
			}
			age, query, err := oldestTransaction(ctx, conn)
			if err != nil {
				if ctx.Err() == nil {
					r.fail.add("monitor", "transaction query: %v", err)
				}
				return
			}
			m.mu.Lock()
			m.maxOverdue = max(m.maxOverdue, s)
			if age > m.longestTx {
				m.longestTx, m.longestTxQuery = age, query
			}
			m.mu.Unlock()
			if s > overdueSlack.Seconds() {
				r.fail.add("reservation overdue", "an order is pending %.1f s past its reservation", s)
			}
		}
	})
	m.wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			rep, err := r.c.reconcile(ctx, i%clusterSize)
			switch {
			case ctx.Err() != nil:
				return
			case errors.Is(err, errNoAnswer) && r.cfg.faults:
				continue // that instance is down
			case err != nil:
				r.fail.add("reconcile during the run", "%v", err)
			case !rep.OK:
				r.fail.add("reconcile during the run", "%s: %+v violations %s",
					r.cl.instances[i%clusterSize].name, rep.Products, rep.Violations)
			}
			m.mu.Lock()
			m.reconciles++
			m.mu.Unlock()
		}
	})
	return m
}

// stop ends the background checks and reports what they saw.
func (m *monitor) stop() {
	m.once.Do(func() {
		m.cancel()
		m.wg.Wait()
		m.mu.Lock()
		defer m.mu.Unlock()
		m.t.Logf("monitor: %d reconciliations during the run; most overdue pending order seen: %.2f s past its reservation; "+
			"longest transaction seen: %.2f s, at %q", m.reconciles, max(m.maxOverdue, 0), m.longestTx, m.longestTxQuery)
	})
}
