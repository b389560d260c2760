package flinkconf

import (
	"slices"
	"sync"
)

// Bounds of the parsed texts kept: enough small files, the ones clusters
// are configured with, for every text of the reviews of a few concurrent
// creates to be there when the validating webhook reads it (each create
// leaves three or four: the text, and one per edit), a few MiB at most.
const (
	parsedEntries  = 64
	parsedMaxBytes = 8 << 10
)

// parsed keeps the config.yaml texts parsed last and what they parse to.
// Admitting one ConfigMap parses its text several times (to recognise it,
// to decide its cluster, to validate it, to identify it among others) and
// each edit parses its result to check it; the validating webhook then
// parses what the mutating one wrote. yaml.v3 takes most of that time. A
// parse depends on nothing but the text, and a parsed Standard is never
// changed in place (an edit replaces it whole), so a text parsed again
// gets a copy of what the first parse built.
var parsed = &parseCache{entries: map[string]*Standard{}}

type parseCache struct {
	mu      sync.Mutex
	entries map[string]*Standard
	order   []string // oldest first
}

// get returns a Standard of its own for src if src was parsed lately.
func (c *parseCache) get(src []byte) (*Standard, bool) {
	if len(src) > parsedMaxBytes {
		return nil, false
	}
	c.mu.Lock()
	s, ok := c.entries[string(src)]
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	return s.share(src), true
}

// put keeps what s parsed to, with a copy of its text: the caller's bytes
// stay the caller's.
func (c *parseCache) put(s *Standard) {
	if len(s.src) > parsedMaxBytes {
		return
	}
	key := string(s.src)
	kept := s.share([]byte(key))
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; ok {
		return
	}
	if len(c.order) == parsedEntries {
		delete(c.entries, c.order[0])
		c.order = append(c.order[:0], c.order[1:]...)
	}
	c.entries[key] = kept
	c.order = append(c.order, key)
}

// share returns a Standard of src, the same text as s's, that shares what s
// built. Every slice is clipped, so that an append to either copy, should
// one ever come, cannot write where the other reads.
func (s *Standard) share(src []byte) *Standard {
	c := *s
	c.src = src
	c.entries = slices.Clip(c.entries)
	c.warnings = slices.Clip(c.warnings)
	c.lines = slices.Clip(c.lines)
	c.maps = slices.Clip(c.maps)
	c.pairs = slices.Clip(c.pairs)
	c.refs = slices.Clip(c.refs)
	return &c
}
