package bridge

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientAddrs decides who a request comes from, and whether it may come.
//
// The client is the connecting peer, unless that peer is a trusted proxy:
// then X-Forwarded-For is walked from the right (the entry the nearest
// proxy appended) past every trusted hop, and the first untrusted address
// is the client. Entries left of it were written by the client itself and
// are never believed. A peer that is not trusted cannot change anything by
// sending the header.
type clientAddrs struct {
	allow   []netip.Prefix // empty: everyone
	trusted []netip.Prefix
}

// peerAddr is the connecting peer's address, IPv4-mapped IPv6 unmapped.
func peerAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// clientIP is the request's client address (see clientAddrs).
func (c *clientAddrs) clientIP(r *http.Request) netip.Addr {
	peer := peerAddr(r)
	if len(c.trusted) == 0 || !inPrefixes(c.trusted, peer) {
		return peer
	}
	return c.walkForwarded(peer, r.Header.Values("X-Forwarded-For"))
}

// walkForwarded walks the X-Forwarded-For values (several header lines
// are one list, in order) from the right. An entry that is not an address
// stops the walk at the last trusted hop: whatever wrote it is not a
// proxy the operator vouched for.
func (c *clientAddrs) walkForwarded(peer netip.Addr, values []string) netip.Addr {
	client := peer
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			var hop string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				hop, v = v[j+1:], v[:j]
			} else {
				hop, v = v, ""
			}
			hop = strings.TrimSpace(hop)
			if hop == "" {
				continue
			}
			a, err := netip.ParseAddr(hop)
			if err != nil {
				return client
			}
			client = a.Unmap()
			if !inPrefixes(c.trusted, client) {
				return client
			}
		}
	}
	return client // every hop trusted: the leftmost is the origin
}

// allowed says whether ip may be served.
func (c *clientAddrs) allowed(ip netip.Addr) bool {
	return len(c.allow) == 0 || inPrefixes(c.allow, ip)
}

func inPrefixes(ps []netip.Prefix, a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
