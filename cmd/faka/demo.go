package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/password"
)

// seedDemo loads sample products into an empty store. A store that has
// products is left alone: --demo never touches a real shop's data.
func seedDemo(ctx context.Context, e *engine.Engine, out io.Writer) error {
	ps, err := e.Products(ctx, false)
	if err != nil {
		return err
	}
	if len(ps) > 0 {
		return nil
	}
	card := &faka.Product{Name: "Demo game card (100 points)", Price: 990, Currency: "CNY", Active: true,
		Description: "A sample card product: each buyer gets distinct keys.", MaxQuantity: 5}
	if err := e.CreateProduct(ctx, card, 0, nil); err != nil {
		return fmt.Errorf("demo product: %w", err)
	}
	var keys strings.Builder
	for i := 1; i <= 50; i++ {
		fmt.Fprintf(&keys, "DEMO-%04d-%s\n", i, strings.ToUpper(randomHex(6)))
	}
	if _, err := e.ImportKeys(ctx, card.ID, strings.NewReader(keys.String())); err != nil {
		return fmt.Errorf("demo keys: %w", err)
	}
	reusable := &faka.Product{Name: "Demo shared licence", Price: 1990, Currency: "CNY", Active: true,
		Delivery: faka.DeliveryReusable, ReusableKey: "DEMO-SHARED-LICENCE-" + strings.ToUpper(randomHex(4)),
		Description: "A reusable key: every buyer gets the same one."}
	if err := e.CreateProduct(ctx, reusable, 1000, nil); err != nil {
		return fmt.Errorf("demo reusable product: %w", err)
	}
	fmt.Fprintf(out, "demo: loaded product %d (%d card keys) and product %d (reusable, 1000 units)\n",
		card.ID, 50, reusable.ID)
	return nil
}

// demoAccount is the console account --demo creates in a store that has
// none; its password is made up then and printed that once.
const demoAccount = "admin@example.com"

// seedDemoAdmin creates the demo console account when the store has no
// account at all. It returns the demo account when the store has it (made
// now or on an earlier run; "" otherwise) and its password when it made it
// now ("" otherwise: the password was shown once, on that run).
func seedDemoAdmin(ctx context.Context, st store) (account, pw string, err error) {
	accounts, ok := st.(faka.AccountStore)
	if !ok {
		return "", "", nil
	}
	n, err := accounts.AdminCount(ctx)
	if err != nil {
		return "", "", err
	}
	if n > 0 {
		if _, err := accounts.AdminByEmail(ctx, demoAccount); err != nil {
			if faka.ErrorCode(err) == faka.ENotFound {
				return "", "", nil
			}
			return "", "", err
		}
		return demoAccount, "", nil
	}
	pw = randomHex(8)
	hash, err := password.Hash(pw, password.DefaultParams())
	if err != nil {
		return "", "", err
	}
	if err := accounts.AdminCreate(ctx, &faka.Admin{Email: demoAccount, PasswordHash: hash}); err != nil {
		return "", "", fmt.Errorf("demo console account: %w", err)
	}
	return demoAccount, pw, nil
}

// printBanner tells a newcomer how to use the running demo.
func printBanner(out io.Writer, c *Config, account, adminPassword string) {
	fmt.Fprintf(out, `
faka is running at %[1]s
  shop:                                %[1]s/
  admin token (FAKA_ADMIN_TOKEN):      %[2]s
  sandbox secret (FAKA_SANDBOX_SECRET): %[3]s
`, c.PublicURL, c.AdminToken, c.SandboxSecret)
	switch {
	case adminPassword != "":
		fmt.Fprintf(out, "  console:                             %s/admin  (%s / %s)\n", c.PublicURL, account, adminPassword)
	case account != "":
		fmt.Fprintf(out, "  console:                             %s/admin  (%s; its password was printed on the first run; faka admin password --email %[2]s sets a new one)\n", c.PublicURL, account)
	default:
		fmt.Fprintf(out, "  console:                             %s/admin  (faka admin password --email … sets a password)\n", c.PublicURL)
	}
	fmt.Fprintf(out, `
Buy a key in the shop and press Pay on the sandbox page, or through the API:
  curl %[1]s/api/v1/products
  curl -X POST %[1]s/api/v1/orders -H 'Content-Type: application/json' \
       -d '{"product_id":1,"quantity":1,"email":"you@example.com","gateway":"sandbox"}'
  open the pay_url it returns and press Pay; the keys then show at
  curl '%[1]s/api/v1/orders/ORDER_NO?token=TOKEN'
  curl -H 'Authorization: Bearer %[2]s' %[1]s/api/v1/reconcile
`, c.PublicURL, c.AdminToken)
}
