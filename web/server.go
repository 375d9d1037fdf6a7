// Package web is faka's HTTP server: the JSON API under /api/v1, the
// gateways' notify endpoints and pages under /pay, and the operational
// endpoints /metrics, /healthz and /readyz (DESIGN.md §6).
package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/payment"
)

// Engine is what the server needs of the order engine; *engine.Engine
// implements it.
type Engine interface {
	CreateProduct(ctx context.Context, p *faka.Product, stock int64) error
	UpdateProduct(ctx context.Context, p *faka.Product) error
	Product(ctx context.Context, id int64) (*faka.Product, error)
	Products(ctx context.Context, activeOnly bool) ([]engine.ProductView, error)
	ImportKeys(ctx context.Context, productID int64, r io.Reader) (faka.ImportResult, error)
	AddStock(ctx context.Context, productID int64, n int64) (faka.ImportResult, error)
	Reserve(ctx context.Context, req engine.ReserveRequest) (*engine.Reservation, error)
	ConfirmPayment(ctx context.Context, n faka.Notification) (*faka.ConfirmResult, error)
	Order(ctx context.Context, orderNo string) (*faka.Order, error)
	OrderForBuyer(ctx context.Context, orderNo, token string) (*faka.Order, error)
	OrderKeys(ctx context.Context, o *faka.Order) ([]string, error)
	CancelOrder(ctx context.Context, orderNo string) (*faka.Order, error)
	RefundOrder(ctx context.Context, orderNo string) (*faka.Order, error)
	DeliverManual(ctx context.Context, orderNo, note string) (*faka.Order, error)
	Reconcile(ctx context.Context) (*faka.ReconcileReport, error)
	GateAvailable(productID int64) (int64, bool)
}

// Config configures a Server.
type Config struct {
	Engine   Engine
	Gateways *payment.Registry // nil: no gateway enabled
	// AdminToken is the bearer token the admin API accepts; empty closes
	// the admin API.
	AdminToken string
	// PublicURL is the base of absolute links to this server, such as the
	// order page a gateway returns the buyer to; empty makes them relative.
	PublicURL string
	// OrderRate is how many orders one client IP may create per minute;
	// 0 is unlimited (load tests). One email address gets half of it.
	OrderRate int
	// TrustedProxies are the networks whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger // nil: discard
	// Registry receives the server's metrics and is served at /metrics;
	// nil makes a fresh one with the Go and process collectors.
	Registry *prometheus.Registry
	// Ready reports whether the server can take traffic (/readyz); nil
	// means always.
	Ready func(ctx context.Context) error
}

// Server is the HTTP handler of faka. Create it with New.
type Server struct {
	cfg      Config
	engine   Engine
	gateways *payment.Registry
	log      *slog.Logger
	mux      *http.ServeMux
	metrics  *metrics
	ipLimit  *limiter // nil when unlimited
	mailLim  *limiter // nil when unlimited
	adminSum [32]byte // SHA-256 of the admin token, compared in constant time
	pages    sync.Map // gateway name → http.Handler of its pages
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Engine == nil {
		return nil, errors.New("web: Config.Engine is required")
	}
	if cfg.OrderRate < 0 {
		return nil, errors.New("web: Config.OrderRate must not be negative")
	}
	s := &Server{
		cfg:      cfg,
		engine:   cfg.Engine,
		gateways: cfg.Gateways,
		log:      cfg.Logger,
		mux:      http.NewServeMux(),
	}
	s.cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if s.gateways == nil {
		s.gateways, _ = payment.NewRegistry()
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if cfg.AdminToken != "" {
		s.adminSum = tokenSum(cfg.AdminToken)
	}
	if cfg.OrderRate > 0 {
		s.ipLimit = newLimiter(cfg.OrderRate)
		s.mailLim = newLimiter(max(1, cfg.OrderRate/2))
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m, err := newMetrics(reg, s.engine)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	s.routes(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return s, nil
}

func (s *Server) routes(metricsHandler http.Handler) {
	m := s.mux
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /readyz", s.readyz)
	m.Handle("GET /metrics", metricsHandler)

	m.HandleFunc("GET /api/v1/products", s.listProducts)
	m.HandleFunc("POST /api/v1/products", s.admin(s.createProduct))
	m.HandleFunc("GET /api/v1/products/{id}", s.getProduct)
	m.HandleFunc("PATCH /api/v1/products/{id}", s.admin(s.updateProduct))
	m.HandleFunc("POST /api/v1/products/{id}/keys", s.admin(s.importKeys))
	m.HandleFunc("POST /api/v1/products/{id}/stock", s.admin(s.addStock))

	m.HandleFunc("POST /api/v1/orders", s.createOrder)
	m.HandleFunc("GET /api/v1/orders/{order_no}", s.getOrder)
	m.HandleFunc("POST /api/v1/orders/{order_no}/cancel", s.cancelOrder)
	m.HandleFunc("POST /api/v1/orders/{order_no}/refund", s.admin(s.refundOrder))
	m.HandleFunc("POST /api/v1/orders/{order_no}/deliver", s.admin(s.deliverOrder))

	m.HandleFunc("GET /api/v1/reconcile", s.admin(s.reconcile))

	m.HandleFunc("POST /pay/{gateway}/notify", s.notify)
	m.HandleFunc("/pay/{gateway}/{rest...}", s.gatewayPage)
}

// ServeHTTP sets the headers every response carries, recovers from
// panics, and answers unknown routes and wrong methods in JSON.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("web: panic", "method", r.Method, "path", r.URL.Path, "panic", v)
			s.writeError(w, r, faka.Errorf(faka.EInternal, "panic"))
		}
	}()
	if _, pattern := s.mux.Handler(r); pattern == "" {
		// No route: the mux answers 404, 405 or a redirect to a clean path.
		w = &routeErrorWriter{ResponseWriter: w}
	}
	s.mux.ServeHTTP(w, r)
}
