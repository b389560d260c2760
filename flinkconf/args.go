package flinkconf

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Args is the dynamic properties in a container's arguments as Flink reads
// them: "-D", "key=value" as two arguments, "-Dkey=value" as one, or
// "-D", "key", "value" as three. Later definitions win, as on Flink's
// command line.
//
// Only properties before the point where Flink's entrypoint stops reading
// options count: the official image's entrypoints parse their options with
// commons-cli 1.5.0's DefaultParser told to stop at the first argument that
// is not an option (apache/flink flink-runtime/.../entrypoint/parser/
// CommandLineParser.java, the same from 1.15 to 2.1), so every argument
// after it, "-D" or not, reaches the program as an argument and never the
// configuration.
type Args struct {
	index
	args     []string
	versions Range
	forms    []argForm       // parallel to entries
	bufs     [maxSets][]prop // reused by each parse, one per option set
	// insertAt is where a new property goes: right after the last
	// property read, else where the entrypoint starts reading options,
	// never past where it stops.
	insertAt int
	stop     int // see OptionsEnd
	// lines are the parts of versions whose entrypoints stop reading
	// options at the same argument, oldest first (see Lines).
	lines []Range
	// pre1153: jobmanager is read as the 1.15.0 to 1.15.2 images start it.
	pre1153 bool
}

// argForm is how one property is written, for rewriting it in place.
type argForm struct {
	from, to int // the arguments the property spans, both included
	kind     formKind
}

type formKind uint8

const (
	formJoined formKind = iota // "-Dkey=value"; "-Dkey" means "true"
	formEquals                 // "-D=key=value"
	formPair                   // "-D", "key=value"
	formTriple                 // "-D", "key", "value"
	formOther                  // bundled with other options ("-nD", ...): read, not rewritten
)

// ParseArgs reads the dynamic properties of args, a container's arguments
// whose first names the official image's entrypoint command, as every
// release line in versions reads them. args is copied.
func ParseArgs(args []string, versions Range) *Args {
	a := &Args{args: slices.Clone(args), versions: versions}
	a.parse()
	return a
}

// ParseArgsPre1153 is ParseArgs for a container of one of the 1.15.0 to
// 1.15.2 images (ImagePre1153): the same but for jobmanager, whose script
// hands Flink no -D at all (sessionPre1153), so that no property counts
// and none can be added.
func ParseArgsPre1153(args []string) *Args {
	a := &Args{args: slices.Clone(args), versions: Exactly(V1_15), pre1153: true}
	a.parse()
	return a
}

func (a *Args) parse() {
	a.forms = a.forms[:0]
	cmd := ""
	if len(a.args) > 0 {
		cmd = a.args[0]
	}
	ep, known := entrypoints[cmd]
	if !known {
		a.parseUnknown()
		return
	}
	if a.pre1153 && ep.name == EntrypointSession {
		ep = sessionPre1153
	}
	// Each option set that some release line in range uses reads the
	// arguments; the one that stops first decides what counts, so that a
	// property counts only when every line reads it.
	if cap(a.bufs[0]) == 0 {
		// One allocation for every set's properties, each with room for
		// an argument apiece and a few more added, rather than each
		// growing its own.
		n := len(a.args) + 4
		all := make([]prop, 0, n*len(ep.sets))
		for k := range ep.sets {
			a.bufs[k] = all[k*n : k*n : (k+1)*n]
		}
	}
	var readings [maxSets]reading
	var best *reading
	bestPart := 0 // the part of a.lines best was read for
	a.lines = a.lines[:0]
	prev := -1 // the last set read
	for k, set := range ep.sets {
		lines, ok := set.versions.Intersect(a.versions)
		if !ok {
			continue
		}
		r := &readings[k]
		*r = read(a.args, ep, set, a.bufs[k])
		a.bufs[k] = r.props
		if prev >= 0 && prev == k-1 && readings[prev].stop == r.stop {
			// The sets are contiguous, oldest first: the lines of
			// neighbours that stop alike make one part.
			a.lines[len(a.lines)-1].Max = lines.Max
		} else {
			a.lines = append(a.lines, lines)
		}
		prev = k
		if best == nil || r.stop < best.stop {
			best, bestPart = r, len(a.lines)-1
		}
	}
	if best == nil { // no line the rules know: read as the nearest does
		a.lines = append(a.lines[:0], a.versions)
		set := ep.sets[len(ep.sets)-1]
		if a.versions.Max.Less(ep.sets[0].versions.Min) {
			set = ep.sets[0]
		}
		readings[0] = read(a.args, ep, set, a.bufs[0])
		a.bufs[0] = readings[0].props
		best = &readings[0]
	}
	bestLines := a.lines[bestPart]
	a.reset(len(best.props))
	a.insertAt, a.stop = best.start, best.stop
	for _, p := range best.props {
		if p.key == "" {
			a.warn(0, "argument %d: a dynamic property with an empty key; Flink sets nothing useful", p.arg)
			continue
		}
		if p.bare {
			a.warn(0, "argument %d (%s) has no '=': Flink sets %s to \"true\"", p.arg, excerpt(a.args[p.arg]), excerpt(p.key))
		}
		a.add(Entry{Key: p.key, Value: p.value, Arg: p.arg})
		a.forms = append(a.forms, p.form)
		a.insertAt = p.form.to + 1
	}
	for _, w := range best.warnings {
		a.warn(0, "%s", w)
	}
	if !best.failed && best.stop < len(a.args) {
		for i := best.stop + 1; i < len(a.args); i++ {
			if strings.HasPrefix(a.args[i], "-D") {
				a.warn(0, "argument %d: Flink %s reads no options after argument %d (%s): this -D goes to the program",
					i, bestLines, best.stop, excerpt(a.args[best.stop]))
			}
		}
	}
}

// Lines are the parts of the release lines the arguments were parsed for
// (ParseArgs' versions) whose entrypoints stop reading options at the
// same argument, oldest first: one range when every line reads the
// arguments alike. Where there are more, the properties this parse
// counts are those every line reads, and ParseArgs of one part counts
// what that part's lines read.
func (a *Args) Lines() []Range {
	if len(a.lines) == 0 {
		return []Range{a.versions}
	}
	return a.lines
}

// parseUnknown reads the "-D" anywhere in arguments of a command that is no
// entrypoint of the official image: nothing is known of where it stops.
// New properties go at the end.
func (a *Args) parseUnknown() {
	a.reset(0)
	a.lines = a.lines[:0]
	a.insertAt, a.stop = len(a.args), len(a.args)
	for i := 0; i < len(a.args); i++ {
		arg := a.args[i]
		form := argForm{from: i, to: i, kind: formJoined}
		var kv string
		switch {
		case arg == "-D":
			if i+1 >= len(a.args) {
				a.warn(0, "argument %d is a \"-D\" with nothing after it", i)
				continue
			}
			i++
			kv, form = a.args[i], argForm{from: i - 1, to: i, kind: formPair}
		case strings.HasPrefix(arg, "-D"):
			kv = arg[2:]
		default:
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			a.warn(0, "argument %d (%s) is not key=value; it sets no property here", form.to, excerpt(kv))
			continue
		}
		a.add(Entry{Key: k, Value: v, Arg: form.to})
		a.forms = append(a.forms, form)
		a.insertAt = form.to + 1
	}
}

// OptionsEnd is the index of the first argument Flink reads as no option
// (it and every argument after it go to the program), len(Args()) when it
// reads every one as an option, or the argument at which it refuses them.
// For a command that is no entrypoint of the official image it is
// len(Args()): nothing is known.
func (a *Args) OptionsEnd() int { return a.stop }

// Format implements Source.
func (a *Args) Format() Format { return FormatArgs }

// Args returns the current arguments.
func (a *Args) Args() []string { return a.args }

// Set implements Source. A present property is rewritten in place in the
// form it was written; a new one is added as the two arguments "-D",
// "key=value" right after the last property Flink reads or, when there is
// none, where the entrypoint starts reading options: never after the point
// where it stops, and never into jobmanager's positional host and port.
func (a *Args) Set(key, value string) (bool, error) {
	if key == "" || strings.ContainsRune(key, '=') || strings.HasPrefix(key, `"`) ||
		strings.IndexFunc(key, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return false, &EditError{Key: key, Msg: "a dynamic property key must be non-empty without '=', a leading '\"' or white space"}
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return false, &EditError{Key: key, Msg: "a dynamic property value cannot hold line breaks or NUL bytes"}
	}
	if a.pre1153 && len(a.args) > 0 && a.args[0] == string(EntrypointSession) {
		return false, &EditError{Key: key, Msg: "jobmanager.sh of Flink 1.15.0 to 1.15.2 hands no -D to Flink: set it in FLINK_PROPERTIES or the mounted configuration"}
	}
	before, old := slices.Clone(a.args), a.entries
	if i, ok := a.find(key); ok {
		e, f := a.entries[i], a.forms[i]
		if e.Value == value {
			return false, nil
		}
		switch f.kind {
		case formJoined:
			a.args[f.from] = "-D" + key + "=" + value
		case formEquals:
			a.args[f.from] = "-D=" + key + "=" + value
		case formPair:
			a.args[f.to] = key + "=" + value
		case formTriple:
			a.args = slices.Replace(a.args, f.from+1, f.to+1, key+"="+value)
		default:
			return false, &EditError{Key: key, Msg: fmt.Sprintf("argument %d bundles the -D with other options; write it as \"-D\", \"key=value\"", f.from)}
		}
	} else {
		a.args = slices.Insert(a.args, a.insertAt, "-D", key+"="+value)
	}
	a.parse()
	if e, ok := a.Get(key); !ok || e.Value != value || !a.keepsOthers(old, key) {
		// The edit changed how Flink reads other arguments: a value
		// no longer taken by its option, say.
		a.args = before
		a.parse()
		return false, &EditError{Key: key, Msg: "Flink would not read the value as written in these arguments; set it by hand"}
	}
	return true, nil
}

// keepsOthers reports whether the current properties other than key are
// those of old, in the same order with the same values.
func (a *Args) keepsOthers(old []Entry, key string) bool {
	i, j := 0, 0
	for {
		for i < len(old) && old[i].Key == key {
			i++
		}
		for j < len(a.entries) && a.entries[j].Key == key {
			j++
		}
		if i == len(old) || j == len(a.entries) {
			return i == len(old) && j == len(a.entries)
		}
		if old[i].Key != a.entries[j].Key || old[i].Value != a.entries[j].Value {
			return false
		}
		i, j = i+1, j+1
	}
}

// Delete implements Source.
func (a *Args) Delete(key string) (bool, error) {
	if _, ok := a.find(key); !ok {
		return false, nil
	}
	for j := len(a.entries) - 1; j >= 0; j-- {
		if a.entries[j].Key != key {
			continue
		}
		f := a.forms[j]
		if f.kind == formOther {
			return false, &EditError{Key: key, Msg: fmt.Sprintf("argument %d bundles the -D with other options; remove it by hand", f.from)}
		}
	}
	before, old := slices.Clone(a.args), a.entries
	for j := len(a.entries) - 1; j >= 0; j-- {
		if a.entries[j].Key == key {
			a.args = slices.Delete(a.args, a.forms[j].from, a.forms[j].to+1)
		}
	}
	if host, _ := Positional(a.args); host == 1 && len(before) > 1 && before[1] == "-D" && strings.HasPrefix(a.args[1], "-D") {
		// A "-Dkey=value" moved up right after "jobmanager", where
		// jobmanager.sh would take it for a host name: split it.
		a.args = slices.Insert(a.args, 1, "-D")
		a.args[2] = strings.TrimPrefix(a.args[2], "-D")
	}
	a.parse()
	if _, ok := a.Get(key); ok || !a.keepsOthers(old, key) {
		a.args = before
		a.parse()
		return false, &EditError{Key: key, Msg: "removing it would change how Flink reads the arguments after it; remove it by hand"}
	}
	return true, nil
}

// Positional reports the arguments jobmanager.sh takes as the JobManager's
// host name and web UI port (-1 when there is none): the one after
// "jobmanager" unless it is empty or exactly "-D", and the one after that
// under the same condition once there is a host. Other commands have none.
//
// Checked against flink-dist's bin/jobmanager.sh of 1.15.3 to 2.1 (the
// test came with FLINK-28733 in 1.16 and 1.15.3): up to 1.20 it hands the
// host and port on after the other arguments as --host and --webui-port,
// from 2.0 as "-D jobmanager.rpc.address=<host>" and "-D
// rest.port=<port>" (FLINK-36355), so either way they count only where
// Flink still reads options there.
func Positional(args []string) (host, port int) {
	host, port = -1, -1
	if len(args) == 0 || args[0] != string(EntrypointSession) {
		return
	}
	end := positionalEnd(args)
	if end >= 2 {
		host = 1
	}
	if end >= 3 {
		port = 2
	}
	return
}

// positionalEnd is the index of jobmanager's first argument that
// jobmanager.sh hands to Flink as an option: after the host and port it
// takes positionally.
func positionalEnd(args []string) int {
	// jobmanager.sh tests "[ -z $2 ]" unquoted: what the shell splits
	// words at (space, tab, newline) alone is empty too; any other white
	// space is a word.
	empty := func(i int) bool { return i >= len(args) || ShellWords(args[i]) == 0 || args[i] == "-D" }
	switch {
	case empty(1):
		return 1
	case empty(2):
		return 2
	default:
		return 3
	}
}
