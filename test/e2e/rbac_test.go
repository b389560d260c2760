package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// installRules are the rules of the ClusterRoles the install gives the
// webhook's own account (manifests/rbac*.yaml), the rights of Flink it
// binds left out.
func installRules(t *testing.T) []rbacv1.PolicyRule {
	var rules []rbacv1.PolicyRule
	for _, f := range []string{"rbac.yaml", "rbac-policies.yaml", "rbac-reports.yaml"} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "manifests", f))
		require.NoError(t, err)
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			var role rbacv1.ClusterRole
			require.NoError(t, yaml.Unmarshal(doc, &role))
			if role.Kind == "ClusterRole" && strings.HasPrefix(role.Name, "flink-ha-webhook") && !strings.Contains(role.Name, ":flink-") {
				rules = append(rules, role.Rules...)
			}
		}
	}
	require.NotEmpty(t, rules)
	return rules
}

// TestOlderRBACNamesWhatTheAccountLacks runs serve under an account bound
// to the install's rights less one kind it watches (Jobs), as a new image
// with an older install's RBAC runs: the authorizer's refusal is logged as
// an error that names the kind and the fix, not as a generic watch failure,
// and the replica does not become ready.
func TestOlderRBACNamesWhatTheAccountLacks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var rules []rbacv1.PolicyRule
	for _, r := range installRules(t) {
		r.Resources = slices.DeleteFunc(slices.Clone(r.Resources), func(res string) bool { return res == "jobs" })
		if len(r.Resources) > 0 {
			rules = append(rules, r)
		}
	}
	const name = "flink-ha-webhook-older-rbac"
	user := "system:serviceaccount:flink-ha-webhook:older-rbac"
	roles := plane.Clientset.RbacV1().ClusterRoles()
	_, err := roles.Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = roles.Delete(context.Background(), name, metav1.DeleteOptions{}) })
	bindings := plane.Clientset.RbacV1().ClusterRoleBindings()
	_, err = bindings.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = bindings.Delete(context.Background(), name, metav1.DeleteOptions{}) })

	// The webhook's kubeconfig acts as that account, through the API
	// server's own authentication of impersonation and its authorizer.
	kc, err := clientcmd.LoadFromFile(plane.Kubeconfig)
	require.NoError(t, err)
	for _, auth := range kc.AuthInfos {
		auth.Impersonate = user
		auth.ImpersonateGroups = []string{"system:serviceaccounts", "system:authenticated"}
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*kc, kubeconfig))

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	admin := plane.Kubeconfig
	plane.Kubeconfig = kubeconfig // only for this server's own connection
	s, err := plane.StartWebhookOn(webhookBin, testPolicy, port)
	plane.Kubeconfig = admin
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Stop() })

	require.Eventually(t, func() bool {
		return strings.Contains(s.Logs.String(), `"the webhook's own account may not list or watch a kind it reads`)
	}, 30*time.Second, 200*time.Millisecond, "serve should name the refused kind: %s", s.Logs)
	assert.False(t, s.Ready(), "a replica whose caches cannot fill does not become ready")
	var line string
	for l := range strings.Lines(s.Logs.String()) {
		if strings.Contains(l, "may not list or watch a kind it reads") {
			line = l
			break
		}
	}
	assert.Contains(t, line, `"level":"error"`)
	assert.Contains(t, line, `"kind":"*v1.Job"`)
	assert.Contains(t, line, `cannot list resource \"jobs\" in API group \"batch\" at the cluster scope`)
	assert.Contains(t, line, "apply the RBAC of this version")
	assert.NotContains(t, s.Logs.String(), `may not list or watch a kind it reads","kind":"*v1.Deployment"`, "only the refused kind is named")
}
