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
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		l := s.cat.Printer(s.lang(w, r))
		bare.Execute(w, bareView{Lang: l.Lang(), Title: c.Title, Body: c.Body, Refresh: int(c.Refresh / time.Second),
			TestMode: s.gateways.TestMode(), Banner: l.T("testmode.banner")}) // a failed write means the buyer went away
		return
	}
	p := s.newPage(w, r, "")
	p.Title = c.Title
	p.Data = c.Body
	p.Refresh = int(c.Refresh / time.Second)
	s.render(w, r, status, "gateway", p)
}

// bare is a gateway's page on a server without the storefront.
var bare = template.Must(template.New("bare").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex">{{if .Refresh}}<meta http-equiv="refresh" content="{{.Refresh}}">{{end}}
<title>{{.Title}}</title></head><body>
{{- if .TestMode}}
<p class="testmode" role="alert">{{.Banner}}</p>
{{- end}}
<h1>{{.Title}}</h1>
{{.Body}}
</body></html>
`))

type bareView struct {
	Lang, Title, Banner string
	Body                template.HTML
	Refresh             int
	TestMode            bool
}
