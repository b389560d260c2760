package flinkconf

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParsedTextsAreSharedNotChanged: a text parsed again reads as the
// first parse read it, whatever was done since to the first result and to
// the bytes it was parsed from.
func TestParsedTextsAreSharedNotChanged(t *testing.T) {
	t.Parallel()
	text := "# shared\nhigh-availability:\n  type: kubernetes\n  storageDir: s3://b/ha\nkubernetes.cluster-id: shared-test\nlist: [a, b]\n"
	src := []byte(text)
	first, err := ParseStandard(src)
	require.NoError(t, err)
	fresh := &Standard{src: []byte(text)}
	require.NoError(t, fresh.parse())

	again, err := ParseStandard([]byte(text))
	require.NoError(t, err)
	assert.NotSame(t, first, again, "each parse has a Standard of its own")
	assert.Equal(t, fresh.Entries(), again.Entries())
	assert.Equal(t, fresh.Warnings(), again.Warnings())

	changed, err := first.Set("kubernetes.cluster-id", "other")
	require.NoError(t, err)
	require.True(t, changed)
	_, err = first.Set("high-availability.cluster-id", "new-key")
	require.NoError(t, err)
	copy(src, "# SHARED")

	third, err := ParseStandard([]byte(text))
	require.NoError(t, err)
	for _, s := range []*Standard{again, third} {
		assert.Equal(t, fresh.Entries(), s.Entries(), "an edit of one parse, or its bytes, change no other")
		assert.Equal(t, text, string(s.Bytes()))
		v, _ := s.Get("kubernetes.cluster-id")
		assert.Equal(t, "shared-test", v.Value)
	}
	edited, err := ParseStandard(first.Bytes())
	require.NoError(t, err)
	v, _ := edited.Get("high-availability.cluster-id")
	assert.Equal(t, "new-key", v.Value, "what an edit checked parses as it did")
}

// TestParsedTextsAreBounded: the cache keeps small texts only, and only
// the last parsedEntries of them.
func TestParsedTextsAreBounded(t *testing.T) {
	t.Parallel()
	c := &parseCache{entries: map[string]*Standard{}}
	texts := make([][]byte, parsedEntries+1)
	for i := range texts {
		texts[i] = fmt.Appendf(nil, "key: %d\n", i)
		s := &Standard{src: texts[i]}
		require.NoError(t, s.parse())
		c.put(s)
	}
	assert.Len(t, c.entries, parsedEntries)
	_, ok := c.get(texts[0])
	assert.False(t, ok, "the oldest text is gone")
	got, ok := c.get(texts[parsedEntries])
	require.True(t, ok, "the newest is kept")
	v, _ := got.Get("key")
	assert.Equal(t, fmt.Sprint(parsedEntries), v.Value)

	big := &Standard{src: make([]byte, parsedMaxBytes+1)}
	for i := range big.src {
		big.src[i] = '#'
	}
	require.NoError(t, big.parse())
	c.put(big)
	_, ok = c.get(big.src)
	assert.False(t, ok, "a large text is not kept")
	assert.Len(t, c.entries, parsedEntries)
}

// TestParsedTextsConcurrently parses and edits one text from several
// goroutines (run with -race).
func TestParsedTextsConcurrently(t *testing.T) {
	t.Parallel()
	text := typicalStandard()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				s, err := ParseStandard(text)
				if !assert.NoError(t, err) {
					return
				}
				_, err = s.Set("high-availability.cluster-id", fmt.Sprintf("c-%d-%d", g, i%3))
				assert.NoError(t, err)
				v, _ := s.Get("group3.option-a")
				assert.Equal(t, "value-3", v.Value)
			}
		})
	}
	wg.Wait()
}
