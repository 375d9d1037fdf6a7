package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/password"
)

// findChromium returns the path of a Chromium the test can drive. Without
// one the browser test is skipped, unless FAKA_REQUIRE_BROWSER=1 (as CI
// sets), which makes it fail instead.
func findChromium(t *testing.T) string {
	t.Helper()
	required := os.Getenv("FAKA_REQUIRE_BROWSER") == "1"
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if required {
		t.Fatal("FAKA_REQUIRE_BROWSER=1 but no chromium is installed (apt-get install -y chromium)")
	}
	t.Skip("no chromium installed; set FAKA_REQUIRE_BROWSER=1 to make this a failure")
	return ""
}

// TestBrowser is the end-to-end test in headless Chromium: a merchant
// signs in to the console, creates a product and imports keys; a buyer
// opens the shop, buys a key, pays in the sandbox and sees the key on the
// order page; the merchant sees the sale on the dashboard; then, in a
// browser that remembers nothing, the buyer finds the order again through
// lookup. Every page is saved as a screenshot in the test's artifact
// directory (go test -artifacts keeps them), and also in
// testdata/screenshots/ when FAKA_SCREENSHOTS=1.
func TestBrowser(t *testing.T) {
	chrome := findChromium(t)
	if testing.Short() && os.Getenv("FAKA_REQUIRE_BROWSER") != "1" {
		t.Skip("the browser test is slow; skipped in -short mode")
	}
	m := testServer(t, t.TempDir())
	t.Cleanup(func() { m.Close() })
	base := m.URL()
	ctx := context.Background()

	// The merchant's account, made as `faka admin create` makes it.
	const ownerEmail, ownerPass = "owner@example.com", "correct horse battery"
	accounts, ok := m.Store.(faka.AccountStore)
	if !ok {
		t.Fatal("the store keeps no accounts")
	}
	hash, err := password.Hash(ownerPass, password.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	if err := accounts.AdminCreate(ctx, &faka.Admin{Email: ownerEmail, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}

	alloc, cancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.Flag("accept-lang", "en-US,en"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	defer cancel()
	bctx, cancel := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 3*time.Minute)
	defer cancel()

	// Start the browser, then collect what the pages write to the console:
	// any script error or CSP violation fails the test.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	cctx, stopConsole := context.WithCancel(bctx)
	var mu sync.Mutex
	var problems []string
	consoleDone := make(chan struct{})
	go func() {
		defer close(consoleDone)
		for msg, err := range chromedp.Console(cctx) {
			if err != nil {
				return
			}
			if (msg.Type == chromedp.ConsoleError || msg.IsException()) && !strings.Contains(msg.Text, "status of 404") {
				mu.Lock()
				problems = append(problems, msg.String())
				mu.Unlock()
			}
		}
	}()

	shots := screenshotDirs(t)
	n := 0
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			n++
			file := fmt.Sprintf("%02d-%s.png", n, name)
			for _, dir := range shots {
				if err := os.WriteFile(filepath.Join(dir, file), png, 0o644); err != nil {
					return err
				}
			}
			return nil
		})
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// The merchant signs in and sets up a product.
	run("sign in",
		chromedp.Navigate(base+"/admin"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)),
		shot("admin-login"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), ownerEmail),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), ownerPass),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		chromedp.WaitVisible(chromedp.CSS(`svg.chart`)),
		shot("admin-dashboard-empty"),
	)
	run("create a category",
		chromedp.Navigate(base+"/admin/categories"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/admin/categories"] input[name=name]`)),
		chromedp.SendKeys(chromedp.CSS(`form[action="/admin/categories"] input[name=name]`), "Game cards"),
		chromedp.Submit(chromedp.CSS(`form[action="/admin/categories"] input[name=name]`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
		shot("admin-categories"),
	)
	var catID string
	run("create a product",
		chromedp.Navigate(base+"/admin/products/new"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=name]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "Steam wallet card 50"),
		chromedp.SetValue(chromedp.CSS(`textarea[name=description]`), "## Steam wallet code\n\n- Redeem on **store.steampowered.com**\n- Delivered instantly\n\n<script>alert('no')</script>"),
		into(&catID, chromedp.Value(chromedp.CSS(`select[name=category_id] option:nth-child(2)`))),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.SetValue(chromedp.CSS(`select[name=category_id]`), catID)(ctx, tg)
			return err
		}),
		chromedp.SetValue(chromedp.CSS(`input[name=price]`), "49.90"),
		chromedp.SetValue(chromedp.CSS(`select[name=stock_display]`), "level"),
		chromedp.SetValue(chromedp.CSS(`input[name=low_stock]`), "2"),
		shot("admin-product-new"),
		chromedp.Submit(chromedp.CSS(`input[name=name]`)),
		chromedp.WaitVisible(chromedp.CSS(`textarea[name=keys]`)),
	)
	keys := []string{"STEAM-AAAA-1111", "STEAM-BBBB-2222", "STEAM-CCCC-3333"}
	var report string
	run("import keys",
		chromedp.SetValue(chromedp.CSS(`textarea[name=keys]`), strings.Join(keys, "\n")+"\nSTEAM-AAAA-1111\n"),
		chromedp.Submit(chromedp.CSS(`textarea[name=keys]`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
		into(&report, chromedp.Text(chromedp.CSS(`.flash`))),
		shot("admin-keys-imported"),
	)
	if !strings.Contains(report, "3 imported, 1 duplicates skipped, 0 rejected") {
		t.Fatalf("import report %q", report)
	}

	// A buyer opens the shop and buys a key.
	var price, desc string
	run("open the shop",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`.card a`)),
		shot("shop-home"),
		chromedp.Click(chromedp.CSS(`.card a`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/buy"]`)),
		into(&price, chromedp.Text(chromedp.CSS(`.price.big`))),
		into(&desc, chromedp.Text(chromedp.CSS(`.markdown`))),
		shot("shop-product"),
	)
	if price != "¥49.90" || !strings.Contains(desc, "Redeem on store.steampowered.com") || strings.Contains(desc, "alert") {
		t.Fatalf("product page: price %q, description %q", price, desc)
	}
	// The total before paying follows the quantity (app.js, under the CSP).
	setQuantity := func(q string, total *string) chromedp.Action[chromedp.Void] {
		return into(total, chromedp.Evaluate[string](`(function(){var i=document.querySelector("input[name=quantity]");i.value="`+q+
			`";i.dispatchEvent(new Event("input"));return document.querySelector("output[data-total]").textContent})()`))
	}
	var total1, total3, totalBad, totalBack string
	run("see the total",
		into(&total1, chromedp.Text(chromedp.CSS(`output[data-total]`))),
		setQuantity("3", &total3),
		setQuantity("0", &totalBad),
		setQuantity("1", &totalBack),
	)
	if total1 != "¥49.90" || total3 != "¥149.70" || totalBad != "—" || totalBack != "¥49.90" {
		t.Fatalf("product page totals: 1 → %q, 3 → %q, 0 → %q, back to 1 → %q", total1, total3, totalBad, totalBack)
	}
	var payURL string
	run("check out",
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "buyer@example.com"),
		chromedp.SendKeys(chromedp.CSS(`input[name=query_password]`), "lookup pass"),
		chromedp.Click(chromedp.CSS(`form[action$="/buy"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/pay"] button`)),
		into(&payURL, chromedp.Location()),
		shot("sandbox-pay"),
	)
	pu, err := url.Parse(payURL)
	if err != nil || !strings.HasPrefix(pu.Path, "/pay/sandbox/") {
		t.Fatalf("after checkout the buyer is at %q", payURL)
	}
	orderNo, token := strings.TrimPrefix(pu.Path, "/pay/sandbox/"), pu.Query().Get("token")
	var countdown string
	run("see the pending order",
		chromedp.Navigate(base+"/orders/"+orderNo+"?token="+url.QueryEscape(token)),
		chromedp.WaitVisible(chromedp.CSS(`.countdown`)),
		into(&countdown, chromedp.Text(chromedp.CSS(`.countdown`))),
		shot("order-pending"),
	)
	if !strings.HasPrefix(countdown, "4:") && !strings.HasPrefix(countdown, "5:") {
		t.Fatalf("countdown %q", countdown)
	}
	var key string
	run("pay",
		chromedp.Navigate(payURL),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/pay"] button`)),
		chromedp.Click(chromedp.CSS(`form[action$="/pay"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`ol.keylist code.key`)),
		into(&key, chromedp.Text(chromedp.CSS(`ol.keylist code.key`))),
		// app.js ran under the CSP: the copy buttons are shown.
		chromedp.WaitVisible(chromedp.CSS(`ol.keylist button.copy`)),
		shot("order-delivered"),
	)
	if key != keys[0] {
		t.Fatalf("the order page shows %q, want the oldest key %q", key, keys[0])
	}

	// The merchant sees the sale.
	var todayOrders, stockRow string
	run("see the sale on the dashboard",
		chromedp.Navigate(base+"/admin"),
		chromedp.WaitVisible(chromedp.CSS(`svg.chart rect.bar`)),
		into(&todayOrders, chromedp.Text(chromedp.CSS(`.stat .value`))),
		into(&stockRow, chromedp.Text(chromedp.CSS(`table.table tbody tr`))),
		shot("admin-dashboard-sale"),
		chromedp.Navigate(base+"/admin/orders"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/orders/`+orderNo+`"]`)),
		shot("admin-orders"),
		chromedp.Click(chromedp.CSS(`a[href="/admin/orders/`+orderNo+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/refund"]`)),
		shot("admin-order"),
		chromedp.Navigate(base+"/admin/products"),
		chromedp.WaitVisible(chromedp.CSS(`td.row-actions`)),
		shot("admin-products"),
		chromedp.Navigate(base+"/admin/reconcile"),
		chromedp.WaitVisible(chromedp.CSS(`.badge.good`)),
		shot("admin-reconcile"),
		chromedp.Navigate(base+"/admin/gateways"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/admin/gateways/epay"] input[type=password]`)),
		shot("admin-gateways"),
	)
	if todayOrders != "1" || !strings.Contains(stockRow, "Steam wallet card 50") {
		t.Fatalf("dashboard: %q orders today, stock row %q", todayOrders, stockRow)
	}

	// A browser that remembers nothing finds the order through lookup.
	var found string
	run("look the order up",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.ClearBrowserCookies, cdp.Empty{})
			return err
		}),
		chromedp.Navigate(base+"/orders/"+orderNo),
		chromedp.WaitVisible(chromedp.CSS(`.message`)),
		shot("order-without-proof"),
		chromedp.Navigate(base+"/lookup"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=order_no]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=order_no]`), orderNo),
		chromedp.SendKeys(chromedp.CSS(`input[name=proof]`), "someone@example.com"),
		chromedp.Submit(chromedp.CSS(`input[name=proof]`)),
		chromedp.WaitVisible(chromedp.CSS(`.error`)),
		shot("lookup-no-match"),
		// The buyer set a query password: the email alone opens nothing.
		chromedp.SetValue(chromedp.CSS(`input[name=proof]`), "Buyer@Example.com"),
		chromedp.Submit(chromedp.CSS(`input[name=proof]`)),
		chromedp.WaitVisible(chromedp.CSS(`.error`)),
		chromedp.SetValue(chromedp.CSS(`input[name=proof]`), "lookup pass"),
		chromedp.Submit(chromedp.CSS(`input[name=proof]`)),
		chromedp.WaitVisible(chromedp.CSS(`ol.keylist code.key`)),
		into(&found, chromedp.Text(chromedp.CSS(`ol.keylist code.key`))),
		shot("lookup-found"),
		chromedp.Navigate(base+"/lookup"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/orders/`+orderNo+`"]`)),
		shot("lookup-remembered"),
		chromedp.Navigate(base+"/?lang=zh-CN"),
		chromedp.WaitVisible(chromedp.CSS(`.card a`)),
		shot("shop-home-zh"),
		chromedp.Navigate(base+"/orders/"+orderNo),
		chromedp.WaitVisible(chromedp.CSS(`ol.keylist code.key`)),
		shot("order-delivered-zh"),
	)
	if found != keys[0] {
		t.Fatalf("lookup found %q, want %q", found, keys[0])
	}

	// On a 390 px phone the lookup's remembered orders (with their
	// time-zone-labelled times) fit: the page is no wider than the screen,
	// and a status never wraps.
	width := `(function(){return document.documentElement.scrollWidth})()`
	statusLines := `(function(){var s=document.querySelector(".status");var h=parseFloat(getComputedStyle(s).lineHeight)||20;return Math.round(s.getBoundingClientRect().height/h)})()`
	for _, lang := range []string{"en", "zh-CN"} {
		var w, lines int64
		run("lookup at 390 px, "+lang,
			chromedp.EmulateViewport(390, 844),
			chromedp.Navigate(base+"/lookup?lang="+lang),
			chromedp.WaitVisible(chromedp.CSS(`a[href="/orders/`+orderNo+`"]`)),
			into(&w, chromedp.Evaluate[int64](width)),
			into(&lines, chromedp.Evaluate[int64](statusLines)),
			shot("lookup-390-"+lang),
		)
		if w > 390 || lines > 1 {
			t.Errorf("lookup at 390 px in %s: page %d px wide, status on %d lines", lang, w, lines)
		}
	}
	run("back to the desktop", chromedp.EmulateReset())

	stopConsole()
	<-consoleDone
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser: %s", p)
	}
	t.Logf("%d screenshots in %s", n, strings.Join(shots, " and "))
}

// screenshotDirs returns where screenshots go: the test's artifact
// directory, and testdata/screenshots when FAKA_SCREENSHOTS=1.
func screenshotDirs(t *testing.T) []string {
	dirs := []string{t.ArtifactDir()}
	if os.Getenv("FAKA_SCREENSHOTS") == "1" {
		dir := filepath.Join("testdata", "screenshots")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	return dirs
}

// into runs an action that returns a value and stores the value in dst.
func into[T any](dst *T, a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		v, err := a(ctx, t)
		*dst = v
		return chromedp.Void{}, err
	}
}
