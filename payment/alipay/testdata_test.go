package alipay_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/faka-dev/faka/payment/alipay"
)

var update = flag.Bool("update", false, "make the test keys if missing and rewrite the recorded bodies in testdata/")

// recorded returns the recorded notification bodies and fuzz seeds, by
// path, as made from the test keys. RSA PKCS #1 v1.5 signatures are
// deterministic, so the same keys always make the same files.
func recorded() map[string]string {
	paid := signedForm(paidFields(), aliKey)
	files := map[string]string{
		"testdata/notify_paid.form": paid,
		"testdata/notify_finished.form": signedForm(with(paidFields(), "trade_status", alipay.TradeFinished,
			"notify_time", "2026-06-01 12:00:10", "notify_id", "2026060100222120010046881420"), aliKey),
		"testdata/notify_wait_buyer_pay.form": signedForm(with(paidFields(), "trade_status", alipay.WaitBuyerPay,
			"gmt_payment", "", "fund_bill_list", "", "receipt_amount", "", "invoice_amount", "", "buyer_pay_amount", "", "point_amount", ""), aliKey),
		"testdata/notify_closed.form": signedForm(with(paidFields(), "trade_status", alipay.TradeClosed,
			"gmt_payment", "", "gmt_close", "2026-03-01 12:05:00"), aliKey),
		"testdata/notify_other_app.form":       signedForm(with(paidFields(), "app_id", "2021000000000002", "auth_app_id", "2021000000000002"), aliKey),
		"testdata/notify_other_amount.form":    signedForm(with(paidFields(), "total_amount", "0.01", "receipt_amount", "0.01", "buyer_pay_amount", "0.01", "invoice_amount", "0.01"), aliKey),
		"testdata/notify_other_key.form":       signedForm(paidFields(), merchantKey),
		"testdata/notify_no_out_trade_no.form": signedForm(with(paidFields(), "out_trade_no", ""), aliKey),
		"testdata/notify_sign_type_rsa.form":   signedFormHash(with(paidFields(), "sign_type", "RSA"), aliKey, crypto.SHA1),
		"testdata/notify_tampered_amount.form": strings.Replace(paid, "total_amount=9.90", "total_amount=0.01", 1),
	}
	seeds := map[string]struct {
		body string
		sign bool
	}{
		"recorded":       {paid, false},
		"resigned":       {unsigned(paidFields()), true},
		"resigned_other": {unsigned(with(paidFields(), "app_id", "1")), true},
		"other_key":      {files["testdata/notify_other_key.form"], false},
		"tampered":       {files["testdata/notify_tampered_amount.form"], false},
		"wait":           {files["testdata/notify_wait_buyer_pay.form"], false},
		"sign_type_rsa":  {files["testdata/notify_sign_type_rsa.form"], false},
		"duplicate":      {paid + "&total_amount=0.01", false},
		"bad_escape":     {"sign=%zz&app_id=" + appID, false},
		"empty":          {"", false},
		"empty_sign":     {"sign=&" + unsigned(paidFields()), true},
	}
	for name, s := range seeds {
		files["testdata/fuzz/FuzzAlipayNotification/"+name] = "go test fuzz v1\nstring(" + strconv.Quote(s.body) + ")\nbool(" + strconv.FormatBool(s.sign) + ")\n"
	}
	return files
}

// unsigned form-encodes fields without signing them.
func unsigned(p map[string]string) string {
	q := url.Values{}
	for k, v := range p {
		q.Set(k, v)
	}
	return q.Encode()
}

// TestTestdata checks that the recorded bodies are what their generator
// makes from the test keys (run with -update to make them again, and the
// keys when they are missing).
func TestTestdata(t *testing.T) {
	if *update {
		for _, f := range []struct {
			path string
			der  func(*rsa.PrivateKey) ([]byte, string)
		}{
			{merchantKeyFile, func(k *rsa.PrivateKey) ([]byte, string) {
				der, _ := x509.MarshalPKCS8PrivateKey(k)
				return der, "PRIVATE KEY"
			}},
			{alipayKeyFile, func(k *rsa.PrivateKey) ([]byte, string) { return x509.MarshalPKCS1PrivateKey(k), "RSA PRIVATE KEY" }},
		} {
			if _, err := os.Stat(f.path); !errors.Is(err, fs.ErrNotExist) {
				continue
			}
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			der, typ := f.der(k)
			if err := os.WriteFile(f.path, append([]byte(keyMark), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})...), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	loadKeys(t)
	for path, want := range recorded() {
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (make it with -update)", err)
		}
		if !bytes.Equal(got, []byte(want)) {
			t.Errorf("%s is not what the test keys make; run go test -run TestTestdata -update", path)
		}
	}
	for _, path := range []string{merchantKeyFile, alipayKeyFile} {
		data, err := os.ReadFile(path)
		if err != nil || !bytes.HasPrefix(data, []byte(keyMark)) {
			t.Errorf("%s must start with the test-only mark", path)
		}
	}
}
