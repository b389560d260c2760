// Command flink-ha-webhook makes Apache Flink clusters highly available on
// kubectl apply. See the README for its subcommands.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `flink-ha-webhook makes Apache Flink clusters highly available on kubectl apply.

Usage:
  flink-ha-webhook serve [flags]    run the admission webhook (see serve -h)
  flink-ha-webhook inject [flags]   apply the webhook's rules to manifests offline (see inject -h)
  flink-ha-webhook audit [flags]    report the HA of every Flink cluster on a live cluster, read-only (see audit -h)
  flink-ha-webhook version          print the version
`

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "inject":
		return inject(args[1:], stdin, stdout, stderr)
	case "audit":
		return auditCommand(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, version())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "flink-ha-webhook: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

func version() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}
