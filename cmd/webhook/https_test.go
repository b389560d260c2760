package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startHTTPS runs an httpsServer on a loopback port with a fresh
// certificate until the test ends, and returns it once it listens.
func startHTTPS(t *testing.T, h http.Handler, before func(s *httpsServer)) (*httpsServer, <-chan error, context.CancelFunc) {
	t.Helper()
	certDir := t.TempDir()
	writeCert(t, certDir, "in-process")
	s := newHTTPSServer("127.0.0.1:0", certDir, h, 8, 100*time.Millisecond, logr.Discard())
	if before != nil {
		before(s)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	t.Cleanup(stop)
	select {
	case <-s.listening:
	case err := <-done:
		t.Fatalf("the server did not start: %v", err)
	}
	require.Eventually(t, func() bool { return s.Healthy(nil) == nil }, 10*time.Second, 10*time.Millisecond)
	return s, done, stop
}

func TestHTTPSServerRefusesToStart(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	empty := t.TempDir()
	withCert := t.TempDir()
	writeCert(t, withCert, "ok")
	garbage := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(garbage, "tls.crt"), []byte("not a certificate"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(garbage, "tls.key"), []byte("not a key"), 0o600))

	cases := map[string]struct{ addr, certDir, err string }{
		"a certificate directory without tls.crt": {
			addr: "127.0.0.1:0", certDir: empty,
			err: "loading the serving certificate from --cert-dir " + empty + " (tls.crt, tls.key): open " + filepath.Join(empty, "tls.crt") + ": no such file or directory",
		},
		"a certificate that is not one": {
			addr: "127.0.0.1:0", certDir: garbage,
			err: "loading the serving certificate from --cert-dir " + garbage + " (tls.crt, tls.key): tls: failed to find any PEM data in certificate input",
		},
		"a port in use": {
			addr: taken.Addr().String(), certDir: withCert,
			err: "listen tcp " + taken.Addr().String() + ": bind: address already in use",
		},
	}
	for name, tc := range cases {
		s := newHTTPSServer(tc.addr, tc.certDir, http.NotFoundHandler(), 8, time.Second, logr.Discard())
		err := s.Start(context.Background())
		assert.EqualError(t, err, tc.err, name)
		assert.EqualError(t, s.Healthy(nil), "the webhook server has not started", name)
		assert.EqualError(t, s.Ready(nil), "the webhook server has not started", name)
	}
}

// TestHTTPSServer: TLS 1.2 at least, HTTP/2 with bounded streams and
// windows, health and readiness, a drain that closes connections after
// their request, and a clean stop.
func TestHTTPSServer(t *testing.T) {
	t.Parallel()
	s, done, stop := startHTTPS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Proto)
	}), nil)
	addr := s.boundAddr.String()
	assert.False(t, s.NeedLeaderElection(), "every replica serves")
	assert.NoError(t, s.Healthy(nil))
	assert.NoError(t, s.Ready(nil))

	// The client offers TLS 1.0 and 1.1 only: the server's refusal, not
	// the client's own default, is what is tested.
	_, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	assert.EqualError(t, err, "remote error: tls: protocol version not supported", "TLS 1.1 is refused")

	// Transports write their protocols into the TLS configuration they
	// are given: each gets its own.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: insecure.Clone(), ForceAttemptHTTP2: true}}
	get := func() (string, bool) {
		resp, err := client.Get("https://" + addr + "/")
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(body), resp.Close
	}
	proto, closing := get()
	assert.Equal(t, "HTTP/2.0", proto, "the API server speaks HTTP/2 where it can")
	assert.False(t, closing)

	settings := h2Settings(t, addr)
	assert.Equal(t, uint32(h2Streams), settings[0x3], "SETTINGS_MAX_CONCURRENT_STREAMS")
	assert.Equal(t, uint32(h2StreamWindow), settings[0x4], "SETTINGS_INITIAL_WINDOW_SIZE")

	http1 := &http.Client{Transport: &http.Transport{TLSClientConfig: insecure.Clone()}}
	s.Drain()
	assert.EqualError(t, s.Ready(nil), "draining before shutdown")
	assert.NoError(t, s.Healthy(nil), "a draining server is alive")
	resp, err := http1.Get("https://" + addr + "/")
	require.NoError(t, err, "a draining server still serves")
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, resp.Close, "and sends clients elsewhere after their request")

	// The shutdown waits for HTTP/2 clients to leave after its GOAWAY;
	// these leave at once, well within the test's 100ms.
	client.CloseIdleConnections()
	http1.CloseIdleConnections()
	stop()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not stop")
	}
	_, err = tls.Dial("tcp", addr, insecure)
	assert.ErrorContains(t, err, "connection refused")
}

// h2Settings reads the SETTINGS frame an HTTP/2 server sends first.
func h2Settings(t *testing.T, addr string) map[uint16]uint32 {
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	require.NoError(t, err)
	defer conn.Close()
	require.Equal(t, "h2", conn.ConnectionState().NegotiatedProtocol)
	// The client preface and an empty SETTINGS frame.
	_, err = conn.Write(append([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 0, 0, 0, 0x4, 0, 0, 0, 0, 0))
	require.NoError(t, err)
	r := bufio.NewReader(conn)
	head := make([]byte, 9)
	_, err = io.ReadFull(r, head)
	require.NoError(t, err)
	require.Equal(t, byte(0x4), head[3], "the server's first frame is SETTINGS")
	payload := make([]byte, int(head[0])<<16|int(head[1])<<8|int(head[2]))
	_, err = io.ReadFull(r, payload)
	require.NoError(t, err)
	settings := map[uint16]uint32{}
	for i := 0; i+6 <= len(payload); i += 6 {
		settings[binary.BigEndian.Uint16(payload[i:])] = binary.BigEndian.Uint32(payload[i+2:])
	}
	return settings
}

// TestHTTPSServerDrainingBeforeItStarts: a SIGTERM that arrives while
// the server is still starting drains it all the same.
func TestHTTPSServerDrainingBeforeItStarts(t *testing.T) {
	t.Parallel()
	s, _, _ := startHTTPS(t, http.NotFoundHandler(), func(s *httpsServer) { s.Drain() })
	assert.EqualError(t, s.Ready(nil), "draining before shutdown")
	resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: insecure.Clone()}}).Get("https://" + s.boundAddr.String() + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.True(t, resp.Close, "no connection is kept alive")
}

// TestHTTPSServerGivesUpOnReviewsThatOutlastTheShutdown: a request still
// running when the shutdown timeout ends is reported.
func TestHTTPSServerGivesUpOnReviewsThatOutlastTheShutdown(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s, done, stop := startHTTPS(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		once.Do(func() { close(entered) })
		<-release
	}), nil)
	defer close(release)
	go func() {
		resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: insecure.Clone()}}).Get("https://" + s.boundAddr.String() + "/")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	stop()
	select {
	case err := <-done:
		assert.EqualError(t, err, "reviews still in flight after 100ms: context deadline exceeded")
	case <-time.After(10 * time.Second):
		t.Fatal("the shutdown did not give up")
	}
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestLimitListener: with every slot taken, a new connection gets the
// slot of the longest-unused connection once that has done nothing for
// minIdle; a connection working on a request, or idle for less, is kept
// and the new one waits.
func TestLimitListener(t *testing.T) {
	t.Parallel()
	const minIdle = time.Minute
	cases := map[string]struct {
		// before the second connection arrives
		prepare func(l *limitedListener, first net.Conn, clock *fakeClock)
		shed    bool
	}{
		"a connection idle for minIdle is closed for a new one": {
			prepare: func(_ *limitedListener, _ net.Conn, clock *fakeClock) { clock.Add(minIdle) },
			shed:    true,
		},
		"a connection idle for less than minIdle is kept": {
			prepare: func(_ *limitedListener, _ net.Conn, clock *fakeClock) { clock.Add(minIdle / 2) },
		},
		"a connection working on a request is kept, however long": {
			prepare: func(l *limitedListener, first net.Conn, clock *fakeClock) {
				l.connState(tls.Server(first, &tls.Config{}), http.StateActive) // as net/http reports it
				clock.Add(10 * minIdle)
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			l := limitListener(ln, 1, minIdle)
			l.now = clock.Now
			defer l.Close()

			firstClient, err := net.Dial("tcp", ln.Addr().String())
			require.NoError(t, err)
			defer firstClient.Close()
			first, err := l.Accept()
			require.NoError(t, err)
			tc.prepare(l, first, clock)

			secondClient, err := net.Dial("tcp", ln.Addr().String())
			require.NoError(t, err)
			defer secondClient.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				c, err := l.Accept()
				if err != nil {
					close(accepted)
					return
				}
				accepted <- c
			}()

			if tc.shed {
				second := <-accepted
				require.NotNil(t, second)
				defer second.Close()
				_, err := firstClient.Read(make([]byte, 1))
				assert.ErrorIs(t, err, io.EOF, "the idle connection was closed")
				return
			}
			// Whether the second connection is let in too early is all this
			// can tell; it never may be.
			require.NoError(t, firstClient.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
			_, err = firstClient.Read(make([]byte, 1))
			var netErr net.Error
			require.True(t, errors.As(err, &netErr) && netErr.Timeout(), "the first connection is still open: %v", err)
			select {
			case <-accepted:
				t.Fatal("a second connection was let in past the limit")
			default:
			}
			require.NoError(t, first.Close())
			second := <-accepted
			require.NotNil(t, second, "the slot a closed connection frees is taken")
			second.Close()
		})
	}
}

// TestLimitListenerFreesSlots: a failed Accept and a closed connection
// give their slot back, once each.
func TestLimitListenerFreesSlots(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := limitListener(ln, 1, time.Minute)
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	conn, err := l.Accept()
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	assert.Error(t, conn.Close(), "closing twice is the connection's error")
	assert.Empty(t, l.slots, "and frees the slot once")
	assert.Empty(t, l.conns)

	l.connState(c, http.StateActive) // not one of its connections: nothing to track
	assert.Empty(t, l.conns)

	require.NoError(t, ln.Close())
	_, err = l.Accept()
	assert.ErrorIs(t, err, net.ErrClosed)
	assert.Empty(t, l.slots, "a failed Accept frees its slot")
}
