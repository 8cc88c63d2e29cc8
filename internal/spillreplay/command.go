package spillreplay

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
)

// ErrUsage is returned by [Run] for bad flags or arguments (already
// reported).
var ErrUsage = errors.New("bad usage")

// Run is the command: it parses args (-file, -from, -batch, -timeout; the
// file may also be the one argument), replays the file to the OTLP
// endpoint of the environment and reports on stderr, each line prefixed
// with prog. It returns nil only when every line was a record and every
// record was sent; [ErrUsage] (wrapped) for bad usage.
func Run(ctx context.Context, prog string, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("file", "", "the spill file to replay (required; or give it as the argument)")
	from := fs.Int("from", 1, "the first line to replay (to resume after a failure)")
	batch := fs.Int("batch", 512, "records per export")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long a batch is retried after its first failure")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return ErrUsage
	}
	if *file == "" && fs.NArg() == 1 {
		*file = fs.Arg(0)
	} else if fs.NArg() > 0 {
		*file = ""
	}
	if *file == "" {
		fmt.Fprintf(stderr, "%s: -file is required (or the file as the one argument), and nothing else\n", prog)
		fs.Usage()
		return ErrUsage
	}
	if *from < 1 || *batch < 1 || *timeout <= 0 {
		fmt.Fprintf(stderr, "%s: -from and -batch must be at least 1, -timeout positive\n", prog)
		return ErrUsage
	}
	f, err := os.Open(*file)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return err
	}
	defer f.Close()

	// Retries are this command's: the exporter's own would hide failures.
	exp, err := otlploghttp.New(ctx, otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}))
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return err
	}
	res, err := replay(ctx, f, exp, settings{from: *from, batch: *batch, timeout: *timeout, backoff: 200 * time.Millisecond})
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = errors.Join(err, exp.Shutdown(sctx))

	fmt.Fprintf(stderr, "%s: %s: %d lines read, %d records sent, %d lines not records\n", prog, *file, res.Lines, res.Sent, res.Bad)
	if res.Bad > 0 {
		fmt.Fprintf(stderr, "%s: lines that are not records (first %d): %v\n", prog, maxBadLines, res.BadLines)
	}
	for _, p := range res.Partial {
		fmt.Fprintf(stderr, "%s: the endpoint rejected part of a batch (not sent again): %s\n", prog, p)
	}
	if res.Resume > 0 {
		fmt.Fprintf(stderr, "%s: resume with -from %d\n", prog, res.Resume)
	}
	switch {
	case err != nil:
	case res.Bad > 0:
		err = fmt.Errorf("%d lines were not records", res.Bad)
	case len(res.Partial) > 0:
		err = errors.New("the endpoint rejected some records")
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
	}
	return err
}

// clearResourceEnv unsets the variables the SDK's resource reads from the
// environment.
func clearResourceEnv() {
	for _, name := range []string{"OTEL_RESOURCE_ATTRIBUTES", "OTEL_SERVICE_NAME"} {
		_ = os.Unsetenv(name)
	}
}
