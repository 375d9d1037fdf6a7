package poller

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
)

// Kinds of Mismatch.
const (
	// PaidAtGateway: the gateway says the order was paid; here it is
	// pending, expired or cancelled. The poller applies such a payment
	// when it finds it; an audit finding one means it has not (yet).
	PaidAtGateway = "paid_at_gateway"
	// UnpaidAtGateway: the order was paid here through the gateway, which
	// says it is unpaid or does not know it.
	UnpaidAtGateway = "unpaid_at_gateway"
	// OtherGateway: the order was paid through another gateway than the
	// one it was placed with. The money came, so the payment applies, but
	// a buyer does not choose a second gateway by accident: the merchant
	// should look at it.
	OtherGateway = "other_gateway"
)

// Mismatch is an order on which this shop and its gateway disagree.
type Mismatch struct {
	Kind    string
	OrderNo string
	Gateway string
	Status  faka.OrderStatus // the order's status here
	// TradeNo, Amount and Currency are the gateway's payment for
	// PaidAtGateway, and the payment applied here for UnpaidAtGateway.
	TradeNo  string
	Amount   int64
	Currency string
}

// AuditFailure is an order the gateway could not be asked about.
type AuditFailure struct {
	OrderNo string
	Gateway string
	Err     error
}

// AuditReport is the result of Audit.
type AuditReport struct {
	Since   time.Time // orders created since then were audited
	Checked int       // orders a gateway was asked about
	// Unchecked counts, by gateway, the orders whose gateway is not
	// enabled or cannot be asked about an order.
	Unchecked map[string]int
	// Young counts pending orders younger than MinAge, left to their
	// notification.
	Young      int
	Failed     []AuditFailure
	Mismatches []Mismatch
}

// OK reports whether every order asked about agrees with its gateway.
func (r *AuditReport) OK() bool { return len(r.Mismatches) == 0 && len(r.Failed) == 0 }

// auditPage is how many orders are read at a time.
const auditPage = 500

// Audit asks the gateways about every order created within the last since
// (by the database clock) and returns the orders on which the shop and its
// gateway disagree, both ways: paid at the gateway but pending, expired or
// cancelled here; and paid here through a gateway that says unpaid or
// unknown. A payment through another gateway than the order's is listed
// too (OtherGateway). Refunded orders, and pending ones younger than MinAge, are not
// asked about. It changes nothing.
func (p *Poller) Audit(ctx context.Context, since time.Duration) (*AuditReport, error) {
	now, err := p.store.Now(ctx)
	if err != nil {
		return nil, fmt.Errorf("poller: audit: %w", err)
	}
	rep := &AuditReport{Since: now.Add(-since), Unchecked: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan *faka.Order)
	for range p.opts.Workers {
		wg.Go(func() {
			for o := range work {
				p.auditOrder(ctx, o, now, rep, &mu)
			}
		})
	}
	var after *faka.Order
	for err == nil {
		var page []*faka.Order
		page, err = p.store.OrdersSince(ctx, rep.Since, after, auditPage)
		if err != nil || len(page) == 0 {
			break
		}
		for _, o := range page {
			work <- o
		}
		after = page[len(page)-1]
	}
	close(work)
	wg.Wait()
	if err != nil {
		return nil, fmt.Errorf("poller: audit: %w", err)
	}
	sort.Slice(rep.Mismatches, func(i, j int) bool {
		a, b := rep.Mismatches[i], rep.Mismatches[j]
		return a.OrderNo < b.OrderNo || (a.OrderNo == b.OrderNo && a.Kind < b.Kind)
	})
	sort.Slice(rep.Failed, func(i, j int) bool { return rep.Failed[i].OrderNo < rep.Failed[j].OrderNo })
	return rep, nil
}

// auditOrder asks one order's gateway and adds what it finds to rep.
func (p *Poller) auditOrder(ctx context.Context, o *faka.Order, now time.Time, rep *AuditReport, mu *sync.Mutex) {
	note := func(f func()) {
		mu.Lock()
		defer mu.Unlock()
		f()
	}
	gateway := o.Gateway
	var applied *faka.Payment
	switch o.Status {
	case faka.StatusRefunded:
		return
	case faka.StatusPending:
		if now.Sub(o.CreatedAt) < p.opts.MinAge {
			note(func() { rep.Young++ })
			return
		}
	case faka.StatusPaid, faka.StatusDelivered, faka.StatusPaidAwaitingStock:
		pays, err := p.store.PaymentsByOrder(ctx, o.ID)
		if err != nil {
			note(func() { rep.Failed = append(rep.Failed, AuditFailure{o.OrderNo, gateway, err}) })
			return
		}
		for _, pay := range pays {
			if pay.Outcome != faka.OutcomeExtra {
				applied = pay
			}
		}
		if applied == nil {
			note(func() {
				rep.Failed = append(rep.Failed, AuditFailure{o.OrderNo, gateway,
					faka.Errorf(faka.EInternal, "a %s order with no applied payment", o.Status)})
			})
			return
		}
		gateway = applied.Gateway
		if gateway != o.Gateway {
			note(func() {
				rep.Mismatches = append(rep.Mismatches, Mismatch{Kind: OtherGateway, OrderNo: o.OrderNo, Gateway: gateway,
					Status: o.Status, TradeNo: applied.TradeNo, Amount: applied.Amount, Currency: applied.Currency})
			})
		}
	}
	g, ok := p.gateways.Get(gateway)
	q, isQuerier := g.(payment.Querier)
	if !ok || !isQuerier {
		note(func() { rep.Unchecked[gateway]++ })
		return
	}
	qctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	n, paid, err := q.Query(qctx, o.OrderNo)
	cancel()
	note(func() {
		switch {
		case err != nil:
			rep.Failed = append(rep.Failed, AuditFailure{o.OrderNo, gateway, err})
		case applied == nil && paid:
			rep.Checked++
			rep.Mismatches = append(rep.Mismatches, Mismatch{Kind: PaidAtGateway, OrderNo: o.OrderNo, Gateway: gateway,
				Status: o.Status, TradeNo: n.TradeNo, Amount: n.Amount, Currency: n.Currency})
		case applied != nil && !paid:
			rep.Checked++
			rep.Mismatches = append(rep.Mismatches, Mismatch{Kind: UnpaidAtGateway, OrderNo: o.OrderNo, Gateway: gateway,
				Status: o.Status, TradeNo: applied.TradeNo, Amount: applied.Amount, Currency: applied.Currency})
		default:
			rep.Checked++
		}
	})
}
