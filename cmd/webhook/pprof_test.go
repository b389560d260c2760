package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

func TestPprofServerRefuses(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	cases := map[string]struct{ addr, err string }{
		"a port alone": {
			addr: "6060",
			err:  `--pprof-bind-address "6060": expected host:port on loopback, e.g. 127.0.0.1:6060: address 6060: missing port in address`,
		},
		"every interface": {
			addr: ":6060",
			err:  `--pprof-bind-address ":6060": expected a loopback host (127.0.0.1, ::1 or localhost), so that profiles never leave the pod`,
		},
		"an address other pods reach": {
			addr: "0.0.0.0:6060",
			err:  `--pprof-bind-address "0.0.0.0:6060": expected a loopback host (127.0.0.1, ::1 or localhost), so that profiles never leave the pod`,
		},
		"a name that may not be loopback": {
			addr: "flink-ha-webhook:6060",
			err:  `--pprof-bind-address "flink-ha-webhook:6060": expected a loopback host (127.0.0.1, ::1 or localhost), so that profiles never leave the pod`,
		},
		"a port in use": {
			addr: taken.Addr().String(),
			err:  "--pprof-bind-address: listen tcp " + taken.Addr().String() + ": bind: address already in use",
		},
	}
	for name, tc := range cases {
		r, err := pprofServer(tc.addr)
		assert.EqualError(t, err, tc.err, name)
		assert.Nil(t, r, name)
	}
}

// TestPprofServer: the profiles are served on loopback in every replica,
// until the manager stops.
func TestPprofServer(t *testing.T) {
	t.Parallel()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	r, err := pprofServer(addr)
	require.NoError(t, err)
	lr, ok := r.(manager.LeaderElectionRunnable)
	require.True(t, ok)
	assert.False(t, lr.NeedLeaderElection(), "every replica can be profiled")

	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	code, body := get("/debug/pprof/")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "goroutine")
	code, body = get("/debug/pprof/goroutine?debug=1")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "TestPprofServer", "the goroutine profile is this process's")
	code, _ = get("/debug/pprof/symbol")
	assert.Equal(t, http.StatusOK, code)
	code, _ = get("/metrics")
	assert.Equal(t, http.StatusNotFound, code, "only profiles")

	stop()
	select {
	case err := <-done:
		assert.NoError(t, err, "stopping is not an error")
	case <-time.After(10 * time.Second):
		t.Fatal("the profile server did not stop with the manager")
	}
	_, err = http.Get("http://" + addr + "/debug/pprof/")
	assert.ErrorContains(t, err, "connection refused", "nothing listens after the stop")
}
