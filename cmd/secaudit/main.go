package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Exit statuses, the same for every command.
const (
	exitOK      = 0 // success
	exitFinding = 1 // the command found a problem (or failed at its work)
	exitUsage   = 2 // bad flags or arguments
)

// invocation is what a command reads and writes instead of the process's
// globals, so that tests run commands in process.
type invocation struct {
	args   []string // after the command's name
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// isTerminal tells whether stdout is a terminal (colours on).
	isTerminal bool
	// now is the clock (-since); nil: time.Now.
	now func() time.Time
	// wait is called between polls of followed files (tail -f, view);
	// nil: the command's poll interval. Tests drive following with it.
	wait func(ctx context.Context) error
}

// clock returns inv.now, or time.Now.
func (inv invocation) clock() time.Time {
	if inv.now != nil {
		return inv.now()
	}
	return time.Now()
}

// command is one subcommand. run returns the exit status; it reports its
// own errors on inv.stderr.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, inv invocation) int
}

// commands holds the subcommands; each registers itself from its own file.
var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("secaudit: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	inv := invocation{
		stdin:      os.Stdin,
		stdout:     os.Stdout,
		stderr:     os.Stderr,
		getenv:     os.Getenv,
		isTerminal: isTerminal(os.Stdout),
	}
	code := run(ctx, os.Args[1:], inv)
	stop()
	os.Exit(code)
}

// run dispatches args (without the program name) to a command.
func run(ctx context.Context, args []string, inv invocation) int {
	if len(args) == 0 {
		usage(inv.stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(inv.stdout)
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(inv.stderr, "secaudit: unknown command %q\n\n", args[0])
		usage(inv.stderr)
		return exitUsage
	}
	inv.args = args[1:]
	return c.run(ctx, inv)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: secaudit <command> [flags] [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	slices.Sort(names)
	width := 0
	for _, name := range names {
		width = max(width, len(name))
	}
	for _, name := range names {
		fmt.Fprintf(w, "  %s%s  %s\n", name, strings.Repeat(" ", width-len(name)), commands[name].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run secaudit <command> -h for a command's flags. Exit status: 0 success, 1 a finding, 2 bad usage.")
}

// isTerminal reports whether f is a character device (a terminal), without
// a dependency: colours are for people, plain text for pipes and files.
func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
