package wechat_test

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment/wechat"
)

// FuzzWechatNotification feeds arbitrary notifications to
// ParseNotification, with the test-only keys under testdata and the clock
// at the recordings' time. It must never panic and never accept a body
// that is not signed with the test WeChat Pay key, under its id, within
// MaxClockSkew, whose resource does not decrypt to a paid CNY trade of
// this merchant. So that the fuzzer gets past the cryptography: with
// reseal, plaintext is encrypted into the body's resource (when its nonce
// has 12 bytes); with resign, the body is signed with the test key.
func FuzzWechatNotification(f *testing.F) {
	g := recordedGateway(f)
	signer := testdataSigner(f)
	key := strings.TrimSpace(string(readFile(f, "TEST_ONLY_apiv3_key.txt")))
	keyID := strings.TrimSpace(string(readFile(f, "TEST_ONLY_wechatpay_public_key_id.txt")))
	r, body := recorded(f, "notify_paid.http")
	f.Add(r.Header.Get(wechat.HeaderTimestamp), r.Header.Get(wechat.HeaderNonce), keyID, r.Header.Get(wechat.HeaderSignature), body, []byte(nil), false, false)
	f.Add("1767240000", "n", keyID, "", body, []byte(`{"mchid":"1900000109","appid":"wxd678efh567hg6787","trade_state":"SUCCESS","out_trade_no":"ABCDEF","transaction_id":"T","amount":{"total":1,"currency":"CNY"}}`), true, true)

	f.Fuzz(func(t *testing.T, timestamp, nonce, serial, signature string, body, plain []byte, reseal, resign bool) {
		if reseal {
			body = resealed(body, plain, key)
		}
		if resign {
			signature = sign(signer, timestamp, nonce, body)
		}
		r := httptest.NewRequest(http.MethodPost, "/pay/wechat/notify", nil)
		for h, v := range map[string]string{wechat.HeaderTimestamp: timestamp, wechat.HeaderNonce: nonce,
			wechat.HeaderSerial: serial, wechat.HeaderSignature: signature} {
			r.Header[h] = []string{v} // as given, even with bytes net/http would refuse
		}
		n, err := g.ParseNotification(r, body)
		if err != nil {
			if faka.ErrorCode(err) == faka.EInternal {
				t.Fatalf("an internal error for bad input: %v", err)
			}
			if n != (faka.Notification{}) {
				t.Fatalf("refused, yet filled: %+v", n)
			}
			return
		}
		// Accepted: check everything again, independently.
		if serial != keyID {
			t.Fatalf("accepted serial %q", serial)
		}
		ts, terr := strconv.ParseInt(timestamp, 10, 64)
		if d := time.Unix(ts, 0).Sub(recordedAt); terr != nil || d > wechat.MaxClockSkew || d < -wechat.MaxClockSkew {
			t.Fatalf("accepted timestamp %q", timestamp)
		}
		if strings.ContainsAny(timestamp+nonce, "\n") {
			t.Fatalf("accepted a line feed in the timestamp or nonce: %q %q", timestamp, nonce)
		}
		sig, _ := base64.StdEncoding.DecodeString(signature)
		sum := sha256.Sum256(wechat.SignedMessage(timestamp, nonce, body))
		if rsa.VerifyPKCS1v15(&signer.PublicKey, crypto.SHA256, sum[:], sig) != nil {
			t.Fatalf("accepted a body not signed with the test key: %q", body)
		}
		var env struct {
			EventType string `json:"event_type"`
			Resource  struct {
				Algorithm, Ciphertext, Nonce string
				AssociatedData               string `json:"associated_data"`
			} `json:"resource"`
		}
		if err := json.Unmarshal(body, &env); err != nil || env.EventType != wechat.EventPaid || env.Resource.Algorithm != wechat.Algorithm {
			t.Fatalf("accepted envelope %q", body)
		}
		block, _ := aes.NewCipher([]byte(key))
		aead, _ := cipher.NewGCM(block)
		ct, _ := base64.StdEncoding.DecodeString(env.Resource.Ciphertext)
		if len(env.Resource.Nonce) != aead.NonceSize() {
			t.Fatalf("accepted a nonce of %d bytes", len(env.Resource.Nonce))
		}
		pt, err := aead.Open(nil, []byte(env.Resource.Nonce), ct, []byte(env.Resource.AssociatedData))
		if err != nil {
			t.Fatalf("accepted a resource that does not decrypt: %q", body)
		}
		var tr struct {
			MchID         string `json:"mchid"`
			AppID         string `json:"appid"`
			TradeState    string `json:"trade_state"`
			OutTradeNo    string `json:"out_trade_no"`
			TransactionID string `json:"transaction_id"`
			Amount        struct {
				Total    int64  `json:"total"`
				Currency string `json:"currency"`
			} `json:"amount"`
		}
		if err := json.Unmarshal(pt, &tr); err != nil {
			t.Fatalf("accepted plaintext %q", pt)
		}
		if tr.MchID != mchID || tr.AppID != appID || tr.TradeState != wechat.TradeSuccess || tr.Amount.Currency != "CNY" ||
			n.Gateway != "wechat" || n.OrderNo != tr.OutTradeNo || !wechat.ValidOrderNo(n.OrderNo) || n.TradeNo != tr.TransactionID ||
			n.TradeNo == "" || n.Amount != tr.Amount.Total || n.Amount <= 0 || n.Currency != "CNY" {
			t.Fatalf("accepted %q as %+v", pt, n)
		}
	})
}

// resealed returns body with its resource's ciphertext replaced by plain
// encrypted with key, when body is a JSON object whose resource has a
// nonce of 12 bytes; body as it is otherwise.
func resealed(body, plain []byte, key string) []byte {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return body
	}
	res, ok := m["resource"].(map[string]any)
	if !ok {
		return body
	}
	nonce, _ := res["nonce"].(string)
	ad, _ := res["associated_data"].(string)
	if len(nonce) != 12 {
		return body
	}
	res["ciphertext"] = seal(plain, key, nonce, ad)["ciphertext"]
	out, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return out
}

// testdataSigner is the private half of the test-only WeChat Pay key.
func testdataSigner(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	block, _ := pem.Decode(readFile(t, "TEST_ONLY_wechatpay_private_key.pem"))
	if block == nil {
		t.Fatal("TEST_ONLY_wechatpay_private_key.pem is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}
