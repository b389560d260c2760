// Command noop is an admission webhook that allows everything without a
// patch (with -patch-path, with a one-operation patch of each review sent
// there), served as serve serves: TLS 1.2 or later, HTTP/2, the given
// certificate. The bench runs it as a process of its own, as such a
// webhook runs in a cluster, so that the floor it measures pays what serve
// pays for being a separate process: its own scheduling, its own runtime.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/flink-ha-webhook/flink-ha-webhook/test/noop"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9443", "address to serve on")
	certDir := flag.String("cert-dir", "", "directory with tls.crt and tls.key")
	patchPath := flag.String("patch-path", "", "answer reviews sent to this path with a patch that adds an annotation")
	flag.Parse()
	h := http.HandlerFunc(noop.Allow)
	if *patchPath != "" {
		h = noop.Patching(*patchPath)
	}
	if err := run(*addr, *certDir, h); err != nil {
		fmt.Fprintln(os.Stderr, "noop:", err)
		os.Exit(1)
	}
}

// run serves until SIGTERM or SIGINT.
func run(addr, certDir string, h http.Handler) error {
	cert, err := tls.LoadX509KeyPair(filepath.Join(certDir, "tls.crt"), filepath.Join(certDir, "tls.key"))
	if err != nil {
		return err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2"}}
	l, err := tls.Listen("tcp", addr, cfg)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	select {
	case err := <-done:
		return err
	case <-sigs:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(ctx)
	if serveErr := <-done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}
