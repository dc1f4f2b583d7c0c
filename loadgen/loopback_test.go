package loadgen

import (
	"context"
	"testing"
)

func TestCheckLoopback(t *testing.T) {
	for target, ok := range map[string]bool{
		"http://127.0.0.1:11434": true,
		"http://127.8.9.10":      true, // all of 127.0.0.0/8
		"http://[::1]:8080":      true,
		"http://localhost:11434": true,
		"https://127.0.0.1":      true,
		"http://10.0.0.1":        false, // private ranges are still someone else's
		"http://172.17.0.2":      false,
		"http://[2001:db8::1]":   false,
		"ftp://127.0.0.1":        false,
		"http://":                false,
		"127.0.0.1:11434":        false, // no scheme
	} {
		if err := checkLoopback(context.Background(), target); (err == nil) != ok {
			t.Errorf("checkLoopback(%q) = %v, want ok=%v", target, err, ok)
		}
	}
}
