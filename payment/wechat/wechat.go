// Package wechat is the WeChat Pay API v3 gateway (work in progress).
package wechat

import _ "github.com/go-pay/gopay/wechat/v3"
