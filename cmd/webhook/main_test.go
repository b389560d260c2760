package main

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRun(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		"no command prints the usage as an error":                  {code: 2, stderr: usage},
		"help prints the usage":                                    {args: []string{"help"}, stdout: usage},
		"-h prints the usage":                                      {args: []string{"-h"}, stdout: usage},
		"--help prints the usage":                                  {args: []string{"--help"}, stdout: usage},
		"version prints (devel) in a build with no module version": {args: []string{"version"}, stdout: "(devel)\n"},
		"--version is version":                                     {args: []string{"--version"}, stdout: "(devel)\n"},
		"an unknown command is named, with the usage":              {args: []string{"mutate"}, code: 2, stderr: "flink-ha-webhook: unknown command \"mutate\"\n\n" + usage},
	}
	for name, tc := range cases {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, nil, &stdout, &stderr)
		assert.Equal(t, tc.code, code, name)
		assert.Equal(t, tc.stdout, stdout.String(), name)
		assert.Equal(t, tc.stderr, stderr.String(), name)
	}
}

// assertRefused runs a subcommand that must refuse with exit status 2,
// writing nothing to stdout and want to stderr. Of a flag error, only the
// error and the "Usage of" line are compared: the flag list is the flag
// package's.
func assertRefused(t *testing.T, name string, args []string, stdin io.Reader, stdout io.Writer, want string) {
	t.Helper()
	var out, stderr bytes.Buffer
	if stdout == nil {
		stdout = &out
	}
	assert.Equal(t, 2, run(args, stdin, stdout, &stderr), name)
	assert.Empty(t, out.String(), name)
	assert.Equal(t, want, withoutFlagList(stderr.String(), want), name)
}

// withoutFlagList cuts got to want's length when want ends at a flag
// error's "Usage of" line.
func withoutFlagList(got, want string) string {
	if strings.Contains(want, "\nUsage of ") && strings.HasSuffix(want, ":\n") {
		return got[:min(len(got), len(want))]
	}
	return got
}
