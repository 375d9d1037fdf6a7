package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

var (
	secretRE   = regexp.MustCompile(`<code>([A-Z2-7]{16,})</code>`)
	ticketRE   = regexp.MustCompile(`name="ticket" value="([^"]+)"`)
	recoveryRE = regexp.MustCompile(`(?m)^([A-Z2-7]{5}-[A-Z2-7]{5})$`)
)

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrol turns two-factor sign-in on for the signed-in browser and returns
// the TOTP secret and the recovery codes.
func enrol(t *testing.T, br *browser) (string, []string) {
	t.Helper()
	body := page(t, br.post("/admin/security/totp", nil), http.StatusOK)
	m := secretRE.FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, `src="data:image/png;base64,`) {
		t.Fatalf("enrolment page without secret or QR code:\n%s", body)
	}
	secret := m[1]
	page(t, br.post("/admin/security/totp/confirm", url.Values{"code": {"000000"}}), http.StatusUnprocessableEntity)
	body = page(t, br.post("/admin/security/totp/confirm", url.Values{"code": {code(t, secret, time.Now())}}), http.StatusOK)
	var codes []string
	for _, m := range recoveryRE.FindAllStringSubmatch(html.UnescapeString(body), -1) {
		codes = append(codes, m[1])
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown, want 10:\n%s", len(codes), body)
	}
	return secret, codes
}

// signInPassword posts the password and returns the second step's ticket.
func signInPassword(t *testing.T, br *browser) string {
	t.Helper()
	w := br.post("/admin/login", url.Values{"email": {ownerEmail}, "password": {ownerPass}})
	body := page(t, w, http.StatusOK)
	m := ticketRE.FindStringSubmatch(body)
	if m == nil || br.cookies["faka_admin"] != nil {
		t.Fatalf("the password alone signed in an enrolled account (or no second step):\n%s", body)
	}
	return html.UnescapeString(m[1])
}

// Console 2FA: once enrolled, the password alone starts no session; a
// current code does, once; a recovery code does, once; a forged ticket
// does nothing.
func TestConsoleTwoFactor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	owner := b.browser()
	owner.signIn()
	secret, codes := enrol(t, owner)
	if body := page(t, owner.get("/admin/security"), http.StatusOK); !strings.Contains(body, "10 recovery codes are left") {
		t.Fatalf("security page after enrolment:\n%s", body)
	}

	br := b.browser()
	br.remote = "192.0.2.50:1"
	ticket := signInPassword(t, br)
	wrong := br.post("/admin/login/2fa", url.Values{"ticket": {ticket}, "code": {"123456"}})
	if page(t, wrong, http.StatusUnauthorized); br.cookies["faka_admin"] != nil {
		t.Fatal("a wrong code signed in")
	}
	now := code(t, secret, time.Now().Add(30*time.Second)) // the next step: the enrolment used this one
	if w := br.post("/admin/login/2fa", url.Values{"ticket": {ticket}, "code": {now}}); w.Code != http.StatusSeeOther || br.cookies["faka_admin"] == nil {
		t.Fatalf("the right code: %d\n%s", w.Code, w.Body)
	}
	if page(t, br.get("/admin"), http.StatusOK) == "" {
		t.Fatal("no console after the second step")
	}

	// The same code again, in another browser: refused.
	again := b.browser()
	again.remote = "192.0.2.51:1"
	ticket = signInPassword(t, again)
	page(t, again.post("/admin/login/2fa", url.Values{"ticket": {ticket}, "code": {now}}), http.StatusUnauthorized)
	// A recovery code works once, typed loosely.
	loose := strings.ToLower(strings.ReplaceAll(codes[3], "-", " "))
	if w := again.post("/admin/login/2fa", url.Values{"ticket": {ticket}, "code": {loose}}); w.Code != http.StatusSeeOther {
		t.Fatalf("a recovery code: %d\n%s", w.Code, w.Body)
	}
	third := b.browser()
	third.remote = "192.0.2.52:1"
	ticket = signInPassword(t, third)
	page(t, third.post("/admin/login/2fa", url.Values{"ticket": {ticket}, "code": {codes[3]}}), http.StatusUnauthorized)

	// A made-up or tampered ticket leads back to the password.
	for _, forged := range []string{"", "AAAA", ticket[:len(ticket)-2] + "xx"} {
		w := third.post("/admin/login/2fa", url.Values{"ticket": {forged}, "code": {codes[4]}})
		if page(t, w, http.StatusUnauthorized); third.cookies["faka_admin"] != nil {
			t.Fatalf("ticket %q signed in", forged)
		}
	}
	if w := third.post("/admin/login/2fa", url.Values{"ticket": {ticket}, "code": {codes[4]}}); w.Code != http.StatusSeeOther {
		t.Fatalf("the genuine ticket after the forged ones: %d", w.Code)
	}

	// Turning it off needs a code; then the password alone signs in.
	page(t, owner.post("/admin/security/totp/delete", url.Values{"code": {"000000"}}), http.StatusUnprocessableEntity)
	if w := owner.post("/admin/security/totp/delete", url.Values{"code": {codes[5]}}); w.Code != http.StatusSeeOther {
		t.Fatalf("turn off: %d\n%s", w.Code, w.Body)
	}
	last := b.browser()
	last.remote = "192.0.2.53:1"
	if w := last.post("/admin/login", url.Values{"email": {ownerEmail}, "password": {ownerPass}}); w.Code != http.StatusSeeOther {
		t.Fatalf("the password after 2FA was turned off: %d", w.Code)
	}
}
