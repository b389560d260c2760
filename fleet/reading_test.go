package fleet

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/flink-ha-webhook/flink-ha-webhook/cluster"
	"github.com/flink-ha-webhook/flink-ha-webhook/flinkconf"
	"github.com/flink-ha-webhook/flink-ha-webhook/recognise"
)

// referenceRead is read as it is specified, without its shortcuts: every
// configuration's values by Config.Lookup, every configuration's full list
// of conflicts, none skipped once HA is known to be conflicting.
func (id *Identity) referenceRead(configs []*cluster.Configuration) {
	if len(configs) == 0 {
		id.HA = HAOff
		return
	}
	newest := configs[0]
	for _, other := range configs[1:] {
		if newest.Versions.Max.Less(other.Versions.Max) {
			newest = other
		}
	}
	lookup := func(c *cluster.Configuration) identityValues {
		v := identityValues{ha: c.HA.Newest().Mode}
		if s, ok := c.Config.Lookup(flinkconf.ClusterID); ok {
			v.clusterID = s.Value
		}
		if s, ok := c.Config.Lookup(flinkconf.HAStorageDir); ok {
			v.storageDir = s.Value
		}
		if s, ok := c.Config.Lookup(flinkconf.HAClusterID); ok {
			v.haClusterID, v.haClusterIDSet = s.Value, true
		}
		return v
	}
	v := lookup(newest)
	if id.ClusterID == "" {
		id.ClusterID = v.clusterID
	}
	id.HA = map[flinkconf.HAMode]HAState{flinkconf.HAKubernetes: HAOn, flinkconf.HAZooKeeper: HAZooKeeper, flinkconf.HAFactory: HACustom}[v.ha]
	if id.HA == "" {
		id.HA = HAOff
	}
	for _, other := range configs {
		if other != newest && lookup(other) != v || conflicting(other.Config) {
			id.HA = HAConflicting
		}
	}
	id.StorageDir = v.storageDir
	if id.HA == HAOff || id.StorageDir == "" {
		return
	}
	haClusterID := "/default"
	if id.Mode != Standalone && id.ClusterID != "" {
		haClusterID = id.ClusterID
	}
	if v.haClusterIDSet {
		haClusterID = v.haClusterID
	}
	id.StoragePath = StoragePath(id.StorageDir, haClusterID)
}

// input is one object to identify, with the ConfigMaps beside it.
type input struct {
	name   string
	obj    metav1.Object
	lookup ConfigMaps
}

// unknownImage is an official image whose tag names no release line.
const unknownImage = "flink:latest"

// pins returns the images of every supported release line, one older and
// one newer, and one of unknown version (first); and the flinkVersions
// alike ("" for none).
func pins() (images, operator []string) {
	images, operator = []string{unknownImage, "flink:1.14.6"}, []string{"", "v1_14"}
	for v := flinkconf.Supported.Min; !flinkconf.Supported.Max.Less(v); v = nextLine(v) {
		images = append(images, fmt.Sprintf("flink:%d.%d", v.Major, v.Minor))
		operator = append(operator, fmt.Sprintf("v%d_%d", v.Major, v.Minor))
	}
	return append(images, "flink:2.2"), append(operator, "v2_2")
}

// nextLine is the release line after v: 1.20 is followed by 2.0.
func nextLine(v flinkconf.Version) flinkconf.Version {
	if v == flinkconf.V1_20 {
		return flinkconf.V2_0
	}
	return flinkconf.Version{Major: v.Major, Minor: v.Minor + 1}
}

// pinImage returns a copy of a workload whose Flink container runs image;
// false for other objects.
func pinImage(obj metav1.Object, image string) (metav1.Object, bool) {
	set := func(meta *metav1.ObjectMeta, tpl *corev1.PodTemplateSpec) bool {
		fp, ok := recognise.PodTemplate(meta.Labels, tpl)
		if ok {
			tpl.Spec.Containers[fp.Container].Image = image
		}
		return ok
	}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		o = o.DeepCopy()
		return o, set(&o.ObjectMeta, &o.Spec.Template)
	case *appsv1.StatefulSet:
		o = o.DeepCopy()
		return o, set(&o.ObjectMeta, &o.Spec.Template)
	case *batchv1.Job:
		o = o.DeepCopy()
		return o, set(&o.ObjectMeta, &o.Spec.Template)
	}
	return nil, false
}

// pinVersion returns a copy of a FlinkDeployment whose spec.flinkVersion is
// version, without spec.image ("" removes both: the version is unknown);
// false for other objects.
func pinVersion(obj metav1.Object, version string) (metav1.Object, bool) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok || u.GetKind() != "FlinkDeployment" {
		return nil, false
	}
	u = u.DeepCopy()
	spec, ok := u.Object["spec"].(map[string]any)
	if !ok {
		return nil, false
	}
	delete(spec, "image")
	delete(spec, "flinkVersion")
	if version != "" {
		spec["flinkVersion"] = version
	}
	return u, true
}

// corpus is every object the tests of this repository identify or admit:
// the tables of this package, the manifests the handlers and the mutating
// rules are tested on, and the configuration texts flinkconf is tested on,
// each in the ConfigMap, FLINK_PROPERTIES, arguments or flinkConfiguration
// that carries it. ConfigMaps are also mounted by JobManagers.
func corpus(t testing.TB) []input {
	var out []input
	add := func(name string, lookup ConfigMaps, objs ...metav1.Object) {
		for i, o := range objs {
			out = append(out, input{name: fmt.Sprintf("%s #%d %T %s", name, i, o, o.GetName()), obj: o, lookup: lookup})
		}
	}

	// This package's tables.
	for _, cases := range []func() (map[string]identifyCase, ConfigMaps){identifyCases, readingCases} {
		cases, lookup := cases()
		for name, tc := range cases {
			add(name, lookup, tc.obj)
		}
	}

	// Manifests, each file's ConfigMaps resolving its JobManagers' mounts.
	var files []string
	for _, pattern := range []string{"../handler/testdata/*.yaml", "../mutate/testdata/*/*.yaml", "../test/audit/testdata/*.yaml"} {
		m, err := filepath.Glob(pattern)
		require.NoError(t, err)
		files = append(files, m...)
	}
	require.NotEmpty(t, files)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		objs := decodeAll(t, raw)
		x := Index{}
		for _, o := range objs {
			x.Add(o)
		}
		for _, o := range objs {
			add(f, x.In(o.GetNamespace()), o)
		}
	}

	// Configuration texts.
	texts := func(dir, suffix string) map[string]string {
		m, err := filepath.Glob(filepath.Join("../flinkconf/testdata", dir, "*"+suffix))
		require.NoError(t, err)
		require.NotEmpty(t, m)
		out := map[string]string{}
		for _, f := range m {
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			out[f] = string(raw)
		}
		return out
	}
	legacy, standard := texts("legacy", ".in.yaml"), texts("standard", ".in.yaml")
	legacy["the HA configuration"] = haConf
	standard["the HA configuration, nested"] = "kubernetes.cluster-id: orders\nhigh-availability:\n  type: kubernetes\n  storageDir: s3://b/ha\n"
	cm := func(name string, data map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: name}, Data: data}
	}
	// Each flink-conf.yaml beside three config.yaml texts, taken in turn so
	// that every one is paired, and beside the HA one.
	standardNames := slices.Sorted(maps.Keys(standard))
	for i, f := range slices.Sorted(maps.Keys(legacy)) {
		text := legacy[f]
		add(f, nil, cm("conf", map[string]string{recognise.KeyLegacy: text}),
			withProperties(jobManager("a", "jm", "", "flink", nil), text),
			withProperties(jobManager("a", "jm", "", "flink", nil, "-Dkubernetes.cluster-id=args", "-Dhigh-availability.storageDir=s3://b/args"), text))
		for _, g := range []string{standardNames[i%len(standardNames)], standardNames[(i+7)%len(standardNames)], "the HA configuration, nested"} {
			both := cm("both", map[string]string{recognise.KeyLegacy: text, recognise.KeyStandard: standard[g]})
			add(f+" beside "+g, nil, both)
			add(f+" beside "+g+", mounted", Index{"a/both": both}.In("a"), jobManager("a", "jm", "both", "flink", nil))
		}
	}
	for f, text := range standard {
		add(f, nil, cm("conf", map[string]string{recognise.KeyStandard: text}))
	}
	for f, text := range texts("args", ".in.yaml") {
		var args []string
		require.NoError(t, yaml.Unmarshal([]byte(text), &args), f)
		d := jobManager("a", "jm", "", "flink", nil)
		d.Spec.Template.Spec.Containers[0].Args = args
		add(f, nil, d, withProperties(d.DeepCopy(), haConf))
	}
	for f, text := range texts("object", ".in.json") {
		var fc map[string]any
		require.NoError(t, json.Unmarshal([]byte(text), &fc), f)
		add(f, nil, flinkDeployment("a", "fd", "v1_20", fc))
	}

	// Every ConfigMap, mounted by a JobManager, with and without arguments
	// over it.
	for _, in := range slices.Clone(out) {
		if c, ok := in.obj.(*corev1.ConfigMap); ok {
			mount := Index{c.Namespace + "/" + c.Name: c}.In(c.Namespace)
			add(in.name+", mounted", mount, jobManager(c.Namespace, "jm", c.Name, "flink", nil),
				jobManager(c.Namespace, "jm", c.Name, "flink", nil, "-Dhigh-availability.cluster-id=args"))
		}
	}
	return out
}

func withProperties(d *appsv1.Deployment, text string) *appsv1.Deployment {
	d.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: cluster.EnvProperties, Value: text}}
	return d
}

// decodeAll decodes the Kubernetes objects fleet identifies from a stream
// of YAML documents, skipping the rest.
func decodeAll(t testing.TB, raw []byte) []metav1.Object {
	var out []metav1.Object
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		js, err := yaml.YAMLToJSON(doc)
		require.NoError(t, err)
		var tm metav1.TypeMeta
		if json.Unmarshal(js, &tm) != nil {
			continue
		}
		var obj metav1.Object
		switch tm.Kind {
		case "ConfigMap":
			obj = &corev1.ConfigMap{}
		case "Deployment":
			obj = &appsv1.Deployment{}
		case "StatefulSet":
			obj = &appsv1.StatefulSet{}
		case "Job":
			obj = &batchv1.Job{}
		case "FlinkDeployment":
			obj = &unstructured.Unstructured{}
		default:
			continue
		}
		if json.Unmarshal(js, obj) == nil {
			out = append(out, obj)
		}
	}
}

// TestReadingShortcutsChangeNothing: read skips what cannot change the
// identity (the full list of conflicts of a configuration whose HA keys
// are each set once, the readings after one that conflicts); over every
// input, in every version, it gives what the plain reading gives.
func TestReadingShortcutsChangeNothing(t *testing.T) {
	t.Parallel()
	images, operator := pins()
	n := 0
	for _, in := range corpus(t) {
		objs := []metav1.Object{in.obj}
		for _, img := range images {
			if o, ok := pinImage(in.obj, img); ok {
				objs = append(objs, o)
			}
		}
		for _, v := range operator {
			if o, ok := pinVersion(in.obj, v); ok {
				objs = append(objs, o)
			}
		}
		for _, o := range objs {
			got, ok := Identify(o, in.lookup)
			want, configs, wantOK := identify(o, in.lookup)
			if wantOK {
				want.referenceRead(configs)
				n++
			}
			assert.Equal(t, wantOK, ok, in.name)
			assert.Equal(t, want, got, in.name)
		}
	}
	assert.Greater(t, n, 6000, "identities compared")
}

// TestGroupedReadingIsEachVersionsReading: where the release line is not
// known, the identity is read once for each group of lines that read the
// object alike (package cluster's configurations), not once per line. It
// must say what reading the object with each line it covers pinned says:
// the newest line's values, and, unless HA is conflicting, the same
// cluster-id and storageDir for every line, none of them conflicting.
func TestGroupedReadingIsEachVersionsReading(t *testing.T) {
	t.Parallel()
	images, operator := pins()
	n := 0
	for _, in := range corpus(t) {
		for _, pin := range []struct {
			values  []string // unknown first, then older, the supported lines, newer
			pin     func(metav1.Object, string) (metav1.Object, bool)
			version func(string) (flinkconf.Version, bool)
		}{{images, pinImage, flinkconf.ImageVersion}, {operator, pinVersion, flinkconf.OperatorVersion}} {
			byLine := func(p string) (Identity, bool) {
				o, ok := pin.pin(in.obj, p)
				if !ok {
					return Identity{}, false
				}
				return Identify(o, in.lookup)
			}
			grouped, ok := byLine(pin.values[0])
			if !ok {
				continue
			}
			n++
			unknown, _ := pin.pin(in.obj, pin.values[0])
			_, configs, _ := identify(unknown, in.lookup)
			// The lines the grouped reading covers: a JobManager of
			// unknown version that mounts only config.yaml is read as
			// the 1.19+ lines read it, as the ConfigMap alone is.
			covers := func(p string) bool {
				v, _ := pin.version(p)
				return len(configs) == 0 || slices.ContainsFunc(configs, func(c *cluster.Configuration) bool {
					_, ok := c.Versions.Intersect(flinkconf.Exactly(v))
					return ok
				})
			}
			// The supported lines it covers.
			supported := pin.values[2 : len(pin.values)-1]
			lines := slices.DeleteFunc(slices.Clone(supported), func(p string) bool { return !covers(p) })
			require.NotEmpty(t, lines, in.name)
			newest, ok := byLine(lines[len(lines)-1])
			require.True(t, ok, in.name)
			assert.Equal(t, newest.ClusterID, grouped.ClusterID, in.name+": the newest line's cluster-id")
			assert.Equal(t, newest.StorageDir, grouped.StorageDir, in.name+": the newest line's storageDir")
			if grouped.HA != HAConflicting {
				assert.Equal(t, newest.HA, grouped.HA, in.name+": the newest line's HA")
				assert.Equal(t, newest.StoragePath, grouped.StoragePath, in.name+": the newest line's storage path")
			}
			for _, p := range lines {
				each, ok := byLine(p)
				require.True(t, ok, in.name+" "+p)
				assert.Equal(t, []string{grouped.Key, grouped.Object, grouped.Account}, []string{each.Key, each.Object, each.Account}, in.name+" "+p)
				assert.Equal(t, grouped.Mode, each.Mode, in.name+" "+p)
				if grouped.HA != HAConflicting {
					assert.Equal(t, grouped.ClusterID, each.ClusterID, in.name+" "+p+": no disagreement, so the same cluster-id")
					assert.Equal(t, grouped.StorageDir, each.StorageDir, in.name+" "+p+": no disagreement, so the same storageDir")
					assert.NotEqual(t, HAConflicting, each.HA, in.name+" "+p+": no line conflicting")
				}
			}
		}
	}
	assert.Greater(t, n, 500, "objects read with each line pinned")
}

// BenchmarkReading compares read with the plain reading on the
// configurations of each object of the benchmark of Identify.
func BenchmarkReading(b *testing.B) {
	for _, c := range benchObjects() {
		id, configs, ok := identify(c.obj, nil)
		require.True(b, ok)
		for _, r := range []struct {
			name string
			read func(*Identity, []*cluster.Configuration)
		}{{"read", (*Identity).read}, {"reference", (*Identity).referenceRead}} {
			b.Run(c.name+"/"+r.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					got := id
					r.read(&got, configs)
				}
			})
		}
	}
}
