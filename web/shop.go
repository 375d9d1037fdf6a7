package web

import (
	"context"
	"encoding/hex"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/web/i18n"
)

// Storefront limits.
const (
	maxFormBytes     = 16 << 10
	lookupsPerIP     = 20 // order lookups per minute per client
	lookupsPerOrder  = 5  // order lookups per minute per order number
	loginsPerIP      = 10 // console sign-in attempts per minute per client
	loginsPerAccount = 5  // console sign-in attempts per minute per (account, client)
)

func (s *Server) shopRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /static/{name...}", s.serveStatic)
	m.HandleFunc("GET /{$}", s.home)
	m.HandleFunc("GET /products/{id}", s.productPage)
	m.HandleFunc("POST /products/{id}/buy", s.buy)
	m.HandleFunc("GET /orders/{order_no}", s.orderPage)
	m.HandleFunc("GET /orders/{order_no}/keys.txt", s.orderKeysText)
	m.HandleFunc("GET /lookup", s.lookupPage)
	m.HandleFunc("POST /lookup", s.lookup)
	m.HandleFunc("POST /lookup/forget", s.forget)
}

func (s *Server) templateFuncs() template.FuncMap {
	return template.FuncMap{
		"money": formatMoney,
		"list":  func(xs ...string) []string { return xs },
	}
}

// stockView is how a product's stock reads on the storefront.
type stockView struct {
	Text    string
	Level   string // "ok", "low", "out"
	SoldOut bool
}

// stockOf applies the product's stock display mode. A product is sold out
// when fewer units are left than one order must buy.
func stockOf(l *i18n.Printer, v engine.ProductView, ps faka.ProductShop) stockView {
	avail := max(v.Available, 0)
	if avail < int64(v.MinQuantity) {
		return stockView{Text: l.T("stock.soldout"), Level: "out", SoldOut: true}
	}
	level := "ok"
	if avail <= ps.LowStock {
		level = "low"
	}
	switch ps.StockDisplay {
	case faka.StockLevel:
		if level == "low" {
			return stockView{Text: l.T("stock.low"), Level: level}
		}
		return stockView{Text: l.T("stock.in"), Level: level}
	case faka.StockHidden:
		return stockView{}
	}
	return stockView{Text: l.T("stock.exact", avail), Level: level}
}

// shopCatalog is the active products with their presentation.
type shopCatalog struct {
	products   []engine.ProductView
	shop       map[int64]faka.ProductShop
	categories []*faka.Category
}

func (s *Server) catalog(ctx context.Context, activeOnly bool) (*shopCatalog, error) {
	views, err := s.engine.Products(ctx, activeOnly)
	if err != nil {
		return nil, err
	}
	shops, err := s.shop.ProductShopList(ctx)
	if err != nil {
		return nil, err
	}
	cats, err := s.shop.CategoryList(ctx)
	if err != nil {
		return nil, err
	}
	c := &shopCatalog{products: views, shop: make(map[int64]faka.ProductShop, len(shops)), categories: cats}
	for _, ps := range shops {
		c.shop[ps.ProductID] = ps
	}
	return c, nil
}

// presentation returns a product's presentation, with defaults for one
// the store does not know yet.
func (c *shopCatalog) presentation(id int64) faka.ProductShop {
	if ps, ok := c.shop[id]; ok {
		return ps
	}
	return faka.ProductShop{ProductID: id, StockDisplay: faka.StockExact, LowStock: faka.DefaultLowStock}
}

func (c *shopCatalog) categoryName(id int64) string {
	for _, cat := range c.categories {
		if cat.ID == id {
			return cat.Name
		}
	}
	return ""
}

type productCard struct {
	ID    int64
	Name  string
	Price string
	Stock stockView
}

type categoryGroup struct {
	Name     string
	Products []productCard
}

// home serves GET /: the active products grouped by category, in the
// categories' order, uncategorised ones last.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	c, err := s.catalog(r.Context(), true)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	p := s.newPage(w, r, "")
	p.Title = p.L.T("home.title")
	p.Notice = s.notice(p.Shop)
	groups := make([]categoryGroup, len(c.categories)+1)
	index := map[int64]int{}
	for i, cat := range c.categories {
		groups[i].Name = cat.Name
		index[cat.ID] = i
	}
	other := len(c.categories)
	if other > 0 {
		groups[other].Name = p.L.T("home.other")
	}
	for _, v := range c.products {
		ps := c.presentation(v.ID)
		i, ok := index[ps.CategoryID]
		if !ok {
			i = other
		}
		groups[i].Products = append(groups[i].Products, productCard{
			ID: v.ID, Name: v.Name, Price: formatMoney(v.Price, v.Currency), Stock: stockOf(p.L, v, ps),
		})
	}
	groups = slices.DeleteFunc(groups, func(g categoryGroup) bool { return len(g.Products) == 0 })
	p.Data = groups
	s.render(w, r, http.StatusOK, "home", p)
}

type gatewayOption struct {
	Name, Label string
	Checked     bool
}

// productData is the product page.
type productData struct {
	ID          int64
	Name        string
	Category    string
	Description template.HTML
	Price       string
	Stock       stockView
	Delivery    faka.Delivery
	TTLMinutes  int
	Min, Max    int
	Gateways    []gatewayOption
	Total       totalView // for Quantity

	// The form, filled again after an error.
	Quantity int
	Email    string
	Nonce    string
	Error    string
}

// productPage serves GET /products/{id}.
func (s *Server) productPage(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(w, r, "")
	d, err := s.productData(r.Context(), r, p.L)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.showProduct(w, r, http.StatusOK, p, d)
}

func (s *Server) showProduct(w http.ResponseWriter, r *http.Request, status int, p *page, d *productData) {
	p.Title = d.Name
	p.Data = d
	s.render(w, r, status, "product", p)
}

// productData loads an active product for its page, with an empty form.
func (s *Server) productData(ctx context.Context, r *http.Request, l *i18n.Printer) (*productData, error) {
	id, err := productID(r)
	if err != nil {
		return nil, err
	}
	c, err := s.catalog(ctx, true)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(c.products, func(v engine.ProductView) bool { return v.ID == id })
	if i < 0 {
		return nil, faka.Errorf(faka.ENotFound, "no product %d", id)
	}
	v := c.products[i]
	ps := c.presentation(id)
	d := &productData{
		ID:          v.ID,
		Name:        v.Name,
		Category:    c.categoryName(ps.CategoryID),
		Description: s.md.render(v.Description),
		Price:       formatMoney(v.Price, v.Currency),
		Stock:       stockOf(l, v, ps),
		Delivery:    v.Delivery,
		TTLMinutes:  int((v.ReservationTTL + time.Minute - 1) / time.Minute),
		Min:         v.MinQuantity,
		Max:         v.MaxQuantity,
		Quantity:    v.MinQuantity,
		Nonce:       newToken(),
	}
	d.Total = newTotal(v.Price, v.Currency, d.Quantity)
	def, _ := s.gateways.Default()
	for _, name := range s.gateways.Names() {
		d.Gateways = append(d.Gateways, gatewayOption{Name: name, Label: gatewayLabel(l, name),
			Checked: def != nil && def.Name() == name})
	}
	return d, nil
}

// gatewayLabel names a gateway for buyers.
func gatewayLabel(l *i18n.Printer, name string) string {
	if t := l.T("gateway." + name); t != "gateway."+name {
		return t
	}
	return name
}

// buy serves POST /products/{id}/buy: the storefront's checkout. It takes
// the API's path: the same rate limits, the same checks, the engine's
// reservation; then it sends the buyer to the gateway's pay page. A hidden
// nonce in the form is the Idempotency-Key, so a double click or a resent
// form makes one order, not two.
func (s *Server) buy(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	p := s.newPage(w, r, "/products/"+r.PathValue("id"))
	if wait, ok := s.ipLimit.allow(s.clientKey(r)); !ok {
		s.metrics.order("rate_limited")
		s.pageRateLimited(w, r, wait)
		return
	}
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	d, err := s.productData(r.Context(), r, p.L)
	if err != nil {
		s.metrics.order("invalid")
		s.pageError(w, r, err)
		return
	}
	f := r.PostForm
	d.Email = strings.TrimSpace(f.Get("email"))
	if nonce := f.Get("nonce"); validToken(nonce) {
		d.Nonce = nonce
	}
	for i := range d.Gateways {
		d.Gateways[i].Checked = d.Gateways[i].Name == f.Get("gateway")
	}
	fail := func(msg string) {
		s.metrics.order("invalid")
		d.Error = msg
		s.showProduct(w, r, http.StatusUnprocessableEntity, p, d)
	}
	qty, err := strconv.Atoi(strings.TrimSpace(f.Get("quantity")))
	if err == nil {
		d.Quantity = qty
		if qty >= d.Min && qty <= d.Max {
			d.Total = d.Total.of(qty)
		}
	}
	email, emailErr := faka.NormalizeEmail(d.Email)
	gw, gwOK := s.gatewayFor(f.Get("gateway"))
	switch {
	case err != nil || qty < d.Min || qty > d.Max:
		fail(p.L.T("buy.err.quantity", d.Min, d.Max))
		return
	case emailErr != nil:
		fail(p.L.T("buy.err.email"))
		return
	case faka.CheckQueryPassword(f.Get("query_password")) != nil:
		fail(p.L.T("buy.err.password", faka.MaxQueryPasswordLength))
		return
	case !gwOK:
		fail(p.L.T("buy.err.gateway"))
		return
	case d.Stock.SoldOut:
		s.metrics.order("sold_out")
		s.soldOut(w, r, p, d)
		return
	}
	req := engine.ReserveRequest{
		ProductID:     d.ID,
		Quantity:      qty,
		Email:         email,
		Gateway:       gw.Name(),
		QueryPassword: f.Get("query_password"),
		Client:        s.clientKey(r),
	}
	// The key covers the values too: the same form sent twice is one
	// order, the form changed and sent again is the order the buyer now
	// wants.
	req.RequestHash = requestHash(req, s.clientKey(r))
	req.IdempotencyKey = "web:" + d.Nonce + ":" + hex.EncodeToString(req.RequestHash[:12])
	res, payURL, err := s.checkout(r.Context(), req, gw)
	if wait, ok := asEmailLimited(err); ok {
		s.metrics.order("rate_limited")
		s.pageRateLimited(w, r, wait)
		return
	}
	if gerr, ok := asPayURL(err); ok {
		s.log.Warn("web: pay URL", "gateway", gw.Name(), "err", gerr)
		s.message(w, r, http.StatusServiceUnavailable, p.L.T("error.title"), p.L.T("buy.err.gatewaydown"))
		return
	}
	switch code := faka.ErrorCode(err); {
	case err == nil:
	case code == faka.ESoldOut:
		s.metrics.order("sold_out")
		s.soldOut(w, r, p, d)
		return
	case code == faka.EConflict:
		// The same form sent again while its twin is still being served:
		// ask for a fresh try with a new nonce.
		d.Nonce = newToken()
		fail(p.L.T("buy.err.resubmit"))
		return
	case code == faka.EInvalid:
		fail(faka.ErrorMessage(err))
		return
	case code == faka.ERateLimited:
		s.metrics.order("rate_limited")
		d.Error = p.L.T("buy.err.holding")
		s.showProduct(w, r, http.StatusTooManyRequests, p, d)
		return
	default:
		s.metrics.order(orderOutcome(err))
		s.pageError(w, r, err)
		return
	}
	o := res.Order
	s.remember(w, r, o.ID)
	http.Redirect(w, r, payURL, http.StatusSeeOther)
}

// gatewayFor returns the named enabled gateway, or the default for "".
func (s *Server) gatewayFor(name string) (payment.Gateway, bool) {
	if name == "" {
		return s.gateways.Default()
	}
	return s.gateways.Get(name)
}

func (s *Server) soldOut(w http.ResponseWriter, r *http.Request, p *page, d *productData) {
	s.message(w, r, http.StatusConflict, p.L.T("soldout.title"), p.L.T("soldout.text", d.Name),
		link{"/products/" + strconv.FormatInt(d.ID, 10), p.L.T("soldout.back")},
		link{"/", p.L.T("nav.home")})
}

// pageRateLimited answers 429 with a page and Retry-After.
func (s *Server) pageRateLimited(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	secs := max(int64((wait+time.Second-1)/time.Second), 1)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	l := s.cat.Printer(s.lang(w, r))
	s.message(w, r, http.StatusTooManyRequests, l.T("ratelimit.title"), l.T("ratelimit.text", secs))
}

// parseForm reads a small url-encoded or multipart form.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			return faka.Errorf(faka.ETooLarge, "the form is too large")
		}
		return faka.Errorf(faka.EBadRequest, "the form could not be read")
	}
	return nil
}
