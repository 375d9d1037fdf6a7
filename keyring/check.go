package keyring

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// checkLabel is the constant whose HMAC under the master key is the key's
// check value. Changing it would make every database refuse its key.
const checkLabel = "faka master key check v1"

func checkValue(master []byte) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte(checkLabel))
	return m.Sum(nil)
}

// Check returns the master key's check value: HMAC-SHA256 of a constant
// under the key. It tells whether two parties hold the same key without
// revealing it, and is what a database stores of its master key.
func (k *Keyring) Check() []byte { return append([]byte(nil), k.check...) }

// SameKey reports, in constant time, whether check is this key's check
// value.
func (k *Keyring) SameKey(check []byte) bool { return hmac.Equal(check, k.check) }

// KeyFingerprint is how people name a master key: the first 8 bytes of its
// check value in hex, e.g. in the start-up log and in a mismatch message.
func (k *Keyring) KeyFingerprint() string { return CheckFingerprint(k.check) }

// CheckFingerprint is KeyFingerprint of the key whose check value is check.
func CheckFingerprint(check []byte) string {
	if len(check) > 8 {
		check = check[:8]
	}
	return hex.EncodeToString(check)
}
