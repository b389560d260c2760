package flinkconf

import (
	"fmt"
	"strconv"
	"strings"
)

// Entrypoint is a command of the official image's docker-entrypoint.sh
// that starts a Flink process: a container's first argument.
type Entrypoint string

// The entrypoint commands whose arguments Flink parses as options.
const (
	EntrypointApplication Entrypoint = "standalone-job"
	EntrypointSession     Entrypoint = "jobmanager"
	EntrypointTaskManager Entrypoint = "taskmanager"
)

// cliOption is one option of an entrypoint's parser, as commons-cli knows
// it: a short name, a long name, and whether it takes a value. "-D" is
// the dynamic property option, which takes two values split at '='.
type cliOption struct {
	short, long string
	arg         bool // takes a value
	unlimited   bool // takes every value up to the next option (commons-cli's hasArgs)
}

// The options of the entrypoints' parsers, checked against Flink's source
// of 1.15.0, 1.16, 1.19.3, 1.20.4, 2.0.2 and 2.1.2 and the history between
// them (release-1.16, 1.19, 1.20, 2.0 and 2.1 changed none of these
// files after their cut; release-1.15 changed jobmanager.sh, see below;
// 1.17 and 1.18 are read from master at their cut). Every
// parser is commons-cli 1.5.0's DefaultParser told to stop at the first
// non-option (flink-runtime .../entrypoint/parser/CommandLineParser.java).
var (
	// flink-runtime .../entrypoint/parser/CommandLineOptions.java: -D and
	// --configDir on every line; --webui-port, --host and --executionMode
	// up to 1.20, removed in 2.0 (FLINK-36355).
	optDynamic       = cliOption{short: "D"}
	optConfigDir     = cliOption{short: "c", long: "configDir", arg: true}
	optWebUIPort     = cliOption{short: "r", long: "webui-port", arg: true}
	optHost          = cliOption{short: "h", long: "host", arg: true}
	optExecutionMode = cliOption{short: "x", long: "executionMode", arg: true}
	// flink-container .../StandaloneApplicationClusterConfigurationParser-
	// Factory.java: --jars since 1.19 (FLINK-28915), taking every value up
	// to the next option; no release has had a --jar-file.
	optJobClass = cliOption{short: "j", long: "job-classname", arg: true}
	optJobID    = cliOption{short: "jid", long: "job-id", arg: true}
	optJars     = cliOption{short: "jars", long: "jars", arg: true, unlimited: true}
	// flink-clients .../cli/CliFrontendParser.java, the two savepoint
	// options standalone-job adds; the CLI's --claimMode and --restoreMode
	// are not among them on any line.
	optFromSavepoint = cliOption{short: "s", long: "fromSavepoint", arg: true}
	optNonRestored   = cliOption{short: "n", long: "allowNonRestoredState"}
	newestLine       = Version{Major: 99}
)

// maxSets is the most option sets one entrypoint has across release lines.
const maxSets = 3

// optionSet is the options an entrypoint's parser knows on some release
// lines.
type optionSet struct {
	versions Range
	options  []cliOption
	// hostAsProperty: jobmanager.sh hands its positional host and port on
	// as "-D jobmanager.rpc.address=<host>" and "-D rest.port=<port>"
	// (2.0+) rather than as --host and --webui-port.
	hostAsProperty bool
	// positionalOnly: jobmanager.sh hands on its first two arguments as
	// --host and --webui-port and nothing else (1.15.0 to 1.15.2).
	positionalOnly bool
}

type entrypoint struct {
	name Entrypoint
	sets []optionSet // oldest first, at most maxSets
}

// entrypoints are the official image's commands and the options the Java
// entrypoint each one starts parses. Anything else ends the options, as an
// unknown token does for Flink.
//
// The official image's docker-entrypoint.sh (apache/flink-docker, the same
// for the 1.15 to 2.1 images) drops the command and hands every other
// argument unchanged to bin/<command>.sh start-foreground; each script
// puts --configDir and the memory properties BashJavaUtils derives (all
// options) before them.
var entrypoints = map[string]entrypoint{
	// standalone-job.sh hands every argument after the command to
	// StandaloneApplicationClusterEntryPoint.
	string(EntrypointApplication): {name: EntrypointApplication, sets: []optionSet{
		{versions: Range{Min: V1_15, Max: V1_18}, options: []cliOption{
			optConfigDir, optWebUIPort, optJobClass, optJobID, optDynamic, optHost, optFromSavepoint, optNonRestored}},
		{versions: Range{Min: V1_19, Max: V1_20}, options: []cliOption{
			optConfigDir, optJars, optWebUIPort, optJobClass, optJobID, optDynamic, optHost, optFromSavepoint, optNonRestored}},
		{versions: Range{Min: V2_0, Max: newestLine}, options: []cliOption{
			optConfigDir, optJars, optJobClass, optJobID, optDynamic, optFromSavepoint, optNonRestored}},
	}},
	// jobmanager.sh takes up to two positional arguments (host, web UI
	// port; see Positional) and hands the rest, then the host and port, to
	// StandaloneSessionClusterEntrypoint (EntrypointClusterConfiguration-
	// ParserFactory). 1.15.0 to 1.15.2 predate this (FLINK-28733 reached
	// 1.15.3): their jobmanager.sh passes on the host and port alone and
	// drops every later argument (sessionPre1153, read where the image
	// tag names one of them; a 1.15 image of unknown patch release is
	// read as the later ones).
	string(EntrypointSession): {name: EntrypointSession, sets: []optionSet{
		{versions: Range{Min: V1_15, Max: V1_20}, options: sessionOptions1x},
		{versions: Range{Min: V2_0, Max: newestLine}, options: []cliOption{optConfigDir, optDynamic}, hostAsProperty: true},
	}},
	// taskmanager.sh hands every argument after the command to
	// TaskManagerRunner (ClusterConfigurationParserFactory).
	string(EntrypointTaskManager): {name: EntrypointTaskManager, sets: []optionSet{
		{versions: Range{Min: V1_15, Max: newestLine}, options: []cliOption{optConfigDir, optDynamic}},
	}},
}

// sessionOptions1x are the options of StandaloneSessionClusterEntrypoint
// up to 1.20.
var sessionOptions1x = []cliOption{optConfigDir, optWebUIPort, optDynamic, optHost, optExecutionMode}

// sessionPre1153 is the jobmanager command of the 1.15.0 to 1.15.2 images
// (ImagePre1153). Their bin/jobmanager.sh keeps "$2" as the host name and
// "$3" as the web UI port and starts the entrypoint with --configDir,
// --executionMode cluster, then "--host $2" and "--webui-port $3" each
// where its test "[ ! -z $X ]" (unquoted) holds: every later argument is
// dropped, -D included. FLINK-28733 changed that in 1.15.3.
var sessionPre1153 = entrypoint{name: EntrypointSession, sets: []optionSet{
	{versions: Exactly(V1_15), options: sessionOptions1x, positionalOnly: true},
}}

// PositionalPre1153 is Positional for the 1.15.0 to 1.15.2 images: the
// host name and the web UI port are arguments 1 and 2 of jobmanager, each
// handed on where the shell splits it into exactly one word (its test
// fails on none and on more), whatever the other is.
func PositionalPre1153(args []string) (host, port int) {
	host, port = -1, -1
	if len(args) == 0 || args[0] != string(EntrypointSession) {
		return
	}
	oneWord := func(i int) bool { return i < len(args) && ShellWords(args[i]) == 1 }
	if oneWord(1) {
		host = 1
	}
	if oneWord(2) {
		port = 2
	}
	return
}

// ShellWords is how many words bash splits s into where a script uses it
// unquoted: at spaces, tabs and newlines (the default IFS); any other white
// space is part of a word.
func ShellWords(s string) int {
	return len(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' }))
}

// prop is one dynamic property the parser read.
type prop struct {
	key, value string
	arg        int  // the argument holding the key
	bare       bool // "-Dkey" with no value: Flink makes it "true"
	form       argForm
}

// reading is what one entrypoint's parser makes of a container's
// arguments.
type reading struct {
	start    int // the first argument parsed as an option
	stop     int // the argument where option parsing stops; len(args) if none
	failed   bool
	props    []prop
	warnings []string
}

// token is one argument the Java entrypoint sees: a container argument
// (arg >= 0) or one the script adds after them (tail).
type token struct {
	text string
	arg  int
	tail bool
}

// pending is an option waiting for its values.
type pending struct {
	opt    *cliOption
	values [2]string
	n      int // values given
	from   int // the first token
	to     int // the last token so far
}

// accepts tells whether the option takes one more value (commons-cli's
// acceptsArg).
func (p *pending) accepts() bool {
	switch {
	case p.opt.unlimited:
		return true
	case p.opt.short == "D":
		return p.n < 2
	case p.opt.arg:
		return p.n < 1
	}
	return false
}

// requires tells whether the option still lacks a value it must have
// (commons-cli's requiresArg): one with unlimited values needs one.
func (p *pending) requires() bool {
	if p.opt.unlimited {
		return p.n == 0
	}
	return p.accepts()
}

func (p *pending) add(v string, tok int) {
	p.to = tok
	if p.opt.short == "D" && p.n == 0 {
		// commons-cli's value separator: the first '=' splits key and
		// value; the value keeps any later '='.
		if k, val, ok := strings.Cut(v, "="); ok {
			p.values, p.n = [2]string{k, val}, 2
			return
		}
	}
	if p.n < len(p.values) {
		p.values[p.n] = v
		p.n++
	}
}

// parser mimics commons-cli's DefaultParser with stopAtNonOption set, as
// Flink's CommandLineParser calls it (apache/commons-cli
// src/main/java/org/apache/commons/cli/DefaultParser.java), with partial
// matching of long options on, its default.
type parser struct {
	opts   []cliOption
	args   []string
	tail   [4]token // what the script adds after the container's arguments
	ntail  int
	cur    pending
	has    bool // cur holds an option
	r      reading
	done   bool
	failAt int // token index of a parse error, -1 if none
	why    string
}

// ntoks is how many tokens the Java entrypoint sees past the script's own.
func (p *parser) ntoks() int { return len(p.args) - p.r.start + p.ntail }

// tok is the i-th of them.
func (p *parser) tok(i int) token {
	if n := len(p.args) - p.r.start; i >= n {
		return p.tail[i-n]
	}
	return token{text: p.args[p.r.start+i], arg: p.r.start + i}
}

// read runs the parser of ep with the options of set over args as the
// entrypoint's script hands them on, appending the properties it reads to
// props.
func read(args []string, ep entrypoint, set optionSet, props []prop) reading {
	p := parser{opts: set.options, args: args, failAt: -1}
	p.r.props = props[:0]
	p.r.start = 1
	host, port := -1, -1
	switch {
	case set.positionalOnly:
		host, port = PositionalPre1153(args)
		p.r.start = len(args)
		if len(args) > 3 {
			which := "argument 3"
			if len(args) > 4 {
				which = fmt.Sprintf("arguments 3 to %d", len(args)-1)
			}
			p.r.warnings = append(p.r.warnings, which+": dropped by jobmanager.sh before Flink 1.15.3, -D included")
		}
	case ep.name == EntrypointSession:
		host, port = Positional(args)
		p.r.start = positionalEnd(args)
	}
	p.r.start = min(p.r.start, len(args))
	p.r.stop = len(args)
	if host >= 0 {
		p.tail[p.ntail], p.tail[p.ntail+1] = positionalTail(set, "--host", "jobmanager.rpc.address=", args, host)
		p.ntail += 2
	}
	if port >= 0 { // before 1.15.3 also without a host
		p.tail[p.ntail], p.tail[p.ntail+1] = positionalTail(set, "--webui-port", "rest.port=", args, port)
		p.ntail += 2
	}
	// What looks like an option where jobmanager.sh takes a host name or
	// port: said once the parser has shown whether Flink refuses it.
	var positional []int
	for _, i := range []int{host, port} {
		if i >= 0 && strings.HasPrefix(args[i], "-") {
			positional = append(positional, i)
		}
	}
	for i := 0; i < p.ntoks() && !p.done; i++ {
		p.token(i)
	}
	if !p.done && p.has {
		if p.cur.requires() {
			p.fail(p.ntoks()-1, "an option lacks its value")
		} else {
			p.finish()
		}
	}
	refused := -1 // the host or port Flink refuses
	if p.failAt >= 0 {
		if t := p.tok(p.failAt); t.tail && t.arg >= 0 {
			refused = t.arg
		}
	}
	for _, i := range positional {
		what := "host name"
		if i == port {
			what = "web UI port"
		}
		fix := ""
		switch {
		case set.positionalOnly:
			fix = "; it reads no -D before 1.15.3"
		case strings.HasPrefix(args[i], "-D"):
			fix = `; write "-D", "key=value"`
		}
		msg := "jobmanager.sh takes it for the " + what
		if i == refused {
			msg = "Flink refuses it as jobmanager.sh's " + what + " and does not start"
		}
		p.r.warnings = append(p.r.warnings, fmt.Sprintf("argument %d (%s): %s%s", i, excerpt(args[i]), msg, fix))
	}
	if p.failAt >= 0 {
		p.r.failed = true
		t := p.tok(p.failAt)
		if t.tail && p.has && !p.tok(p.cur.from).tail {
			// What jobmanager.sh adds after the arguments shows that an
			// option among them lacks its value.
			t, p.why = p.tok(p.cur.from), "an option lacks its value"
		}
		if !t.tail {
			p.r.stop = t.arg
			p.r.warnings = append(p.r.warnings, fmt.Sprintf("argument %d (%s): %s there; Flink refuses the arguments and does not start", t.arg, excerpt(t.text), p.why))
		}
	}
	return p.r
}

// positionalTail is the two tokens jobmanager.sh adds after the arguments
// for args[i], its positional host or port: the option, then the value up
// to 1.20; "-D" and the property from 2.0.
func positionalTail(set optionSet, option, property string, args []string, i int) (opt, value token) {
	opt, value = token{text: option, arg: -1, tail: true}, token{text: args[i], arg: i, tail: true}
	if set.hostAsProperty {
		opt.text, value.text = "-D", property+args[i]
	}
	return opt, value
}

func (p *parser) fail(tok int, why string) {
	if p.failAt < 0 {
		p.failAt, p.why = tok, why
	}
	p.done = true
}

// stopAt ends option parsing at token i: it and every token after it are
// program arguments.
func (p *parser) stopAt(i int) {
	if t := p.tok(i); !t.tail {
		p.r.stop = t.arg
	}
	p.done = true
}

func (p *parser) token(i int) {
	t := p.tok(i).text
	switch {
	case t == "--":
		if p.has && p.cur.requires() {
			p.fail(i, "an option lacks its value")
			return
		}
		p.stopAt(i)
	case p.has && p.cur.accepts() && p.isArgument(t):
		p.cur.add(stripQuotes(t), i)
	case strings.HasPrefix(t, "--"):
		p.long(i, t)
	case strings.HasPrefix(t, "-") && t != "-":
		p.shortAndLong(i, t)
	default:
		p.stopAt(i)
	}
	if p.has && !p.cur.accepts() {
		p.finish()
	}
}

// option starts opt at token i; an earlier option still lacking its value
// is a parse error, as in commons-cli's checkRequiredArgs.
func (p *parser) option(i int, opt *cliOption) {
	if p.has {
		if p.cur.requires() {
			p.fail(i, "the option before it lacks its value")
			return
		}
		p.finish()
	}
	p.cur, p.has = pending{opt: opt, from: i, to: i}, opt.arg || opt.unlimited || opt.short == "D"
}

// optionWith starts opt at token i with a value written in the same token.
func (p *parser) optionWith(i int, opt *cliOption, values ...string) {
	p.option(i, opt)
	if p.done || !p.has {
		return
	}
	for _, v := range values {
		p.cur.add(v, i)
	}
	p.finish()
}

// finish records the pending option: a dynamic property when it is "-D".
func (p *parser) finish() {
	c := &p.cur
	p.has = false
	if c.opt.short != "D" || c.n == 0 {
		return
	}
	from, to := p.tok(c.from), p.tok(c.to)
	if from.tail || to.tail {
		return
	}
	pr := prop{key: c.values[0], value: "true", arg: from.arg, bare: c.n == 1}
	if !pr.bare {
		pr.value = c.values[1]
	}
	pr.form = argForm{from: from.arg, to: to.arg, kind: formOther}
	switch n := to.arg - from.arg; {
	case n == 0 && strings.HasPrefix(from.text, "-D="):
		pr.form.kind = formEquals
	case n == 0 && strings.HasPrefix(from.text, "-D"):
		pr.form.kind = formJoined
	case n == 1 && from.text == "-D":
		pr.form.kind, pr.arg = formPair, to.arg
	case n == 2 && from.text == "-D":
		pr.form.kind, pr.arg = formTriple, from.arg+1
	}
	p.r.props = append(p.r.props, pr)
}

func (p *parser) long(i int, t string) {
	name, value, eq := strings.Cut(t, "=")
	m := p.matchLong(name)
	switch {
	case len(m) == 0:
		p.stopAt(i)
	case len(m) > 1:
		p.fail(i, "an ambiguous abbreviation of an option")
	case !eq:
		p.option(i, m[0])
	case m[0].arg:
		p.optionWith(i, m[0], value)
	default:
		p.stopAt(i) // "--flag=value" for a flag: unknown
	}
}

func (p *parser) shortAndLong(i int, tok string) {
	t := tok[1:]
	name, value, eq := strings.Cut(t, "=")
	switch {
	case len(t) == 1:
		if o := p.short(t); o != nil {
			p.option(i, o)
		} else {
			p.stopAt(i)
		}
	case !eq:
		if o := p.short(t); o != nil {
			p.option(i, o)
		} else if len(p.matchLong(t)) > 0 {
			p.long(i, tok)
		} else if o := p.longPrefix(t); o != nil && o.arg {
			p.optionWith(i, o, t[len(o.long):])
		} else if o := p.short(t[:1]); o != nil && o.short == "D" {
			p.optionWith(i, o, t[1:]) // -Dkey: "true"
		} else {
			p.bundled(i, tok)
		}
	case name == "":
		// "-=...": commons-cli's isJavaProperty takes the first
		// character of an empty name and throws.
		p.fail(i, "an option with no name")
	case len(name) == 1:
		if o := p.short(name); o != nil && (o.arg || o.short == "D") {
			p.optionWith(i, o, value)
		} else {
			p.stopAt(i)
		}
	case name[0] == 'D':
		p.optionWith(i, &optDynamic, name[1:], value)
	default:
		p.long(i, tok)
	}
}

// bundled reads "-abc" as options a, b, c, the rest of the token being the
// value of the first that takes one.
func (p *parser) bundled(i int, tok string) {
	for j := 1; j < len(tok); j++ {
		o := p.short(tok[j : j+1])
		if o == nil {
			o = p.exactLong(tok[j : j+1])
		}
		if o == nil {
			p.stopAt(i)
			return
		}
		p.option(i, o)
		if p.done {
			return
		}
		if p.has && j+1 < len(tok) {
			p.cur.add(tok[j+1:], i)
			return
		}
	}
}

func (p *parser) short(name string) *cliOption {
	for k := range p.opts {
		if p.opts[k].short == name {
			return &p.opts[k]
		}
	}
	return nil
}

func (p *parser) exactLong(name string) *cliOption {
	for k := range p.opts {
		if p.opts[k].long != "" && p.opts[k].long == name {
			return &p.opts[k]
		}
	}
	return nil
}

// matchLong is commons-cli's getMatchingOptions: the exact long name, else
// every long name it abbreviates.
func (p *parser) matchLong(tok string) []*cliOption {
	name := stripHyphens(tok)
	if o := p.exactLong(name); o != nil {
		return []*cliOption{o}
	}
	var m []*cliOption
	for k := range p.opts {
		if p.opts[k].long != "" && strings.HasPrefix(p.opts[k].long, name) {
			m = append(m, &p.opts[k])
		}
	}
	return m
}

// longPrefix finds a long name the token starts with ("-Xmx512m").
func (p *parser) longPrefix(tok string) *cliOption {
	t := stripHyphens(tok)
	for n := len(t) - 2; n > 1; n-- {
		if o := p.exactLong(t[:n]); o != nil {
			return o
		}
	}
	return nil
}

// isArgument tells whether an option waiting for a value takes tok as one:
// anything that does not look like an option, and negative numbers.
func (p *parser) isArgument(tok string) bool {
	if !strings.HasPrefix(tok, "-") || len(tok) == 1 {
		return true
	}
	if _, err := strconv.ParseFloat(tok, 64); err == nil {
		return true
	}
	name, _, _ := strings.Cut(tok, "=")
	if len(p.matchLong(name)) > 0 || !strings.HasPrefix(tok, "--") && p.longPrefix(tok) != nil {
		return false
	}
	short := name[1:]
	return p.short(short) == nil && (short == "" || p.short(short[:1]) == nil)
}

func stripHyphens(s string) string {
	if t, ok := strings.CutPrefix(s, "--"); ok {
		return t
	}
	return strings.TrimPrefix(s, "-")
}

// stripQuotes is commons-cli's stripLeadingAndTrailingQuotes, applied to a
// value given as its own argument.
func stripQuotes(s string) string {
	if len(s) > 1 && s[0] == '"' && s[len(s)-1] == '"' && !strings.Contains(s[1:len(s)-1], `"`) {
		return s[1 : len(s)-1]
	}
	return s
}
