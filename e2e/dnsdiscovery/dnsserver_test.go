package dnsdiscovery

import (
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// dnsServer is a real DNS server on loopback UDP whose A records the test
// changes while the bridge runs, as a Kubernetes headless Service's records
// change when pods come and go.
type dnsServer struct {
	addr string

	mu      sync.Mutex
	records map[string][]net.IP // FQDN (trailing dot) → A records
	srv     map[string][]*dns.SRV
	queries int
}

func startDNS(t *testing.T) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{addr: pc.LocalAddr().String(), records: map[string][]net.IP{}, srv: map[string][]*dns.SRV{}}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.serve)}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return s
}

// setA replaces name's A records.
func (s *dnsServer) setA(name string, ips ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rr []net.IP
	for _, ip := range ips {
		rr = append(rr, net.ParseIP(ip).To4())
	}
	s.records[dns.Fqdn(name)] = rr
}

// remove makes name unknown (NXDOMAIN).
func (s *dnsServer) remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records, dns.Fqdn(name))
}

// setSRV replaces name's SRV records; each target is "host.:port".
func (s *dnsServer) setSRV(name string, targets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rr []*dns.SRV
	for _, t := range targets {
		host, port, _ := net.SplitHostPort(t)
		p, _ := strconv.Atoi(port)
		rr = append(rr, &dns.SRV{Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 1},
			Priority: 10, Weight: 10, Port: uint16(p), Target: dns.Fqdn(host)})
	}
	s.srv[dns.Fqdn(name)] = rr
}

func (s *dnsServer) queryCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

// serve answers A and SRV queries from the records (TTL 1 s), AAAA with
// no records, and unknown names with NXDOMAIN.
func (s *dnsServer) serve(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	s.mu.Lock()
	s.queries++
	for _, q := range req.Question {
		if srvs, ok := s.srv[q.Name]; ok {
			if q.Qtype == dns.TypeSRV {
				for _, r := range srvs {
					m.Answer = append(m.Answer, r)
				}
			}
			continue
		}
		ips, ok := s.records[q.Name]
		if !ok {
			m.Rcode = dns.RcodeNameError
			continue
		}
		if q.Qtype != dns.TypeA {
			continue
		}
		for _, ip := range ips {
			m.Answer = append(m.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1},
				A:   ip,
			})
		}
	}
	s.mu.Unlock()
	_ = w.WriteMsg(m)
}
