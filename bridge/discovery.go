package bridge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DNSDiscoveryConfig finds upstreams in DNS, so Ollama instances can come and
// go without a restart: the A/AAAA records of a name (a Kubernetes headless
// Service) or its SRV records. Off while Name is empty; the static list stays
// the default, and both may be used at once.
//
// Every Interval (and at once when a discovered instance fails its health
// checks) the name is resolved again. A change is applied like a reload: new
// addresses are health-checked before they take traffic, removed ones get
// no new requests while their in-flight ones finish. A failed lookup keeps
// the last known set: DNS being down is not the fleet being down.
type DNSDiscoveryConfig struct {
	Name string `yaml:"name"`
	// Type is "A" (A and AAAA records; the default) or "SRV".
	Type string `yaml:"type"`
	// Port of every instance found by A records (default 11434); SRV
	// records carry their own.
	Port int `yaml:"port"`
	// Scheme of the upstream URLs: http (default) or https.
	Scheme   string        `yaml:"scheme"`
	Interval time.Duration `yaml:"interval"`
	Timeout  time.Duration `yaml:"timeout"` // one lookup
	// Server is the DNS server's host:port; empty: the system's resolver
	// (/etc/resolv.conf), which is what a pod wants.
	Server string `yaml:"server"`
	// Weight and MaxInFlight apply to every discovered instance.
	Weight      int `yaml:"weight"`
	MaxInFlight int `yaml:"max_in_flight"`
}

func defaultDNSDiscovery() DNSDiscoveryConfig {
	return DNSDiscoveryConfig{Type: "A", Port: 11434, Scheme: "http", Interval: 5 * time.Second, Timeout: 2 * time.Second,
		Weight: 1}
}

// enabled reports whether discovery is configured.
func (d DNSDiscoveryConfig) enabled() bool { return d.Name != "" }

func (d DNSDiscoveryConfig) validate() error {
	if !d.enabled() {
		return nil
	}
	var errs []error
	switch d.Type {
	case "A", "SRV":
	default:
		errs = append(errs, fmt.Errorf("upstreams_dns.type %q: want A or SRV", d.Type))
	}
	if d.Type == "A" && (d.Port < 1 || d.Port > 65535) {
		errs = append(errs, fmt.Errorf("upstreams_dns.port %d: want 1..65535", d.Port))
	}
	if d.Scheme != "http" && d.Scheme != "https" {
		errs = append(errs, fmt.Errorf("upstreams_dns.scheme %q: want http or https", d.Scheme))
	}
	if d.Interval <= 0 || d.Timeout <= 0 {
		errs = append(errs, errors.New("upstreams_dns.interval and upstreams_dns.timeout: want > 0"))
	}
	if d.Server != "" {
		if _, _, err := net.SplitHostPort(d.Server); err != nil {
			errs = append(errs, fmt.Errorf("upstreams_dns.server %q: want host:port", d.Server))
		}
	}
	if d.Weight < 1 || d.Weight > 1000 {
		errs = append(errs, fmt.Errorf("upstreams_dns.weight %d: want 1..1000", d.Weight))
	}
	if d.MaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("upstreams_dns.max_in_flight %d: want >= 0", d.MaxInFlight))
	}
	return errors.Join(errs...)
}

// ParseDNSFlag reads a --upstreams-dns value on top of d:
// NAME[,type=A|SRV][,port=N][,server=HOST:PORT][,interval=D].
func ParseDNSFlag(s string, d DNSDiscoveryConfig) (DNSDiscoveryConfig, error) {
	parts := strings.Split(s, ",")
	d.Name = strings.TrimSpace(parts[0])
	if d.Name == "" {
		return d, fmt.Errorf("upstreams-dns %q: no name", s)
	}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		var err error
		switch k {
		case "type":
			d.Type = strings.ToUpper(v)
		case "port":
			d.Port, err = strconv.Atoi(v)
		case "server":
			d.Server = v
		case "interval":
			d.Interval, err = time.ParseDuration(v)
		default:
			err = fmt.Errorf("unknown option %q", k)
		}
		if err != nil {
			return d, fmt.Errorf("upstreams-dns %q: %s: %w", s, k, err)
		}
	}
	return d, nil
}

// resolver asks d.Server, or the system's resolver when none is set.
func (d DNSDiscoveryConfig) resolver() *net.Resolver {
	if d.Server == "" {
		return net.DefaultResolver
	}
	server := d.Server
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, network, server)
	}}
}

// lookup resolves d into upstream URLs, sorted. An empty answer is an error
// like any other: it keeps the last known set.
func (d DNSDiscoveryConfig) lookup(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	r := d.resolver()
	var hostports []string
	switch d.Type {
	case "SRV":
		_, srvs, err := r.LookupSRV(ctx, "", "", d.Name)
		if err != nil {
			return nil, err
		}
		for _, s := range srvs {
			ips, err := r.LookupNetIP(ctx, "ip", s.Target)
			if err != nil {
				return nil, fmt.Errorf("SRV target %s: %w", s.Target, err)
			}
			for _, ip := range ips {
				hostports = append(hostports, netip.AddrPortFrom(ip.Unmap(), s.Port).String())
			}
		}
	default:
		ips, err := r.LookupNetIP(ctx, "ip", d.Name)
		if err != nil {
			return nil, err
		}
		for _, ip := range ips {
			hostports = append(hostports, netip.AddrPortFrom(ip.Unmap(), uint16(d.Port)).String())
		}
	}
	if len(hostports) == 0 {
		return nil, fmt.Errorf("%s: no records", d.Name)
	}
	urls := make([]string, 0, len(hostports))
	for _, hp := range hostports {
		urls = append(urls, d.Scheme+"://"+hp)
	}
	slices.Sort(urls)
	return slices.Compact(urls), nil
}

// discoveryMetrics count lookups and what they found.
type discoveryMetrics struct {
	lookups  *prometheus.CounterVec
	found    prometheus.Gauge
	changes  prometheus.Counter
	success  prometheus.Counter
	failures prometheus.Counter
}

func newDiscoveryMetrics(reg prometheus.Registerer) *discoveryMetrics {
	m := &discoveryMetrics{
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bridge_discovery_lookups_total",
			Help: "DNS lookups for upstreams_dns, by result (success, failure)."}, []string{"result"}),
		found: prometheus.NewGauge(prometheus.GaugeOpts{Name: "bridge_discovery_upstreams",
			Help: "Upstreams currently known from DNS (the last successful lookup)."}),
		changes: prometheus.NewCounter(prometheus.CounterOpts{Name: "bridge_discovery_changes_total",
			Help: "Times the upstreams found in DNS changed and the pool was swapped."}),
	}
	m.success, m.failures = m.lookups.WithLabelValues("success"), m.lookups.WithLabelValues("failure")
	reg.MustRegister(m.lookups, m.found, m.changes)
	return m
}

// discoverLoop keeps the discovered upstreams in step with DNS until ctx
// ends. It reads the current configuration on every round, so a reload can
// turn discovery on, off, or point it elsewhere.
func (h *Handler) discoverLoop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	var last time.Time
	for {
		d := h.state.Load().cfg.UpstreamsDNS
		wait := time.Second
		if d.enabled() {
			last = time.Now()
			if h.discoverOnce(ctx, d) {
				wait = d.Interval
			} else {
				wait = min(d.Interval, time.Second) // retry a failed lookup soon
			}
		} else {
			h.setDiscovered(nil)
		}
		timer.Reset(wait)
	waiting:
		for {
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
				break waiting
			case <-poll.C:
				// A discovered instance that stopped answering may be a pod
				// that went away: look again now, at most once a second.
				if d.enabled() && time.Since(last) >= time.Second && h.discoveredDown() {
					break waiting
				}
			}
		}
	}
}

// discoverOnce resolves d and applies the answer when it changed; false
// when the lookup failed (the last known set stays).
func (h *Handler) discoverOnce(ctx context.Context, d DNSDiscoveryConfig) bool {
	urls, err := d.lookup(ctx)
	if err != nil {
		h.discoveryM.failures.Inc()
		if ctx.Err() == nil {
			h.log.Warn("upstreams_dns lookup failed, keeping the last known upstreams", "dns.name", d.Name,
				"error.message", err.Error())
		}
		return false
	}
	h.discoveryM.success.Inc()
	ups := make([]UpstreamConfig, len(urls))
	for i, u := range urls {
		ups[i] = UpstreamConfig{URL: u, Weight: d.Weight, MaxInFlight: d.MaxInFlight}
	}
	h.setDiscovered(ups)
	return true
}

// setDiscovered swaps the pool when the discovered set changed, through the
// same path as a reload.
func (h *Handler) setDiscovered(ups []UpstreamConfig) {
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	if slices.Equal(ups, h.discovered) {
		return
	}
	h.discovered = ups
	h.discoveryM.found.Set(float64(len(ups)))
	h.discoveryM.changes.Inc()
	h.swap(h.state.Load().cfg)
	urls := make([]string, len(ups))
	for i, u := range ups {
		urls[i] = u.URL
	}
	h.log.Info("upstreams from DNS changed", "upstreams", strings.Join(urls, " "))
}

// discoveredDown reports whether a discovered instance is out by its health
// checks.
func (h *Handler) discoveredDown() bool {
	h.reloadMu.Lock()
	found := make(map[string]bool, len(h.discovered))
	for _, u := range h.discovered {
		found[u.URL] = true
	}
	h.reloadMu.Unlock()
	for _, u := range h.state.Load().pool.all {
		if found[u.name] && !u.healthy.Load() {
			return true
		}
	}
	return false
}

// withDiscovered is cfg with the discovered upstreams after its static ones
// (an address listed in both keeps its static settings).
func withDiscovered(cfg Config, discovered []UpstreamConfig) Config {
	if len(discovered) == 0 {
		return cfg
	}
	ups := slices.Clone(cfg.Upstreams)
	for _, d := range discovered {
		if !slices.ContainsFunc(ups, func(u UpstreamConfig) bool { return u.URL == d.URL }) {
			ups = append(ups, d)
		}
	}
	cfg.Upstreams = ups
	return cfg
}
