package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a child process the harness started, in a process group of its own
// so that it and whatever it forks (nginx's workers) are measured and stopped
// together.
type proc struct {
	name   string
	cmd    *exec.Cmd
	log    string        // file holding its stdout and stderr
	exited chan struct{} // closed when it exits
	err    error         // its exit error, valid after exited is closed
}

// startProc starts path with args, pinned to cpus with taskset when cpus is
// not empty. env entries are added to the harness's environment.
func startProc(name, dir, cpus, path string, args, env []string) (*proc, error) {
	if cpus != "" {
		args = append([]string{"--cpu-list", cpus, path}, args...)
		path = "taskset"
	}
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	// Pdeathsig: if the harness dies, its children do not outlive it and keep
	// ports and CPU busy for the next engineer.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	return p, nil
}

// pgid is the process group of p and of everything it forked.
func (p *proc) pgid() int { return p.cmd.Process.Pid }

// stop ends the process group: SIGTERM, then SIGKILL after a grace period.
func (p *proc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = syscall.Kill(-p.pgid(), syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-p.pgid(), syscall.SIGKILL)
		<-p.exited
	}
	// nginx's workers may linger a moment after their master.
	_ = syscall.Kill(-p.pgid(), syscall.SIGKILL)
}

// tail returns the end of the process's log, for error messages.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// waitHTTP polls GET url until it answers with a status accepted by ok, the
// process exits, or timeout passes.
func (p *proc) waitHTTP(ctx context.Context, url string, timeout time.Duration, ok func(int) bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if ok(resp.StatusCode) {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready (%v):\n%s", p.name, p.err, p.tail())
		case <-ctx.Done():
			return fmt.Errorf("%s: %s not ready within %v (last: %v):\n%s", p.name, url, timeout, last, p.tail())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// clockTicks is USER_HZ, the unit of /proc CPU times; it is 100 on every
// Linux architecture Go supports, and Go without cgo cannot ask sysconf.
const clockTicks = 100

// groupCPU returns the CPU time (user+system) used so far by the live
// processes of process group pgid, read from /proc/<pid>/stat. Summing over
// the group counts nginx's master and workers together.
func groupCPU(pgid int) (time.Duration, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	var ticks int64
	found := false
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.pgrp != pgid {
			continue // gone, or not ours
		}
		found = true
		ticks += st.utime + st.stime
	}
	if !found {
		return 0, fmt.Errorf("no process in group %d", pgid)
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

type procStat struct {
	pgrp         int
	utime, stime int64
}

// readStat parses /proc/<pid>/stat (proc(5)). The command name may hold
// spaces and parentheses, so fields are counted after the last ')'.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errors.New("bad stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// After ')': state(3) ppid(4) pgrp(5) … utime(14) stime(15).
	if len(f) < 13 {
		return procStat{}, errors.New("short stat")
	}
	var st procStat
	st.pgrp, _ = strconv.Atoi(f[2])
	st.utime, _ = strconv.ParseInt(f[11], 10, 64)
	st.stime, _ = strconv.ParseInt(f[12], 10, 64)
	return st, nil
}

// sysCPU is the machine-wide CPU time from /proc/stat's first line. irq is
// hard and soft interrupt time: on loopback most of TCP's receive path runs
// in softirq, which is charged to no process, so it is kept apart from
// "other processes" to keep the noise figure honest.
type sysCPU struct{ busy, irq, total time.Duration }

func readSysCPU() (sysCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return sysCPU{}, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return sysCPU{}, errors.New("bad /proc/stat")
	}
	var total, idle, irq int64
	for i, s := range f[1:] {
		v, _ := strconv.ParseInt(s, 10, 64)
		if i >= 8 { // guest and guest_nice are already inside user and nice
			break
		}
		total += v
		switch i {
		case 3, 4: // idle, iowait
			idle += v
		case 5, 6: // irq, softirq
			irq += v
		}
	}
	tick := func(t int64) time.Duration { return time.Duration(t) * time.Second / clockTicks }
	return sysCPU{busy: tick(total - idle), irq: tick(irq), total: tick(total)}, nil
}

// loadAvg returns /proc/loadavg's 1-minute figure.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
