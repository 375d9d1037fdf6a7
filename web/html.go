package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/web/i18n"
)

// The storefront and the console are server-rendered: html/template
// escapes everything it prints, the assets are embedded, and the pages
// work without JavaScript. app.js only adds copy buttons, countdowns and
// confirmations.

//go:embed all:templates static
var assets embed.FS

// pageCSP is the Content-Security-Policy of every HTML page: scripts and
// styles only from our own files (no inline ones), images also from https
// (merchants link them in descriptions), forms only to ourselves, never
// framed.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// views holds the parsed templates and the static files.
type views struct {
	pages   map[string]*template.Template
	static  fs.FS
	version map[string]string // static file → short content hash
}

// loadViews parses templates/layout.html and the partials (_*.html) once,
// then each page on a clone of them. Pages in templates/admin/ are named
// "admin/NAME".
func loadViews(funcs template.FuncMap) (*views, error) {
	static, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, fmt.Errorf("web: static files: %w", err)
	}
	v := &views{pages: map[string]*template.Template{}, static: static, version: map[string]string{}}
	err = fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		v.version[p] = hex.EncodeToString(sum[:4])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: hash static files: %w", err)
	}
	funcs["asset"] = func(name string) (string, error) {
		ver, ok := v.version[name]
		if !ok {
			return "", fmt.Errorf("no static file %q", name)
		}
		return "/static/" + name + "?v=" + ver, nil
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/_*.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse layout: %w", err)
	}
	for _, dir := range []string{"templates", "templates/admin"} {
		names, err := fs.Glob(assets, dir+"/*.html")
		if err != nil {
			return nil, fmt.Errorf("web: list templates: %w", err)
		}
		for _, name := range names {
			file := path.Base(name)
			if file == "layout.html" || strings.HasPrefix(file, "_") {
				continue
			}
			t, err := template.Must(base.Clone()).ParseFS(assets, name)
			if err != nil {
				return nil, fmt.Errorf("web: parse %s: %w", name, err)
			}
			key := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
			v.pages[key] = t
		}
	}
	return v, nil
}

// page is what every template gets: the printer of the visitor's
// language, the layout's fields, and the page's own Data.
type page struct {
	L        *i18n.Printer
	Lang     string
	Title    string
	ShopName string
	Shop     faka.ShopSettings // the name, logo, tagline and notice the layout shows
	Loc      *time.Location    // the shop's time zone: every time on the page is in it
	Notice   *noticeView       // the shop's notice, on the home page only
	Langs    []langLink
	Admin    *adminView // set on console pages
	Refresh  int        // seconds; 0: no <meta refresh>
	Flash    string     // a notice at the top of the page
	TestMode bool       // the sandbox is on: every page says so
	Data     any
}

// langLink is one entry of the language switch.
type langLink struct {
	Tag, Name, URL string
	Current        bool
}

// lang returns the visitor's language: ?lang= (remembered in a cookie),
// the cookie, or Accept-Language.
func (s *Server) lang(w http.ResponseWriter, r *http.Request) string {
	if q := r.URL.Query().Get("lang"); q != "" {
		if l, ok := s.cat.Match(q); ok {
			s.setCookie(w, langCookie, l, 365*24*time.Hour, http.SameSiteLaxMode)
			return l
		}
	}
	if c, err := r.Cookie(s.cookieName(langCookie)); err == nil {
		if l, ok := s.cat.Match(c.Value); ok {
			return l
		}
	}
	if l, ok := s.cat.NegotiateMatch(r.Header.Get("Accept-Language")); ok {
		return l
	}
	// The visitor states no language we have: the shop's own.
	if st, err := s.settings(r.Context()); err == nil {
		if l, ok := s.cat.Match(st.DefaultLanguage); ok {
			return l
		}
	}
	return i18n.Default
}

// Time formats t in the shop's time zone, labelled with the zone.
func (p *page) Time(t time.Time) string { return formatTime(t, p.Loc) }

// newPage starts a page for r. self is the GET address the language switch
// links to; "" means r's own address.
func (s *Server) newPage(w http.ResponseWriter, r *http.Request, self string) *page {
	st, err := s.settings(r.Context())
	if err != nil {
		// The page still shows, under the default name and zone.
		s.log.Warn("web: read shop settings", "err", err)
		st = faka.DefaultShopSettings()
	}
	lang := s.lang(w, r)
	p := &page{L: s.cat.Printer(lang), Lang: lang, ShopName: st.Name, Shop: st, Loc: st.Location(),
		TestMode: s.gateways.TestMode()}
	u := *r.URL
	if self != "" {
		pu, err := url.Parse(self)
		if err == nil {
			u = *pu
		}
	}
	for _, l := range s.cat.Langs() {
		q := u.Query()
		q.Set("lang", l)
		lu := url.URL{Path: u.Path, RawQuery: q.Encode()}
		p.Langs = append(p.Langs, langLink{Tag: l, Name: s.cat.Printer(l).T("lang.name"), URL: lu.RequestURI(), Current: l == lang})
	}
	return p
}

// render writes a page with the HTML security headers. It renders into a
// buffer first so that a template error becomes a clean 500, not half a
// page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	t, ok := s.views.pages[name]
	if !ok {
		s.log.Error("web: no template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		s.log.Error("web: render", "template", name, "path", r.URL.Path, "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString("<!doctype html><title>500</title><p>Internal error.</p>")
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Cookie, Accept-Language")
	w.WriteHeader(status)
	w.Write(buf.Bytes()) // a failed write means the visitor went away
}

// messageData is the body of the message page: a title, a text, and
// links onward.
type messageData struct {
	Text  string
	Links []link
}

type link struct{ URL, Text string }

// message renders the message page.
func (s *Server) message(w http.ResponseWriter, r *http.Request, status int, title, text string, links ...link) {
	p := s.newPage(w, r, "")
	if len(links) == 0 {
		links = []link{{"/", p.L.T("nav.home")}}
	}
	p.Title = title
	p.Data = messageData{Text: text, Links: links}
	s.render(w, r, status, "message", p)
}

// pageError renders err as a message page in the visitor's language;
// internal errors are logged and shown without detail.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	code := faka.ErrorCode(err)
	status := errorStatus(err)
	p := s.cat.Printer(s.lang(w, r))
	switch code {
	case faka.EInternal, faka.EUnavailable:
		if code == faka.EInternal {
			s.log.Error("web: page error", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		s.message(w, r, status, p.T("error.title"), p.T("error.internal"))
	case faka.ENotFound:
		s.message(w, r, status, p.T("error.notfound.title"), p.T("error.notfound"))
	default:
		s.message(w, r, status, p.T("error.title"), faka.ErrorMessage(err))
	}
}

// serveStatic serves GET /static/{name...}. A request naming the current
// version may be cached for a year; the version changes with the content.
func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	ver, ok := s.views.version[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	if r.URL.Query().Get("v") == ver {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=300")
	}
	http.ServeFileFS(w, r, s.views.static, name)
}

// wantsHTML reports whether a request for a path no route serves should be
// answered with an HTML page rather than JSON.
func (s *Server) wantsHTML(r *http.Request) bool {
	return s.views != nil && !strings.HasPrefix(r.URL.Path, "/api/") &&
		strings.Contains(r.Header.Get("Accept"), "text/html")
}
