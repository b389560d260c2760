package controlplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// binaries are the executables a plane needs, as hack/controlplane.sh builds them.
var binaries = []string{"kube-apiserver", "etcd", "kube-controller-manager", "kubectl"}

// Assets returns the directory holding the control-plane binaries: the user's
// KUBEBUILDER_ASSETS if set, else the project cache at the pinned version.
func Assets() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, checkAssets(dir, "KUBEBUILDER_ASSETS")
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	raw, err := os.ReadFile(filepath.Join(root, "hack", "kube-version"))
	if err != nil {
		return "", fmt.Errorf("reading the pinned Kubernetes version: %w", err)
	}
	version := strings.TrimSpace(string(raw))
	cache := os.Getenv("FLINK_HA_WEBHOOK_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("finding the cache directory: %w", err)
			}
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "flink-ha-webhook")
	}
	dir := filepath.Join(cache, "controlplane", version)
	return dir, checkAssets(dir, "the control-plane cache")
}

func checkAssets(dir, what string) error {
	var missing []string
	for _, b := range binaries {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s (%s) lacks %s: run `make controlplane` to build them, or point KUBEBUILDER_ASSETS at a directory that has them",
			what, dir, strings.Join(missing, ", "))
	}
	return nil
}

// moduleRoot walks up from the working directory (a test runs in its package
// directory) to the folder holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find go.mod above the working directory; run the tests from inside the module")
		}
		dir = parent
	}
}

// CertManagerCRDs returns the directory of cert-manager's CRDs at the
// version pinned in hack/cert-manager-version, downloading the module from
// the Go module proxy into the module cache if needed.
func CertManagerCRDs() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	raw, err := os.ReadFile(filepath.Join(root, "hack", "cert-manager-version"))
	if err != nil {
		return "", err
	}
	mod := "github.com/cert-manager/cert-manager@" + strings.TrimSpace(string(raw))
	cmd := exec.Command("go", "mod", "download", "-json", mod)
	cmd.Dir = os.TempDir() // outside this module: nothing in go.mod changes
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", mod, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", err
	}
	if info.Error != "" {
		return "", fmt.Errorf("go mod download %s: %s", mod, info.Error)
	}
	return filepath.Join(info.Dir, "deploy", "crds"), nil
}
