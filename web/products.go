package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
)

// productJSON is a product as the API shows it. The reusable key is a
// secret and never shown.
type productJSON struct {
	ID                    int64         `json:"id"`
	Name                  string        `json:"name"`
	Description           string        `json:"description"`
	Price                 int64         `json:"price"`
	Currency              string        `json:"currency"`
	Delivery              faka.Delivery `json:"delivery"`
	Available             int64         `json:"available"`
	MinQuantity           int           `json:"min_quantity"`
	MaxQuantity           int           `json:"max_quantity"`
	ReservationTTLSeconds int64         `json:"reservation_ttl_seconds"`
	Active                bool          `json:"active"`
	CreatedAt             string        `json:"created_at,omitempty"`
}

func newProductJSON(v engine.ProductView) productJSON {
	p := v.Product
	return productJSON{
		ID:                    p.ID,
		Name:                  p.Name,
		Description:           p.Description,
		Price:                 p.Price,
		Currency:              p.Currency,
		Delivery:              p.Delivery,
		Available:             max(v.Available, 0),
		MinQuantity:           p.MinQuantity,
		MaxQuantity:           p.MaxQuantity,
		ReservationTTLSeconds: int64(p.ReservationTTL / time.Second),
		Active:                p.Active,
		CreatedAt:             timeString(p.CreatedAt),
	}
}

// productRequest is the body of POST and PATCH /api/v1/products. Absent
// fields are nil: POST fills defaults, PATCH leaves them as they are.
type productRequest struct {
	Name                  *string `json:"name"`
	Description           *string `json:"description"`
	Price                 *int64  `json:"price"`
	Currency              *string `json:"currency"`
	Delivery              *string `json:"delivery"`
	ReservationTTLSeconds *int64  `json:"reservation_ttl_seconds"`
	MinQuantity           *int    `json:"min_quantity"`
	MaxQuantity           *int    `json:"max_quantity"`
	Active                *bool   `json:"active"`
	ReusableKey           *string `json:"reusable_key"`
	Stock                 *int64  `json:"stock"`
}

// apply copies the fields that are set onto p.
func (req *productRequest) apply(p *faka.Product) error {
	if req.ReservationTTLSeconds != nil {
		ttl := *req.ReservationTTLSeconds
		if ttl < 1 || ttl > int64(faka.MaxReservationTTL/time.Second) {
			return faka.Errorf(faka.EInvalid, "reservation_ttl_seconds must be between %d and %d",
				int64(faka.MinReservationTTL/time.Second), int64(faka.MaxReservationTTL/time.Second))
		}
		p.ReservationTTL = time.Duration(ttl) * time.Second
	}
	set(&p.Name, req.Name)
	set(&p.Description, req.Description)
	set(&p.Price, req.Price)
	set(&p.MinQuantity, req.MinQuantity)
	set(&p.MaxQuantity, req.MaxQuantity)
	set(&p.Active, req.Active)
	set(&p.ReusableKey, req.ReusableKey)
	return nil
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// listProducts serves GET /api/v1/products: active products, or all of
// them for an admin asking ?all=1.
func (s *Server) listProducts(w http.ResponseWriter, r *http.Request) {
	all, _ := strconv.ParseBool(r.URL.Query().Get("all"))
	if all && !s.isAdmin(r) {
		s.unauthorized(w, r, "?all=1 needs Authorization: Bearer <admin token>")
		return
	}
	views, err := s.engine.Products(r.Context(), !all)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]productJSON, 0, len(views))
	for _, v := range views {
		out = append(out, newProductJSON(v))
	}
	writeJSON(w, http.StatusOK, map[string]any{"products": out})
}

// getProduct serves GET /api/v1/products/{id}; inactive products are
// visible to the admin only.
func (s *Server) getProduct(w http.ResponseWriter, r *http.Request) {
	id, err := productID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.productView(r.Context(), id, !s.isAdmin(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newProductJSON(v))
}

// productView returns one product with its available stock.
func (s *Server) productView(ctx context.Context, id int64, activeOnly bool) (engine.ProductView, error) {
	views, err := s.engine.Products(ctx, activeOnly)
	if err != nil {
		return engine.ProductView{}, err
	}
	for _, v := range views {
		if v.ID == id {
			return v, nil
		}
	}
	return engine.ProductView{}, faka.Errorf(faka.ENotFound, "no product %d", id)
}

// createProduct serves POST /api/v1/products (admin).
func (s *Server) createProduct(w http.ResponseWriter, r *http.Request) {
	var req productRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	p := &faka.Product{Active: true}
	if req.Currency != nil {
		p.Currency = *req.Currency
	}
	if req.Delivery != nil {
		p.Delivery = faka.Delivery(*req.Delivery)
	}
	if err := req.apply(p); err != nil {
		s.writeError(w, r, err)
		return
	}
	var stock int64 // checked by the engine (faka.CheckInitialStock)
	if req.Stock != nil {
		stock = *req.Stock
	}
	if err := s.engine.CreateProduct(r.Context(), p, stock, nil); err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.productView(r.Context(), p.ID, false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/products/"+strconv.FormatInt(p.ID, 10))
	writeJSON(w, http.StatusCreated, newProductJSON(v))
}

// updateProduct serves PATCH /api/v1/products/{id} (admin). Currency and
// delivery are fixed once a product exists: orders refer to them.
func (s *Server) updateProduct(w http.ResponseWriter, r *http.Request) {
	id, err := productID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req productRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.engine.Product(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	switch {
	case req.Currency != nil && *req.Currency != p.Currency:
		err = faka.Errorf(faka.EInvalid, "currency cannot be changed; create a new product")
	case req.Delivery != nil && faka.Delivery(*req.Delivery) != p.Delivery:
		err = faka.Errorf(faka.EInvalid, "delivery cannot be changed; create a new product")
	case req.ReusableKey != nil:
		err = faka.Errorf(faka.EInvalid, "reusable_key cannot be changed; create a new product")
	case req.Stock != nil:
		err = faka.Errorf(faka.EInvalid, "stock cannot be set; use POST /api/v1/products/%d/stock or import keys", id)
	default:
		err = req.apply(p)
	}
	if err == nil {
		err = s.engine.UpdateProduct(r.Context(), p)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.productView(r.Context(), id, false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newProductJSON(v))
}

// importKeys serves POST /api/v1/products/{id}/keys (admin): text/plain,
// one key per line. The whole body is read before anything is imported,
// so a body over the limit imports nothing.
func (s *Server) importKeys(w http.ResponseWriter, r *http.Request) {
	id, err := productID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Any text body is taken (curl --data-binary sends form-urlencoded);
	// JSON and multipart uploads would import their syntax as keys.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" ||
		strings.HasPrefix(mt, "multipart/") {
		s.writeError(w, r, faka.Errorf(faka.EBadRequest, "send keys as Content-Type: text/plain, one per line"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxKeysBytes))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			err = faka.Errorf(faka.ETooLarge, "the body is larger than %d MiB; import in parts", maxKeysBytes>>20)
		} else {
			err = faka.Errorf(faka.EBadRequest, "the body could not be read: %w", err)
		}
		s.writeError(w, r, err)
		return
	}
	res, err := s.engine.ImportKeys(r.Context(), id, bytes.NewReader(body))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// addStock serves POST /api/v1/products/{id}/stock {"add": n} (admin) for
// reusable and manual products.
func (s *Server) addStock(w http.ResponseWriter, r *http.Request) {
	id, err := productID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req struct {
		Add *int64 `json:"add"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Add == nil || *req.Add < 1 {
		s.writeError(w, r, faka.Errorf(faka.EInvalid, `"add" must be a positive number of units`))
		return
	}
	res, err := s.engine.AddStock(r.Context(), id, *req.Add)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// productID reads the {id} path segment.
func productID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, faka.Errorf(faka.ENotFound, "no product %q", r.PathValue("id"))
	}
	return id, nil
}

// timeString formats t as RFC 3339 in UTC, or "" for the zero time.
func timeString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
