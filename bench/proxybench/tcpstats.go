package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
)

// TCP segments are the unit of work on loopback: every segment is a whole
// send path in one process and a receive path in the softirq it runs. How
// many a cell needs per request shows where a target costs its neighbours
// CPU (a proxy that lets the upstreams' token writes go out one segment each
// makes the upstreams busier), so each cell records the machine's
// Tcp OutSegs count around it. The benchmark's processes are the machine's
// only loopback traffic while a cell runs; other traffic inflates the figure.

// readTCPOutSegs returns the kernel's count of TCP segments sent since boot
// (/proc/net/snmp, "Tcp:" OutSegs), on every interface.
func readTCPOutSegs() (int64, error) {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0, err
	}
	// The file holds pairs of lines per protocol: names, then values.
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != "Tcp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "OutSegs" && i < len(f) {
				return strconv.ParseInt(f[i], 10, 64)
			}
		}
	}
	return 0, errors.New("no Tcp OutSegs in /proc/net/snmp")
}

// defaultCongestionControl is the congestion control new TCP sockets get
// (net.ipv4.tcp_congestion_control), or "" where that cannot be read.
func defaultCongestionControl() string {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
