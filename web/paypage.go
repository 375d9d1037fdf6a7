package web

import (
	"html/template"
	"net/http"
	"time"

	"github.com/faka-dev/faka/payment"
)

// The gateways' own pages (the sandbox's pay page) in the shop's layout
// and the visitor's language: payment.Host's Printer and Page.

// Printer returns the messages of the visitor's language.
func (h host) Printer(w http.ResponseWriter, r *http.Request) payment.Printer {
	return h.s.cat.Printer(h.s.lang(w, r))
}

// Page writes a gateway's page in the shop's layout. Without the
// storefront (an API-only server) it is a bare page with the same body.
func (h host) Page(w http.ResponseWriter, r *http.Request, status int, c payment.PageContent) {
	s := h.s
	if s.views == nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", pageCSP)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		template.Must(template.New("bare").Parse(`<!doctype html><html><head><meta charset="utf-8"><title>{{.Title}}</title></head><body><h1>{{.Title}}</h1>{{.Body}}</body></html>`)).
			Execute(w, struct {
				Title string
				Body  template.HTML
			}{c.Title, c.Body}) // a failed write means the buyer went away
		return
	}
	p := s.newPage(w, r, "")
	p.Title = c.Title
	p.Data = c.Body
	p.Refresh = int(c.Refresh / time.Second)
	s.render(w, r, status, "gateway", p)
}
