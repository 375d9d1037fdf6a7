package main

import "testing"

// TestRedisOptions checks FAKA_REDIS_URL's key_prefix: taken off the URL
// go-redis reads, "faka:" by default, refused when empty or with spaces.
func TestRedisOptions(t *testing.T) {
	t.Parallel()
	opt, prefix, err := redisOptions("redis://127.0.0.1:6379/9?key_prefix=run-1:&dial_timeout=2s")
	if err != nil || prefix != "run-1:" || opt.DB != 9 || opt.DialTimeout.Seconds() != 2 {
		t.Fatalf("%+v %q %v", opt, prefix, err)
	}
	if _, prefix, err := redisOptions("redis://127.0.0.1:6379/0"); err != nil || prefix != "faka:" {
		t.Fatalf("default prefix %q %v", prefix, err)
	}
	for _, bad := range []string{"redis://h:1/0?key_prefix=", "redis://h:1/0?key_prefix=a%20b", "redis://h:1/0?nosuch=1"} {
		if _, _, err := redisOptions(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
