package storetest

import (
	"context"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/faka-dev/faka"
)

// CheckInvariants fails t unless the invariants of docs/ARCHITECTURE.md §1 hold in st
// now. It asks the store's own Reconcile and then verifies the figures
// independently through the rest of the Store interface:
//
//   - Reconcile reports OK with no violations, and its stock and ledger
//     figures agree and conserve units;
//   - StockList and StockGet give every product, with each figure ≥ 0 and
//     available + reserved + sold + void == imported, and agree with
//     Reconcile;
//   - reserved units equal the units of pending orders, and a card
//     product's sold keys equal the keys of its delivered orders;
//   - each card order holds the number of keys its state implies (pending
//     and delivered: quantity; expired, cancelled, backordered: none) and
//     no key belongs to two orders.
//
// The comparison between calls assumes nothing changes st meanwhile: call
// it when the store is quiescent. For a store under load, see Reconcile
// checks in Bank.
func CheckInvariants(t testing.TB, st faka.Store) {
	t.Helper()
	problems, err := invariantProblems(t.Context(), st)
	if err != nil {
		t.Fatalf("CheckInvariants: %v", err)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			t.Errorf("invariant violated: %s", p)
		}
		t.FailNow()
	}
}

// reportProblems checks one Reconcile report on its own: it is valid even
// while other goroutines change the store.
func reportProblems(rep *faka.ReconcileReport) []string {
	var out []string
	if rep == nil {
		return []string{"Reconcile returned a nil report"}
	}
	if !rep.OK {
		out = append(out, "Reconcile: OK = false")
	}
	for _, v := range rep.Violations {
		out = append(out, fmt.Sprintf("Reconcile violation %s (product %d, order %s): %s", v.Code, v.ProductID, v.OrderNo, v.Message))
	}
	if rep.OK && len(rep.Violations) > 0 {
		out = append(out, "Reconcile: OK = true with violations listed")
	}
	if rep.CheckedAt.IsZero() {
		out = append(out, "Reconcile: CheckedAt is zero")
	}
	ledger := map[int64]faka.Stock{}
	for _, s := range rep.Ledger {
		ledger[s.ProductID] = s
	}
	if len(ledger) != len(rep.Products) {
		out = append(out, fmt.Sprintf("Reconcile: %d products but %d ledger sums", len(rep.Products), len(rep.Ledger)))
	}
	for _, s := range rep.Products {
		out = append(out, stockProblems("Reconcile", s)...)
		l, ok := ledger[s.ProductID]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("Reconcile: product %d has no ledger sum", s.ProductID))
		case l != s:
			out = append(out, fmt.Sprintf("Reconcile: product %d stock %s but ledger %s", s.ProductID, fmtStock(s), fmtStock(l)))
		}
	}
	return out
}

func stockProblems(source string, s faka.Stock) []string {
	var out []string
	if s.Available < 0 || s.Reserved < 0 || s.Sold < 0 || s.Void < 0 || s.Imported < 0 {
		out = append(out, fmt.Sprintf("%s: product %d has a negative figure: %s", source, s.ProductID, fmtStock(s)))
	}
	if s.Available+s.Reserved+s.Sold+s.Void != s.Imported {
		out = append(out, fmt.Sprintf("%s: product %d does not conserve units: %s", source, s.ProductID, fmtStock(s)))
	}
	return out
}

func invariantProblems(ctx context.Context, st faka.Store) ([]string, error) {
	rep, err := st.Reconcile(ctx)
	if err != nil {
		return nil, fmt.Errorf("Reconcile: %w", err)
	}
	out := reportProblems(rep)

	stocks, err := st.StockList(ctx)
	if err != nil {
		return nil, fmt.Errorf("StockList: %w", err)
	}
	products, err := st.ProductList(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("ProductList: %w", err)
	}
	reconciled := map[int64]faka.Stock{}
	for _, s := range rep.Products {
		reconciled[s.ProductID] = s
	}
	listed := map[int64]faka.Stock{}
	for _, s := range stocks {
		if _, dup := listed[s.ProductID]; dup {
			out = append(out, fmt.Sprintf("StockList: product %d listed twice", s.ProductID))
		}
		listed[s.ProductID] = s
		out = append(out, stockProblems("StockList", s)...)
		if r, ok := reconciled[s.ProductID]; ok && r != s {
			out = append(out, fmt.Sprintf("product %d: StockList %s but Reconcile %s", s.ProductID, fmtStock(s), fmtStock(r)))
		}
	}
	if len(listed) != len(products) {
		out = append(out, fmt.Sprintf("StockList has %d products, ProductList %d", len(listed), len(products)))
	}
	if len(reconciled) != len(products) {
		out = append(out, fmt.Sprintf("Reconcile covers %d products, ProductList has %d", len(reconciled), len(products)))
	}
	for _, p := range products {
		s, ok := listed[p.ID]
		if !ok {
			out = append(out, fmt.Sprintf("StockList misses product %d", p.ID))
			continue
		}
		g, err := st.StockGet(ctx, p.ID)
		if err != nil {
			return nil, fmt.Errorf("StockGet(%d): %w", p.ID, err)
		}
		if g != s {
			out = append(out, fmt.Sprintf("product %d: StockGet %s but StockList %s", p.ID, fmtStock(g), fmtStock(s)))
		}
		more, err := orderProblems(ctx, st, p, s)
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	return out, nil
}

// allOrders is the largest page OrderList is asked for. The Store has no
// paging, so a product with more orders than this cannot be checked.
const allOrders = 10000

// orderProblems checks a product's orders against its stock figures.
func orderProblems(ctx context.Context, st faka.Store, p *faka.Product, s faka.Stock) ([]string, error) {
	orders, err := st.OrderList(ctx, faka.OrderFilter{ProductID: p.ID, Limit: allOrders})
	if err != nil {
		return nil, fmt.Errorf("OrderList(product %d): %w", p.ID, err)
	}
	if len(orders) >= allOrders {
		return nil, fmt.Errorf("product %d has %d or more orders: too many to check through OrderList", p.ID, allOrders)
	}
	var out []string
	var pending, delivered, held int64
	owner := map[string]string{} // key hash → order number
	for _, o := range orders {
		if o.ProductID != p.ID {
			out = append(out, fmt.Sprintf("OrderList(product %d) returned order %s of product %d", p.ID, o.OrderNo, o.ProductID))
			continue
		}
		q := int64(o.Quantity)
		switch o.Status {
		case faka.StatusPending:
			pending += q
		case faka.StatusDelivered:
			delivered += q
			held += q
		case faka.StatusPaid:
			held += q
		}
		if p.Delivery != faka.DeliveryCard {
			continue
		}
		keys, err := st.OrderKeys(ctx, o.ID)
		if err != nil {
			return nil, fmt.Errorf("OrderKeys(%s): %w", o.OrderNo, err)
		}
		n := int64(len(keys))
		switch o.Status {
		case faka.StatusPending, faka.StatusDelivered:
			if n != q {
				out = append(out, fmt.Sprintf("%s order %s of %d holds %d keys", o.Status, o.OrderNo, q, n))
			}
		case faka.StatusRefunded:
			if n != q && n != 0 {
				out = append(out, fmt.Sprintf("refunded order %s of %d holds %d keys", o.OrderNo, q, n))
			}
		default:
			if n != 0 {
				out = append(out, fmt.Sprintf("%s order %s holds %d keys", o.Status, o.OrderNo, n))
			}
		}
		for _, k := range keys {
			h := hex.EncodeToString(k.Hash)
			if prev, ok := owner[h]; ok {
				out = append(out, fmt.Sprintf("key %s… belongs to orders %s and %s", h[:min(8, len(h))], prev, o.OrderNo))
			}
			owner[h] = o.OrderNo
		}
	}
	if s.Reserved != pending {
		out = append(out, fmt.Sprintf("product %d: %d reserved units, but pending orders hold %d", p.ID, s.Reserved, pending))
	}
	switch p.Delivery {
	case faka.DeliveryCard:
		if s.Sold != delivered {
			out = append(out, fmt.Sprintf("card product %d: %d sold keys, but delivered orders hold %d", p.ID, s.Sold, delivered))
		}
	default:
		if s.Sold != held {
			out = append(out, fmt.Sprintf("%s product %d: %d sold units, but paid and delivered orders hold %d", p.Delivery, p.ID, s.Sold, held))
		}
	}
	return out, nil
}
