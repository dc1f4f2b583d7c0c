package loadgen

import (
	"context"
	"fmt"
	"net"
	"net/url"
)

// checkLoopback refuses a target that is not on this machine's loopback
// (127.0.0.0/8, ::1): DESIGN.md allows load only there, and a typo in a
// URL must not turn a load test on someone else's server.
func checkLoopback(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("target %q: want http:// or https://", raw)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("target %q: no host", raw)
	}
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return fmt.Errorf("target %q: %s is not a loopback address (load only goes to 127.0.0.0/8 or ::1)", raw, ip)
		}
		return nil
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return fmt.Errorf("target %q: %w", raw, err)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return fmt.Errorf("target %q: %s resolves to %s, not a loopback address", raw, host, a.IP)
		}
	}
	return nil
}
