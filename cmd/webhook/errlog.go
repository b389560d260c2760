package main

import (
	"net"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// maxErrorSources bounds the sources errorLog remembers; past it, new
// sources share one budget.
const maxErrorSources = 1024

// errorLog is the HTTPS server's error log (failed TLS handshakes, broken
// requests): at most one line per source address per interval, the next
// line saying how many were left out, so that a peer repeating garbage
// cannot fill the logs.
type errorLog struct {
	log   logr.Logger
	every time.Duration
	now   func() time.Time

	mu      sync.Mutex
	sources map[string]*errorSource
}

type errorSource struct {
	next       time.Time
	suppressed int
}

func newErrorLog(log logr.Logger, every time.Duration) *errorLog {
	return &errorLog{log: log, every: every, now: time.Now, sources: map[string]*errorSource{}}
}

// fromAddr finds the peer in net/http's messages ("http: TLS handshake
// error from 10.0.0.1:51234: EOF").
var fromAddr = regexp.MustCompile(`from (\S+?):? `)

// source is the host a line is about, without the port, which changes
// with every connection.
func source(line string) string {
	m := fromAddr.FindStringSubmatch(line)
	if m == nil {
		return ""
	}
	if host, _, err := net.SplitHostPort(m[1]); err == nil {
		return host
	}
	return m[1]
}

func (e *errorLog) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	src := source(line)
	now := e.now()
	e.mu.Lock()
	s, ok := e.sources[src]
	if ok && now.Before(s.next) {
		s.suppressed++
		e.mu.Unlock()
		return len(p), nil
	}
	suppressed := 0
	if ok {
		suppressed = s.suppressed
		s.next, s.suppressed = now.Add(e.every), 0
	} else {
		if len(e.sources) >= maxErrorSources {
			for k, v := range e.sources {
				if now.After(v.next) {
					delete(e.sources, k)
				}
			}
		}
		if len(e.sources) >= maxErrorSources {
			src = "(many sources)"
		}
		if s, ok := e.sources[src]; ok && now.Before(s.next) {
			s.suppressed++
			e.mu.Unlock()
			return len(p), nil
		}
		e.sources[src] = &errorSource{next: now.Add(e.every)}
	}
	e.mu.Unlock()
	kv := []any{"source", src}
	if suppressed > 0 {
		kv = append(kv, "suppressedSinceLast", suppressed)
	}
	e.log.Info(line, kv...)
	return len(p), nil
}
