package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
)

// The HTTPS server's time limits. The API server sends a review at once
// and waits at most 30 s (timeoutSeconds) for the answer, so a peer slower
// than these is not one waiting for an admission.
const (
	// readHeaderTimeout bounds the TLS handshake and the request headers.
	readHeaderTimeout = 5 * time.Second
	// readTimeout bounds the whole request, body included: a body
	// trickled a byte at a time is cut off here.
	readTimeout = 10 * time.Second
	// writeTimeout bounds a request from its headers to the end of the
	// answer, queueing for a review slot included.
	writeTimeout = 35 * time.Second
	// idleTimeout closes kept-alive connections nobody uses.
	idleTimeout = 30 * time.Second
	// maxHeaderBytes: the API server sends a few hundred bytes.
	maxHeaderBytes = 64 << 10
	// h2Streams and h2StreamWindow bound an HTTP/2 connection: streams
	// at once, and bytes buffered per stream.
	h2Streams      = 32
	h2StreamWindow = 64 << 10
	// minIdle is how long a connection must have done nothing before a
	// new one may push it out when all are taken; a handshake takes
	// milliseconds.
	minIdle = 250 * time.Millisecond
)

// httpsServer is the webhooks' HTTPS server: the certificate reloaded
// from certDir when it changes, a bounded number of connections, time
// limits on every phase of a request, and a drain before shutdown so that
// a restart refuses nothing. It runs as a manager runnable in every
// replica.
type httpsServer struct {
	addr     string
	certDir  string
	handler  http.Handler
	maxConns int
	// shutdownTimeout bounds the wait for reviews in flight at shutdown.
	shutdownTimeout time.Duration
	log             logr.Logger

	started  atomic.Bool
	draining atomic.Bool
	mu       sync.Mutex
	srv      *http.Server
	// listening is closed once the listener is bound.
	listening chan struct{}
	boundAddr net.Addr
	// waitFor are what reviews read besides the manager's caches; Start
	// serves once each has said it is ready.
	waitFor []func(context.Context) bool
}

func newHTTPSServer(addr, certDir string, h http.Handler, maxConns int, shutdownTimeout time.Duration, log logr.Logger) *httpsServer {
	return &httpsServer{addr: addr, certDir: certDir, handler: h, maxConns: maxConns, shutdownTimeout: shutdownTimeout,
		log: log, listening: make(chan struct{})}
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: every
// replica serves.
func (*httpsServer) NeedLeaderElection() bool { return false }

// Start implements manager.Runnable: it serves until ctx ends, then stops
// accepting, waits for the requests in flight and returns.
func (s *httpsServer) Start(ctx context.Context) error {
	for _, ready := range s.waitFor {
		if !ready(ctx) {
			return nil // stopped before it was ready
		}
	}
	watcher, err := certwatcher.New(filepath.Join(s.certDir, "tls.crt"), filepath.Join(s.certDir, "tls.key"))
	if err != nil {
		return fmt.Errorf("loading the serving certificate from --cert-dir %s (tls.crt, tls.key): %w", s.certDir, err)
	}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	go func() {
		if err := watcher.Start(watchCtx); err != nil {
			s.log.Error(err, "watching the serving certificate")
		}
	}()

	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	limited := limitListener(ln, s.maxConns, minIdle)
	srv := &http.Server{
		Handler:   s.handler,
		ConnState: limited.connState,
		TLSConfig: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: watcher.GetCertificate,
		},
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(newErrorLog(s.log, time.Minute), "", 0),
		// A review waiting for a slot has not read its body, so its
		// stream's receive window stays taken. The connection's window
		// holds every stream's, so waiting streams can never starve the
		// running ones of theirs (a flow-control deadlock), and bounds what
		// one connection buffers; a client with more reviews at once opens
		// another connection.
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams:          h2Streams,
			MaxReceiveBufferPerStream:     h2StreamWindow,
			MaxReceiveBufferPerConnection: h2Streams * h2StreamWindow,
		},
	}
	s.mu.Lock()
	s.srv = srv
	s.boundAddr = ln.Addr()
	if s.draining.Load() {
		srv.SetKeepAlivesEnabled(false)
	}
	s.mu.Unlock()
	close(s.listening)

	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(limited, "", "") }()
	s.started.Store(true)
	s.log.Info("serving webhooks", "address", ln.Addr().String(), "maxConnections", s.maxConns)
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down the webhook server", "timeout", s.shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("reviews still in flight after %s: %w", s.shutdownTimeout, err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Drain makes the server unready and closes connections after their
// current request, so that clients open new ones, to other replicas; it
// keeps serving until Start's context ends.
func (s *httpsServer) Drain() {
	s.draining.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		s.srv.SetKeepAlivesEnabled(false)
	}
}

// Healthy is the liveness check: the server was started.
func (s *httpsServer) Healthy(*http.Request) error {
	if !s.started.Load() {
		return errors.New("the webhook server has not started")
	}
	return nil
}

// Ready is the readiness check: serving and not draining.
func (s *httpsServer) Ready(r *http.Request) error {
	if s.draining.Load() {
		return errors.New("draining before shutdown")
	}
	return s.Healthy(r)
}

// limitListener accepts at most n connections at once, so that a flood
// of connections costs neither file descriptors nor memory. When all are
// taken, it closes the oldest connection that is doing nothing (never did
// a handshake, or idles between requests) for at least minIdle, so that
// connections nobody uses cannot keep the API server out; with none to
// close, new connections wait in the kernel's backlog.
func limitListener(l net.Listener, n int, minIdle time.Duration) *limitedListener {
	return &limitedListener{Listener: l, slots: make(chan struct{}, max(n, 1)), minIdle: minIdle,
		conns: map[*limitedConn]struct{}{}, now: time.Now}
}

type limitedListener struct {
	net.Listener
	slots   chan struct{}
	minIdle time.Duration
	now     func() time.Time

	mu    sync.Mutex
	conns map[*limitedConn]struct{}
}

type limitedConn struct {
	net.Conn
	l    *limitedListener
	once sync.Once
	// busy and since are guarded by l.mu.
	busy  bool
	since time.Time
}

func (l *limitedListener) Accept() (net.Conn, error) {
	l.acquire()
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	lc := &limitedConn{Conn: c, l: l, since: l.now()}
	l.mu.Lock()
	l.conns[lc] = struct{}{}
	l.mu.Unlock()
	return lc, nil
}

func (l *limitedListener) acquire() {
	for {
		select {
		case l.slots <- struct{}{}:
			return
		default:
		}
		t := time.NewTimer(l.shed())
		select {
		case l.slots <- struct{}{}:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// shed closes the longest-unused connection if it has been unused for
// minIdle, and says when to look again.
func (l *limitedListener) shed() time.Duration {
	now := l.now()
	var oldest *limitedConn
	l.mu.Lock()
	for c := range l.conns {
		if !c.busy && (oldest == nil || c.since.Before(oldest.since)) {
			oldest = c
		}
	}
	l.mu.Unlock()
	switch {
	case oldest == nil:
		return time.Second
	case now.Sub(oldest.since) < l.minIdle:
		return l.minIdle - now.Sub(oldest.since)
	}
	_ = oldest.Close()
	return 0
}

// connState is the http.Server's ConnState hook: it tells the listener
// which connections are working on a request.
func (l *limitedListener) connState(c net.Conn, st http.ConnState) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	lc.busy, lc.since = st == http.StateActive, l.now()
	l.mu.Unlock()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		<-c.l.slots
	})
	return err
}
