package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/faka-dev/faka"
)

// The shop settings (faka.ShopSettings): GET /api/v1/shop (public),
// PATCH /api/v1/shop (admin), and what every page takes from them.

// shopJSON is the shop settings on the wire (README.md, "Shop settings").
type shopJSON struct {
	Name            string `json:"name"`
	Tagline         string `json:"tagline"`
	Notice          string `json:"notice"`
	Contact         string `json:"contact"`
	LogoURL         string `json:"logo_url"`
	Timezone        string `json:"timezone"`
	DefaultLanguage string `json:"default_language"`
}

func newShopJSON(st faka.ShopSettings) shopJSON {
	return shopJSON{Name: st.Name, Tagline: st.Tagline, Notice: st.Notice, Contact: st.Contact,
		LogoURL: st.LogoURL, Timezone: st.Timezone, DefaultLanguage: st.DefaultLanguage}
}

// shopPatch is the body of PATCH /api/v1/shop: absent fields keep their
// value.
type shopPatch struct {
	Name            *string `json:"name"`
	Tagline         *string `json:"tagline"`
	Notice          *string `json:"notice"`
	Contact         *string `json:"contact"`
	LogoURL         *string `json:"logo_url"`
	Timezone        *string `json:"timezone"`
	DefaultLanguage *string `json:"default_language"`
}

func (p shopPatch) update() faka.ShopSettingsUpdate {
	return faka.ShopSettingsUpdate{Name: p.Name, Tagline: p.Tagline, Notice: p.Notice, Contact: p.Contact,
		LogoURL: p.LogoURL, Timezone: p.Timezone, DefaultLanguage: p.DefaultLanguage}
}

// settings returns the shop settings; without a settings store, the
// defaults.
func (s *Server) settings(ctx context.Context) (faka.ShopSettings, error) {
	if s.cfg.Settings == nil {
		return faka.DefaultShopSettings(), nil
	}
	st, err := s.cfg.Settings.ShopSettingsGet(ctx)
	if err != nil {
		return faka.ShopSettings{}, err
	}
	return st, nil
}

// updateSettings saves u and returns the settings now stored.
func (s *Server) updateSettings(ctx context.Context, u faka.ShopSettingsUpdate) (faka.ShopSettings, error) {
	if s.cfg.Settings == nil {
		return faka.ShopSettings{}, faka.Errorf(faka.EUnavailable, "this server keeps no shop settings")
	}
	return s.cfg.Settings.ShopSettingsUpdate(ctx, u)
}

// getShop serves GET /api/v1/shop.
func (s *Server) getShop(w http.ResponseWriter, r *http.Request) {
	st, err := s.settings(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newShopJSON(st))
}

// patchShop serves PATCH /api/v1/shop (admin). A field that fails
// faka.ShopSettings.Validate is 422 invalid naming it, and nothing is
// saved.
func (s *Server) patchShop(w http.ResponseWriter, r *http.Request) {
	var req shopPatch
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.updateSettings(r.Context(), req.update())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newShopJSON(st))
}

// noticeView is the shop's notice as the home page shows it. ID changes
// with the text, so that a buyer who dismissed one notice sees the next.
type noticeView struct {
	ID   string
	HTML template.HTML
}

// notice renders the shop's notice with the storefront's sanitising
// Markdown renderer; nil when there is none.
func (s *Server) notice(st faka.ShopSettings) *noticeView {
	if strings.TrimSpace(st.Notice) == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(st.Notice))
	return &noticeView{ID: hex.EncodeToString(sum[:6]), HTML: s.md.render(st.Notice)}
}

// formatTime is how pages show a time: in the shop's zone, labelled with
// it, so that a buyer abroad knows which clock it is.
func formatTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format("2006-01-02 15:04") + " (" + loc.String() + ")"
}
