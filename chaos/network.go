package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/dsbridge/dsbridge/internal/loopback"
)

// Network is an embedded Toxiproxy: its server runs in this process on a
// loopback port of its own, and injectors drive it with Toxiproxy's client
// package, exactly as they would drive a standalone toxiproxy-server. The
// bench puts one proxy in front of every upstream, so that the bridges reach
// sim-N only through proxy sim-N.
//
//	bridge ──▶ 127.0.0.1:P (proxy "sim-1", toxics) ──▶ sim-1
type Network struct {
	api    *toxiproxy.ApiServer
	srv    *http.Server
	ln     net.Listener
	client *toxiclient.Client
	done   chan struct{}
}

// NewNetwork starts the embedded Toxiproxy API on a free loopback port.
func NewNetwork() (*Network, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// A private registry: nothing global is touched. Toxiproxy's logs are
	// silenced; the bench's report records what was injected.
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	// ApiServer.Listen builds its router and then calls log.Fatal on any
	// listener error, which would end the whole bench; so the same handlers
	// are mounted here, on a server we can shut down.
	r := mux.NewRouter()
	r.HandleFunc("/reset", api.ResetState).Methods("POST")
	r.HandleFunc("/proxies", api.ProxyIndex).Methods("GET")
	r.HandleFunc("/proxies", api.ProxyCreate).Methods("POST")
	r.HandleFunc("/populate", api.Populate).Methods("POST")
	r.HandleFunc("/proxies/{proxy}", api.ProxyShow).Methods("GET")
	r.HandleFunc("/proxies/{proxy}", api.ProxyUpdate).Methods("POST")
	r.HandleFunc("/proxies/{proxy}", api.ProxyDelete).Methods("DELETE")
	r.HandleFunc("/proxies/{proxy}/toxics", api.ToxicIndex).Methods("GET")
	r.HandleFunc("/proxies/{proxy}/toxics", api.ToxicCreate).Methods("POST")
	r.HandleFunc("/proxies/{proxy}/toxics/{toxic}", api.ToxicShow).Methods("GET")
	r.HandleFunc("/proxies/{proxy}/toxics/{toxic}", api.ToxicUpdate).Methods("POST")
	r.HandleFunc("/proxies/{proxy}/toxics/{toxic}", api.ToxicDelete).Methods("DELETE")
	r.HandleFunc("/version", api.Version).Methods("GET")
	n := &Network{
		api:    api,
		srv:    &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second},
		ln:     ln,
		client: toxiclient.NewClient(ln.Addr().String()),
		done:   make(chan struct{}),
	}
	go func() {
		defer close(n.done)
		_ = n.srv.Serve(ln)
	}()
	return n, nil
}

// APIAddr is the host:port of the embedded Toxiproxy API.
func (n *Network) APIAddr() string { return n.ln.Addr().String() }

// Client is the Toxiproxy client bound to the embedded server.
func (n *Network) Client() *toxiclient.Client { return n.client }

// AddProxy creates a proxy named name on a free loopback port forwarding to
// upstream (host:port) and returns the address to dial instead.
func (n *Network) AddProxy(name, upstream string) (string, error) {
	// Pick the port here so the caller knows it before anything connects.
	listen, err := loopback.FreeAddr()
	if err != nil {
		return "", err
	}
	p, err := n.client.CreateProxy(name, listen, upstream)
	if err != nil {
		return "", fmt.Errorf("toxiproxy: create %s: %w", name, err)
	}
	return p.Listen, nil
}

// Close stops every proxy and the API server.
func (n *Network) Close() error {
	err := n.api.Collection.Clear()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(err, n.srv.Shutdown(ctx))
}

// NetworkFault adds one Toxiproxy toxic to the proxy of each target: latency
// (and jitter), bandwidth, timeout (timeout: 0 is a black hole: data is
// swallowed until the toxic goes), reset_peer (TCP RST), limit_data (close
// after N bytes: a cut mid-stream), slow_close, slicer. Revert removes it.
type NetworkFault struct {
	Toxic ToxicSpec
	net   *Network
}

func newNetworkFault(s Spec, d Deps) (Injector, error) {
	if d.Network == nil {
		return nil, errors.New("network: the topology has no network layer (topology.network: true)")
	}
	if s.Toxic.Type == "" {
		return nil, errors.New("network: toxic.type is required")
	}
	return &NetworkFault{Toxic: s.Toxic, net: d.Network}, nil
}

// Describe implements Describer.
func (f *NetworkFault) Describe() string {
	return fmt.Sprintf("toxiproxy %s %v", f.Toxic.Type, f.Toxic.Attributes)
}

// Inject implements Injector.
func (f *NetworkFault) Inject(_ context.Context, targets []Target) (Revert, error) {
	stream := f.Toxic.Stream
	if stream == "" {
		stream = "downstream"
	}
	toxicity := f.Toxic.Toxicity
	if toxicity == 0 {
		toxicity = 1
	}
	attrs := toxiclient.Attributes{}
	for k, v := range f.Toxic.Attributes {
		attrs[k] = v
	}
	type added struct {
		proxy *toxiclient.Proxy
		name  string
	}
	var done []added
	for i, t := range targets {
		if t.Proxy == "" {
			return nil, fmt.Errorf("network %s: no proxy in front of it", t.Name)
		}
		p, err := f.net.client.Proxy(t.Proxy)
		if err != nil {
			return nil, fmt.Errorf("network %s: %w", t.Name, err)
		}
		name := f.Toxic.Type + "_" + stream + "_" + strconv.Itoa(i)
		if _, err := p.AddToxic(name, f.Toxic.Type, stream, toxicity, attrs); err != nil {
			return nil, fmt.Errorf("network %s: add %s: %w", t.Name, f.Toxic.Type, err)
		}
		done = append(done, added{p, name})
	}
	return func(context.Context) error {
		var errs []error
		for _, a := range done {
			if err := a.proxy.RemoveToxic(a.name); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", a.name, err))
			}
		}
		return errors.Join(errs...)
	}, nil
}
