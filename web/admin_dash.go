package web

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/web/i18n"
)

// chartDays is the span of the dashboard's chart and 30-day figures.
const chartDays = 30

// periodStats are the dashboard's figures for one period.
type periodStats struct {
	Created    int64
	Paid       int64
	Revenue    string
	Conversion string // created → paid, of the orders created in the period
}

// stockRow is one product in the dashboard's stock table.
type stockRow struct {
	ID                              int64
	Name                            string
	Active                          bool
	Delivery                        faka.Delivery
	Available, Reserved, Sold, Void int64
	LowStock                        int64
	Low, Out                        bool
}

// chart is a server-rendered SVG bar chart.
type chart struct {
	Width, Height int
	Base          int // y of the axis
	Bars          []chartBar
	Ticks         []chartTick
	Max           int64
	MaxY          int
	MidX, MidY    int // the middle of the plot, for the empty-chart note
	Label         string
}

type chartBar struct {
	X, Y, W, H int
	Title      string
}

type chartTick struct {
	X     int
	Label string
}

type dashData struct {
	Today, Month periodStats
	Chart        chart
	Stock        []stockRow
	Backorders   int
	ToDeliver    int
	LowCount     int
	Backup       backupInfo
}

// backupInfo is the dashboard's line about the last backup.
type backupInfo struct {
	Shown bool   // the store is the embedded database
	Done  bool   // a backup was taken
	At    string // when, in the shop's time zone
	Stale bool   // more than two days ago
	Path  string
}

// dashboard serves GET /admin: today's and 30 days' orders, revenue and
// conversion, a chart of paid orders per day, and stock with warnings.
func (s *Server) dashboard(w http.ResponseWriter, r *http.Request, p *page, _ *faka.Admin) {
	ctx := r.Context()
	now := time.Now().In(p.Loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, p.Loc)
	from := today.AddDate(0, 0, -(chartDays - 1))
	days, err := s.shop.SalesByDay(ctx, from, chartDays)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d := dashData{}
	if s.cfg.LastBackup != nil {
		at, path, ok := s.cfg.LastBackup()
		d.Backup = backupInfo{Shown: true, Done: ok, Path: path}
		if ok {
			d.Backup.At = formatTime(at, p.Loc)
			d.Backup.Stale = time.Since(at) > 48*time.Hour
		}
	}
	todayIdx := int(today.Sub(from) / (24 * time.Hour))
	perDay := make([][]faka.SalesDay, chartDays)
	for _, sd := range days {
		i := int(sd.Start.Sub(from) / (24 * time.Hour))
		if i >= 0 && i < chartDays {
			perDay[i] = append(perDay[i], sd)
		}
	}
	d.Today = summarize(p.L, perDay[todayIdx:todayIdx+1])
	d.Month = summarize(p.L, perDay)
	d.Chart = salesChart(p.L, from, perDay)

	c, err := s.catalog(ctx, false)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	stock, err := s.engine.Stock(ctx)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	byID := map[int64]faka.Stock{}
	for _, st := range stock {
		byID[st.ProductID] = st
	}
	for _, v := range c.products {
		st, ps := byID[v.ID], c.presentation(v.ID)
		row := stockRow{ID: v.ID, Name: v.Name, Active: v.Active, Delivery: v.Delivery,
			Available: st.Available, Reserved: st.Reserved, Sold: st.Sold, Void: st.Void, LowStock: ps.LowStock}
		row.Out = st.Available < int64(v.MinQuantity)
		row.Low = !row.Out && st.Available <= ps.LowStock
		if v.Active && (row.Low || row.Out) {
			d.LowCount++
		}
		d.Stock = append(d.Stock, row)
	}
	// Products that need the merchant first.
	slices.SortStableFunc(d.Stock, func(a, b stockRow) int {
		rank := func(r stockRow) int {
			switch {
			case !r.Active:
				return 3
			case r.Out:
				return 0
			case r.Low:
				return 1
			}
			return 2
		}
		return rank(a) - rank(b)
	})
	for status, n := range map[faka.OrderStatus]*int{faka.StatusPaidAwaitingStock: &d.Backorders, faka.StatusPaid: &d.ToDeliver} {
		os, err := s.shop.OrderSearch(ctx, faka.OrderQuery{Status: status, Limit: 500})
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		*n = len(os)
	}
	p.Title = p.L.T("admin.dash.title")
	p.Data = d
	s.render(w, r, http.StatusOK, "admin/dashboard", p)
}

// summarize adds up days of sales.
func summarize(l *i18n.Printer, days [][]faka.SalesDay) periodStats {
	var st periodStats
	var createdPaid int64
	revenue := map[string]int64{}
	for _, day := range days {
		for _, sd := range day {
			st.Created += sd.Created
			st.Paid += sd.Paid
			createdPaid += sd.CreatedPaid
			revenue[sd.Currency] += sd.Revenue
		}
	}
	st.Revenue = formatRevenue(revenue)
	if st.Created > 0 {
		st.Conversion = fmt.Sprintf("%.1f%%", float64(createdPaid)*100/float64(st.Created))
	} else {
		st.Conversion = "—"
	}
	return st
}

// formatRevenue writes amounts in several currencies: "¥12.30 + $4.00".
func formatRevenue(m map[string]int64) string {
	var cur []string
	for c, v := range m {
		if v != 0 {
			cur = append(cur, c)
		}
	}
	if len(cur) == 0 {
		return formatMoney(0, "CNY")
	}
	slices.Sort(cur)
	parts := make([]string, len(cur))
	for i, c := range cur {
		parts[i] = formatMoney(m[c], c)
	}
	return strings.Join(parts, " + ")
}

// salesChart draws paid orders per day as bars; each bar's tooltip has the
// day's revenue.
func salesChart(l *i18n.Printer, from time.Time, perDay [][]faka.SalesDay) chart {
	const width, height, left, top, bottom = 720, 200, 34, 12, 24
	c := chart{Width: width, Height: height, Base: height - bottom, Label: l.T("admin.dash.chart"),
		MidX: (left + width) / 2, MidY: (top + height - bottom) / 2}
	n := len(perDay)
	paid := make([]int64, n)
	for i, day := range perDay {
		for _, sd := range day {
			paid[i] += sd.Paid
		}
		c.Max = max(c.Max, paid[i])
	}
	scale := max(c.Max, 1)
	slot := (width - left) / n
	plot := c.Base - top
	c.MaxY = top
	for i := range n {
		day := from.AddDate(0, 0, i)
		revenue := map[string]int64{}
		for _, sd := range perDay[i] {
			revenue[sd.Currency] += sd.Revenue
		}
		h := int(paid[i] * int64(plot) / scale)
		if paid[i] > 0 {
			h = max(h, 2)
		}
		c.Bars = append(c.Bars, chartBar{
			X: left + i*slot + 2, Y: c.Base - h, W: slot - 4, H: h,
			Title: l.T("admin.dash.bar", day.Format("2006-01-02"), paid[i], formatRevenue(revenue)),
		})
		if i%5 == 0 || i == n-1 {
			c.Ticks = append(c.Ticks, chartTick{X: left + i*slot + slot/2, Label: day.Format("01-02")})
		}
	}
	return c
}

// reconcileRow is one product of the reconciliation page: live stock and
// the ledger's sums side by side.
type reconcileRow struct {
	ID       int64
	Name     string
	Live     faka.Stock
	Ledger   faka.Stock
	Mismatch bool
}

type reconcileData struct {
	OK         bool
	CheckedAt  time.Time
	Rows       []reconcileRow
	Violations []faka.Violation
}

// adminReconcile serves GET /admin/reconcile: the invariants of docs/ARCHITECTURE.md
// §1 checked now, per product.
func (s *Server) adminReconcile(w http.ResponseWriter, r *http.Request, p *page, _ *faka.Admin) {
	rep, err := s.engine.Reconcile(r.Context())
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	names := map[int64]string{}
	if views, err := s.engine.Products(r.Context(), false); err == nil {
		for _, v := range views {
			names[v.ID] = v.Name
		}
	}
	ledger := map[int64]faka.Stock{}
	for _, st := range rep.Ledger {
		ledger[st.ProductID] = st
	}
	d := reconcileData{OK: rep.OK, CheckedAt: rep.CheckedAt, Violations: rep.Violations}
	if d.CheckedAt.IsZero() {
		d.CheckedAt = time.Now()
	}
	for _, st := range rep.Products {
		lg := ledger[st.ProductID]
		d.Rows = append(d.Rows, reconcileRow{ID: st.ProductID, Name: names[st.ProductID], Live: st, Ledger: lg,
			Mismatch: st.Available != lg.Available || st.Reserved != lg.Reserved || st.Sold != lg.Sold || st.Void != lg.Void})
	}
	p.Title = p.L.T("admin.reconcile.title")
	p.Data = d
	s.render(w, r, http.StatusOK, "admin/reconcile", p)
}
