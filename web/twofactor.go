package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"html/template"
	"image/png"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/faka-dev/faka"
)

// Console two-factor sign-in: TOTP (RFC 6238, 30-second steps, six
// digits, SHA-1 as every authenticator app reads it) and ten one-time
// recovery codes. Once an account confirmed an enrolment, its password
// alone no longer starts a session: the sign-in page asks for a code,
// carrying the proof that the password was right in a sealed ticket that
// lasts ticketTTL. A code's step is recorded, so no code signs in twice.

const (
	ticketTTL     = 5 * time.Minute
	recoveryCodes = 10
	totpPeriod    = 30 // seconds
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// Additional data of what the keyring seals here, so that one sealed value
// cannot stand for another.
var (
	totpSecretAAD = []byte("faka console totp secret v1")
	ticketAAD     = []byte("faka console sign-in ticket v1")
)

// twoFactor returns the store of second factors, or nil when this server
// cannot keep them (no sealer or a store without them).
func (s *Server) twoFactor() faka.TwoFactorStore {
	tf, ok := s.accounts.(faka.TwoFactorStore)
	if !ok || s.cfg.Sealer == nil {
		return nil
	}
	return tf
}

// needsSecondFactor reports whether a confirmed enrolment guards a.
func (s *Server) needsSecondFactor(ctx context.Context, a *faka.Admin) (bool, error) {
	tf := s.twoFactor()
	if tf == nil {
		return false, nil
	}
	t, err := tf.TOTPGet(ctx, a.ID)
	switch {
	case faka.ErrorCode(err) == faka.ENotFound:
		return false, nil
	case err != nil:
		return false, err
	}
	return !t.ConfirmedAt.IsZero(), nil
}

// newTicket seals "account id, expiry" for the second step of a sign-in.
func (s *Server) newTicket(adminID int64) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(adminID))
	binary.BigEndian.PutUint64(b[8:], uint64(time.Now().Add(ticketTTL).Unix()))
	return base64.RawURLEncoding.EncodeToString(s.cfg.Sealer.Seal(ticketAAD, b[:]))
}

// openTicket returns the account of a ticket that is genuine and not
// expired.
func (s *Server) openTicket(ticket string) (int64, bool) {
	sealed, err := base64.RawURLEncoding.DecodeString(ticket)
	if err != nil || s.cfg.Sealer == nil {
		return 0, false
	}
	b, err := s.cfg.Sealer.Open(ticketAAD, sealed)
	if err != nil || len(b) != 16 {
		return 0, false
	}
	if time.Now().Unix() > int64(binary.BigEndian.Uint64(b[8:])) {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(b[:8])), true
}

// login2Data is the second step of a sign-in.
type login2Data struct {
	Ticket, Next, Error string
}

func (s *Server) showSecondStep(w http.ResponseWriter, r *http.Request, status int, d login2Data) {
	p := s.newPage(w, r, "/admin/login")
	p.Admin = &adminView{}
	p.Title = p.L.T("admin.2fa.title")
	p.Data = d
	s.render(w, r, status, "admin/login2", p)
}

// loginSecondStep serves POST /admin/login/2fa: the ticket from a right
// password and a TOTP or recovery code. It is limited like the password.
func (s *Server) loginSecondStep(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	l := s.cat.Printer(s.lang(w, r))
	d := login2Data{Ticket: r.PostForm.Get("ticket"), Next: safeNext(r.PostForm.Get("next"))}
	adminID, ok := s.openTicket(d.Ticket)
	if !ok {
		s.showLogin(w, r, http.StatusUnauthorized, loginData{Next: d.Next, Error: l.T("admin.2fa.expired")})
		return
	}
	if !s.allowSignIn(w, r, "2fa:"+strconv.FormatInt(adminID, 10), func(secs int64) {
		d.Error = l.T("admin.login.throttled", secs)
		s.showSecondStep(w, r, http.StatusTooManyRequests, d)
	}) {
		return
	}
	ok, err := s.checkSecondFactor(r.Context(), adminID, r.PostForm.Get("code"))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if !ok {
		s.log.Info("web: console second factor refused", "admin_id", adminID, "ip", s.clientIP(r).String())
		d.Error = l.T("admin.2fa.wrong")
		s.showSecondStep(w, r, http.StatusUnauthorized, d)
		return
	}
	a, err := s.accounts.AdminGet(r.Context(), adminID)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.startSession(w, r, a, d.Next)
}

// checkSecondFactor reports whether code is a current TOTP code of the
// account, not used before, or one of its unused recovery codes; either
// is spent by a success.
func (s *Server) checkSecondFactor(ctx context.Context, adminID int64, code string) (bool, error) {
	tf := s.twoFactor()
	if tf == nil {
		return false, faka.Errorf(faka.EInternal, "two-factor sign-in is not available")
	}
	code = strings.TrimSpace(code)
	if len(code) == 6 {
		t, err := tf.TOTPGet(ctx, adminID)
		if err != nil {
			return false, err
		}
		secret, err := s.cfg.Sealer.Open(totpSecretAAD, t.Secret)
		if err != nil {
			return false, faka.Errorf(faka.EInternal, "open the totp secret of account %d: %w", adminID, err)
		}
		step, ok := totpStep(string(secret), code, time.Now())
		if !ok {
			return false, nil
		}
		return tf.TOTPUseStep(ctx, adminID, step)
	}
	return tf.RecoveryCodeUse(ctx, adminID, recoveryHash(code))
}

// totpStep returns the 30-second step whose code is code, looking one
// step either side of now for clocks that drift.
func totpStep(secret, code string, now time.Time) (int64, bool) {
	step := now.Unix() / totpPeriod
	found, at := 0, int64(0)
	for _, st := range []int64{step - 1, step, step + 1} {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(st*totpPeriod, 0), totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found, at = found+1, st
		}
	}
	return at, found > 0
}

// recoveryHash is what the store keeps of a recovery code: the SHA-256 of
// its letters and digits in upper case, so that spaces, dashes and case
// do not matter when it is typed.
func recoveryHash(code string) []byte {
	norm := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return -1
	}, code)
	sum := sha256.Sum256([]byte(norm))
	return sum[:]
}

// newRecoveryCodes returns n fresh codes like "ABCDE-FGHIJ" (50 bits) and
// their hashes.
func newRecoveryCodes(n int) ([]string, [][]byte) {
	codes, hashes := make([]string, n), make([][]byte, n)
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	for i := range n {
		b := make([]byte, 7)
		rand.Read(b) // never fails
		c := enc.EncodeToString(b)[:10]
		codes[i] = c[:5] + "-" + c[5:]
		hashes[i] = recoveryHash(codes[i])
	}
	return codes, hashes
}

// totpKey is the enrolment key of secret, to draw its QR code again.
func totpKey(issuer, account, secret string) (*otp.Key, error) {
	q := url.Values{"secret": {secret}, "issuer": {issuer}, "period": {strconv.Itoa(totpPeriod)},
		"digits": {"6"}, "algorithm": {"SHA1"}}
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + issuer + ":" + account, RawQuery: q.Encode()}
	return otp.NewKeyFromURL(u.String())
}

// securityData is the console's security page.
type securityData struct {
	Available, Enrolled bool
	CodesLeft           int
	QR                  template.URL // data: URL of the enrolment's QR code (a PNG we drew)
	Secret              string
	Codes               []string // shown once, right after enrolment
	Error               string
}

func (s *Server) showSecurity(w http.ResponseWriter, r *http.Request, status int, p *page, d securityData) {
	p.Title = p.L.T("admin.security.title")
	d.Available = s.twoFactor() != nil
	p.Data = d
	s.render(w, r, status, "admin/security", p)
}

// adminSecurity serves GET /admin/security: whether two-factor sign-in is
// on, and the way to turn it on or off.
func (s *Server) adminSecurity(w http.ResponseWriter, r *http.Request, p *page, a *faka.Admin) {
	d := securityData{}
	if tf := s.twoFactor(); tf != nil {
		on, err := s.needsSecondFactor(r.Context(), a)
		if err == nil && on {
			d.Enrolled = true
			d.CodesLeft, err = tf.RecoveryCodesLeft(r.Context(), a.ID)
		}
		if err != nil {
			s.pageError(w, r, err)
			return
		}
	}
	s.showSecurity(w, r, http.StatusOK, p, d)
}

// adminTOTPBegin serves POST /admin/security/totp: a fresh secret, sealed
// in the store unconfirmed, shown as a QR code until a code confirms it.
func (s *Server) adminTOTPBegin(w http.ResponseWriter, r *http.Request, p *page, a *faka.Admin) {
	tf := s.twoFactor()
	if tf == nil {
		s.showSecurity(w, r, http.StatusNotFound, p, securityData{})
		return
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: p.ShopName, AccountName: a.Email, Period: totpPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		s.pageError(w, r, faka.Errorf(faka.EInternal, "make a totp secret: %w", err))
		return
	}
	if err := tf.TOTPBegin(r.Context(), a.ID, s.cfg.Sealer.Seal(totpSecretAAD, []byte(key.Secret()))); err != nil {
		if faka.ErrorCode(err) == faka.EConflict {
			http.Redirect(w, r, "/admin/security", http.StatusSeeOther)
			return
		}
		s.pageError(w, r, err)
		return
	}
	s.showEnrolment(w, r, http.StatusOK, p, key, "")
}

func (s *Server) showEnrolment(w http.ResponseWriter, r *http.Request, status int, p *page, key *otp.Key, errMsg string) {
	img, err := key.Image(200, 200)
	var buf bytes.Buffer
	if err == nil {
		err = png.Encode(&buf, img)
	}
	if err != nil {
		s.pageError(w, r, faka.Errorf(faka.EInternal, "draw the totp QR code: %w", err))
		return
	}
	s.showSecurity(w, r, status, p, securityData{Secret: key.Secret(), Error: errMsg,
		QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()))})
}

// securityForm reads the form of a security page and returns the store
// of second factors; when either fails it has answered.
func (s *Server) securityForm(w http.ResponseWriter, r *http.Request) (faka.TwoFactorStore, bool) {
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return nil, false
	}
	tf := s.twoFactor()
	if tf == nil {
		s.pageError(w, r, faka.Errorf(faka.ENotFound, "two-factor sign-in is not available"))
		return nil, false
	}
	return tf, true
}

// adminTOTPConfirm serves POST /admin/security/totp/confirm: a code of the
// new secret turns two-factor sign-in on and shows the recovery codes
// once.
func (s *Server) adminTOTPConfirm(w http.ResponseWriter, r *http.Request, p *page, a *faka.Admin) {
	tf, ok := s.securityForm(w, r)
	if !ok {
		return
	}
	t, err := tf.TOTPGet(r.Context(), a.ID)
	if err != nil || !t.ConfirmedAt.IsZero() {
		http.Redirect(w, r, "/admin/security", http.StatusSeeOther)
		return
	}
	secret, err := s.cfg.Sealer.Open(totpSecretAAD, t.Secret)
	if err != nil {
		s.pageError(w, r, faka.Errorf(faka.EInternal, "open the totp secret of account %d: %w", a.ID, err))
		return
	}
	step, ok := totpStep(string(secret), strings.TrimSpace(r.PostForm.Get("code")), time.Now())
	if !ok {
		key, err := totpKey(p.ShopName, a.Email, string(secret))
		if err != nil {
			s.pageError(w, r, faka.Errorf(faka.EInternal, "totp key: %w", err))
			return
		}
		s.showEnrolment(w, r, http.StatusUnprocessableEntity, p, key, p.L.T("admin.security.wrong"))
		return
	}
	codes, hashes := newRecoveryCodes(recoveryCodes)
	if err := tf.TOTPConfirm(r.Context(), a.ID, step, hashes); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.log.Info("web: console two-factor sign-in turned on", "admin_id", a.ID, "ip", s.clientIP(r).String())
	s.showSecurity(w, r, http.StatusOK, p, securityData{Enrolled: true, Codes: codes})
}

// adminTOTPDelete serves POST /admin/security/totp/delete: a current code
// (or a recovery code) turns two-factor sign-in off.
func (s *Server) adminTOTPDelete(w http.ResponseWriter, r *http.Request, p *page, a *faka.Admin) {
	tf, ok := s.securityForm(w, r)
	if !ok {
		return
	}
	ok, err := s.checkSecondFactor(r.Context(), a.ID, r.PostForm.Get("code"))
	if err != nil && faka.ErrorCode(err) != faka.ENotFound {
		s.pageError(w, r, err)
		return
	}
	if !ok {
		s.showSecurity(w, r, http.StatusUnprocessableEntity, p, securityData{Enrolled: true, Error: p.L.T("admin.security.wrong")})
		return
	}
	if err := tf.TOTPDelete(r.Context(), a.ID); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.log.Info("web: console two-factor sign-in turned off", "admin_id", a.ID, "ip", s.clientIP(r).String())
	http.Redirect(w, r, "/admin/security", http.StatusSeeOther)
}
