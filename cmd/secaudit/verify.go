package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/secaudit/secaudit/integrity"
)

func init() {
	register(command{
		name:    "verify",
		summary: "check the hash chain and signed checkpoints of JSONL files (any order)",
		run:     runVerify,
	})
}

// runVerify checks a set of chained JSONL files: exit 0 and OK with the
// line count when intact, 1 naming the file and line of the first problem,
// 2 for bad usage.
func runVerify(_ context.Context, inv invocation) int {
	fl := flag.NewFlagSet("verify", flag.ContinueOnError)
	fl.SetOutput(inv.stderr)
	pubkey := fl.String("pubkey", "", "the verifier key from secaudit keygen (FILE.pub): checkpoints must be signed by it")
	pruned := fl.Bool("pruned", false, "accept a set whose oldest files were deleted by rotation's retention")
	fl.Usage = func() {
		fmt.Fprintln(inv.stderr, "usage: secaudit verify [-pubkey FILE] [-pruned] FILE...")
		fmt.Fprintln(inv.stderr, "Checks a JSONL file and its rotated files (in any order) written with SECAUDIT_JSONL_CHAIN,")
		fmt.Fprintln(inv.stderr, "and the signed checkpoints in FILE.checkpoints. Exit 0: intact; 1: the first problem, as FILE:LINE; 2: bad usage.")
		fl.PrintDefaults()
	}
	if err := fl.Parse(inv.args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fl.NArg() == 0 {
		fl.Usage()
		return exitUsage
	}
	opts := integrity.Options{Pruned: *pruned}
	if *pubkey != "" {
		data, err := os.ReadFile(*pubkey)
		if err != nil {
			fmt.Fprintf(inv.stderr, "secaudit verify: -pubkey: %v\n", err)
			return exitUsage
		}
		v, err := integrity.NewVerifier(strings.TrimSpace(string(data)))
		if err != nil {
			fmt.Fprintf(inv.stderr, "secaudit verify: -pubkey %s: not a verifier key (want the FILE.pub of secaudit keygen): %v\n", *pubkey, err)
			return exitUsage
		}
		opts.Verifier = v
	}
	logs := 0
	for _, p := range fl.Args() {
		if _, err := os.Stat(p); err != nil {
			fmt.Fprintf(inv.stderr, "secaudit verify: %v\n", err)
			return exitUsage
		}
		if !strings.HasSuffix(p, integrity.CheckpointSuffix) {
			logs++
		}
	}
	if logs == 0 {
		fmt.Fprintf(inv.stderr, "secaudit verify: no JSONL file among the arguments (a %s file is found beside them)\n", integrity.CheckpointSuffix)
		return exitUsage
	}
	res, err := integrity.Verify(fl.Args(), opts)
	for _, n := range res.Notes {
		fmt.Fprintf(inv.stderr, "note: %s\n", n)
	}
	if err != nil {
		fmt.Fprintf(inv.stderr, "secaudit verify: %v\n", err)
		fmt.Fprintln(inv.stdout, "FAIL")
		return exitFinding
	}
	fmt.Fprintf(inv.stdout, "OK %d lines (%d files, %d checkpoints, %d restarts)\n", res.Lines, res.Files, res.Checkpoints, res.Restarts)
	return exitOK
}
