package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
)

// keysPage is how many keys the console lists at once.
const keysPage = 100

// keyRow is one card key in the console: masked unless revealed.
type keyRow struct {
	faka.KeyInfo
	Secret    string // "" while masked
	Voidable  bool
	StateText string
}

// importReport is the result of the last import, shown after it.
type importReport struct {
	Imported, Duplicates, Rejected, Fulfilled int
}

type keysData struct {
	Product  engine.ProductView
	Stock    faka.Stock
	Counted  bool
	State    string // the list's state filter
	Keys     []keyRow
	Older    string // link to the next page, or ""
	Report   *importReport
	Audit    []faka.KeyAudit
	Error    string
	Revealed bool
}

var keyStates = map[string]faka.KeyState{
	"available": faka.KeyAvailable, "reserved": faka.KeyReserved, "sold": faka.KeySold, "void": faka.KeyVoid,
}

// adminKeys serves GET /admin/products/{id}/keys: the import form and its
// report, the keys with their state and order, the audit log.
func (s *Server) adminKeys(w http.ResponseWriter, r *http.Request, p *page, _ *faka.Admin) {
	p.Flash = flash(p.L, r)
	d := keysData{}
	q := r.URL.Query()
	if q.Has("imported") {
		num := func(k string) int { n, _ := strconv.Atoi(q.Get(k)); return n }
		d.Report = &importReport{num("imported"), num("duplicates"), num("rejected"), num("fulfilled")}
	}
	s.showKeys(w, r, http.StatusOK, p, d, nil)
}

// showKeys renders the keys page; revealed holds secrets shown on request.
func (s *Server) showKeys(w http.ResponseWriter, r *http.Request, status int, p *page, d keysData, revealed map[int64]string) {
	ctx := r.Context()
	v, _, err := s.adminProduct(ctx, r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d.Product, d.Counted = v, v.Delivery.Counted()
	stock, err := s.engine.Stock(ctx)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	for _, st := range stock {
		if st.ProductID == v.ID {
			d.Stock = st
		}
	}
	if !d.Counted {
		q := r.URL.Query()
		f := faka.KeyFilter{ProductID: v.ID, Limit: keysPage}
		d.State = q.Get("state")
		if st, ok := keyStates[d.State]; ok {
			f.States = []faka.KeyState{st}
		} else {
			d.State = ""
		}
		f.BeforeID, _ = strconv.ParseInt(q.Get("before"), 10, 64)
		keys, err := s.shop.KeyList(ctx, f)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		d.Keys = s.keyRows(p, keys, revealed)
		if len(keys) == keysPage {
			u := url.Values{"before": {strconv.FormatInt(keys[len(keys)-1].ID, 10)}}
			if d.State != "" {
				u.Set("state", d.State)
			}
			d.Older = fmt.Sprintf("/admin/products/%d/keys?%s", v.ID, u.Encode())
		}
	}
	d.Revealed = len(revealed) > 0
	if d.Audit, err = s.shop.KeyAuditList(ctx, v.ID, 20); err != nil {
		s.pageError(w, r, err)
		return
	}
	p.Title = p.L.T("admin.keys.title", v.Name)
	p.Data = d
	if d.Revealed {
		// A page with a secret on it: keep it out of every cache.
		w.Header().Set("Cache-Control", "no-store")
	}
	s.render(w, r, status, "admin/keys", p)
}

func (s *Server) keyRows(p *page, keys []faka.KeyInfo, revealed map[int64]string) []keyRow {
	rows := make([]keyRow, len(keys))
	for i, k := range keys {
		rows[i] = keyRow{KeyInfo: k, Secret: revealed[k.ID], Voidable: k.State == faka.KeyAvailable,
			StateText: p.L.T("key." + k.State.String())}
	}
	return rows
}

// adminKeysImport serves POST /admin/products/{id}/keys: keys pasted into
// the form or uploaded as a file, one per line, through the engine. The
// report comes back on the keys page.
func (s *Server) adminKeysImport(w http.ResponseWriter, r *http.Request, p *page, _ *faka.Admin) {
	id, err := productID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxKeysBytes)
	var in bytes.Buffer
	if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		if errors.As(err, new(*http.MaxBytesError)) {
			s.pageError(w, r, faka.Errorf(faka.ETooLarge, "the upload is larger than %d MiB", maxKeysBytes>>20))
			return
		}
		s.pageError(w, r, faka.Errorf(faka.EBadRequest, "the form could not be read"))
		return
	} else if errors.Is(err, http.ErrNotMultipart) {
		if err := r.ParseForm(); err != nil {
			s.pageError(w, r, faka.Errorf(faka.EBadRequest, "the form could not be read"))
			return
		}
	}
	in.WriteString(r.PostFormValue("keys"))
	if file, _, err := r.FormFile("file"); err == nil {
		in.WriteByte('\n')
		_, err = io.Copy(&in, file)
		file.Close()
		if err != nil {
			s.pageError(w, r, faka.Errorf(faka.EBadRequest, "the file could not be read"))
			return
		}
	}
	if r.MultipartForm != nil {
		r.MultipartForm.RemoveAll()
	}
	if strings.TrimSpace(in.String()) == "" {
		s.showKeys(w, r, http.StatusUnprocessableEntity, p, keysData{Error: p.L.T("admin.keys.err.empty")}, nil)
		return
	}
	res, err := s.engine.ImportKeys(r.Context(), id, &in)
	if err != nil {
		if c := faka.ErrorCode(err); c == faka.EInvalid || c == faka.EInvalidState {
			s.showKeys(w, r, http.StatusUnprocessableEntity, p, keysData{Error: faka.ErrorMessage(err)}, nil)
			return
		}
		s.pageError(w, r, err)
		return
	}
	u := url.Values{}
	u.Set("imported", strconv.Itoa(res.Imported))
	u.Set("duplicates", strconv.Itoa(res.Duplicates))
	u.Set("rejected", strconv.Itoa(res.Rejected))
	u.Set("fulfilled", strconv.Itoa(res.Fulfilled))
	http.Redirect(w, r, fmt.Sprintf("/admin/products/%d/keys?%s", id, u.Encode()), http.StatusSeeOther)
}

// adminKeysVoid serves POST /admin/products/{id}/keys/void: the ticked
// keys that are still available are withdrawn from sale.
func (s *Server) adminKeysVoid(w http.ResponseWriter, r *http.Request, p *page, _ *faka.Admin) {
	id, err := productID(r)
	if err == nil {
		err = parseForm(w, r)
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	var ids []int64
	for _, v := range r.PostForm["key"] {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
			ids = append(ids, n)
		}
	}
	if len(ids) == 0 {
		s.showKeys(w, r, http.StatusUnprocessableEntity, p, keysData{Error: p.L.T("admin.keys.err.novoid")}, nil)
		return
	}
	n, err := s.engine.VoidKeys(r.Context(), id, ids)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/admin/products/%d/keys?done=voided&n=%d", id, n), http.StatusSeeOther)
}

// adminKeysExport serves POST /admin/products/{id}/keys/export: the
// product's unsold (available) keys as a text file, logged in the audit.
func (s *Server) adminKeysExport(w http.ResponseWriter, r *http.Request, p *page, a *faka.Admin) {
	ctx := r.Context()
	id, err := productID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if _, err := s.engine.Product(ctx, id); err != nil {
		s.pageError(w, r, err)
		return
	}
	sealed, err := s.shop.KeysAvailableSealed(ctx, id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	var out bytes.Buffer
	for _, sk := range sealed {
		k, err := s.engine.OpenSealed(id, sk)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		out.WriteString(k)
		out.WriteByte('\n')
	}
	// Logged before a single key leaves: no log, no keys.
	if err := s.shop.KeyAuditAdd(ctx, &faka.KeyAudit{ProductID: id, AdminID: a.ID, Action: faka.AuditExport,
		Count: len(sealed), IP: s.clientIP(r).String()}); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.log.Info("web: keys exported", "product_id", id, "admin_id", a.ID, "keys", len(sealed))
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="product-%d-unsold-keys.txt"`, id))
	h.Set("Cache-Control", "no-store")
	w.Write(out.Bytes())
}

// adminKeyReveal serves POST /admin/keys/{key}/reveal: one key's secret,
// shown on the page it was asked from (the product's keys or the order),
// after the reveal is logged.
func (s *Server) adminKeyReveal(w http.ResponseWriter, r *http.Request, p *page, a *faka.Admin) {
	ctx := r.Context()
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	keyID, _ := strconv.ParseInt(r.PathValue("key"), 10, 64)
	info, sk, err := s.shop.KeySealed(ctx, keyID)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	secret, err := s.engine.OpenSealed(info.ProductID, sk)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if err := s.shop.KeyAuditAdd(ctx, &faka.KeyAudit{ProductID: info.ProductID, KeyID: info.ID, AdminID: a.ID,
		Action: faka.AuditReveal, Count: 1, IP: s.clientIP(r).String()}); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.log.Info("web: key revealed", "key_id", info.ID, "product_id", info.ProductID, "admin_id", a.ID)
	revealed := map[int64]string{info.ID: secret}
	if orderNo := r.PostForm.Get("order"); orderNo != "" && orderNo == info.OrderNo {
		r.SetPathValue("order_no", orderNo)
		p.Admin.Section = "orders"
		s.showOrder(w, r, http.StatusOK, p, revealed)
		return
	}
	r.SetPathValue("id", strconv.FormatInt(info.ProductID, 10))
	// Keep the list the merchant was looking at.
	if back, err := url.Parse(r.PostForm.Get("back")); err == nil {
		r.URL.RawQuery = back.RawQuery
	}
	s.showKeys(w, r, http.StatusOK, p, keysData{}, revealed)
}

// adminStockAdd serves POST /admin/products/{id}/stock: units for a
// reusable or manual product.
func (s *Server) adminStockAdd(w http.ResponseWriter, r *http.Request, p *page, _ *faka.Admin) {
	id, err := productID(r)
	if err == nil {
		err = parseForm(w, r)
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	n, err := strconv.ParseInt(strings.TrimSpace(r.PostForm.Get("add")), 10, 64)
	if err != nil || n < 1 || n > 1_000_000 {
		s.showKeys(w, r, http.StatusUnprocessableEntity, p, keysData{Error: p.L.T("admin.stock.err")}, nil)
		return
	}
	res, err := s.engine.AddStock(r.Context(), id, n)
	if err != nil {
		if faka.ErrorCode(err) == faka.EInvalid {
			s.showKeys(w, r, http.StatusUnprocessableEntity, p, keysData{Error: faka.ErrorMessage(err)}, nil)
			return
		}
		s.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/admin/products/%d/keys?done=stocked&fulfilled=%d", id, res.Fulfilled), http.StatusSeeOther)
}
