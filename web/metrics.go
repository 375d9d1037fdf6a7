package web

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus metrics.
type metrics struct {
	orders         *prometheus.CounterVec
	reserveSeconds prometheus.Histogram
	notifications  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, e Engine) (*metrics, error) {
	m := &metrics{
		orders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faka_orders_total",
			Help: "Order requests by outcome: created, replayed, sold_out, invalid, rate_limited, error.",
		}, []string{"outcome"}),
		reserveSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "faka_reserve_duration_seconds",
			Help:    "Time the engine took to reserve stock for one order request.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5 ms to 4 s
		}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faka_notifications_total",
			Help: "Payment notifications by gateway and outcome: applied, duplicate, rejected, error.",
		}, []string{"gateway", "outcome"}),
	}
	for _, c := range []prometheus.Collector{m.orders, m.reserveSeconds, m.notifications, stockCollector{e}} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("web: register metrics: %w", err)
		}
	}
	for _, o := range []string{"created", "replayed", "sold_out", "invalid", "rate_limited", "error"} {
		m.orders.WithLabelValues(o) // show zeros from the start
	}
	return m, nil
}

func (m *metrics) order(outcome string) { m.orders.WithLabelValues(outcome).Inc() }

func (m *metrics) notification(gateway, outcome string) {
	m.notifications.WithLabelValues(gateway, outcome).Inc()
}

// stockCollector reports faka_stock_available per product at scrape time:
// the admission gate's value where the engine has one, else the stock the
// engine lists.
type stockCollector struct{ e Engine }

var stockDesc = prometheus.NewDesc("faka_stock_available",
	"Units of a product available to new orders.", []string{"product_id"}, nil)

// Describe sends the one descriptor.
func (c stockCollector) Describe(ch chan<- *prometheus.Desc) { ch <- stockDesc }

// Collect lists the products and reads their gate values.
func (c stockCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	views, err := c.e.Products(ctx, false)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(stockDesc, err)
		return
	}
	for _, v := range views {
		n := v.Available
		if g, ok := c.e.GateAvailable(v.ID); ok {
			n = g
		}
		ch <- prometheus.MustNewConstMetric(stockDesc, prometheus.GaugeValue, float64(n), strconv.FormatInt(v.ID, 10))
	}
}
