package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/faka-dev/faka"
)

// printReport writes the reconciliation report as a table per product,
// then the violations, then a verdict.
func printReport(out io.Writer, rep *faka.ReconcileReport) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "product\timported\tavailable\treserved\tsold\tvoid\tledger\t")
	ledger := map[int64]faka.Stock{}
	for _, l := range rep.Ledger {
		ledger[l.ProductID] = l
	}
	for _, p := range rep.Products {
		verdict := "ok"
		if l := ledger[p.ProductID]; l != p {
			verdict = "MISMATCH"
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n", p.ProductID, p.Imported, p.Available, p.Reserved,
			p.Sold, p.Void, verdict)
	}
	tw.Flush()
	for _, v := range rep.Violations {
		fmt.Fprintf(out, "VIOLATION %s", v.Code)
		if v.ProductID != 0 {
			fmt.Fprintf(out, " product=%d", v.ProductID)
		}
		if v.OrderNo != "" {
			fmt.Fprintf(out, " order=%s", v.OrderNo)
		}
		fmt.Fprintf(out, ": %s\n", v.Message)
	}
	if rep.OK {
		fmt.Fprintf(out, "ok: every invariant holds (%d products checked at %s)\n", len(rep.Products),
			rep.CheckedAt.UTC().Format("2006-01-02 15:04:05Z"))
	} else {
		fmt.Fprintf(out, "FAILED: %d violations\n", len(rep.Violations))
	}
}
