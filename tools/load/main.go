package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// missEvery is the -miss-every flag: read by the load process, passed on
// to it by the driver.
var missEvery = flag.Int("miss-every", 20, "every Nth request of a connection asks for a missing item (404); 0 for none")

var allModes = []string{
	"bare", "slog", "otelhttp", "otelhttp+secaudit", "secaudit", "secaudit-simple",
	"secaudit-default", "otelhttp+secaudit-default", "sdklog-floor", "otelhttp+passthrough",
	"secaudit-block", "secaudit-block-default", "secaudit-ratelimit",
	"setup-default", "otelhttp+setup-default",
}

func main() {
	var (
		serve    = flag.String("serve", "", "internal: run the server in this mode")
		load     = flag.String("load", "", "internal: run the load against this URL")
		modes    = flag.String("modes", strings.Join(allModes, ","), "comma-separated server modes")
		rounds   = flag.Int("rounds", 3, "rounds (modes interleaved in each)")
		duration = flag.Duration("duration", 5*time.Second, "measured time per run")
		warmup   = flag.Duration("warmup", 2*time.Second, "warm-up before each measurement")
		conns    = flag.Int("conns", 32, "concurrent keep-alive connections")
		pin      = flag.Bool("pin", false, "pin the server to CPU 0 and the load to CPU 1 with taskset")
		dir      = flag.String("dir", "", "directory for the servers' log files (default: a temporary one, removed)")
		asJSON   = flag.Bool("json", false, "print the results as JSON")
		profile  = flag.String("cpuprofile", "", "write the servers' CPU profiles to this file prefix (FILE.MODE.roundN)")
		perf     = flag.Bool("perf", false, "count each server's instructions per request: perf stat (user and kernel, with cycles), or where the host has no hardware counters valgrind's cachegrind (user space)")
		counter  = flag.String("counter", "auto", "with -perf: perf, cachegrind, or auto (perf when it counts instructions here, else cachegrind, else CPU time only)")
		refused  = flag.Bool("refused-ok", false, "internal: the load counts a 429 as a refused request, not an error")
	)
	flag.Parse()
	var err error
	switch {
	case *serve != "":
		err = runServer(*serve, *dir, *profile)
	case *load != "":
		err = runLoad(*load, *conns, *warmup, *duration, *refused)
	default:
		err = drive(plan{
			modes: strings.Split(*modes, ","), rounds: *rounds, duration: *duration, warmup: *warmup,
			conns: *conns, pin: *pin, dir: *dir, asJSON: *asJSON, profile: *profile, perf: *perf, counter: *counter,
		})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}
