package web

import (
	"net/http"

	"github.com/faka-dev/faka"
)

// The console's shop settings page: /admin/shop edits what
// PATCH /api/v1/shop edits, with the same validation (faka.ShopSettings).

// shopFormData is the settings form: the values shown (as stored, or as
// typed when refused) and the problem, if any.
type shopFormData struct {
	faka.ShopSettings
	Error     string
	Languages []string
}

// adminShop serves GET /admin/shop.
func (s *Server) adminShop(w http.ResponseWriter, r *http.Request, p *page, _ *faka.Admin) {
	p.Flash = flash(p.L, r)
	s.showShopForm(w, r, http.StatusOK, p, shopFormData{ShopSettings: p.Shop})
}

func (s *Server) showShopForm(w http.ResponseWriter, r *http.Request, status int, p *page, d shopFormData) {
	p.Title = p.L.T("admin.shop.title")
	d.Languages = []string{faka.LangZhCN, faka.LangEn}
	p.Data = d
	s.render(w, r, status, "admin/shop", p)
}

// adminShopSave serves POST /admin/shop. Every field of the form is
// sent, so every one is set; a refused value is shown again with the
// problem and nothing is saved.
func (s *Server) adminShopSave(w http.ResponseWriter, r *http.Request, p *page, _ *faka.Admin) {
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	f := r.PostForm
	field := func(name string) *string {
		if _, ok := f[name]; !ok {
			return nil // a form without the field keeps it
		}
		v := f.Get(name)
		return &v
	}
	u := faka.ShopSettingsUpdate{Name: field("name"), Tagline: field("tagline"), Notice: field("notice"),
		Contact: field("contact"), LogoURL: field("logo_url"), Timezone: field("timezone"),
		DefaultLanguage: field("default_language")}
	if _, err := s.updateSettings(r.Context(), u); err != nil {
		if faka.ErrorCode(err) == faka.EInvalid {
			typed := p.Shop
			u.Apply(&typed)
			s.showShopForm(w, r, http.StatusUnprocessableEntity, p, shopFormData{ShopSettings: typed, Error: faka.ErrorMessage(err)})
			return
		}
		s.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/shop?done=shop", http.StatusSeeOther)
}
