package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/flink-ha-webhook/flink-ha-webhook/test/controlplane"
)

// noop is an admission webhook that allows everything without a patch,
// served as serve serves: the same endpoint and certificate, TLS 1.2 or
// later, HTTP/2. It is the floor any webhook costs.
type noop struct {
	srv  *http.Server
	done chan error
}

func startNoop(ep controlplane.WebhookEndpoint) (*noop, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(ep.CertDir, "tls.crt"), filepath.Join(ep.CertDir, "tls.key"))
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2"}}
	l, err := tls.Listen("tcp", net.JoinHostPort(ep.Host, strconv.Itoa(ep.Port)), cfg)
	if err != nil {
		return nil, err
	}
	n := &noop{srv: &http.Server{Handler: http.HandlerFunc(allow), ReadHeaderTimeout: 10 * time.Second}, done: make(chan error, 1)}
	go func() { n.done <- n.srv.Serve(l) }()
	return n, nil
}

func allow(w http.ResponseWriter, r *http.Request) {
	var review admissionv1.AdmissionReview
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err == nil {
		err = json.Unmarshal(body, &review)
	}
	if err != nil || review.Request == nil {
		http.Error(w, "expected an AdmissionReview", http.StatusBadRequest)
		return
	}
	review.Response = &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
	review.Request = nil
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&review)
}

func (n *noop) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := n.srv.Shutdown(ctx)
	if serveErr := <-n.done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}
