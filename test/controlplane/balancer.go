package controlplane

import (
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Balancer stands where a Service would: it listens on the plane's webhook
// endpoint and passes each new TCP connection to one of its backends whose
// /readyz answers ok, as the endpoints controller and kube-proxy do, and
// keeps established connections where they are. Readiness is polled every
// 100ms.
type Balancer struct {
	ln    net.Listener
	delay atomic.Int64

	mu       sync.Mutex
	backends []*WebhookServer
	ready    map[*WebhookServer]bool
	next     int
	// Refused counts connections that found no ready backend.
	refused atomic.Int64
	stop    chan struct{}
	wg      sync.WaitGroup
	// open holds the connections being passed on, for Close.
	open map[net.Conn]struct{}
}

// StartBalancer listens on the plane's webhook endpoint, which no
// WebhookServer may hold then.
func (p *Plane) StartBalancer() (*Balancer, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(p.Webhook.Host, strconv.Itoa(p.Webhook.Port)))
	if err != nil {
		return nil, err
	}
	b := &Balancer{ln: ln, ready: map[*WebhookServer]bool{}, stop: make(chan struct{}), open: map[net.Conn]struct{}{}}
	b.wg.Add(2)
	go b.accept()
	go b.probe()
	return b, nil
}

// Add makes s a backend.
func (b *Balancer) Add(s *WebhookServer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends = append(b.backends, s)
	b.ready[s] = s.Ready()
}

// Remove takes s out of the backends; its connections stay.
func (b *Balancer) Remove(s *WebhookServer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, x := range b.backends {
		if x == s {
			b.backends = append(b.backends[:i], b.backends[i+1:]...)
		}
	}
	delete(b.ready, s)
}

// SetDelay holds every answer of the backends for d before passing it on,
// as a slow webhook would.
func (b *Balancer) SetDelay(d time.Duration) { b.delay.Store(int64(d)) }

// Refused is the number of connections that found no ready backend.
func (b *Balancer) Refused() int64 { return b.refused.Load() }

// Close stops listening and probing, and closes the connections it passes
// on, so that no client keeps one to a backend that is gone (a delayed one
// could otherwise linger for the delay).
func (b *Balancer) Close() error {
	close(b.stop)
	err := b.ln.Close()
	b.mu.Lock()
	for c := range b.open {
		_ = c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
	return err
}

func (b *Balancer) track(conns ...net.Conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range conns {
		select {
		case <-b.stop: // closed already: this one came too late to be seen
			_ = c.Close()
		default:
			b.open[c] = struct{}{}
		}
	}
}

func (b *Balancer) untrack(conns ...net.Conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range conns {
		delete(b.open, c)
	}
}

func (b *Balancer) probe() {
	defer b.wg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		b.mu.Lock()
		backends := append([]*WebhookServer(nil), b.backends...)
		b.mu.Unlock()
		for _, s := range backends {
			ok := s.Ready()
			b.mu.Lock()
			if _, still := b.ready[s]; still {
				b.ready[s] = ok
			}
			b.mu.Unlock()
		}
	}
}

func (b *Balancer) pick() *WebhookServer {
	b.mu.Lock()
	defer b.mu.Unlock()
	for range b.backends {
		s := b.backends[b.next%len(b.backends)]
		b.next++
		if b.ready[s] {
			return s
		}
	}
	return nil
}

func (b *Balancer) accept() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s := b.pick()
		if s == nil {
			b.refused.Add(1)
			c.Close()
			continue
		}
		b.wg.Add(1)
		go b.pipe(c, net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)))
	}
}

func (b *Balancer) pipe(client net.Conn, addr string) {
	defer b.wg.Done()
	defer client.Close()
	backend, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	defer backend.Close()
	b.track(client, backend)
	defer b.untrack(client, backend)
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(backend, client)
		_ = backend.(*net.TCPConn).CloseWrite()
		done <- struct{}{}
	}()
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := backend.Read(buf)
			if n > 0 {
				if d := time.Duration(b.delay.Load()); d > 0 {
					time.Sleep(d)
				}
				if _, werr := client.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		_ = client.(*net.TCPConn).CloseWrite()
		done <- struct{}{}
	}()
	<-done
	<-done
}
