package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPages: a list is read page by page to its end, with a line per page
// once it takes more than one; it stops at a failed page or when the
// audit is called off between pages.
func TestPages(t *testing.T) {
	t.Parallel()
	boom := errors.New("etcdserver: request timed out")
	cases := map[string]struct {
		// pages are the items per page the API server returns.
		pages []int
		// failAt is the page (from 1) that fails; 0: none.
		failAt int
		// cancelAt calls the audit off after this page; 0: never.
		cancelAt int
		// asked are the Continue tokens of the requests.
		asked    []string
		progress string
		err      string
	}{
		"one page says nothing": {
			pages: []int{3}, asked: []string{""},
		},
		"an empty list says nothing": {
			pages: []int{0}, asked: []string{""},
		},
		"three pages say how many so far after each": {
			pages: []int{2, 2, 1}, asked: []string{"", "after-1", "after-2"},
			progress: "listing ConfigMaps: 2 so far\nlisting ConfigMaps: 4 so far\nlisting ConfigMaps: 5 so far\n",
		},
		"a failed page stops the list": {
			pages: []int{2, 2, 1}, failAt: 2, asked: []string{"", "after-1"},
			progress: "listing ConfigMaps: 2 so far\n",
			err:      "listing ConfigMaps: etcdserver: request timed out",
		},
		"an audit called off between pages stops": {
			pages: []int{2, 2, 1}, cancelAt: 1, asked: []string{""},
			progress: "listing ConfigMaps: 2 so far\n",
			err:      "listing ConfigMaps\ncontext canceled",
		},
	}
	for name, tc := range cases {
		ctx, cancel := context.WithCancel(context.Background())
		var progress strings.Builder
		a := &auditor{opts: Options{ChunkSize: 2, Progress: &progress}}
		var asked []string
		err := a.pages(ctx, "ConfigMaps", func(opts metav1.ListOptions) (string, int, error) {
			assert.Equal(t, int64(2), opts.Limit, name)
			asked = append(asked, opts.Continue)
			page := len(asked)
			if page == tc.failAt {
				return "", 0, boom
			}
			if page == tc.cancelAt {
				cancel()
			}
			cont := ""
			if page < len(tc.pages) {
				cont = fmt.Sprintf("after-%d", page)
			}
			return cont, tc.pages[page-1], nil
		})
		cancel()
		assert.Equal(t, tc.asked, asked, name)
		assert.Equal(t, tc.progress, progress.String(), name)
		if tc.err == "" {
			assert.NoError(t, err, name)
		} else {
			assert.EqualError(t, err, tc.err, name)
		}
	}
}
