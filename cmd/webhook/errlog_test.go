package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/stretchr/testify/assert"
)

// testErrorLog is an errorLog with an interval of a minute, the lines it
// logs and the time its clock starts at.
func testErrorLog() (*errorLog, *[]string, time.Time) {
	var logged []string
	e := newErrorLog(funcr.New(func(_, args string) { logged = append(logged, args) }, funcr.Options{}), time.Minute)
	return e, &logged, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
}

func TestSource(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ line, want string }{
		"a TLS handshake error names the peer's host, without its port": {
			line: "http: TLS handshake error from 10.0.0.1:51234: EOF", want: "10.0.0.1",
		},
		"an IPv6 peer loses its brackets and port": {
			line: "http: TLS handshake error from [fd00::1]:51234: remote error: tls: bad certificate", want: "fd00::1",
		},
		"a peer without a port is taken as it is": {line: "http: error from peer: broken", want: "peer"},
		"a line naming no peer has no source":     {line: "http: Accept error: too many open files; retrying in 5ms", want: ""},
	}
	for name, tc := range cases {
		assert.Equal(t, tc.want, source(tc.line), name)
	}
}

// TestErrorLog: one line per source and interval, the next line saying how
// many were left out; past maxErrorSources sources, new ones share one
// budget until old ones expire. The clock is the test's.
func TestErrorLog(t *testing.T) {
	t.Parallel()
	e, logged, start := testErrorLog()
	now := start
	e.now = func() time.Time { return now }
	handshake := func(peer string) string { return "http: TLS handshake error from " + peer + ": EOF\n" }
	logLine := func(peer, src string, suppressed int) string {
		line := `"level"=0 "msg"="http: TLS handshake error from ` + peer + `: EOF" "source"="` + src + `"`
		if suppressed > 0 {
			line += fmt.Sprintf(` "suppressedSinceLast"=%d`, suppressed)
		}
		return line
	}

	steps := []struct {
		name  string
		at    time.Duration
		lines []string
		want  []string
	}{
		{name: "the first error of a source is logged", lines: []string{handshake("10.0.0.1:1000")}, want: []string{logLine("10.0.0.1:1000", "10.0.0.1", 0)}},
		{
			name: "more from that source within the interval, from any port, are not", at: 30 * time.Second,
			lines: []string{handshake("10.0.0.1:1001"), handshake("10.0.0.1:1002")},
		},
		{name: "another source has its own budget", at: 30 * time.Second, lines: []string{handshake("10.0.0.2:1000")}, want: []string{logLine("10.0.0.2:1000", "10.0.0.2", 0)}},
		{
			name: "after the interval the next is logged, saying how many were left out", at: time.Minute,
			lines: []string{handshake("10.0.0.1:1003"), handshake("10.0.0.1:1004")},
			want:  []string{logLine("10.0.0.1:1003", "10.0.0.1", 2)},
		},
		{
			name: "lines naming no peer share one budget", at: time.Minute,
			lines: []string{"http: Accept error: too many open files\n", "http: Accept error: too many open files\n"},
			want:  []string{`"level"=0 "msg"="http: Accept error: too many open files" "source"=""`},
		},
	}
	for _, step := range steps {
		*logged = nil
		now = start.Add(step.at)
		for _, line := range step.lines {
			n, err := e.Write([]byte(line))
			assert.NoError(t, err, step.name)
			assert.Equal(t, len(line), n, step.name)
		}
		assert.Equal(t, step.want, *logged, step.name)
	}
}

func TestErrorLogBoundsItsSources(t *testing.T) {
	t.Parallel()
	e, logged, start := testErrorLog()
	now := start
	e.now = func() time.Time { return now }
	for i := range maxErrorSources {
		_, _ = e.Write([]byte(fmt.Sprintf("http: TLS handshake error from 10.1.%d.%d:1000: EOF", i/256, i%256)))
	}
	assert.Len(t, *logged, maxErrorSources, "every source's first error is logged")
	assert.Len(t, e.sources, maxErrorSources)

	*logged = nil
	now = start.Add(time.Second)
	_, _ = e.Write([]byte("http: TLS handshake error from 10.2.0.1:1000: EOF"))
	_, _ = e.Write([]byte("http: TLS handshake error from 10.2.0.2:1000: EOF"))
	assert.Equal(t, []string{`"level"=0 "msg"="http: TLS handshake error from 10.2.0.1:1000: EOF" "source"="(many sources)"`}, *logged,
		"past the bound, new sources share one budget")
	assert.Len(t, e.sources, maxErrorSources+1, "the shared budget is the only source added")

	*logged = nil
	now = start.Add(2 * time.Minute)
	_, _ = e.Write([]byte("http: TLS handshake error from 10.2.0.3:1000: EOF"))
	assert.Equal(t, []string{`"level"=0 "msg"="http: TLS handshake error from 10.2.0.3:1000: EOF" "source"="10.2.0.3"`}, *logged,
		"sources whose interval is over are forgotten, making room")
	assert.Len(t, e.sources, 1)
}
