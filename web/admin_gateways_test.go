package web_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/keyring"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/payment/epay"
	"github.com/faka-dev/faka/payment/epusdt"
	"github.com/faka-dev/faka/web"
)

// gwConsole is a server whose EPay and epusdt gateways are configured in
// the console, starting with none configured, and a signed-in browser.
type gwConsole struct {
	*bundle
	gst faka.GatewayStore
	kr  *keyring.Keyring
	br  *browser
}

func setupGatewayConsole(t *testing.T) *gwConsole {
	t.Helper()
	kr, err := keyring.New(bytes.Repeat([]byte{9}, keyring.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	g := &gwConsole{kr: kr}
	g.bundle = setup(t, func(cfg *web.Config) {
		cfg.PublicURL = publicURL
		g.gst = cfg.Shop.(faka.GatewayStore)
		mgr, err := payment.NewManager(g.gst, kr, cfg.Gateways, payment.Env{PublicURL: publicURL, Client: http.DefaultClient},
			epay.Kind(), epusdt.Kind())
		if err != nil {
			t.Fatal(err)
		}
		cfg.GatewaySettings = mgr
	})
	g.br = g.browser()
	return g
}

// epaySettings is the EPay form as a merchant fills it in.
func epaySettings(pid, key, site string, enabled bool) url.Values {
	v := url.Values{"f.pid": {pid}, "f.key": {key}, "f.url": {site}, "f.type": {""}}
	if enabled {
		v.Set("enabled", "1")
	}
	return v
}

// saved posts a gateway's form and expects the redirect back to the page.
func (g *gwConsole) saved(name string, form url.Values) {
	g.t.Helper()
	w := g.br.post("/admin/gateways/"+name, form)
	if want := "/admin/gateways?done=gateway#gw-" + name; w.Code != http.StatusSeeOther || w.Header().Get("Location") != want {
		g.t.Fatalf("save %s: %d %q\n%s", name, w.Code, w.Header().Get("Location"), w.Body)
	}
}

type gwAdminView struct {
	Name     string            `json:"name"`
	Enabled  bool              `json:"enabled"`
	Active   bool              `json:"active"`
	Settings map[string]string `json:"settings"`
	Error    string            `json:"error"`
}

// listing returns the admin API's view of the gateways, by name, and its
// raw body.
func (g *gwConsole) listing() (map[string]gwAdminView, string) {
	g.t.Helper()
	w := g.admin("GET", "/api/v1/gateways", "")
	l := decode[struct {
		Gateways []gwAdminView `json:"gateways"`
	}](g.t, w, http.StatusOK)
	out := map[string]gwAdminView{}
	for _, v := range l.Gateways {
		out[v.Name] = v
	}
	return out, w.Body.String()
}

// storedEPay returns the EPay settings as stored, opened with the master key.
func (g *gwConsole) storedEPay() string {
	g.t.Helper()
	gs, err := g.gst.GatewaySettingsGet(g.t.Context(), "epay")
	if err != nil {
		g.t.Fatal(err)
	}
	pt, err := g.kr.Open([]byte("faka/gateway/epay"), gs.Sealed)
	if err != nil {
		g.t.Fatal(err)
	}
	return string(pt)
}

func (g *gwConsole) notifyEPay(form string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/pay/epay/notify", strings.NewReader(form))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	g.srv.ServeHTTP(w, r)
	return w
}

// noSecrets fails when the page shows any of the secrets.
func noSecrets(t *testing.T, body string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(body, s) {
			t.Fatalf("the page shows the secret %q:\n%s", s, body)
		}
	}
}

func TestGatewayConsoleNeedsSignIn(t *testing.T) {
	t.Parallel()
	g := setupGatewayConsole(t)
	br := g.browser() // not signed in
	w := br.get("/admin/gateways")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/admin/login?next="+url.QueryEscape("/admin/gateways") {
		t.Fatalf("GET without a session: %d %q", w.Code, w.Header().Get("Location"))
	}
	w = br.post("/admin/gateways/epay", epaySettings(epayPID, epayKey, "https://pay.example.com/", true))
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/admin/login") {
		t.Fatalf("POST without a session: %d %q", w.Code, w.Header().Get("Location"))
	}
	// The API's bearer token is no console session either.
	w = br.post("/admin/gateways/epay", epaySettings(epayPID, epayKey, "https://pay.example.com/", true),
		"Authorization", "Bearer "+adminToken)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("POST with the API token: %d", w.Code)
	}
	if _, err := g.gst.GatewaySettingsGet(t.Context(), "epay"); faka.ErrorCode(err) != faka.ENotFound {
		t.Fatalf("settings stored without a session: %v", err)
	}
}

func TestGatewayConsoleLists(t *testing.T) {
	t.Parallel()
	g := setupGatewayConsole(t)
	g.br.signIn()
	body := page(t, g.br.get("/admin/gateways"), http.StatusOK)
	for _, want := range []string{
		`<a href="/admin/gateways" aria-current="page">Gateways</a>`,
		`<form method="post" action="/admin/gateways/epay"`, `<form method="post" action="/admin/gateways/epusdt"`,
		`name="f.pid" value=""`, `name="f.url" value=""`, `name="f.type" value=""`,
		`<input type="password" name="f.key" value=""`, `<input type="password" name="f.token" value=""`,
		`name="enabled" value="1">`,
		"http://shop.test/pay/epay/notify", "http://shop.test/pay/epusdt/notify",
		"Not configured", "Leave a secret empty to keep the stored one",
		"Sandbox", // enabled by the environment, listed apart
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Fatal(body)
	}
	if strings.Contains(body, `action="/admin/gateways/sandbox"`) {
		t.Fatal("the sandbox, configured by the environment, has a form")
	}
	// The other console pages link to it; the page speaks Chinese too.
	if body := page(t, g.br.get("/admin/reconcile"), http.StatusOK); !strings.Contains(body, `<a href="/admin/gateways" >Gateways</a>`) {
		t.Fatalf("no link to the gateways in the navigation:\n%s", body)
	}
	g.br.lang = "zh-CN"
	body = page(t, g.br.get("/admin/gateways"), http.StatusOK)
	for _, want := range []string{"<h1>支付网关</h1>", "异步通知地址", "未配置", "商户密钥"} {
		if !strings.Contains(body, want) {
			t.Errorf("the Chinese page lacks %q", want)
		}
	}
}

func TestGatewayConsoleSave(t *testing.T) {
	t.Parallel()
	g := setupGatewayConsole(t)
	g.br.signIn()
	g.saved("epay", epaySettings(epayPID, epayKey, "https://pay.example.com/", true))

	// In effect at once: the admin API shows it active, its key masked.
	l, raw := g.listing()
	if v := l["epay"]; !v.Enabled || !v.Active || v.Settings["key"] != "••••0001" || v.Settings["pid"] != epayPID ||
		v.Settings["url"] != "https://pay.example.com/" {
		t.Fatalf("epay after saving: %+v", v)
	}
	noSecrets(t, raw, epayKey)
	if public := g.do("GET", "/api/v1/gateways", "").Body.String(); !strings.Contains(public, `"epay"`) {
		t.Fatalf("buyers do not see the gateway: %s", public)
	}
	body := page(t, g.br.get("/admin/gateways?done=gateway"), http.StatusOK)
	for _, want := range []string{"Gateway settings saved", `placeholder="••••0001"`, `name="f.pid" value="1001"`,
		"In use", `name="enabled" value="1" checked>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page after saving lacks %q", want)
		}
	}
	noSecrets(t, body, epayKey)

	p := g.cardProduct(3, "")
	c := decode[created](t, g.do("POST", "/api/v1/orders",
		fmt.Sprintf(`{"product_id":%d,"quantity":1,"email":"b@example.com","gateway":"epay"}`, p.ID)), http.StatusCreated)

	// Saved again with the key's box left empty, then with the mask typed
	// into it, then with "remove" ticked on a required key (refused): the
	// stored key stays every time, and the other fields change.
	g.saved("epay", epaySettings("1001", "", "https://pay2.example.com/", true))
	g.saved("epay", epaySettings("1001", "••••0001", "https://pay.example.com/", true))
	form := epaySettings("1001", "", "https://pay.example.com/", true)
	form.Set("clear.key", "1")
	body = page(t, g.br.post("/admin/gateways/epay", form), http.StatusUnprocessableEntity)
	if !strings.Contains(body, "key is required") {
		t.Fatalf("removing a required key:\n%s", body)
	}
	if s := g.storedEPay(); !strings.Contains(s, `"key":"`+epayKey+`"`) {
		t.Fatal("the stored key changed")
	}
	// The gateway still verifies notifications signed with the old key,
	// and only those.
	if w := g.notifyEPay(epayForm(epayParams(c, "T-1"), "another-merchant-key")); w.Code != http.StatusBadRequest {
		t.Fatalf("notification signed with another key: %d %s", w.Code, w.Body)
	}
	if w := g.notifyEPay(epayForm(epayParams(c, "T-1"), epayKey)); w.Code != http.StatusOK || w.Body.String() != "success" {
		t.Fatalf("notification signed with the stored key: %d %s", w.Code, w.Body)
	}

	// A new key replaces it; unticking "enabled" turns the gateway off.
	const newKey = "epay-merchant-key-0002"
	g.saved("epay", epaySettings("1001", newKey, "https://pay.example.com/", false))
	l, _ = g.listing()
	if v := l["epay"]; v.Enabled || v.Active || v.Settings["key"] != "••••0002" {
		t.Fatalf("epay after disabling: %+v", v)
	}
	if public := g.do("GET", "/api/v1/gateways", "").Body.String(); strings.Contains(public, `"epay"`) {
		t.Fatalf("a disabled gateway is listed to buyers: %s", public)
	}
	body = page(t, g.br.get("/admin/gateways"), http.StatusOK)
	if !strings.Contains(body, "Disabled") || strings.Contains(body, `name="enabled" value="1" checked>`) {
		t.Fatalf("the page after disabling:\n%s", body)
	}
	noSecrets(t, body, epayKey, newKey)
}

func TestGatewayConsoleInvalid(t *testing.T) {
	t.Parallel()
	g := setupGatewayConsole(t)
	g.br.signIn()

	// Nothing stored yet: a bad value, and a missing required secret.
	for _, tc := range []struct {
		form url.Values
		want string
	}{
		{epaySettings(epayPID, epayKey, "ftp://pay.example.com/", true), "is not an absolute http(s) URL"},
		// M2: the merchant key would travel in clear to a plain http site.
		{epaySettings(epayPID, epayKey, "http://pay.example.com/", true), "must be https: only a loopback host may be plain http"},
		{epaySettings(epayPID, "", "https://pay.example.com/", true), "key is required"},
		{epaySettings(epayPID, "••••0001", "https://pay.example.com/", true), "key is required"},
	} {
		body := page(t, g.br.post("/admin/gateways/epay", tc.form), http.StatusUnprocessableEntity)
		if !strings.Contains(body, tc.want) || !strings.Contains(body, `role="alert"`) {
			t.Fatalf("refused save lacks %q:\n%s", tc.want, body)
		}
		// What was typed stays in the form, but for the secret.
		if !strings.Contains(body, `name="f.pid" value="1001"`) || !strings.Contains(body, `name="f.url" value="`+tc.form.Get("f.url")+`"`) {
			t.Fatalf("the typed values are lost:\n%s", body)
		}
		noSecrets(t, body, epayKey)
		if _, err := g.gst.GatewaySettingsGet(t.Context(), "epay"); faka.ErrorCode(err) != faka.ENotFound {
			t.Fatalf("a refused save stored settings: %v", err)
		}
	}

	// Stored settings: a refused save changes nothing, the new key in it
	// included.
	g.saved("epay", epaySettings(epayPID, epayKey, "https://pay.example.com/", true))
	_, before := g.listing()
	stored := g.storedEPay()
	const newKey = "epay-merchant-key-0002"
	// M2: a switch to a plain http EPay site is refused.
	body := page(t, g.br.post("/admin/gateways/epay", epaySettings(epayPID, newKey, "http://pay.example.com/", false)),
		http.StatusUnprocessableEntity)
	if !strings.Contains(body, "must be https") {
		t.Fatalf("refused save:\n%s", body)
	}
	noSecrets(t, body, epayKey, newKey)
	if _, after := g.listing(); after != before || g.storedEPay() != stored {
		t.Fatalf("a refused save changed the settings:\n%s\n%s", before, after)
	}

	// A gateway that cannot be configured.
	if w := g.br.post("/admin/gateways/paypal", url.Values{"enabled": {"1"}}); w.Code != http.StatusNotFound {
		t.Fatalf("unknown gateway: %d", w.Code)
	}
	if w := g.br.post("/admin/gateways/sandbox", url.Values{"enabled": {"1"}}); w.Code != http.StatusNotFound {
		t.Fatalf("the sandbox: %d", w.Code)
	}
}

// TestGatewayConsoleCrossOrigin: a form posted from another site (no
// same-origin proof, the console's CSRF defence) is refused.
func TestGatewayConsoleCrossOrigin(t *testing.T) {
	t.Parallel()
	g := setupGatewayConsole(t)
	g.br.signIn()
	form := epaySettings(epayPID, epayKey, "https://pay.example.com/", true)
	if w := g.br.post("/admin/gateways/epay", form, "Sec-Fetch-Site", "cross-site"); w.Code != http.StatusForbidden {
		t.Fatalf("cross-site save: %d", w.Code)
	}
	if w := g.br.post("/admin/gateways/epay", form, "Sec-Fetch-Site", "", "Origin", "https://evil.example"); w.Code != http.StatusForbidden {
		t.Fatalf("cross-origin save: %d", w.Code)
	}
	if _, err := g.gst.GatewaySettingsGet(t.Context(), "epay"); faka.ErrorCode(err) != faka.ENotFound {
		t.Fatalf("a cross-origin save stored settings: %v", err)
	}
}

// TestGatewayConsoleStoredError: settings that cannot be opened are shown
// as such, and saving the form anew replaces them.
func TestGatewayConsoleStoredError(t *testing.T) {
	t.Parallel()
	g := setupGatewayConsole(t)
	g.br.signIn()
	if err := g.gst.GatewaySettingsPut(t.Context(), &faka.GatewaySetting{Name: "epusdt", Enabled: true,
		Sealed: []byte("sealed under another master key")}); err != nil {
		t.Fatal(err)
	}
	body := page(t, g.br.get("/admin/gateways"), http.StatusOK)
	if !strings.Contains(body, "The stored settings cannot be used: the stored settings cannot be read with this master key") {
		t.Fatalf("the page hides the stored settings' error:\n%s", body)
	}
	g.saved("epusdt", url.Values{"f.url": {"https://usdt.example.com"}, "f.token": {epusdtToken}, "enabled": {"1"}})
	l, _ := g.listing()
	if v := l["epusdt"]; !v.Active || v.Error != "" || v.Settings["token"] != "••••0001" {
		t.Fatalf("epusdt after saving anew: %+v", v)
	}
	body = page(t, g.br.get("/admin/gateways"), http.StatusOK)
	if strings.Contains(body, "cannot be used") {
		t.Fatalf("the error outlived the new settings:\n%s", body)
	}
	noSecrets(t, body, epusdtToken)
}
