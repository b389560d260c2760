package controlplane

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// envtest starts kube-apiserver and etcd in process groups of their own and
// cannot be told to tie them to the test binary. So the plane points envtest
// at symlinks, named like the real binaries, to the test binary itself; when
// the test binary starts under such a name, init below arms a parent-death
// signal and execs the real binary in its place. The signal survives exec, so
// the control plane dies with the test binary however that ends.
// wrapped are the binaries envtest starts for us.
var wrapped = []string{"kube-apiserver", "etcd"}

const (
	envReexecDir    = "FLINK_HA_WEBHOOK_CONTROLPLANE_ASSETS"
	envReexecParent = "FLINK_HA_WEBHOOK_CONTROLPLANE_PARENT"
)

func init() {
	dir := os.Getenv(envReexecDir)
	name := filepath.Base(os.Args[0])
	if dir == "" || !slices.Contains(wrapped, name) {
		return
	}
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "controlplane: arming the parent-death signal for %s: %v\n", name, err)
		os.Exit(1)
	}
	// The parent may have died between fork and prctl; then nobody would kill us.
	if want, _ := strconv.Atoi(os.Getenv(envReexecParent)); want != 0 && os.Getppid() != want {
		os.Exit(1)
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return hasKey(kv, envReexecDir) || hasKey(kv, envReexecParent)
	})
	real := filepath.Join(dir, name)
	err := syscall.Exec(real, append([]string{real}, os.Args[1:]...), env)
	fmt.Fprintf(os.Stderr, "controlplane: exec %s: %v\n", real, err)
	os.Exit(1)
}

func hasKey(kv, key string) bool {
	return len(kv) > len(key) && kv[:len(key)] == key && kv[len(key)] == '='
}

// wrapperDir makes a directory of symlinks that route envtest's starts
// through init above.
func wrapperDir(parent string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding the test binary: %w", err)
	}
	dir := filepath.Join(parent, "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, b := range wrapped {
		if err := os.Symlink(self, filepath.Join(dir, b)); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// tiedToParent is the SysProcAttr for processes the plane starts itself.
func tiedToParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
