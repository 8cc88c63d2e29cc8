package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "spillreplay:", err)
		os.Exit(1)
	}
}

func run() error {
	file := flag.String("file", "", "the spill file to replay (required)")
	from := flag.Int("from", 1, "the first line to replay (to resume after a failure)")
	batch := flag.Int("batch", 512, "records per export")
	timeout := flag.Duration("timeout", 5*time.Minute, "how long a batch is retried after its first failure")
	flag.Parse()
	if *file == "" || flag.NArg() > 0 {
		flag.Usage()
		return errors.New("-file is required, and nothing else")
	}
	if *from < 1 || *batch < 1 || *timeout <= 0 {
		return errors.New("-from and -batch must be at least 1, -timeout positive")
	}
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer f.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Retries are this command's: the exporter's own would hide failures.
	exp, err := otlploghttp.New(ctx, otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}))
	if err != nil {
		return err
	}
	res, err := replay(ctx, f, exp, settings{from: *from, batch: *batch, timeout: *timeout, backoff: 200 * time.Millisecond})
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = errors.Join(err, exp.Shutdown(sctx))

	fmt.Fprintf(os.Stderr, "spillreplay: %s: %d lines read, %d records sent, %d lines not records\n", *file, res.Lines, res.Sent, res.Bad)
	if res.Bad > 0 {
		fmt.Fprintf(os.Stderr, "spillreplay: lines that are not records (first %d): %v\n", maxBadLines, res.BadLines)
	}
	for _, p := range res.Partial {
		fmt.Fprintf(os.Stderr, "spillreplay: the endpoint rejected part of a batch (not sent again): %s\n", p)
	}
	if res.Resume > 0 {
		fmt.Fprintf(os.Stderr, "spillreplay: resume with -from %d\n", res.Resume)
	}
	switch {
	case err != nil:
		return err
	case res.Bad > 0:
		return fmt.Errorf("%d lines were not records", res.Bad)
	case len(res.Partial) > 0:
		return errors.New("the endpoint rejected some records")
	}
	return nil
}

// clearResourceEnv unsets the variables the SDK's resource reads from the
// environment.
func clearResourceEnv() {
	for _, name := range []string{"OTEL_RESOURCE_ATTRIBUTES", "OTEL_SERVICE_NAME"} {
		_ = os.Unsetenv(name)
	}
}
