package handler_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"

	"github.com/flink-ha-webhook/flink-ha-webhook/handler"
)

func TestPatch(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ before, after, patch string }{
		"nothing changed gives no patch": {`{"a":[1,2]}`, `{"a":[1,2]}`, `null`},
		"of a key written twice in order, the last value counts": {
			`{"a":1,"a":2,"b":3}`, `{"a":2,"b":4}`, `[{"op":"replace","path":"/b","value":4}]`,
		},
		"an element inserted into a list is one add": {
			`{"args":["jobmanager","a","b","c"]}`, `{"args":["jobmanager","$(POD_IP)","a","b","c"]}`,
			`[{"op":"add","path":"/args/1","value":"$(POD_IP)"}]`},
		"an element appended": {`{"args":["a"]}`, `{"args":["a","b"]}`, `[{"op":"add","path":"/args/1","value":"b"}]`},
		"elements removed from the middle": {`{"l":[1,2,3,4,5]}`, `{"l":[1,5]}`,
			`[{"op":"remove","path":"/l/1"},{"op":"remove","path":"/l/1"},{"op":"remove","path":"/l/1"}]`},
		"an element changed in place is patched inside": {`{"c":[{"name":"a","env":[]},{"name":"b"}]}`, `{"c":[{"name":"a","env":[{"name":"X"}]},{"name":"b"}]}`,
			`[{"op":"add","path":"/c/0/env/0","value":{"name":"X"}}]`},
		"a key removed, a key added, a value replaced": {`{"a":1,"b":2,"m":{"x":"y"}}`, `{"b":3,"c":null,"m":{"x":"z"}}`,
			`[{"op":"remove","path":"/a"},{"op":"replace","path":"/b","value":3},{"op":"add","path":"/c","value":null},{"op":"replace","path":"/m/x","value":"z"}]`},
		"keys with / and ~ are escaped": {`{"metadata":{"annotations":{}}}`, `{"metadata":{"annotations":{"a/b~c":"1"}}}`,
			`[{"op":"add","path":"/metadata/annotations/a~1b~0c","value":"1"}]`},
		"numbers keep their digits":                {`{"n":1}`, `{"n":10000000000000001}`, `[{"op":"replace","path":"/n","value":10000000000000001}]`},
		"a list that became an object is replaced": {`{"v":[1]}`, `{"v":{"a":1}}`, `[{"op":"replace","path":"/v","value":{"a":1}}]`},
	}
	for name, c := range cases {
		ops, err := handler.Patch([]byte(c.before), []byte(c.after))
		require.NoError(t, err, name)
		got, err := json.Marshal(ops)
		require.NoError(t, err, name)
		assert.JSONEq(t, c.patch, string(got), name)
		if len(ops) == 0 {
			continue
		}
		p, err := jsonpatch.DecodePatch(got)
		require.NoError(t, err, name)
		applied, err := p.Apply([]byte(c.before))
		require.NoError(t, err, name)
		assert.JSONEq(t, c.after, string(applied), "%s: the patch gives the object after", name)
	}
	_, err := handler.Patch([]byte(`{`), []byte(`{}`))
	assert.EqualError(t, err, "the object before the rules is not JSON")
}

// longArgs is a container's argument list of n arguments before and after
// the POD_IP insertion at args[1].
func longArgs(n int) (before, after []byte) {
	args := make([]string, n)
	for i := range args {
		args[i] = fmt.Sprintf("--arg%d", i)
	}
	b, _ := json.Marshal(map[string]any{"args": args})
	a, _ := json.Marshal(map[string]any{"args": append([]string{args[0], "$(POD_IP)"}, args[1:]...)})
	return b, a
}

func TestPatchOfAnInsertionDoesNotGrowWithTheList(t *testing.T) {
	t.Parallel()
	before, after := longArgs(100_000)
	ops, err := handler.Patch(before, after)
	require.NoError(t, err)
	raw, err := json.Marshal(ops)
	require.NoError(t, err)
	assert.JSONEq(t, `[{"op":"add","path":"/args/1","value":"$(POD_IP)"}]`, string(raw), "not %d bytes", len(raw))
	assert.False(t, strings.Contains(string(raw), "arg99999"))
}

// BenchmarkPatch doubles the list: time per operation doubles with it, not
// quadruples.
func BenchmarkPatch(b *testing.B) {
	for _, n := range []int{25_000, 50_000, 100_000} {
		before, after := longArgs(n)
		b.Run(fmt.Sprintf("insert-into-%d-args", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := handler.Patch(before, after); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
