// Package alipay is the Alipay gateway (work in progress).
package alipay

import _ "github.com/go-pay/gopay/alipay"
