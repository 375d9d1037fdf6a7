// Package web is faka's HTTP server: the storefront (/, /products, /orders,
// /lookup), the merchant's console under /admin, the JSON API under
// /api/v1, the gateways' notify endpoints and pages under /pay, and the
// operational endpoints /metrics, /healthz and /readyz (README.md, "Buying a key through the API").
package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/password"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/web/i18n"
)

// Engine is what the server needs of the order engine; *engine.Engine
// implements it.
type Engine interface {
	CreateProduct(ctx context.Context, p *faka.Product, stock int64, shop *faka.ProductShop) error
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

	// For the console.
	VoidKeys(ctx context.Context, productID int64, keyIDs []int64) (int, error)
	Stock(ctx context.Context) ([]faka.Stock, error)
	Payments(ctx context.Context, orderID int64) ([]*faka.Payment, error)
	OpenSealed(productID int64, sk faka.SealedKey) (string, error)
	CheckQueryPassword(o *faka.Order, pw string) bool
}

// Config configures a Server.
type Config struct {
	Engine   Engine
	Gateways *payment.Registry // nil: no gateway enabled
	// GatewaySettings configures gateways from the database through
	// /api/v1/gateways, enabling them in Gateways; nil leaves only the
	// buyers' list of enabled gateways.
	GatewaySettings *payment.Manager
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
	// MetricsToken, when set, is a bearer token that opens /metrics to
	// clients other than loopback ones; empty keeps it loopback-only.
	MetricsToken string
	// Ready reports whether the server can take traffic (/readyz); nil
	// means always.
	Ready func(ctx context.Context) error
	// ReadyDetail, when set, adds facts to /readyz's reply, such as whether
	// the shared admission gate is bypassed (ready, but slower).
	ReadyDetail func() map[string]any
	// LastBackup, when set, reports the last backup of the embedded
	// database (ok false: none yet), shown on the console's dashboard; nil
	// shows nothing (PostgreSQL is backed up with its own tools).
	LastBackup func() (at time.Time, path string, ok bool)
	// SharedLimiter, when set, makes the order rate limits count across
	// every instance (Redis); nil keeps them in process.
	SharedLimiter SharedLimiter

	// Shop and Accounts keep the storefront's and the console's data.
	// With both set the server also serves the storefront and /admin;
	// without them, only the API.
	Shop     faka.ShopStore
	Accounts faka.AccountStore
	// Settings keeps the shop settings (name, notice, time zone, …) that
	// every page shows and /api/v1/shop reads and changes; nil serves
	// faka.DefaultShopSettings and refuses changes.
	Settings faka.ShopSettingsStore
	// PasswordParams are the argon2id costs of new console passwords;
	// zero means password.DefaultParams().
	PasswordParams password.Params
	// Sealer (the keyring) seals the console's TOTP secrets and sign-in
	// tickets; nil leaves two-factor sign-in unavailable.
	Sealer payment.Sealer
	// Hasher runs every password hash of the server with a bound on how
	// many run at once (each costs PasswordParams.Memory); nil makes one
	// with DefaultHashSlots and DefaultHashQueue.
	Hasher *password.Hasher
}

// The default bound on concurrent password hashes: with the default 46 MiB
// each, two running and the rest waiting keep a burst of sign-ins to about
// 100 MiB of hashing memory.
const (
	DefaultHashSlots = 2
	DefaultHashQueue = 32
)

// Server is the HTTP handler of faka. Create it with New.
type Server struct {
	cfg       Config
	engine    Engine
	gateways  *payment.Registry
	log       *slog.Logger
	mux       *http.ServeMux
	metrics   *metrics
	ipLimit   *limiter // nil when unlimited
	mailLim   *limiter // nil when unlimited
	adminSum  [32]byte // SHA-256 of the admin token, compared in constant time
	badTokens *limiter // wrong bearer tokens per client
	pagesMu   sync.Mutex
	pages     map[string]gatewayPages // by gateway name: the pages of the gateway now registered
	cop       *http.CrossOriginProtection
	root      http.Handler // mux behind the cross-origin check

	// The storefront and the console; views is nil when they are off.
	shop     faka.ShopStore
	accounts faka.AccountStore
	views    *views
	cat      *i18n.Catalog
	md       *markdown
	secure   bool // the public URL is https: Secure, __Host- cookies
	hasher   *password.Hasher

	lookupIP, lookupOrder *limiter     // order lookups per client and per order number
	loginIP, loginAccount *limiter     // console sign-in attempts per client and per (account, client)
	dummyHash             string       // verified for unknown accounts, so that they take as long
	nextPurge             atomic.Int64 // Unix seconds after which expired sessions and lookup tokens are deleted
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
		if err := CheckAdminToken(cfg.AdminToken); err != nil {
			return nil, fmt.Errorf("web: %w", err)
		}
		s.adminSum = tokenSum(cfg.AdminToken)
	}
	s.badTokens = newLimiter(badTokensPerClient)
	if cfg.OrderRate > 0 {
		s.ipLimit = newLimiter(cfg.OrderRate)
		s.mailLim = newLimiter(max(1, cfg.OrderRate/2))
		if cfg.SharedLimiter != nil {
			s.ipLimit.share(cfg.SharedLimiter, "orders:ip", s.log)
			s.mailLim.share(cfg.SharedLimiter, "orders:email", s.log)
		}
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
	s.cop = http.NewCrossOriginProtection()
	// Gateways sign their notifications; some post them from the buyer's
	// browser, which a cross-origin check would refuse.
	s.cop.AddInsecureBypassPattern("POST /pay/{gateway}/notify")
	if u, err := url.Parse(s.cfg.PublicURL); err == nil && u.Scheme != "" && u.Host != "" {
		// Behind a proxy that rewrites Host, the public origin still counts.
		if err := s.cop.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			return nil, fmt.Errorf("web: public URL: %w", err)
		}
		s.secure = u.Scheme == "https"
	}
	s.cop.SetDenyHandler(http.HandlerFunc(s.crossOrigin))
	// The gateways' pages speak the visitor's language even without the
	// storefront.
	if s.cat, err = i18n.New(); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	if cfg.Shop != nil && cfg.Accounts != nil {
		if err := s.initPages(); err != nil {
			return nil, err
		}
	}
	s.routes(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	s.root = s.cop.Handler(s.mux)
	return s, nil
}

// initPages prepares the storefront and the console.
func (s *Server) initPages() error {
	var err error
	s.md = newMarkdown()
	s.shop, s.accounts = s.cfg.Shop, s.cfg.Accounts
	params := s.cfg.PasswordParams
	if params == (password.Params{}) {
		params = password.DefaultParams()
	}
	s.lookupIP, s.lookupOrder = newLimiter(lookupsPerIP), newLimiter(lookupsPerOrder)
	s.loginIP, s.loginAccount = newLimiter(loginsPerIP), newLimiter(loginsPerAccount)
	if sl := s.cfg.SharedLimiter; sl != nil {
		// Guessing spread over several instances is still guessing.
		s.lookupIP.share(sl, "lookup:ip", s.log)
		s.lookupOrder.share(sl, "lookup:order", s.log)
		s.loginIP.share(sl, "login:ip", s.log)
		s.loginAccount.share(sl, "login:account-client", s.log)
	}
	s.hasher = s.cfg.Hasher
	if s.hasher == nil {
		if s.hasher, err = password.NewHasher(params, DefaultHashSlots, DefaultHashQueue); err != nil {
			return fmt.Errorf("web: %w", err)
		}
	}
	if s.dummyHash, err = password.Hash(newToken(), s.hasher.Params()); err != nil {
		return fmt.Errorf("web: %w", err)
	}
	s.views, err = loadViews(s.templateFuncs())
	return err
}

// crossOrigin answers a state-changing request that came from another
// site: the CSRF defence of every form.
func (s *Server) crossOrigin(w http.ResponseWriter, r *http.Request) {
	err := faka.Errorf(faka.EForbidden, "cross-origin request refused")
	if s.views != nil && !strings.HasPrefix(r.URL.Path, "/api/") {
		p := s.cat.Printer(s.lang(w, r))
		s.message(w, r, http.StatusForbidden, p.T("error.title"), p.T("error.crossorigin"))
		return
	}
	s.writeError(w, r, err)
}

func (s *Server) routes(metricsHandler http.Handler) {
	m := s.mux
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /readyz", s.readyz)
	m.Handle("GET /metrics", s.metricsGuard(metricsHandler))

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
	m.HandleFunc("GET /api/v1/openapi.json", s.openAPI)

	m.HandleFunc("GET /api/v1/shop", s.getShop)
	m.HandleFunc("PATCH /api/v1/shop", s.admin(s.patchShop))

	m.HandleFunc("GET /api/v1/gateways", s.listGateways)
	m.HandleFunc("PUT /api/v1/gateways/{name}", s.admin(s.putGateway))

	m.HandleFunc("POST /pay/{gateway}/notify", s.notify)
	m.HandleFunc("GET /pay/{gateway}/notify", s.notify) // EPay notifies by GET too
	m.HandleFunc("/pay/{gateway}/{rest...}", s.gatewayPage)

	if s.views != nil {
		s.shopRoutes(m)
		s.adminRoutes(m)
	}
}

// ServeHTTP sets the headers every response carries, recovers from
// panics, and answers unknown routes and wrong methods in JSON.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w, logAccess := s.startAccess(w, r)
	defer logAccess()
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	if s.secure {
		// The shop is https: browsers never try it over plain http again.
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
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
		if s.wantsHTML(r) && r.Method == http.MethodGet {
			p := s.cat.Printer(s.lang(w, r))
			s.message(w, r, http.StatusNotFound, p.T("error.notfound.title"), p.T("error.notfound"))
			return
		}
		// No route: the mux answers 404, 405 or a redirect to a clean path.
		w = &routeErrorWriter{ResponseWriter: w}
	}
	if !s.guardBearer(w, r) {
		return
	}
	s.root.ServeHTTP(w, r)
}
