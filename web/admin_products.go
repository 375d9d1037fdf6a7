package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/web/i18n"
)

// productRow is one product in the console's list.
type productRow struct {
	ID        int64
	Name      string
	Category  string
	Delivery  faka.Delivery
	Price     string
	Available int64
	Active    bool
}

// adminProducts serves GET /admin/products.
func (s *Server) adminProducts(w http.ResponseWriter, r *http.Request, p *page, _ *faka.Admin) {
	c, err := s.catalog(r.Context(), false)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	rows := make([]productRow, 0, len(c.products))
	for _, v := range c.products {
		rows = append(rows, productRow{ID: v.ID, Name: v.Name, Category: c.categoryName(c.presentation(v.ID).CategoryID),
			Delivery: v.Delivery, Price: formatMoney(v.Price, v.Currency), Available: max(v.Available, 0), Active: v.Active})
	}
	p.Title = p.L.T("admin.products.title")
	p.Flash = flash(p.L, r)
	p.Data = rows
	s.render(w, r, http.StatusOK, "admin/products", p)
}

// flash turns ?done=… after a redirect into a notice.
func flash(l *i18n.Printer, r *http.Request) string {
	done := r.URL.Query().Get("done")
	if done == "" {
		return ""
	}
	if t := l.T("admin.done." + done); t != "admin.done."+done {
		return t
	}
	return ""
}

// productForm is the product editor's fields as typed.
type productForm struct {
	ID           int64 // 0 for a new product
	Name         string
	Description  string
	CategoryID   int64
	Delivery     faka.Delivery
	Currency     string
	Price        string // in major units, as typed
	TTLSeconds   string
	MinQuantity  string
	MaxQuantity  string
	StockDisplay faka.StockDisplay
	LowStock     string
	Active       bool
	ReusableKey  string
	Stock        string // initial units of a counted product

	Categories []*faka.Category
	Error      string
}

func (s *Server) showProductForm(w http.ResponseWriter, r *http.Request, status int, p *page, f *productForm) {
	cats, err := s.shop.CategoryList(r.Context())
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	f.Categories = cats
	if f.ID == 0 {
		p.Title = p.L.T("admin.product.new")
	} else {
		p.Title = p.L.T("admin.product.edit", f.Name)
	}
	p.Data = f
	s.render(w, r, status, "admin/product", p)
}

// adminProductNew serves GET /admin/products/new.
func (s *Server) adminProductNew(w http.ResponseWriter, r *http.Request, p *page, _ *faka.Admin) {
	s.showProductForm(w, r, http.StatusOK, p, &productForm{
		Delivery: faka.DeliveryCard, Currency: "CNY", TTLSeconds: "300", MinQuantity: "1",
		MaxQuantity: strconv.Itoa(faka.DefaultMaxQuantity), StockDisplay: faka.StockExact,
		LowStock: strconv.Itoa(faka.DefaultLowStock), Active: true, Stock: "0",
	})
}

// adminProductEdit serves GET /admin/products/{id}.
func (s *Server) adminProductEdit(w http.ResponseWriter, r *http.Request, p *page, _ *faka.Admin) {
	v, ps, err := s.adminProduct(r.Context(), r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	f := &productForm{
		ID: v.ID, Name: v.Name, Description: v.Description, CategoryID: ps.CategoryID, Delivery: v.Delivery,
		Currency: v.Currency, Price: formatMajor(v.Price, v.Currency),
		TTLSeconds:  strconv.FormatInt(int64(v.ReservationTTL/time.Second), 10),
		MinQuantity: strconv.Itoa(v.MinQuantity), MaxQuantity: strconv.Itoa(v.MaxQuantity),
		StockDisplay: ps.StockDisplay, LowStock: strconv.FormatInt(ps.LowStock, 10), Active: v.Active,
	}
	p.Flash = flash(p.L, r)
	s.showProductForm(w, r, http.StatusOK, p, f)
}

// adminProduct loads the product named in the path, active or not.
func (s *Server) adminProduct(ctx context.Context, r *http.Request) (engine.ProductView, faka.ProductShop, error) {
	id, err := productID(r)
	if err != nil {
		return engine.ProductView{}, faka.ProductShop{}, err
	}
	c, err := s.catalog(ctx, false)
	if err != nil {
		return engine.ProductView{}, faka.ProductShop{}, err
	}
	for _, v := range c.products {
		if v.ID == id {
			return v, c.presentation(id), nil
		}
	}
	return engine.ProductView{}, faka.ProductShop{}, faka.Errorf(faka.ENotFound, "no product %d", id)
}

// readProductForm reads the editor's fields; an error is for the person
// who typed them.
func readProductForm(l *i18n.Printer, r *http.Request, f *productForm, isNew bool) (*faka.Product, faka.ProductShop, int64, string) {
	form := r.PostForm
	f.Name = strings.TrimSpace(form.Get("name"))
	f.Description = form.Get("description")
	f.Price = strings.TrimSpace(form.Get("price"))
	f.TTLSeconds = strings.TrimSpace(form.Get("ttl_seconds"))
	f.MinQuantity = strings.TrimSpace(form.Get("min_quantity"))
	f.MaxQuantity = strings.TrimSpace(form.Get("max_quantity"))
	f.StockDisplay = faka.StockDisplay(form.Get("stock_display"))
	f.LowStock = strings.TrimSpace(form.Get("low_stock"))
	f.Active = form.Get("active") != ""
	f.CategoryID, _ = strconv.ParseInt(form.Get("category_id"), 10, 64)
	if isNew {
		f.Delivery = faka.Delivery(form.Get("delivery"))
		f.Currency = strings.ToUpper(strings.TrimSpace(form.Get("currency")))
		f.ReusableKey = strings.TrimSpace(form.Get("reusable_key"))
		f.Stock = strings.TrimSpace(form.Get("stock"))
	}
	p := &faka.Product{ID: f.ID, Name: f.Name, Description: strings.ReplaceAll(f.Description, "\r\n", "\n"),
		Currency: f.Currency, Delivery: f.Delivery, Active: f.Active, ReusableKey: f.ReusableKey}
	ps := faka.ProductShop{ProductID: f.ID, CategoryID: f.CategoryID, StockDisplay: f.StockDisplay}
	num := func(s string, dst *int) bool {
		n, err := strconv.Atoi(s)
		*dst = n
		return err == nil
	}
	var ttl, stock int
	var price int64
	var ok bool
	if price, ok = parseMoney(f.Price, f.Currency); !ok || price <= 0 {
		return nil, ps, 0, l.T("admin.product.err.price", faka.MinorDigits(f.Currency))
	}
	p.Price = price
	if !num(f.TTLSeconds, &ttl) || ttl < 1 || ttl > int(faka.MaxReservationTTL/time.Second) {
		return nil, ps, 0, l.T("admin.product.err.ttl", int(faka.MaxReservationTTL/time.Second))
	}
	p.ReservationTTL = time.Duration(ttl) * time.Second
	if !num(f.MinQuantity, &p.MinQuantity) || !num(f.MaxQuantity, &p.MaxQuantity) {
		return nil, ps, 0, l.T("admin.product.err.quantity", faka.MaxQuantityLimit)
	}
	var low int
	if !num(f.LowStock, &low) || low < 0 {
		return nil, ps, 0, l.T("admin.product.err.lowstock")
	}
	ps.LowStock = int64(low)
	if isNew && f.Stock != "" && (!num(f.Stock, &stock) || stock < 0) {
		return nil, ps, 0, l.T("admin.product.err.stock")
	}
	if isNew && stock > 0 && !p.Delivery.Counted() {
		return nil, ps, 0, l.T("admin.product.err.cardstock")
	}
	return p, ps, int64(stock), ""
}

// adminProductCreate serves POST /admin/products.
func (s *Server) adminProductCreate(w http.ResponseWriter, r *http.Request, p *page, _ *faka.Admin) {
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	f := &productForm{}
	prod, ps, stock, msg := readProductForm(p.L, r, f, true)
	if msg == "" {
		// One transaction: a refused presentation (a category deleted
		// meanwhile) creates no product, so a retry makes no duplicate.
		err := s.engine.CreateProduct(r.Context(), prod, stock, &ps)
		if err != nil && faka.ErrorCode(err) != faka.EInvalid {
			s.pageError(w, r, err)
			return
		}
		if err != nil {
			msg = faka.ErrorMessage(err)
		}
	}
	if msg != "" {
		f.Error = msg
		s.showProductForm(w, r, http.StatusUnprocessableEntity, p, f)
		return
	}
	next := "/admin/products/" + strconv.FormatInt(prod.ID, 10) + "/keys?done=created"
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// adminProductUpdate serves POST /admin/products/{id}. Delivery and
// currency stay as created: orders refer to them.
func (s *Server) adminProductUpdate(w http.ResponseWriter, r *http.Request, p *page, _ *faka.Admin) {
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	v, _, err := s.adminProduct(r.Context(), r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	f := &productForm{ID: v.ID, Delivery: v.Delivery, Currency: v.Currency}
	prod, ps, _, msg := readProductForm(p.L, r, f, false)
	if msg == "" {
		err := s.engine.UpdateProduct(r.Context(), prod)
		if err == nil {
			err = s.shop.ProductShopSet(r.Context(), ps)
		}
		if err != nil && faka.ErrorCode(err) != faka.EInvalid {
			s.pageError(w, r, err)
			return
		}
		if err != nil {
			msg = faka.ErrorMessage(err)
		}
	}
	if msg != "" {
		f.Error = msg
		s.showProductForm(w, r, http.StatusUnprocessableEntity, p, f)
		return
	}
	http.Redirect(w, r, "/admin/products/"+strconv.FormatInt(v.ID, 10)+"?done=saved", http.StatusSeeOther)
}

// adminProductActive serves POST /admin/products/{id}/active: put a
// product on sale (active=1) or take it off (active=0).
func (s *Server) adminProductActive(w http.ResponseWriter, r *http.Request, p *page, _ *faka.Admin) {
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	id, err := productID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	prod, err := s.engine.Product(r.Context(), id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	prod.Active = r.PostForm.Get("active") == "1"
	if err := s.engine.UpdateProduct(r.Context(), prod); err != nil {
		s.pageError(w, r, err)
		return
	}
	done := "deactivated"
	if prod.Active {
		done = "activated"
	}
	http.Redirect(w, r, "/admin/products?done="+done, http.StatusSeeOther)
}

// categoryRow is one category with its number of products.
type categoryRow struct {
	*faka.Category
	Products int
}

type categoriesData struct {
	Rows  []categoryRow
	Error string
	Name  string
}

// adminCategories serves GET /admin/categories.
func (s *Server) adminCategories(w http.ResponseWriter, r *http.Request, p *page, _ *faka.Admin) {
	p.Flash = flash(p.L, r)
	s.showCategories(w, r, http.StatusOK, p, categoriesData{})
}

func (s *Server) showCategories(w http.ResponseWriter, r *http.Request, status int, p *page, d categoriesData) {
	c, err := s.catalog(r.Context(), false)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	count := map[int64]int{}
	for _, v := range c.products {
		count[c.presentation(v.ID).CategoryID]++
	}
	for _, cat := range c.categories {
		d.Rows = append(d.Rows, categoryRow{Category: cat, Products: count[cat.ID]})
	}
	p.Title = p.L.T("admin.categories.title")
	p.Data = d
	s.render(w, r, status, "admin/categories", p)
}

func categoryFromForm(r *http.Request) *faka.Category {
	sort, _ := strconv.Atoi(strings.TrimSpace(r.PostForm.Get("sort")))
	return &faka.Category{Name: r.PostForm.Get("name"), Sort: sort}
}

// adminCategoryCreate serves POST /admin/categories.
func (s *Server) adminCategoryCreate(w http.ResponseWriter, r *http.Request, p *page, _ *faka.Admin) {
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	c := categoryFromForm(r)
	if err := s.shop.CategoryCreate(r.Context(), c); err != nil {
		if faka.ErrorCode(err) == faka.EInvalid {
			s.showCategories(w, r, http.StatusUnprocessableEntity, p, categoriesData{Error: faka.ErrorMessage(err), Name: c.Name})
			return
		}
		s.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/categories?done=saved", http.StatusSeeOther)
}

// adminCategoryUpdate serves POST /admin/categories/{id}.
func (s *Server) adminCategoryUpdate(w http.ResponseWriter, r *http.Request, p *page, _ *faka.Admin) {
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	c := categoryFromForm(r)
	c.ID, _ = strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err := s.shop.CategoryUpdate(r.Context(), c); err != nil {
		if faka.ErrorCode(err) == faka.EInvalid {
			s.showCategories(w, r, http.StatusUnprocessableEntity, p, categoriesData{Error: faka.ErrorMessage(err)})
			return
		}
		s.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/categories?done=saved", http.StatusSeeOther)
}

// adminCategoryDelete serves POST /admin/categories/{id}/delete; its
// products stay, without a category.
func (s *Server) adminCategoryDelete(w http.ResponseWriter, r *http.Request, p *page, _ *faka.Admin) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err := s.shop.CategoryDelete(r.Context(), id); err != nil {
		s.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/categories?done=deleted", http.StatusSeeOther)
}
