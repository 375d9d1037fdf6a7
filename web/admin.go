package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/password"
)

// The merchant's console under /admin. It signs in with an email and a
// password (argon2id) and keeps a server-side session: the cookie holds a
// random token, the database its SHA-256 and an expiry. It is separate
// from the API's bearer token, which it neither accepts nor grants.

// sessionTTL is how long a console session lasts from sign-in.
const sessionTTL = 12 * time.Hour

// adminView is what the layout shows of the signed-in account.
type adminView struct {
	Email   string
	Section string // the navigation entry to highlight
}

// consoleHandler is a console page: it gets the page to fill and the
// signed-in account.
type consoleHandler func(w http.ResponseWriter, r *http.Request, p *page, a *faka.Admin)

func (s *Server) adminRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /admin/login", s.loginPage)
	m.HandleFunc("POST /admin/login", s.login)
	m.HandleFunc("POST /admin/login/2fa", s.loginSecondStep)
	m.HandleFunc("POST /admin/logout", s.logout)

	m.HandleFunc("GET /admin/security", s.console("security", s.adminSecurity))
	m.HandleFunc("POST /admin/security/totp", s.console("security", s.adminTOTPBegin))
	m.HandleFunc("POST /admin/security/totp/confirm", s.console("security", s.adminTOTPConfirm))
	m.HandleFunc("POST /admin/security/totp/delete", s.console("security", s.adminTOTPDelete))

	m.HandleFunc("GET /admin", s.console("dashboard", s.dashboard))
	m.HandleFunc("GET /admin/{$}", s.console("dashboard", s.dashboard))

	m.HandleFunc("GET /admin/products", s.console("products", s.adminProducts))
	m.HandleFunc("GET /admin/products/new", s.console("products", s.adminProductNew))
	m.HandleFunc("POST /admin/products", s.console("products", s.adminProductCreate))
	m.HandleFunc("GET /admin/products/{id}", s.console("products", s.adminProductEdit))
	m.HandleFunc("POST /admin/products/{id}", s.console("products", s.adminProductUpdate))
	m.HandleFunc("POST /admin/products/{id}/active", s.console("products", s.adminProductActive))
	m.HandleFunc("GET /admin/products/{id}/keys", s.console("products", s.adminKeys))
	m.HandleFunc("POST /admin/products/{id}/keys", s.console("products", s.adminKeysImport))
	m.HandleFunc("POST /admin/products/{id}/keys/void", s.console("products", s.adminKeysVoid))
	m.HandleFunc("POST /admin/products/{id}/keys/export", s.console("products", s.adminKeysExport))
	m.HandleFunc("POST /admin/products/{id}/stock", s.console("products", s.adminStockAdd))
	m.HandleFunc("POST /admin/keys/{key}/reveal", s.console("products", s.adminKeyReveal))

	m.HandleFunc("GET /admin/categories", s.console("categories", s.adminCategories))
	m.HandleFunc("POST /admin/categories", s.console("categories", s.adminCategoryCreate))
	m.HandleFunc("POST /admin/categories/{id}", s.console("categories", s.adminCategoryUpdate))
	m.HandleFunc("POST /admin/categories/{id}/delete", s.console("categories", s.adminCategoryDelete))

	m.HandleFunc("GET /admin/orders", s.console("orders", s.adminOrders))
	m.HandleFunc("GET /admin/orders/{order_no}", s.console("orders", s.adminOrder))
	m.HandleFunc("POST /admin/orders/{order_no}/refund", s.console("orders", s.adminOrderRefund))
	m.HandleFunc("POST /admin/orders/{order_no}/deliver", s.console("orders", s.adminOrderDeliver))
	m.HandleFunc("POST /admin/orders/{order_no}/cancel", s.console("orders", s.adminOrderCancel))

	m.HandleFunc("GET /admin/reconcile", s.console("reconcile", s.adminReconcile))

	m.HandleFunc("GET /admin/shop", s.console("shop", s.adminShop))
	m.HandleFunc("POST /admin/shop", s.console("shop", s.adminShopSave))

	m.HandleFunc("GET /admin/gateways", s.console("gateways", s.adminGateways))
	m.HandleFunc("POST /admin/gateways/{name}", s.console("gateways", s.adminGatewaySave))
}

// console wraps a console page: no valid session sends the visitor to the
// sign-in page (and back here afterwards, for a GET).
func (s *Server) console(section string, h consoleHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		a, err := s.sessionAdmin(r)
		if err != nil {
			if faka.ErrorCode(err) != faka.ENotFound {
				s.pageError(w, r, err)
				return
			}
			next := "/admin"
			if r.Method == http.MethodGet {
				next = r.URL.RequestURI()
			}
			http.Redirect(w, r, "/admin/login?next="+url.QueryEscape(next), http.StatusSeeOther)
			return
		}
		p := s.newPage(w, r, "")
		p.Admin = &adminView{Email: a.Email, Section: section}
		h(w, r, p, a)
	}
}

// sessionAdmin returns the account of the request's session, or an
// ENotFound error when there is no valid one.
func (s *Server) sessionAdmin(r *http.Request) (*faka.Admin, error) {
	c, err := r.Cookie(s.cookieName(sessionCookie))
	if err != nil || !validToken(c.Value) {
		return nil, faka.ErrNotFound
	}
	sess, err := s.accounts.SessionGet(r.Context(), hashToken(c.Value))
	if err != nil {
		return nil, err
	}
	return s.accounts.AdminGet(r.Context(), sess.AdminID)
}

// loginData is the sign-in page.
type loginData struct {
	Email     string
	Next      string
	Error     string
	NoAccount bool
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if _, err := s.sessionAdmin(r); err == nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.showLogin(w, r, http.StatusOK, loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	p := s.newPage(w, r, "/admin/login")
	p.Admin = &adminView{}
	p.Title = p.L.T("admin.login.title")
	if n, err := s.accounts.AdminCount(r.Context()); err == nil && n == 0 {
		d.NoAccount = true
	}
	p.Data = d
	s.render(w, r, status, "admin/login", p)
}

// safeNext keeps a redirect after sign-in inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/admin") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/admin"
	}
	return next
}

// login serves POST /admin/login. Attempts are throttled per client and
// per (account, client) before the password is checked: guessing one
// account's password from one place is slow, and nobody elsewhere can
// lock the merchant out by failing against the merchant's email. The
// hash runs within the server's Hasher, so a burst of attempts queues
// (or is told to come back) instead of taking memory without bound. An
// unknown account costs the same hashing as a known one, and both
// failures read alike.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	email := strings.ToLower(strings.TrimSpace(r.PostForm.Get("email")))
	pw := r.PostForm.Get("password")
	d := loginData{Email: email, Next: safeNext(r.PostForm.Get("next"))}
	l := s.cat.Printer(s.lang(w, r))
	if !s.allowSignIn(w, r, email, func(secs int64) {
		d.Error = l.T("admin.login.throttled", secs)
		s.showLogin(w, r, http.StatusTooManyRequests, d)
	}) {
		return
	}
	a, err := s.checkPassword(r.Context(), email, pw)
	if err != nil {
		if errors.Is(err, password.ErrBusy) {
			w.Header().Set("Retry-After", strconv.Itoa(busyRetrySeconds))
			d.Error = l.T("admin.login.busy", busyRetrySeconds)
			s.showLogin(w, r, http.StatusServiceUnavailable, d)
			return
		}
		if faka.ErrorCode(err) != faka.EUnauthorized {
			s.pageError(w, r, err)
			return
		}
		s.log.Info("web: console sign-in refused", "ip", s.clientIP(r).String())
		d.Error = l.T("admin.login.wrong")
		s.showLogin(w, r, http.StatusUnauthorized, d)
		return
	}
	second, err := s.needsSecondFactor(r.Context(), a)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if second {
		// The password was right; the session waits for the code.
		s.showSecondStep(w, r, http.StatusOK, login2Data{Ticket: s.newTicket(a.ID), Next: d.Next})
		return
	}
	s.startSession(w, r, a, d.Next)
}

// allowSignIn takes one sign-in attempt of the client and of (account,
// client); when either is over its limit it sets Retry-After, calls
// refuse with the seconds to wait and returns false.
func (s *Server) allowSignIn(w http.ResponseWriter, r *http.Request, account string, refuse func(secs int64)) bool {
	client := s.clientKey(r)
	waitIP, okIP := s.loginIP.allow(client)
	waitAcct, okAcct := s.loginAccount.allow(account + "\x00" + client)
	if okIP && okAcct {
		return true
	}
	secs := max(int64((max(waitIP, waitAcct)+time.Second-1)/time.Second), 1)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	refuse(secs)
	return false
}

// startSession signs a in: a new session, its cookie, and on to next.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, a *faka.Admin, next string) {
	token := newToken()
	sess := &faka.AdminSession{TokenHash: hashToken(token), AdminID: a.ID,
		ExpiresAt: time.Now().Add(sessionTTL), IP: s.clientIP(r).String()}
	if err := s.accounts.SessionCreate(r.Context(), sess); err != nil {
		s.pageError(w, r, err)
		return
	}
	// Strict: the console is never entered by a link from another site
	// with the session attached.
	s.setCookie(w, sessionCookie, token, sessionTTL, http.SameSiteStrictMode)
	s.log.Info("web: console sign-in", "admin_id", a.ID, "ip", sess.IP)
	s.maybePurge(r.Context())
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// hashWait is how long a sign-in waits for a hashing slot before it is
// told to come back in busyRetrySeconds.
const (
	hashWait         = 10 * time.Second
	busyRetrySeconds = 5
)

// checkPassword returns the account when pw is its password, an
// EUnauthorized error when it is not, and password.ErrBusy when too many
// hashes are running to check it now.
func (s *Server) checkPassword(ctx context.Context, email, pw string) (*faka.Admin, error) {
	ctx, cancel := context.WithTimeout(ctx, hashWait)
	defer cancel()
	wrong := faka.Errorf(faka.EUnauthorized, "wrong email or password")
	a, err := s.accounts.AdminByEmail(ctx, email)
	switch {
	case faka.ErrorCode(err) == faka.ENotFound:
		// The same work as for a real account.
		if err := s.hasher.Verify(ctx, pw, s.dummyHash); errors.Is(err, password.ErrBusy) {
			return nil, err
		}
		return nil, wrong
	case err != nil:
		return nil, err
	}
	switch err := s.hasher.Verify(ctx, pw, a.PasswordHash); {
	case errors.Is(err, password.ErrBusy):
		return nil, err
	case errors.Is(err, password.ErrMismatch):
		return nil, wrong
	case err != nil:
		return nil, faka.Errorf(faka.EInternal, "account %d: %w", a.ID, err)
	}
	return a, nil
}

// logout serves POST /admin/logout.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(s.cookieName(sessionCookie)); err == nil && validToken(c.Value) {
		if err := s.accounts.SessionDelete(r.Context(), hashToken(c.Value)); err != nil {
			s.pageError(w, r, err)
			return
		}
	}
	s.clearCookie(w, sessionCookie, http.SameSiteStrictMode)
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}
