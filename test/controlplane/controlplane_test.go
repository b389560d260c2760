package controlplane

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const envHelper = "FLINK_HA_WEBHOOK_CONTROLPLANE_HELPER"

// TestMain doubles as the helper of TestKilledTestBinaryLeavesNothing: run
// again with envHelper set, the test binary starts a plane, reports the
// processes it started and waits to be killed.
func TestMain(m *testing.M) {
	if os.Getenv(envHelper) == "" {
		os.Exit(m.Run())
	}
	if _, err := Start(Options{ControllerManager: true}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, pid := range children(os.Getpid()) {
		fmt.Printf("pid %d\n", pid)
	}
	fmt.Println("ready")
	time.Sleep(5 * time.Minute)
	os.Exit(1)
}

// TestKilledTestBinaryLeavesNothing kills a test binary that runs a plane
// with SIGKILL, which no deferred clean-up survives, and expects every
// process of the plane to be gone soon after.
func TestKilledTestBinaryLeavesNothing(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), envHelper+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	var pids []int
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		line := lines.Text()
		if rest, ok := strings.CutPrefix(line, "pid "); ok {
			pid, err := strconv.Atoi(rest)
			require.NoError(t, err)
			pids = append(pids, pid)
		}
		if line == "ready" {
			break
		}
	}
	require.Len(t, pids, 3, "the helper reported no process ids; did its plane start?")
	for _, pid := range pids {
		require.NoError(t, syscall.Kill(pid, 0), "process %d should be running before the kill", pid)
	}

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	require.Eventually(t, func() bool {
		for _, pid := range pids {
			if alive(pid) {
				return false
			}
		}
		return true
	}, 20*time.Second, 100*time.Millisecond, "control-plane processes %v outlived the killed test binary", pids)
}

// children lists the processes whose parent is pid.
func children(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		if err != nil {
			continue
		}
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// alive reports whether pid runs and is not a zombie waiting for its reaper.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

func TestNamespaceAndKubectl(t *testing.T) {
	p, err := Start(Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Stop()) }()
	ns := p.Namespace(t)
	ctx := context.Background()
	_, err = p.Clientset.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	require.NoError(t, err)
	out, _, err := p.Kubectl(ctx, "", "get", "namespace", ns, "-o", "name")
	require.NoError(t, err)
	require.Equal(t, "namespace/"+ns+"\n", out)
	_, _, err = p.Kubectl(ctx, "", "get", "configmap", "does-not-exist", "-n", ns)
	require.ErrorContains(t, err, "not found")
}
