package flinkconf

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	lines1x     = Range{Min: V1_15, Max: V1_20}
	lines2x     = Range{Min: V2_0, Max: V2_1}
	lines115118 = Range{Min: V1_15, Max: V1_18}
	lines119120 = Range{Min: V1_19, Max: V1_20}
)

// TestArgsReadAsFlinkReadsThem checks which -D arguments count, what Flink
// is warned to do with the others, and where a new property goes (set as
// "new.key" = "v").
func TestArgsReadAsFlinkReadsThem(t *testing.T) {
	t.Parallel()
	type entry struct {
		key, value string
		arg        int
	}
	cases := map[string]struct {
		args     []string
		versions Range
		entries  []entry
		warnings []string
		end      int // OptionsEnd; 0 for len(args)
		afterSet []string
	}{
		"standalone-job reads -D before its program arguments, and a new one goes right after the last": {
			end:      5,
			args:     []string{"standalone-job", "-D", "a=1", "--job-classname", "com.Foo", "--input", "x"},
			entries:  []entry{{"a", "1", 2}},
			afterSet: []string{"standalone-job", "-D", "a=1", "-D", "new.key=v", "--job-classname", "com.Foo", "--input", "x"},
		},
		"standalone-job reads no -D after the first program argument, and says so": {
			end:      3,
			args:     []string{"standalone-job", "--job-classname", "com.example.Job", "--input", "s3://in", "-Dkubernetes.cluster-id=c1"},
			warnings: []string{`argument 5: Flink 1.15-2.1 reads no options after argument 3 ("--input"): this -D goes to the program`},
			afterSet: []string{"standalone-job", "-D", "new.key=v", "--job-classname", "com.example.Job", "--input", "s3://in", "-Dkubernetes.cluster-id=c1"},
		},
		"the value of an option that takes one is not where parsing stops": {
			args:     []string{"standalone-job", "-j", "com.Foo", "--job-id", "00000000000000000000000000000000", "-s", "s3://sp", "-n", "-Dk=v"},
			entries:  []entry{{"k", "v", 8}},
			afterSet: []string{"standalone-job", "-j", "com.Foo", "--job-id", "00000000000000000000000000000000", "-s", "s3://sp", "-n", "-Dk=v", "-D", "new.key=v"},
		},
		"--restoreMode is no option of standalone-job: it ends the options": {
			end:      3,
			args:     []string{"standalone-job", "-s", "s3://sp", "--restoreMode", "CLAIM", "-Dk=v"},
			warnings: []string{`argument 5: Flink 1.15-2.1 reads no options after argument 3 ("--restoreMode"): this -D goes to the program`},
			afterSet: []string{"standalone-job", "-D", "new.key=v", "-s", "s3://sp", "--restoreMode", "CLAIM", "-Dk=v"},
		},
		"an option with no name makes Flink refuse the arguments": {
			end:      1,
			args:     []string{"taskmanager", "-=x", "-Da=1"},
			warnings: []string{`argument 1 ("-=x"): an option with no name there; Flink refuses the arguments and does not start`},
			afterSet: []string{"taskmanager", "-D", "new.key=v", "-=x", "-Da=1"},
		},
		"an abbreviated long option is the option, as commons-cli matches prefixes": {
			args:     []string{"standalone-job", "--job-c", "com.Foo", "--from", "s3://sp", "-Dk=v"},
			entries:  []entry{{"k", "v", 5}},
			afterSet: []string{"standalone-job", "--job-c", "com.Foo", "--from", "s3://sp", "-Dk=v", "-D", "new.key=v"},
		},
		"an ambiguous abbreviation makes Flink refuse the arguments": {
			end:      2,
			args:     []string{"standalone-job", "-Da=1", "--job", "com.Foo", "-Db=2"},
			entries:  []entry{{"a", "1", 1}},
			warnings: []string{`argument 2 ("--job"): an ambiguous abbreviation of an option there; Flink refuses the arguments and does not start`},
			afterSet: []string{"standalone-job", "-Da=1", "-D", "new.key=v", "--job", "com.Foo", "-Db=2"},
		},
		"--host is an option of standalone-job on 1.x": {
			args:     []string{"standalone-job", "--host", "$(POD_IP)", "-Dk=v"},
			versions: lines1x,
			entries:  []entry{{"k", "v", 3}},
			afterSet: []string{"standalone-job", "--host", "$(POD_IP)", "-Dk=v", "-D", "new.key=v"},
		},
		"--host ends the options of standalone-job on 2.x": {
			end:      1,
			args:     []string{"standalone-job", "--host", "$(POD_IP)", "-Dk=v"},
			versions: lines2x,
			warnings: []string{`argument 3: Flink 2.0-2.1 reads no options after argument 1 ("--host"): this -D goes to the program`},
			afterSet: []string{"standalone-job", "-D", "new.key=v", "--host", "$(POD_IP)", "-Dk=v"},
		},
		"--jar-file is no option of standalone-job on 1.15-1.18": {
			end:      1,
			args:     []string{"standalone-job", "--jar-file", "local:///job.jar", "-Dk=v"},
			versions: lines115118,
			warnings: []string{`argument 3: Flink 1.15-1.18 reads no options after argument 1 ("--jar-file"): this -D goes to the program`},
			afterSet: []string{"standalone-job", "-D", "new.key=v", "--jar-file", "local:///job.jar", "-Dk=v"},
		},
		"--jar-file is no option of standalone-job on 1.19-1.20": {
			end:      1,
			args:     []string{"standalone-job", "--jar-file", "local:///job.jar", "-Dk=v"},
			versions: lines119120,
			warnings: []string{`argument 3: Flink 1.19-1.20 reads no options after argument 1 ("--jar-file"): this -D goes to the program`},
			afterSet: []string{"standalone-job", "-D", "new.key=v", "--jar-file", "local:///job.jar", "-Dk=v"},
		},
		"--jar-file is no option of standalone-job on 2.x": {
			end:      1,
			args:     []string{"standalone-job", "--jar-file", "local:///job.jar", "-Dk=v"},
			versions: lines2x,
			warnings: []string{`argument 3: Flink 2.0-2.1 reads no options after argument 1 ("--jar-file"): this -D goes to the program`},
			afterSet: []string{"standalone-job", "-D", "new.key=v", "--jar-file", "local:///job.jar", "-Dk=v"},
		},
		"--jars is no option of standalone-job on 1.15-1.18": {
			end:      1,
			args:     []string{"standalone-job", "--jars", "local:///job.jar", "-Dk=v"},
			versions: lines115118,
			warnings: []string{`argument 3: Flink 1.15-1.18 reads no options after argument 1 ("--jars"): this -D goes to the program`},
			afterSet: []string{"standalone-job", "-D", "new.key=v", "--jars", "local:///job.jar", "-Dk=v"},
		},
		"--jars takes every value up to the next option on 1.19-1.20": {
			args:     []string{"standalone-job", "--jars", "local:///a.jar", "local:///b.jar", "-Dk=v", "--job-classname", "com.Foo"},
			versions: lines119120,
			entries:  []entry{{"k", "v", 4}},
			afterSet: []string{"standalone-job", "--jars", "local:///a.jar", "local:///b.jar", "-Dk=v", "-D", "new.key=v", "--job-classname", "com.Foo"},
		},
		"--jars takes every value up to the next option on 2.x": {
			args:     []string{"standalone-job", "--jars", "local:///a.jar", "local:///b.jar", "-Dk=v", "--job-classname", "com.Foo"},
			versions: lines2x,
			entries:  []entry{{"k", "v", 4}},
			afterSet: []string{"standalone-job", "--jars", "local:///a.jar", "local:///b.jar", "-Dk=v", "-D", "new.key=v", "--job-classname", "com.Foo"},
		},
		"--jars with no value before the next option makes Flink refuse the arguments on 1.19-1.20": {
			end:      2,
			args:     []string{"standalone-job", "--jars", "-Dk=v"},
			versions: lines119120,
			warnings: []string{`argument 2 ("-Dk=v"): the option before it lacks its value there; Flink refuses the arguments and does not start`},
			afterSet: []string{"standalone-job", "-D", "new.key=v", "--jars", "-Dk=v"},
		},
		"--jars with no value before the next option makes Flink refuse the arguments on 2.x": {
			end:      2,
			args:     []string{"standalone-job", "--jars", "-Dk=v"},
			versions: lines2x,
			warnings: []string{`argument 2 ("-Dk=v"): the option before it lacks its value there; Flink refuses the arguments and does not start`},
			afterSet: []string{"standalone-job", "-D", "new.key=v", "--jars", "-Dk=v"},
		},
		"-- after the values of --jars ends the options on 2.x": {
			end:      3,
			args:     []string{"standalone-job", "--jars", "local:///a.jar", "--", "-Dk=v"},
			versions: lines2x,
			warnings: []string{`argument 4: Flink 2.0-2.1 reads no options after argument 3 ("--"): this -D goes to the program`},
			afterSet: []string{"standalone-job", "-D", "new.key=v", "--jars", "local:///a.jar", "--", "-Dk=v"},
		},
		"--webui-port is an option of standalone-job on 1.x": {
			args:     []string{"standalone-job", "--webui-port", "8081", "-Dk=v"},
			versions: lines1x,
			entries:  []entry{{"k", "v", 3}},
			afterSet: []string{"standalone-job", "--webui-port", "8081", "-Dk=v", "-D", "new.key=v"},
		},
		"--webui-port ends the options of standalone-job on 2.x": {
			end:      1,
			args:     []string{"standalone-job", "--webui-port", "8081", "-Dk=v"},
			versions: lines2x,
			warnings: []string{`argument 3: Flink 2.0-2.1 reads no options after argument 1 ("--webui-port"): this -D goes to the program`},
			afterSet: []string{"standalone-job", "-D", "new.key=v", "--webui-port", "8081", "-Dk=v"},
		},
		"a range of lines counts only what every line reads": {
			end:      1,
			args:     []string{"standalone-job", "--host", "$(POD_IP)", "-Dk=v"},
			warnings: []string{`argument 3: Flink 2.0-2.1 reads no options after argument 1 ("--host"): this -D goes to the program`},
			afterSet: []string{"standalone-job", "-D", "new.key=v", "--host", "$(POD_IP)", "-Dk=v"},
		},
		"jobmanager takes its first argument for a host name and its second for a port": {
			args:     []string{"jobmanager", "$(POD_IP)", "8081", "-D", "k=v"},
			entries:  []entry{{"k", "v", 4}},
			afterSet: []string{"jobmanager", "$(POD_IP)", "8081", "-D", "k=v", "-D", "new.key=v"},
		},
		"jobmanager with a host alone starts its options at the second argument": {
			args:     []string{"jobmanager", "$(POD_IP)"},
			afterSet: []string{"jobmanager", "$(POD_IP)", "-D", "new.key=v"},
		},
		"a joined -D right after jobmanager is a host name, which Flink refuses": {
			args:     []string{"jobmanager", "-Dk=v"},
			warnings: []string{`argument 1 ("-Dk=v"): Flink refuses it as jobmanager.sh's host name and does not start; write "-D", "key=value"`},
			afterSet: []string{"jobmanager", "-Dk=v", "-D", "new.key=v"},
		},
		"a joined -D second after jobmanager is a web UI port, which Flink refuses": {
			args:     []string{"jobmanager", "$(POD_IP)", "-Dk=v", "-D", "a=1"},
			entries:  []entry{{"a", "1", 4}},
			warnings: []string{`argument 2 ("-Dk=v"): Flink refuses it as jobmanager.sh's web UI port and does not start; write "-D", "key=value"`},
			afterSet: []string{"jobmanager", "$(POD_IP)", "-Dk=v", "-D", "a=1", "-D", "new.key=v"},
		},
		"--webui-port, --host and --executionMode are options of jobmanager on 1.x": {
			args:     []string{"jobmanager", "-D", "a=1", "--webui-port", "8081", "--host", "h", "-x", "cluster", "-Db=2"},
			versions: lines1x,
			entries:  []entry{{"a", "1", 2}, {"b", "2", 9}},
			afterSet: []string{"jobmanager", "-D", "a=1", "--webui-port", "8081", "--host", "h", "-x", "cluster", "-Db=2", "-D", "new.key=v"},
		},
		"--webui-port ends the options of jobmanager on 2.x": {
			end:      3,
			args:     []string{"jobmanager", "-D", "a=1", "--webui-port", "8081", "-Db=2"},
			versions: lines2x,
			entries:  []entry{{"a", "1", 2}},
			warnings: []string{`argument 5: Flink 2.0-2.1 reads no options after argument 3 ("--webui-port"): this -D goes to the program`},
			afterSet: []string{"jobmanager", "-D", "a=1", "-D", "new.key=v", "--webui-port", "8081", "-Db=2"},
		},
		"--host ends the options of jobmanager on 2.x": {
			end:      3,
			args:     []string{"jobmanager", "-D", "a=1", "--host", "h", "-Db=2"},
			versions: lines2x,
			entries:  []entry{{"a", "1", 2}},
			warnings: []string{`argument 5: Flink 2.0-2.1 reads no options after argument 3 ("--host"): this -D goes to the program`},
			afterSet: []string{"jobmanager", "-D", "a=1", "-D", "new.key=v", "--host", "h", "-Db=2"},
		},
		"-x ends the options of jobmanager on 2.x": {
			end:      3,
			args:     []string{"jobmanager", "-D", "a=1", "-x", "cluster", "-Db=2"},
			versions: lines2x,
			entries:  []entry{{"a", "1", 2}},
			warnings: []string{`argument 5: Flink 2.0-2.1 reads no options after argument 3 ("-x"): this -D goes to the program`},
			afterSet: []string{"jobmanager", "-D", "a=1", "-D", "new.key=v", "-x", "cluster", "-Db=2"},
		},
		"an option lacking its value before jobmanager's host makes Flink refuse the arguments on 1.x": {
			end:      3,
			args:     []string{"jobmanager", "h", "8081", "-c"},
			versions: lines1x,
			warnings: []string{`argument 3 ("-c"): an option lacks its value there; Flink refuses the arguments and does not start`},
			afterSet: []string{"jobmanager", "h", "8081", "-D", "new.key=v", "-c"},
		},
		"an option lacking its value before jobmanager's host makes Flink refuse the arguments on 2.x": {
			end:      3,
			args:     []string{"jobmanager", "h", "8081", "-c"},
			versions: lines2x,
			warnings: []string{`argument 3 ("-c"): an option lacks its value there; Flink refuses the arguments and does not start`},
			afterSet: []string{"jobmanager", "h", "8081", "-D", "new.key=v", "-c"},
		},
		"a jobmanager that starts with -D reads every property": {
			args:     []string{"jobmanager", "-D", "a=1", "-Db=2"},
			entries:  []entry{{"a", "1", 2}, {"b", "2", 3}},
			afterSet: []string{"jobmanager", "-D", "a=1", "-Db=2", "-D", "new.key=v"},
		},
		"taskmanager stops at its first word": {
			end:      2,
			args:     []string{"taskmanager", "-Da=1", "word", "-Db=2"},
			entries:  []entry{{"a", "1", 1}},
			warnings: []string{`argument 3: Flink 1.15-2.1 reads no options after argument 2 ("word"): this -D goes to the program`},
			afterSet: []string{"taskmanager", "-Da=1", "-D", "new.key=v", "word", "-Db=2"},
		},
		"a plain taskmanager gets its property right after the command": {
			args:     []string{"taskmanager"},
			afterSet: []string{"taskmanager", "-D", "new.key=v"},
		},
		"-Dkey without '=' sets key to true": {
			args:     []string{"taskmanager", "-Dflag"},
			entries:  []entry{{"flag", "true", 1}},
			warnings: []string{`argument 1 ("-Dflag") has no '=': Flink sets "flag" to "true"`},
			afterSet: []string{"taskmanager", "-Dflag", "-D", "new.key=v"},
		},
		"-D key value as three arguments is one property": {
			args:     []string{"taskmanager", "-D", "k", "v"},
			entries:  []entry{{"k", "v", 2}},
			afterSet: []string{"taskmanager", "-D", "k", "v", "-D", "new.key=v"},
		},
		"a -D takes the next argument as its value even when it looks like a long option": {
			end:      4,
			args:     []string{"standalone-job", "-D", "k", "--input", "x"},
			entries:  []entry{{"k", "--input", 2}},
			afterSet: []string{"standalone-job", "-D", "k", "--input", "-D", "new.key=v", "x"},
		},
		"a -D without its value makes Flink refuse the arguments": {
			end:      2,
			args:     []string{"taskmanager", "-Da=1", "-D"},
			entries:  []entry{{"a", "1", 1}},
			warnings: []string{`argument 2 ("-D"): an option lacks its value there; Flink refuses the arguments and does not start`},
			afterSet: []string{"taskmanager", "-Da=1", "-D", "new.key=v", "-D"},
		},
		"-D= sets what follows the '='": {
			args:     []string{"taskmanager", "-D=a=b"},
			entries:  []entry{{"a", "b", 1}},
			afterSet: []string{"taskmanager", "-D=a=b", "-D", "new.key=v"},
		},
		"a value in quotes as its own argument loses them": {
			args:     []string{"taskmanager", "-D", `"a=b"`},
			entries:  []entry{{"a", "b", 2}},
			afterSet: []string{"taskmanager", "-D", `"a=b"`, "-D", "new.key=v"},
		},
		"-- ends the options": {
			end:      1,
			args:     []string{"taskmanager", "--", "-Da=1"},
			warnings: []string{`argument 2: Flink 1.15-2.1 reads no options after argument 1 ("--"): this -D goes to the program`},
			afterSet: []string{"taskmanager", "-D", "new.key=v", "--", "-Da=1"},
		},
		"an unknown command is read everywhere and gets new properties at the end": {
			args:     []string{"/opt/flink/bin/flink", "run", "-Da=1"},
			entries:  []entry{{"a", "1", 2}},
			afterSet: []string{"/opt/flink/bin/flink", "run", "-Da=1", "-D", "new.key=v"},
		},
		"no arguments at all": {
			afterSet: []string{"-D", "new.key=v"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			versions := tc.versions
			if versions == (Range{}) {
				versions = Supported
			}
			a := ParseArgs(tc.args, versions)
			var got []entry
			for _, e := range a.Entries() {
				got = append(got, entry{e.Key, e.Value, e.Arg})
			}
			assert.Equal(t, tc.entries, got)
			var warnings []string
			for _, w := range a.Warnings() {
				warnings = append(warnings, w.String())
			}
			assert.Equal(t, tc.warnings, warnings)
			end := tc.end
			if end == 0 {
				end = len(tc.args)
			}
			assert.Equal(t, end, a.OptionsEnd())
			changed, err := a.Set("new.key", "v")
			require.NoError(t, err)
			assert.True(t, changed)
			assert.Equal(t, tc.afterSet, a.Args())
		})
	}
}

// TestArgsEditsInPlace checks that a property is rewritten in the form it
// was written, and removed with the arguments that hold it.
func TestArgsEditsInPlace(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		args     []string
		set, del []string // after Set("k", "w"), after Delete("k") from the start
	}{
		"joined": {
			args: []string{"taskmanager", "-Dk=v", "-Dx=1"},
			set:  []string{"taskmanager", "-Dk=w", "-Dx=1"},
			del:  []string{"taskmanager", "-Dx=1"},
		},
		"two arguments": {
			args: []string{"taskmanager", "-D", "k=v"},
			set:  []string{"taskmanager", "-D", "k=w"},
			del:  []string{"taskmanager"},
		},
		"three arguments become two": {
			args: []string{"taskmanager", "-D", "k", "v"},
			set:  []string{"taskmanager", "-D", "k=w"},
			del:  []string{"taskmanager"},
		},
		"removing the first property of a jobmanager keeps the next out of the host position": {
			args: []string{"jobmanager", "-D", "k=v", "-Dx=1"},
			set:  []string{"jobmanager", "-D", "k=w", "-Dx=1"},
			del:  []string{"jobmanager", "-D", "x=1"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := ParseArgs(tc.args, Supported)
			_, err := a.Set("k", "w")
			require.NoError(t, err)
			assert.Equal(t, tc.set, a.Args())
			a = ParseArgs(tc.args, Supported)
			changed, err := a.Delete("k")
			require.NoError(t, err)
			assert.True(t, changed)
			assert.Equal(t, tc.del, a.Args())
		})
	}
}

func TestArgsRefusesEditsFlinkWouldReadOtherwise(t *testing.T) {
	t.Parallel()
	a := ParseArgs([]string{"taskmanager", "-nDk=v"}, Supported)
	assert.Empty(t, a.Entries(), "taskmanager has no -n: the bundle ends the options")

	a = ParseArgs([]string{"standalone-job", "-nD", "k=v"}, Supported)
	require.Len(t, a.Entries(), 1, "-n then -D, bundled")
	_, err := a.Set("k", "w")
	assert.Equal(t, &EditError{Key: "k", Msg: `argument 1 bundles the -D with other options; write it as "-D", "key=value"`}, err)
	_, err = a.Delete("k")
	assert.Equal(t, &EditError{Key: "k", Msg: "argument 1 bundles the -D with other options; remove it by hand"}, err)
	assert.Equal(t, []string{"standalone-job", "-nD", "k=v"}, a.Args())
}

// TestPositional checks which of jobmanager's arguments its script takes
// as the host name and web UI port: from 1.15.3 (Positional), and before
// (PositionalPre1153).
func TestPositional(t *testing.T) {
	t.Parallel()
	type positions struct{ host, port int }
	cases := map[string]struct {
		args       []string
		from1153   positions
		before1153 positions
	}{
		"jobmanager alone":                        {[]string{"jobmanager"}, positions{-1, -1}, positions{-1, -1}},
		"-D first starts the options from 1.15.3": {[]string{"jobmanager", "-D", "a=b"}, positions{-1, -1}, positions{1, 2}},
		"a host":                  {[]string{"jobmanager", "h"}, positions{1, -1}, positions{1, -1}},
		"a host and -D":           {[]string{"jobmanager", "h", "-D", "a=b"}, positions{1, -1}, positions{1, 2}},
		"host and port":           {[]string{"jobmanager", "h", "8081", "-D", "a=b"}, positions{1, 2}, positions{1, 2}},
		"an empty first argument": {[]string{"jobmanager", " ", "x"}, positions{-1, -1}, positions{-1, 2}},
		"a carriage return alone is a shell word": {[]string{"jobmanager", "\r", "x"}, positions{1, 2}, positions{1, 2}},
		"two words fail the old script's test":    {[]string{"jobmanager", "a b", "8081 x"}, positions{1, 2}, positions{-1, -1}},
		"standalone-job has none":                 {[]string{"standalone-job", "h"}, positions{-1, -1}, positions{-1, -1}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			host, port := Positional(tc.args)
			assert.Equal(t, tc.from1153, positions{host, port}, "from 1.15.3")
			host, port = PositionalPre1153(tc.args)
			assert.Equal(t, tc.before1153, positions{host, port}, "before 1.15.3")
		})
	}
}

// TestArgsPre1153 reads arguments as the 1.15.0 to 1.15.2 images start
// them: jobmanager hands Flink no property, and refuses an option where it
// takes the host name; the other commands read -D as on 1.15.3.
func TestArgsPre1153(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		args     []string
		entries  int
		warnings []string
	}{
		"no arguments at all":       {},
		"jobmanager alone":          {args: []string{"jobmanager"}},
		"jobmanager with its host":  {args: []string{"jobmanager", "$(POD_IP)"}},
		"jobmanager host and port":  {args: []string{"jobmanager", "$(POD_IP)", "8081"}},
		"an empty host and a port":  {args: []string{"jobmanager", "", "8081"}},
		"-D after the port is lost": {args: []string{"jobmanager", "h", "8081", "-Da=1"}, warnings: []string{"argument 3: dropped by jobmanager.sh before Flink 1.15.3, -D included"}},
		"arguments after the port are lost": {args: []string{"jobmanager", "h", "8081", "-D", "a=1"},
			warnings: []string{"arguments 3 to 4: dropped by jobmanager.sh before Flink 1.15.3, -D included"}},
		"-D first is the host name, which Flink refuses": {args: []string{"jobmanager", "-D", "a=1"},
			warnings: []string{`argument 1 ("-D"): Flink refuses it as jobmanager.sh's host name and does not start; it reads no -D before 1.15.3`}},
		"a joined -D first is the host name, which Flink refuses": {args: []string{"jobmanager", "-Da=1"},
			warnings: []string{`argument 1 ("-Da=1"): Flink refuses it as jobmanager.sh's host name and does not start; it reads no -D before 1.15.3`}},
		"a dash that is no option is a host name Flink takes": {args: []string{"jobmanager", "-foo"},
			warnings: []string{`argument 1 ("-foo"): jobmanager.sh takes it for the host name; it reads no -D before 1.15.3`}},
		"taskmanager reads -D":    {args: []string{"taskmanager", "-Da=1"}, entries: 1},
		"standalone-job reads -D": {args: []string{"standalone-job", "-D", "a=1", "--job-classname", "com.Foo"}, entries: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := ParseArgsPre1153(tc.args)
			assert.Len(t, a.Entries(), tc.entries)
			var warnings []string
			for _, w := range a.Warnings() {
				warnings = append(warnings, w.Message)
			}
			assert.Equal(t, tc.warnings, warnings)
			changed, err := a.Set("new.key", "v")
			if len(tc.args) > 0 && tc.args[0] == string(EntrypointSession) {
				assert.False(t, changed)
				assert.EqualError(t, err, `cannot set "new.key": jobmanager.sh of Flink 1.15.0 to 1.15.2 hands no -D to Flink: set it in FLINK_PROPERTIES or the mounted configuration`)
				assert.Equal(t, tc.args, a.Args())
				return
			}
			assert.True(t, changed)
			require.NoError(t, err)
			got, ok := a.Get("new.key")
			assert.True(t, ok)
			assert.Equal(t, "v", got.Value)
		})
	}
}

// TestEntrypointOptionSetsCoverEachLineOnce holds the option sets to what
// parse assumes: oldest first, at most maxSets, every supported release
// line in exactly one set of each entrypoint.
func TestEntrypointOptionSetsCoverEachLineOnce(t *testing.T) {
	t.Parallel()
	lines := []Version{V1_15, V1_16, V1_17, V1_18, V1_19, V1_20, V2_0, V2_1}
	for name, ep := range entrypoints {
		assert.LessOrEqual(t, len(ep.sets), maxSets, name)
		for k := 1; k < len(ep.sets); k++ {
			assert.True(t, ep.sets[k-1].versions.Max.Less(ep.sets[k].versions.Min), "%s: set %d is not newer than set %d", name, k, k-1)
		}
		for _, v := range lines {
			n := 0
			for _, set := range ep.sets {
				if _, ok := set.versions.Intersect(Exactly(v)); ok {
					n++
				}
			}
			assert.Equal(t, 1, n, "%s: %s is in %d option sets", name, v, n)
		}
	}
}

// TestArgsLines checks how the release lines split by where their
// entrypoints stop reading options.
func TestArgsLines(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		args     []string
		versions Range
		want     []Range
	}{
		"arguments every line reads alike are one range": {
			args: []string{"jobmanager", "-D", "a=b"}, versions: Supported, want: []Range{Supported}},
		"--webui-port, an option of jobmanager up to 1.20 only, splits 1.x from 2.x": {
			args: []string{"jobmanager", "-D", "a=b", "--webui-port", "8081", "-Dc=d"}, versions: Supported, want: []Range{lines1x, lines2x}},
		"--host, an option of standalone-job up to 1.20, splits 1.x from 2.x; the 1.x sets stop alike": {
			args: []string{"standalone-job", "--host", "h", "-Dc=d"}, versions: Supported, want: []Range{lines1x, lines2x}},
		"--jars, an option of standalone-job from 1.19, splits 1.15-1.18 from the rest": {
			args: []string{"standalone-job", "--jars", "a.jar", "-Dc=d"}, versions: Supported, want: []Range{lines115118, {Min: V1_19, Max: V2_1}}},
		"one line pinned is one range": {
			args: []string{"jobmanager", "--webui-port", "8081", "-Dc=d"}, versions: Exactly(V1_20), want: []Range{Exactly(V1_20)}},
		"a command that is no entrypoint's is one range": {
			args: []string{"bash", "-c", "x", "-Dc=d"}, versions: Supported, want: []Range{Supported}},
		"no arguments are one range": {versions: Supported, want: []Range{Supported}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			a := ParseArgs(tc.args, tc.versions)
			assert.Equal(t, tc.want, a.Lines())
			if len(tc.want) > 1 {
				// Each part, parsed alone, is one range and counts at
				// least what every line counts.
				for _, l := range tc.want {
					part := ParseArgs(tc.args, l)
					assert.Equal(t, []Range{l}, part.Lines(), l.String())
					assert.GreaterOrEqual(t, len(part.Entries()), len(a.Entries()), l.String())
				}
			}
		})
	}
}
