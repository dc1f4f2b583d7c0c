// Package dnsdiscovery tests the bridge's upstreams_dns end to end: the real
// binary, real simulators on several 127.0.0.x addresses sharing one port
// (as pods behind a headless Service do), and a real DNS server on loopback
// whose records the tests change under load.
package dnsdiscovery
