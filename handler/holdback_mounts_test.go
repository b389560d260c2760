package handler

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/flink-ha-webhook/flink-ha-webhook/accounts"
	"github.com/flink-ha-webhook/flink-ha-webhook/policy"
	"github.com/flink-ha-webhook/flink-ha-webhook/validate"
)

// refusing is an AccessChecker whose authorizer refuses the accounts it
// names everything, and allows all others.
type refusing map[string]bool

func (r refusing) Denied(_ context.Context, a validate.Account) ([]validate.Access, error) {
	if r[a.Name] {
		return a.Needs(), nil
	}
	return nil, nil
}

// standaloneWorkload is a Deployment of the Flink docs' standalone cluster
// in namespace team, mounting the ConfigMap flink-config as its conf
// directory, its pods under account.
func standaloneWorkload(name, role, account string) *appsv1.Deployment {
	labels := map[string]string{"app": "flink", "component": role}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{ServiceAccountName: account,
				Containers: []corev1.Container{{Name: role, Image: "flink:1.20", Args: []string{role},
					VolumeMounts: []corev1.VolumeMount{{Name: "flink-config-volume", MountPath: "/opt/flink/conf"}}}},
				Volumes: []corev1.Volume{{Name: "flink-config-volume", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "flink-config"}}}}}},
		}},
	}
}

// slimmed is a workload as the cache keeps it (accounts.CacheOptions).
func slimmed(t *testing.T, d *appsv1.Deployment) *appsv1.Deployment {
	t.Helper()
	for obj, opts := range accounts.CacheOptions() {
		if _, ok := obj.(*appsv1.Deployment); ok {
			slim, err := opts.Transform(d.DeepCopy())
			require.NoError(t, err)
			return slim.(*appsv1.Deployment)
		}
	}
	t.Fatal("no transform of Deployments")
	return nil
}

// mountsOf indexes workloads, as the cache keeps them, and ConfigMaps'
// metadata, as the informers do.
func mountsOf(t *testing.T, workloads []*appsv1.Deployment, configMaps ...*metav1.PartialObjectMetadata) *Mounts {
	t.Helper()
	kinds := []string{"Deployment", "StatefulSet", "Job"}
	var indexers []toolscache.Indexer
	for range kinds {
		indexers = append(indexers, toolscache.NewIndexer(toolscache.DeletionHandlingMetaNamespaceKeyFunc, mountIndexers))
	}
	for _, d := range workloads {
		require.NoError(t, indexers[0].Add(slimmed(t, d)))
	}
	cms := toolscache.NewIndexer(toolscache.DeletionHandlingMetaNamespaceKeyFunc, toolscache.Indexers{})
	for _, cm := range configMaps {
		require.NoError(t, cms.Add(cm))
	}
	return newMounts(kinds, indexers, cms)
}

// TestStandaloneClustersAreHeldBackAlike: a standalone cluster of the
// Flink docs (a ConfigMap of flink-conf.yaml, a JobManager and a
// TaskManager Deployment mounting it) is one cluster: where one of its
// workloads runs under an account the authorizer refuses what HA needs,
// neither the ConfigMap nor the workloads are made HA, whichever of them
// is admitted, and the warnings name the workload and account that hold
// it back. A cluster whose ConfigMap was admitted with HA keeps it.
func TestStandaloneClustersAreHeldBackAlike(t *testing.T) {
	t.Parallel()
	p, err := policy.Parse([]byte("storageDir: s3://flink-ha/{namespace}/{clusterId}\n"))
	require.NoError(t, err)
	checker := refusing{"mine": true}
	jobManager := standaloneWorkload("flink-jobmanager", "jobmanager", "mine")
	taskManager := standaloneWorkload("flink-taskmanager", "taskmanager", "flink-ha")
	configMap := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "flink-config", Namespace: "team"},
		Data:       map[string]string{"flink-conf.yaml": "kubernetes.cluster-id: orders\njobmanager.rpc.address: flink-jobmanager\n"}}
	request := func(obj runtime.Object, kind metav1.GroupVersionKind) admission.Request {
		raw, err := json.Marshal(obj)
		require.NoError(t, err)
		return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{Kind: kind, Operation: admissionv1.Create, Namespace: "team",
			Object: runtime.RawExtension{Raw: raw}}}
	}
	deployment := metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	cmKind := metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	handlers := func(mounts *Mounts) (admission.Handler, admission.Handler) {
		return WithMounts(MutatingHoldingBack(p, checker), mounts), WithMounts(Validating(p, checker), mounts)
	}
	const ofJobManager = "HA not turned on: account mine of Deployment/flink-jobmanager lacks what HA needs on configmaps"

	t.Run("the ConfigMap, its JobManager's account refused", func(t *testing.T) {
		mutating, validating := handlers(mountsOf(t, []*appsv1.Deployment{jobManager, taskManager}))
		req := request(configMap, cmKind)
		resp := mutating.Handle(context.Background(), req)
		assert.True(t, resp.Allowed)
		assert.Empty(t, resp.Patches, "no HA keys")
		assert.Equal(t, []string{ofJobManager}, resp.Warnings)
		resp = validating.Handle(context.Background(), req)
		assert.True(t, resp.Allowed, "the policy's requirement of HA waits for the account: %v", resp.Result)
		require.Len(t, resp.Warnings, 1)
		assert.Contains(t, resp.Warnings[0], `Deployment/flink-jobmanager spec.template.spec.serviceAccountName: Invalid value: "mine": may not get configmaps,`)
		assert.Contains(t, resp.Warnings[0], "so HA is not turned on: bind it to a Role that allows it, or leave the account to the webhook (flink-ha); "+
			"the next change of this ConfigMap turns it on")
	})

	t.Run("the TaskManager, under the webhook's account, its JobManager's refused", func(t *testing.T) {
		mutating, validating := handlers(mountsOf(t, []*appsv1.Deployment{jobManager}))
		tm := taskManager.DeepCopy()
		tm.Spec.Template.Spec.ServiceAccountName = ""
		req := request(tm, deployment)
		resp := mutating.Handle(context.Background(), req)
		assert.True(t, resp.Allowed)
		assert.Empty(t, resp.Patches, "not moved to the webhook's account: without HA it needs none")
		assert.Equal(t, []string{ofJobManager}, resp.Warnings)
		resp = validating.Handle(context.Background(), req)
		assert.True(t, resp.Allowed)
	})

	t.Run("the JobManager itself", func(t *testing.T) {
		mutating, _ := handlers(mountsOf(t, []*appsv1.Deployment{taskManager}))
		resp := mutating.Handle(context.Background(), request(jobManager, deployment))
		assert.True(t, resp.Allowed)
		assert.Empty(t, resp.Patches, "no pod IP: without HA the TaskManagers reach it by its Service")
		assert.Equal(t, []string{"spec.template.spec.serviceAccountName: HA not turned on: account mine lacks what HA needs on configmaps"}, resp.Warnings)
	})

	t.Run("made HA", func(t *testing.T) {
		allowed := standaloneWorkload("flink-jobmanager", "jobmanager", "bound")
		recorded := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "flink-config", Namespace: "team",
			Annotations: map[string]string{AnnotationStoragePath: "s3://flink-ha/team/orders"}}}
		wasHA := request(configMap, cmKind)
		wasHA.Operation = admissionv1.Update
		old := configMap.DeepCopy()
		old.Data["flink-conf.yaml"] += "high-availability.type: kubernetes\nhigh-availability.storageDir: s3://flink-ha/team/orders\n"
		oldRaw, err := json.Marshal(old)
		require.NoError(t, err)
		wasHA.OldObject = runtime.RawExtension{Raw: oldRaw}
		unnamed := standaloneWorkload("flink-taskmanager", "taskmanager", "")
		other := configMap.DeepCopy()
		other.Name = "other-config"
		for name, tc := range map[string]struct {
			mounts *Mounts
			req    admission.Request
		}{
			"the ConfigMap, its workloads' accounts allowed":             {mountsOf(t, []*appsv1.Deployment{allowed, taskManager}), request(configMap, cmKind)},
			"the ConfigMap, mounted by nothing yet":                      {mountsOf(t, nil), request(configMap, cmKind)},
			"another ConfigMap":                                          {mountsOf(t, []*appsv1.Deployment{jobManager}), request(other, cmKind)},
			"an update of the ConfigMap stored with HA":                  {mountsOf(t, []*appsv1.Deployment{jobManager}), wasHA},
			"the TaskManager of a ConfigMap admitted with HA":            {mountsOf(t, []*appsv1.Deployment{jobManager}, recorded), request(unnamed, deployment)},
			"the JobManager under its own account, mounting one with HA": {mountsOf(t, nil, recorded), request(jobManager, deployment)},
		} {
			mutating, _ := handlers(tc.mounts)
			resp := mutating.Handle(context.Background(), tc.req)
			assert.True(t, resp.Allowed, name)
			assert.NotEmpty(t, resp.Patches, name)
			for _, w := range resp.Warnings {
				assert.NotContains(t, w, "HA not turned on", name)
			}
		}
	})
}
