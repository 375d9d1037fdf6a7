package wechat_test

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faka-dev/faka/payment/wechat"
)

// The merchant of the tests. None of these values is real.
const (
	mchID    = "1900000109"
	appID    = "wxd678efh567hg6787"
	serialNo = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
	apiV3Key = "t3stAPIv3key0123456789abcdefghij" // 32 bytes
	pubKeyID = "PUB_KEY_ID_0119000001092026010100000000000001"
	shop     = "https://shop.example.com"
)

// testKeys are RSA keys made once per test binary: the merchant's API
// key, the "WeChat Pay" key that signs notifications and replies, and
// another key that is neither.
type testKeys struct{ merchant, wechat, other *rsa.PrivateKey }

var keys = sync.OnceValue(func() testKeys {
	gen := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	}
	return testKeys{merchant: gen(), wechat: gen(), other: gen()}
})

func privatePEM(k *rsa.PrivateKey) string {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func publicPEM(k *rsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// config is the test merchant's configuration against apiURL (empty:
// WeChat's, never reached by the tests that use it).
func config(apiURL string) wechat.Config {
	k := keys()
	return wechat.Config{MchID: mchID, AppID: appID, SerialNo: serialNo, APIv3Key: apiV3Key,
		PrivateKey: privatePEM(k.merchant), PublicKey: publicPEM(&k.wechat.PublicKey), PublicKeyID: pubKeyID, APIURL: apiURL}
}

func newGateway(t testing.TB, cfg wechat.Config, client *http.Client) *wechat.Gateway {
	t.Helper()
	g, err := wechat.New(cfg, shop+"/", client)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// sign signs the message WeChat Pay signs, with k.
func sign(k *rsa.PrivateKey, timestamp, nonce string, body []byte) string {
	sum := sha256.Sum256(wechat.SignedMessage(timestamp, nonce, body))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// seal encrypts plain as WeChat Pay encrypts a notification's resource.
func seal(plain []byte, key, nonce, ad string) map[string]any {
	block, err := aes.NewCipher([]byte(key))
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	ct := aead.Seal(nil, []byte(nonce), plain, []byte(ad))
	return map[string]any{"algorithm": wechat.Algorithm, "ciphertext": base64.StdEncoding.EncodeToString(ct),
		"associated_data": ad, "original_type": "transaction", "nonce": nonce}
}

// paidTrade is a paid trade of order 2026… as WeChat Pay states it.
func paidTrade() map[string]any {
	return map[string]any{
		"appid": appID, "mchid": mchID, "out_trade_no": "20260101000000000042",
		"transaction_id": "4200001234202601011234567890", "trade_type": "NATIVE", "trade_state": "SUCCESS",
		"trade_state_desc": "支付成功", "bank_type": "OTHERS", "attach": "", "success_time": "2026-01-01T12:00:00+08:00",
		"payer":  map[string]any{"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
		"amount": map[string]any{"total": 990, "payer_total": 990, "currency": "CNY", "payer_currency": "CNY"},
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// envelope is a notification body around resource.
func envelope(event string, resource map[string]any) []byte {
	return mustJSON(map[string]any{"id": "EV-2018022511223320873", "create_time": "2026-01-01T12:00:01+08:00",
		"resource_type": "encrypt-resource", "event_type": event, "summary": "支付成功", "resource": resource})
}

// notifyNonce is the Wechatpay-Nonce of the tests' notifications.
const notifyNonce = "fHmxKnvVDx5jJ4d0ioWyK7o1dOmrREN6"

// notifyRequest is POST /pay/wechat/notify of body with WeChat Pay's
// headers, signed with k at ts.
func notifyRequest(body []byte, ts time.Time, serial string, k *rsa.PrivateKey) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/pay/wechat/notify", strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/json")
	timestamp, nonce := strconv.FormatInt(ts.Unix(), 10), notifyNonce
	r.Header.Set(wechat.HeaderTimestamp, timestamp)
	r.Header.Set(wechat.HeaderNonce, nonce)
	r.Header.Set(wechat.HeaderSerial, serial)
	if k != nil {
		r.Header.Set(wechat.HeaderSignature, sign(k, timestamp, nonce, body))
	}
	return r
}

// fakeWeChat is a server that speaks the part of WeChat Pay's API v3 the
// gateway uses: it checks each request's merchant signature and signs
// its replies with the "WeChat Pay" key, as WeChat Pay does.
type fakeWeChat struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	signer   *rsa.PrivateKey // signs the replies
	serial   string          // Wechatpay-Serial of the replies
	unsigned bool            // replies carry no signature
	trades   map[string]map[string]any
	fail     map[string]fakeError // by out_trade_no: the reply to any call about it
	natives  []map[string]any     // bodies of the Native requests
	closes   []string
	delay    time.Duration // before answering a Native request
}

type fakeError struct {
	status int
	code   string
}

func newFake(t testing.TB) *fakeWeChat {
	f := &fakeWeChat{t: t, signer: keys().wechat, serial: pubKeyID, trades: map[string]map[string]any{}, fail: map[string]fakeError{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v3/pay/transactions/native", f.native)
	mux.HandleFunc("GET /v3/pay/transactions/out-trade-no/{no}", f.query)
	mux.HandleFunc("POST /v3/pay/transactions/out-trade-no/{no}/close", f.close)
	f.srv = httptest.NewServer(f.checkAuth(mux))
	t.Cleanup(f.srv.Close)
	return f
}

var authRE = regexp.MustCompile(`^WECHATPAY2-SHA256-RSA2048 mchid="([^"]*)",nonce_str="([^"]*)",timestamp="([^"]*)",serial_no="([^"]*)",signature="([^"]*)"$`)

// checkAuth verifies the Authorization header of the merchant's request:
// "METHOD\nURL\ntimestamp\nnonce\nbody\n" signed with the merchant key.
func (f *fakeWeChat) checkAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		m := authRE.FindStringSubmatch(r.Header.Get("Authorization"))
		if m == nil || m[1] != mchID || m[4] != serialNo || r.Header.Get(wechat.HeaderSerial) != pubKeyID {
			f.reply(w, http.StatusUnauthorized, mustJSON(map[string]string{"code": "SIGN_ERROR", "message": "bad Authorization"}))
			return
		}
		msg := r.Method + "\n" + r.URL.RequestURI() + "\n" + m[3] + "\n" + m[2] + "\n" + string(body) + "\n"
		sig, _ := base64.StdEncoding.DecodeString(m[5])
		sum := sha256.Sum256([]byte(msg))
		if rsa.VerifyPKCS1v15(&keys().merchant.PublicKey, crypto.SHA256, sum[:], sig) != nil {
			f.reply(w, http.StatusUnauthorized, mustJSON(map[string]string{"code": "SIGN_ERROR", "message": "签名错误"}))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// reply writes a reply signed as WeChat Pay signs it.
func (f *fakeWeChat) reply(w http.ResponseWriter, status int, body []byte) {
	f.mu.Lock()
	signer, serial, unsigned := f.signer, f.serial, f.unsigned
	f.mu.Unlock()
	ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
	h := w.Header()
	h.Set(wechat.HeaderTimestamp, ts)
	h.Set(wechat.HeaderNonce, nonce)
	h.Set(wechat.HeaderSerial, serial)
	if !unsigned {
		h.Set(wechat.HeaderSignature, sign(signer, ts, nonce, body))
	}
	if len(body) > 0 {
		h.Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	w.Write(body)
}

func (f *fakeWeChat) failure(w http.ResponseWriter, no string) bool {
	f.mu.Lock()
	e, ok := f.fail[no]
	f.mu.Unlock()
	if ok {
		f.reply(w, e.status, mustJSON(map[string]string{"code": e.code, "message": "fake " + e.code}))
	}
	return ok
}

func (f *fakeWeChat) native(w http.ResponseWriter, r *http.Request) {
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		f.reply(w, http.StatusBadRequest, mustJSON(map[string]string{"code": "PARAM_ERROR", "message": err.Error()}))
		return
	}
	f.mu.Lock()
	f.natives = append(f.natives, req)
	delay := f.delay
	f.mu.Unlock()
	time.Sleep(delay)
	no, _ := req["out_trade_no"].(string)
	if f.failure(w, no) {
		return
	}
	f.reply(w, http.StatusOK, mustJSON(map[string]string{"code_url": "weixin://wxpay/bizpayurl?pr=" + no}))
}

func (f *fakeWeChat) query(w http.ResponseWriter, r *http.Request) {
	no := r.PathValue("no")
	if r.URL.Query().Get("mchid") != mchID {
		f.reply(w, http.StatusBadRequest, mustJSON(map[string]string{"code": "PARAM_ERROR", "message": "mchid"}))
		return
	}
	if f.failure(w, no) {
		return
	}
	f.mu.Lock()
	trade, ok := f.trades[no]
	f.mu.Unlock()
	if !ok {
		f.reply(w, http.StatusNotFound, mustJSON(map[string]string{"code": "ORDER_NOT_EXIST", "message": "订单不存在"}))
		return
	}
	f.reply(w, http.StatusOK, mustJSON(trade))
}

func (f *fakeWeChat) close(w http.ResponseWriter, r *http.Request) {
	no := r.PathValue("no")
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req["mchid"] != mchID {
		f.reply(w, http.StatusBadRequest, mustJSON(map[string]string{"code": "PARAM_ERROR", "message": "mchid"}))
		return
	}
	f.mu.Lock()
	f.closes = append(f.closes, no)
	f.mu.Unlock()
	if f.failure(w, no) {
		return
	}
	f.reply(w, http.StatusNoContent, nil)
}

// readFile reads a file under testdata.
func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
