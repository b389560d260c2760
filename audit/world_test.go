package audit

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/flink-ha-webhook/flink-ha-webhook/rights"
)

// world is a cluster holding the objects of manifests (YAML documents;
// namespace "team" where they name none), as the audit's three clients see
// it: ConfigMaps through the typed client (their data) and the metadata
// client (their names, labels and owners), FlinkDeployments through the
// dynamic client. The fakes only store: what the API server decides, such
// as SubjectAccessReviews, is answered by the test (see authorize).
type world struct {
	kube     *kubefake.Clientset
	dynamic  *dynamicfake.FakeDynamicClient
	metadata *metadatafake.FakeMetadataClient
}

func newWorld(t testing.TB, manifests string) *world {
	t.Helper()
	var typed, flink, metas []runtime.Object
	for _, doc := range strings.Split(manifests, "\n---\n") {
		raw, err := yaml.YAMLToJSON([]byte(doc))
		require.NoError(t, err)
		if strings.TrimSpace(string(raw)) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		require.NoError(t, u.UnmarshalJSON(raw), doc)
		if u.GetNamespace() == "" {
			u.SetNamespace("team")
		}
		if u.GetKind() == "FlinkDeployment" {
			flink = append(flink, u)
			continue
		}
		obj, err := scheme.Scheme.New(u.GroupVersionKind())
		require.NoError(t, err, doc)
		require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj), doc)
		typed = append(typed, obj)
		if cm, ok := obj.(*corev1.ConfigMap); ok {
			metas = append(metas, &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: cm.ObjectMeta})
		}
	}
	metaScheme := metadatafake.NewTestScheme()
	require.NoError(t, metav1.AddMetaToScheme(metaScheme))
	return &world{
		kube: kubefake.NewClientset(typed...),
		dynamic: dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
			map[schema.GroupVersionResource]string{FlinkDeployments: "FlinkDeploymentList"}, flink...),
		metadata: metadatafake.NewSimpleMetadataClient(metaScheme, metas...),
	}
}

func (w *world) clients() Clients {
	return Clients{Kube: w.kube, Dynamic: w.dynamic, Metadata: w.metadata}
}

// authorize answers the audit's SubjectAccessReviews as an authorizer
// would whose Roles give each account the accesses of granted, by
// "namespace/name" or by a group the account is in, and counts the
// questions.
func (w *world) authorize(granted map[string][]rights.Access) *int {
	asked := 0
	w.kube.PrependReactor("create", "subjectaccessreviews", func(action clienttesting.Action) (bool, runtime.Object, error) {
		asked++
		sar := action.(clienttesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		ra := sar.Spec.ResourceAttributes
		resource := ra.Resource
		if ra.Subresource != "" {
			resource += "/" + ra.Subresource
		}
		ns, name, _ := strings.Cut(strings.TrimPrefix(sar.Spec.User, "system:serviceaccount:"), ":")
		out := sar.DeepCopy()
		access := rights.Access{Group: ra.Group, Resource: resource, Verb: ra.Verb}
		for _, subject := range append([]string{ns + "/" + name}, sar.Spec.Groups...) {
			// A Role grants in its own namespace only.
			out.Status.Allowed = out.Status.Allowed || ra.Namespace == ns && slices.Contains(granted[subject], access)
		}
		return true, out, nil
	})
	return &asked
}
