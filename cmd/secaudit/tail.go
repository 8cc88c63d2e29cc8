package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/secaudit/secaudit/internal/auditlog"
)

func init() {
	register(command{"tail", "readable lines of JSONL events, filtered, optionally following the files", runTail})
}

const tailUsage = `usage: secaudit tail [flags] [FILE...]

Prints one line per event of the JSONL files (standard input when none is
given): local time, severity, event, user, client address, route, status
and outcome (and the rule of an alert). Coloured on a terminal. With -f it
keeps following the files as they grow and across the exporter's rotation.
Lines that are not JSON events are reported on standard error with their
number and skipped; the exit status is then 1.

flags:
`

func runTail(ctx context.Context, inv invocation) int {
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	fs.SetOutput(inv.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), tailUsage)
		fs.PrintDefaults()
	}
	var ff filterFlags
	ff.register(fs)
	follow := fs.Bool("f", false, "follow the files as they grow and across rotation")
	asJSON := fs.Bool("json", false, "print the matching lines unchanged (JSONL)")
	color := fs.String("color", "auto", "colours: auto (on a terminal), always or never")
	interval := fs.Duration("interval", 500*time.Millisecond, "how often -f looks at the files")
	if err := fs.Parse(inv.args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	flt, err := ff.filter(inv)
	if err != nil {
		fmt.Fprintln(inv.stderr, "secaudit tail:", err)
		return exitUsage
	}
	var colored bool
	switch *color {
	case "auto":
		colored = inv.isTerminal
	case "always":
		colored = true
	case "never":
	default:
		fmt.Fprintf(inv.stderr, "secaudit tail: -color %q: want auto, always or never\n", *color)
		return exitUsage
	}
	if *interval <= 0 {
		fmt.Fprintln(inv.stderr, "secaudit tail: -interval must be positive")
		return exitUsage
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{"-"}
	}
	loc := time.Local
	if tz := inv.getenv("TZ"); tz != "" {
		if l, err := time.LoadLocation(tz); err == nil {
			loc = l
		}
	}
	out := bufio.NewWriterSize(inv.stdout, 64<<10)
	p := linePrinter{w: out, color: colored, loc: loc}
	bad := 0
	opt := auditlog.Options{Follow: *follow, Wait: inv.wait, PollInterval: *interval}
	if *follow && opt.Wait != nil {
		wait := opt.Wait
		opt.Wait = func(ctx context.Context) error {
			if err := out.Flush(); err != nil {
				return err
			}
			return wait(ctx)
		}
	} else if *follow {
		opt.Wait = func(ctx context.Context) error {
			if err := out.Flush(); err != nil {
				return err
			}
			t := time.NewTimer(*interval)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	err = auditlog.Read(ctx, paths, inv.stdin, opt, func(l *auditlog.Line) error {
		if l.Err != nil {
			bad++
			fmt.Fprintf(inv.stderr, "secaudit tail: %s:%d: %v\n", lineFile(l), l.Num, l.Err)
			return nil
		}
		if len(strings.TrimSpace(string(l.Data))) == 0 {
			return nil
		}
		e, err := auditlog.Parse(l.Data)
		if err != nil {
			bad++
			fmt.Fprintf(inv.stderr, "secaudit tail: %s:%d: not a JSON event: %v\n", lineFile(l), l.Num, err)
			return nil
		}
		if !flt.Match(&e) {
			return nil
		}
		if *asJSON {
			out.Write(l.Data)
			return out.WriteByte('\n')
		}
		return p.print(&e)
	})
	flushErr := out.Flush()
	if *follow && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		err = nil // interrupted: the normal end of -f
	}
	if err = errors.Join(err, flushErr); err != nil {
		fmt.Fprintln(inv.stderr, "secaudit tail:", err)
		return exitFinding
	}
	if bad > 0 {
		return exitFinding
	}
	return exitOK
}

func lineFile(l *auditlog.Line) string {
	if l.File == "-" {
		return "stdin"
	}
	if l.Segment > 0 {
		return fmt.Sprintf("%s (after rotation %d)", l.File, l.Segment)
	}
	return l.File
}

// ANSI colours.
const (
	ansiReset   = "\x1b[0m"
	ansiDim     = "\x1b[2m"
	ansiRed     = "\x1b[31m"
	ansiGreen   = "\x1b[32m"
	ansiYellow  = "\x1b[33m"
	ansiBoldRed = "\x1b[1;31m"
	ansiMagenta = "\x1b[1;35m"
	ansiCyan    = "\x1b[36m"
)

// linePrinter writes the readable line of an event.
type linePrinter struct {
	w     io.Writer
	color bool
	loc   *time.Location
	buf   []byte
}

func (p *linePrinter) paint(code, s string) {
	if p.color && code != "" {
		p.buf = append(p.buf, code...)
		p.buf = append(p.buf, s...)
		p.buf = append(p.buf, ansiReset...)
		return
	}
	p.buf = append(p.buf, s...)
}

func pad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat(" ", n-len(s))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func severityColor(sev string) string {
	switch sev {
	case "INFO":
		return ansiGreen
	case "WARNING":
		return ansiYellow
	case "ERROR":
		return ansiRed
	case "CRITICAL":
		return ansiBoldRed
	}
	return ""
}

func (p *linePrinter) print(e *auditlog.Event) error {
	p.buf = p.buf[:0]
	p.paint(ansiDim, time.Unix(0, e.Time).In(p.loc).Format("2006-01-02 15:04:05.000"))
	p.buf = append(p.buf, ' ')
	p.paint(severityColor(e.Severity), pad(orDash(e.Severity), 8))
	p.buf = append(p.buf, ' ')
	evColor := ""
	if strings.HasPrefix(e.Name, "security.") {
		evColor = ansiMagenta
	}
	p.paint(evColor, pad(orDash(e.Name), 28))
	p.buf = append(p.buf, " user="...)
	p.paint(ansiCyan, orDash(e.User()))
	p.buf = append(p.buf, " addr="...)
	p.paint(ansiCyan, orDash(e.Addr))
	p.buf = append(p.buf, " route="...)
	p.buf = append(p.buf, orDash(e.Where())...)
	p.buf = append(p.buf, " status="...)
	status := "-"
	if e.Status != 0 {
		status = strconv.Itoa(e.Status)
	}
	stColor := ""
	switch {
	case e.Status >= 500:
		stColor = ansiRed
	case e.Status >= 400:
		stColor = ansiYellow
	}
	p.paint(stColor, status)
	p.buf = append(p.buf, " outcome="...)
	outColor := ""
	switch e.Outcome {
	case "failure":
		outColor = ansiRed
	case "success":
		outColor = ansiGreen
	}
	p.paint(outColor, orDash(e.Outcome))
	if e.Rule != "" {
		p.buf = append(p.buf, " rule="...)
		p.paint(ansiMagenta, e.Rule)
	}
	p.buf = append(p.buf, '\n')
	_, err := p.w.Write(p.buf)
	return err
}
