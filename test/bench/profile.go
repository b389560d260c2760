package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

// serveArgs are the flags serve runs with in the bench: the deployment's
// (manifests/deployment.yaml: leader election, four reviews at once, no
// per-request debug log), so that the bench measures what a cluster runs.
func serveArgs(pprofAddr string) []string {
	args := []string{"--debug=false", "--leader-elect", "--leader-election-namespace=default", "--max-concurrent-reviews=4"}
	if pprofAddr != "" {
		args = append(args, "--pprof-bind-address="+pprofAddr)
	}
	return args
}

// deploymentEnv is the environment manifests/deployment.yaml gives serve
// (its Go runtime's settings), as NAME=value.
func deploymentEnv() ([]string, error) {
	b, err := os.ReadFile("manifests/deployment.yaml")
	if err != nil {
		return nil, err
	}
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(b, &d); err != nil {
		return nil, fmt.Errorf("manifests/deployment.yaml: %w", err)
	}
	var env []string
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name != "webhook" {
			continue
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil {
				return nil, fmt.Errorf("manifests/deployment.yaml: env %s: only values are understood here", e.Name)
			}
			env = append(env, e.Name+"="+e.Value)
		}
		return env, nil
	}
	return nil, errors.New("manifests/deployment.yaml: no container called webhook")
}

// profiler takes CPU and heap profiles of serve during its rounds, into
// dir, when -profile is given.
type profiler struct {
	dir     string
	seconds int
	addr    string
	taken   int
	cpuDone chan error
}

// newAddr picks the loopback address serve's pprof endpoint listens on.
func (p *profiler) newAddr() (string, error) {
	if p == nil || p.dir == "" {
		return "", nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	p.addr = l.Addr().String()
	return p.addr, nil
}

// startCPU begins a CPU profile of p.seconds.
func (p *profiler) startCPU(ctx context.Context) {
	if p == nil || p.dir == "" {
		return
	}
	p.taken++
	p.cpuDone = make(chan error, 1)
	path := filepath.Join(p.dir, fmt.Sprintf("serve-%d-cpu.pprof", p.taken))
	go func() {
		p.cpuDone <- p.fetch(ctx, "profile?seconds="+strconv.Itoa(p.seconds), path)
	}()
}

// finish waits for the CPU profile and takes the heap's.
func (p *profiler) finish(ctx context.Context) error {
	if p == nil || p.dir == "" || p.cpuDone == nil {
		return nil
	}
	err := <-p.cpuDone
	p.cpuDone = nil
	if err != nil {
		return err
	}
	return p.fetch(ctx, "heap", filepath.Join(p.dir, fmt.Sprintf("serve-%d-heap.pprof", p.taken)))
}

func (p *profiler) fetch(ctx context.Context, what, path string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(p.seconds+30)*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+"/debug/pprof/"+what, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile %s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: %s", what, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	fmt.Fprintln(os.Stderr, "bench: wrote", path)
	return f.Close()
}
