package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/flink-ha-webhook/flink-ha-webhook/test/controlplane"
)

// noop is the allow-everything webhook of test/bench/noop, run as a
// process of its own at the webhook endpoint with its certificate: the
// floor any webhook costs, paid as serve pays it.
type noop struct {
	cmd  *exec.Cmd
	done chan error
}

// startNoop runs bin at ep with env (the deployment's runtime settings,
// like serve's), with args added to its own, and returns once it
// completes a TLS handshake.
func startNoop(bin string, ep controlplane.WebhookEndpoint, env []string, args ...string) (*noop, error) {
	addr := net.JoinHostPort(ep.Host, strconv.Itoa(ep.Port))
	cmd := exec.Command(bin, append([]string{"-addr", addr, "-cert-dir", ep.CertDir}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n := &noop{cmd: cmd, done: make(chan error, 1)}
	go func() { n.done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		// A probe of our own loopback server: any certificate will do.
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err == nil {
			conn.Close()
			return n, nil
		}
		select {
		case err := <-n.done:
			return nil, fmt.Errorf("the no-op webhook exited: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = n.stop()
			return nil, fmt.Errorf("the no-op webhook did not answer at %s within 30s: %v", addr, err)
		}
	}
}

func (n *noop) pid() int { return n.cmd.Process.Pid }

// stop ends the webhook with SIGTERM and waits for it.
func (n *noop) stop() error {
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-n.done:
		return err
	case <-time.After(15 * time.Second):
		_ = n.cmd.Process.Kill()
		return fmt.Errorf("the no-op webhook did not stop within 15s: %v", <-n.done)
	}
}
