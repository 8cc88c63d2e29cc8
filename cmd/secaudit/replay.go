package main

import (
	"context"
	"errors"
	"flag"

	"github.com/secaudit/secaudit/internal/spillreplay"
)

func init() {
	register(command{"replay", "re-sends a delivery spill file over OTLP (what tools/spillreplay did)", runReplay})
}

// runReplay is secaudit replay [-from N] [-batch N] [-timeout D] -file FILE
// (or FILE): see internal/spillreplay.
func runReplay(ctx context.Context, inv invocation) int {
	err := spillreplay.Run(ctx, "secaudit replay", inv.args, inv.stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, spillreplay.ErrUsage):
		return exitUsage
	}
	return exitFinding
}
