package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
)

// The console's gateway page, /admin/gateways: every kind of gateway the
// merchant configures in the database (Config.GatewaySettings), its state
// and a form of its fields. Saving goes through the same
// payment.Manager.Put as PUT /api/v1/gateways/{name}, so the two cannot
// disagree on what is valid. Secrets never reach the page: the Manager's
// views mask them, and a secret's box is always empty; left empty (or
// holding the mask) it keeps the stored secret.

// fieldInput is the form name of a gateway field's input; the prefix keeps
// field names apart from the form's own inputs such as "enabled".
const (
	fieldInput = "f."
	clearInput = "clear."
)

// gatewayField is one setting in a gateway's form.
type gatewayField struct {
	Name      string // as the API takes it
	Input     string // the input's name
	Clear     string // the name of a secret's "remove" box
	Label     string
	Value     string // a plain field's value, stored or as typed; never a secret
	Masked    string // a stored secret's mask, shown as the placeholder
	Secret    bool
	Required  bool
	Multiline bool // a PEM key or certificate: a text area
	// Clearable: a stored secret that may be removed (not required, as
	// far as the page knows).
	Clearable bool
}

// gatewayForm is one configurable gateway on the page.
type gatewayForm struct {
	Name       string
	Title      string
	Configured bool // settings are stored
	Enabled    bool
	Active     bool // in the registry: buyers may choose it
	Default    bool
	UpdatedAt  time.Time
	Stored     string // why the stored settings cannot be used
	Inactive   bool   // enabled, yet not in use
	NotifyURL  string
	Fields     []gatewayField
	Error      string // why the last save was refused
}

// envGateway is a gateway enabled by the environment, not configurable
// here (the sandbox).
type envGateway struct {
	Name, Title string
	Default     bool
}

type gatewaysData struct {
	Configurable bool
	Relative     bool // no public URL: the notify URLs are relative
	Forms        []gatewayForm
	Env          []envGateway
}

// adminGateways serves GET /admin/gateways.
func (s *Server) adminGateways(w http.ResponseWriter, r *http.Request, p *page, _ *faka.Admin) {
	p.Flash = flash(p.L, r)
	s.showGateways(w, r, http.StatusOK, p, "", "", nil)
}

// showGateways renders the page. When failed names a gateway, its form
// shows errText and the plain values of typed instead of the stored ones.
func (s *Server) showGateways(w http.ResponseWriter, r *http.Request, status int, p *page, failed, errText string, typed url.Values) {
	d := gatewaysData{Configurable: s.cfg.GatewaySettings != nil, Relative: s.cfg.PublicURL == ""}
	configurable := map[string]bool{}
	if d.Configurable {
		views, err := s.cfg.GatewaySettings.List(r.Context())
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		d.Forms = s.gatewayForms(p, views, s.cfg.GatewaySettings.Kinds())
		for i := range d.Forms {
			f := &d.Forms[i]
			configurable[f.Name] = true
			if f.Name == failed {
				f.Error = errText
				f.Enabled = typed.Get("enabled") != ""
				for j := range f.Fields {
					if fl := &f.Fields[j]; !fl.Secret {
						fl.Value = typed.Get(fl.Input)
					}
				}
			}
		}
	}
	def := ""
	if g, ok := s.gateways.Default(); ok {
		def = g.Name()
	}
	for _, name := range s.gateways.Names() {
		if !configurable[name] {
			d.Env = append(d.Env, envGateway{Name: name, Title: gatewayTitle(p, name), Default: name == def})
		}
	}
	p.Title = p.L.T("admin.gateways.title")
	p.Data = d
	s.render(w, r, status, "admin/gateways", p)
}

// gatewayForms joins each kind with its view, in the order of the kinds.
func (s *Server) gatewayForms(p *page, views []*payment.GatewayView, kinds []payment.Kind) []gatewayForm {
	byName := map[string]*payment.GatewayView{}
	for _, v := range views {
		byName[v.Name] = v
	}
	forms := make([]gatewayForm, 0, len(kinds))
	for _, k := range kinds {
		v, ok := byName[k.Name]
		if !ok {
			v = &payment.GatewayView{Name: k.Name}
		}
		f := gatewayForm{Name: k.Name, Title: gatewayTitle(p, k.Name), Configured: v.UpdatedAt != nil,
			Enabled: v.Enabled, Active: v.Active, Default: v.Default, Stored: v.Error,
			NotifyURL: s.cfg.PublicURL + "/pay/" + url.PathEscape(k.Name) + "/notify"}
		if v.UpdatedAt != nil {
			f.UpdatedAt = *v.UpdatedAt
		}
		f.Inactive = f.Enabled && !f.Active && f.Stored == ""
		for _, fd := range k.Fields {
			gf := gatewayField{Name: fd.Name, Input: fieldInput + fd.Name, Clear: clearInput + fd.Name, Label: fieldLabel(p, k.Name, fd.Name),
				Secret: fd.Secret, Required: fd.Required, Multiline: fd.Multiline}
			val := v.Settings[fd.Name]
			if fd.Secret {
				// The view masks a stored secret; anything else there is
				// not shown either, whatever it is.
				if val != "" {
					gf.Masked = payment.MaskPrefix
					if strings.HasPrefix(val, payment.MaskPrefix) {
						gf.Masked = val
					}
					gf.Clearable = !fd.Required
				}
			} else {
				gf.Value = val
			}
			f.Fields = append(f.Fields, gf)
		}
		forms = append(forms, f)
	}
	return forms
}

// gatewayTitle is a gateway's name as the pages print it.
func gatewayTitle(p *page, name string) string {
	if t := p.L.T("gateway." + name); t != "gateway."+name {
		return t
	}
	return name
}

// fieldLabel is a field's description from the catalogue, or its name.
func fieldLabel(p *page, kind, field string) string {
	key := "gwfield." + kind + "." + field
	if t := p.L.T(key); t != key {
		return t
	}
	return field
}

// adminGatewaySave serves POST /admin/gateways/{name}: the form becomes
// the same JSON object PUT /api/v1/gateways/{name} takes, given to the
// same Manager.Put. A secret left empty, or sent back masked, is left out,
// which keeps the stored one; a ticked "remove" sends it empty, which
// removes it. A refused value re-renders the page with the Manager's
// message, and nothing is stored.
func (s *Server) adminGatewaySave(w http.ResponseWriter, r *http.Request, p *page, a *faka.Admin) {
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	mgr := s.cfg.GatewaySettings
	if mgr == nil {
		s.pageError(w, r, faka.Errorf(faka.ENotFound, "gateways are not configurable on this server"))
		return
	}
	name := r.PathValue("name")
	kinds := mgr.Kinds()
	i := slices.IndexFunc(kinds, func(k payment.Kind) bool { return k.Name == name })
	if i < 0 {
		s.pageError(w, r, faka.Errorf(faka.ENotFound, "no configurable gateway %q", name))
		return
	}
	form := r.PostForm
	body := map[string]any{"enabled": form.Get("enabled") != ""}
	for _, f := range kinds[i].Fields {
		vals, given := form[fieldInput+f.Name]
		if !given {
			continue // not in the form: the stored value stays
		}
		v := strings.TrimSpace(vals[0])
		if f.Secret {
			if form.Get(clearInput+f.Name) != "" {
				body[f.Name] = ""
				continue
			}
			if v == "" || strings.HasPrefix(v, payment.MaskPrefix) {
				continue // keep the stored secret
			}
		}
		body[f.Name] = v
	}
	b, err := json.Marshal(body)
	if err != nil {
		s.pageError(w, r, fmt.Errorf("web: encode gateway settings: %w", err))
		return
	}
	v, err := mgr.Put(r.Context(), name, b)
	if err != nil {
		if c := faka.ErrorCode(err); c == faka.EInvalid || c == faka.EBadRequest {
			s.showGateways(w, r, errorStatus(err), p, name, faka.ErrorMessage(err), form)
			return
		}
		s.pageError(w, r, err)
		return
	}
	s.log.Info("web: gateway configured", "gateway", v.Name, "enabled", v.Enabled, "admin_id", a.ID)
	http.Redirect(w, r, "/admin/gateways?done=gateway#gw-"+url.PathEscape(v.Name), http.StatusSeeOther)
}
