package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type run struct {
	Mode      string       `json:"mode"`
	Round     int          `json:"round"`
	RPS       float64      `json:"rps"`
	P50us     float64      `json:"p50_us"`
	P99us     float64      `json:"p99_us"`
	CPUus     float64      `json:"server_cpu_us_per_request"`
	Errors    uint64       `json:"errors"`
	Server    serverReport `json:"server"`
	ServerCPU float64      `json:"server_cpu_seconds"`
	// With -perf: the server's instructions (and, with perf stat, cycles)
	// per request served, warm-up included: perf stat counts user and
	// kernel; cachegrind counts user space, in a second run of the same
	// mode and round, less an idle run's count (start-up and shutdown).
	InstrPerReq  float64 `json:"instructions_per_request,omitempty"`
	CyclesPerReq float64 `json:"cycles_per_request,omitempty"`
	// Refused: requests of the measured window answered 429 by the guard
	// (secaudit-block, secaudit-ratelimit).
	Refused uint64 `json:"refused,omitempty"`
}

// plan is what the driver runs.
type plan struct {
	modes    []string
	rounds   int
	duration time.Duration
	warmup   time.Duration
	conns    int
	pin      bool
	dir      string
	asJSON   bool
	profile  string // CPU profile file prefix
	perf     bool   // count instructions per request
	counter  string // with perf: "perf", "cachegrind" or "auto"
	// idle holds, per mode, the instructions cachegrind counts in a server
	// that starts, waits as long as a run and stops without a request.
	idle map[string]uint64
}

// Counters of instructions (-perf).
const (
	counterPerf       = "perf"       // perf stat: user and kernel, and cycles
	counterCachegrind = "cachegrind" // valgrind --tool=cachegrind: user space
	counterCPU        = "cpu"        // none: CPU time per request only
)

// guarded reports whether mode runs the guard: the load counts its 429s as
// refused requests, and it serves no 404 (a run of 404s from the load's
// one address is a scan, which blocking on would answer by blocking it).
func guarded(mode string) bool {
	return mode == "secaudit-block" || mode == "secaudit-block-default" || mode == "secaudit-ratelimit"
}

// pickCounter returns how -perf counts instructions on this host: with
// -counter auto, perf stat when it counts instructions here (a virtual
// machine may expose no hardware counters: perf then reports them "not
// supported"), else cachegrind when valgrind is installed, else CPU time
// only.
func pickCounter(want, dir string) (string, error) {
	perfWorks := func() error {
		if _, err := exec.LookPath("perf"); err != nil {
			return err
		}
		out := filepath.Join(dir, "perf.probe.csv")
		if err := exec.Command("perf", "stat", "-x,", "-o", out, "-e", "instructions", "--", "true").Run(); err != nil {
			return fmt.Errorf("perf stat: %w", err)
		}
		_, err := readPerfCounts(out)
		return err
	}
	switch want {
	case counterPerf:
		return want, perfWorks()
	case counterCachegrind:
		_, err := exec.LookPath("valgrind")
		return want, err
	case "auto":
		err := perfWorks()
		if err == nil {
			return counterPerf, nil
		}
		fmt.Fprintf(os.Stderr, "load: -perf: perf stat cannot count instructions here (%v)\n", err)
		if _, verr := exec.LookPath("valgrind"); verr == nil {
			fmt.Fprintln(os.Stderr, "load: -perf: counting user-space instructions with valgrind's cachegrind instead (a second run of each mode and round)")
			return counterCachegrind, nil
		}
		fmt.Fprintln(os.Stderr, "load: -perf: no valgrind either: CPU time per request only")
		return counterCPU, nil
	}
	return "", fmt.Errorf("-counter=%q: want perf, cachegrind or auto", want)
}

func drive(pl plan) error {
	for _, m := range pl.modes {
		if !slices.Contains(allModes, m) {
			return fmt.Errorf("unknown mode %q (want %s)", m, strings.Join(allModes, ", "))
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if pl.dir == "" {
		tmp, err := os.MkdirTemp("", "secaudit-load-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		pl.dir = tmp
	}
	if pl.perf {
		c, err := pickCounter(pl.counter, pl.dir)
		if err != nil {
			return fmt.Errorf("-perf: %w", err)
		}
		pl.counter = c
		pl.idle = map[string]uint64{}
	}
	var runs []run
	for round := 1; round <= pl.rounds; round++ {
		for _, mode := range roundOrder(pl.modes, round) {
			prof := ""
			if pl.profile != "" {
				prof = fmt.Sprintf("%s.%s.round%d", pl.profile, strings.ReplaceAll(mode, "+", "-"), round)
			}
			r, err := measure(self, mode, round, pl, prof, "")
			if err == nil && pl.perf && pl.counter == counterCachegrind {
				err = countCachegrind(self, mode, round, pl, &r)
			}
			if err != nil {
				return fmt.Errorf("%s round %d: %w", mode, round, err)
			}
			fmt.Fprintf(os.Stderr, "round %d %-18s %8.0f req/s  %6.1f µs CPU/req  p50 %6.0f µs  p99 %7.0f µs  events %d/%d/%d (emitted/exported/dropped)",
				round, mode, r.RPS, r.CPUus, r.P50us, r.P99us, r.Server.Emitted, r.Server.Exported, r.Server.Dropped)
			if r.InstrPerReq > 0 {
				fmt.Fprintf(os.Stderr, "  %.1fk instr/req", r.InstrPerReq/1000)
			}
			if guarded(mode) {
				fmt.Fprintf(os.Stderr, "  refused %d (quiet %d)", r.Refused, r.Server.Quiet)
			}
			fmt.Fprintln(os.Stderr)
			runs = append(runs, r)
		}
	}
	if pl.asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(runs)
	}
	printTable(runs, pl)
	return nil
}

// roundOrder is the order modes run in round (1-based): rotated by one
// place per round, so that over len(modes) rounds each mode runs once in
// every position and no mode always follows the same neighbour's warm-up
// or meets a drift of the host at the same point of the round.
func roundOrder(modes []string, round int) []string {
	if len(modes) == 0 {
		return nil
	}
	k := (round - 1) % len(modes)
	return append(slices.Clone(modes[k:]), modes[:k]...)
}

// pairedRatios returns, for every round in which both ran, mode's req/s
// divided by base's in that round: the two ran minutes apart at most, so
// the host's slow drifts, which move every mode's req/s together, cancel
// in the ratio.
func pairedRatios(runs []run, mode, base string) []float64 {
	rps := map[[2]any]float64{}
	for _, r := range runs {
		rps[[2]any{r.Mode, r.Round}] = r.RPS
	}
	var out []float64
	for _, r := range runs {
		if r.Mode != mode {
			continue
		}
		if b := rps[[2]any{base, r.Round}]; b > 0 {
			out = append(out, r.RPS/b)
		}
	}
	return out
}

func command(pin bool, cpu string, self string, args ...string) *exec.Cmd {
	if pin {
		return exec.Command("taskset", append([]string{"-c", cpu, self}, args...)...)
	}
	return exec.Command(self, args...)
}

// countCachegrind runs mode again with its server under cachegrind and
// sets r's instructions per request: the run's user-space instructions,
// less those of an idle run of the same mode (start-up, the same wait,
// shutdown; counted once per mode), over the requests it served. The
// throughput and CPU time in r stay those of the uninstrumented run.
func countCachegrind(self, mode string, round int, pl plan, r *run) error {
	idle, ok := pl.idle[mode]
	if !ok {
		c, err := measure(self, mode, 0, pl, "", "idle")
		if err != nil {
			return fmt.Errorf("idle run under cachegrind: %w", err)
		}
		idle = c.Server.Instructions
		pl.idle[mode] = idle
	}
	c, err := measure(self, mode, round, pl, "", "cachegrind")
	if err != nil {
		return fmt.Errorf("run under cachegrind: %w", err)
	}
	if c.Server.Dropped > 0 || c.Server.Emitted != c.Server.Exported {
		// A dropped event skips its export: the count would leave out
		// work an undisturbed server does.
		return fmt.Errorf("%s round %d under cachegrind: emitted %d, exported %d, dropped %d: instructions not counted",
			mode, round, c.Server.Emitted, c.Server.Exported, c.Server.Dropped)
	}
	if c.Server.Served > 0 && c.Server.Instructions > idle {
		r.InstrPerReq = float64(c.Server.Instructions-idle) / float64(c.Server.Served)
	}
	return nil
}

// readCachegrind returns the instructions (Ir) of a cachegrind output
// file: its summary line.
func readCachegrind(path string) (uint64, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "summary:"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				break
			}
			return strconv.ParseUint(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("cachegrind: no summary in %s", path)
}

// measure runs mode's server and the load against it. how is "" (with
// -perf: under perf stat when that is the counter), "cachegrind" (the
// server under cachegrind; its instructions go in the server report) or
// "idle" (under cachegrind, no load: the server waits as long as a run).
func measure(self, mode string, round int, pl plan, profile, how string) (run, error) {
	args := []string{"-serve", mode, "-dir", pl.dir, "-rate-limit", *rateLimit}
	if profile != "" {
		args = append(args, "-cpuprofile", profile)
	}
	prog := self
	perfOut, cgOut := "", ""
	if how != "" {
		cgOut = filepath.Join(pl.dir, fmt.Sprintf("cachegrind.%s.%s.%d", how, strings.ReplaceAll(mode, "+", "-"), round))
		// --fair-sched: valgrind runs one thread at a time, and by
		// default the running thread keeps the lock, so the delivery
		// worker can starve (and drop records) as it never would natively.
		args = append([]string{"-q", "--tool=cachegrind", "--cache-sim=no", "--fair-sched=yes", "--cachegrind-out-file=" + cgOut, self}, args...)
		prog = "valgrind"
	} else if pl.perf && pl.counter == counterPerf {
		// perf stat runs the server as its child and writes the counts
		// (CSV) to perfOut when the server exits.
		perfOut = filepath.Join(pl.dir, fmt.Sprintf("perf.%s.%d.csv", strings.ReplaceAll(mode, "+", "-"), round))
		args = append([]string{"stat", "-x,", "-o", perfOut, "-e", "instructions,cycles", "--", self}, args...)
		prog = "perf"
	}
	srv := command(pl.pin, "0", prog, args...)
	srv.Stderr = os.Stderr
	out, err := srv.StdoutPipe()
	if err != nil {
		return run{}, err
	}
	if err := srv.Start(); err != nil {
		return run{}, err
	}
	serverPID := 0 // the server's own process: srv's, or perf's child
	done := false
	defer func() {
		if !done {
			if serverPID > 0 {
				_ = syscall.Kill(serverPID, syscall.SIGKILL)
			}
			_ = srv.Process.Kill()
			_ = srv.Wait()
		}
	}()
	lines := bufio.NewScanner(out)
	var url string
	if lines.Scan() {
		_, _ = fmt.Sscanf(lines.Text(), "listening %s %d", &url, &serverPID)
	}
	if url == "" || serverPID <= 0 {
		return run{}, fmt.Errorf("server did not start: %q", lines.Text())
	}

	var lr loadReport
	if how == "idle" {
		time.Sleep(pl.warmup + pl.duration)
		lr.Seconds = pl.duration.Seconds()
	} else {
		miss := *missEvery
		loadArgs := []string{"-load", url, "-conns", fmt.Sprint(pl.conns), "-warmup", pl.warmup.String(), "-duration", pl.duration.String()}
		if guarded(mode) {
			miss = 0
			loadArgs = append(loadArgs, "-refused-ok")
		}
		ld := command(pl.pin, "1", self, append(loadArgs, "-miss-every", fmt.Sprint(miss))...)
		ld.Stderr = os.Stderr
		loadOut, err := ld.Output()
		if err != nil {
			return run{}, fmt.Errorf("load: %w", err)
		}
		if err := json.Unmarshal(loadOut, &lr); err != nil {
			return run{}, fmt.Errorf("load report %q: %w", loadOut, err)
		}
	}

	if err := syscall.Kill(serverPID, syscall.SIGTERM); err != nil {
		return run{}, err
	}
	// Without its report the server did not stop cleanly; under perf,
	// which exits 0 when its child dies of a signal, this is the only sign.
	if !lines.Scan() {
		return run{}, errors.New("the server sent no report")
	}
	var sr serverReport
	if err := json.Unmarshal(lines.Bytes(), &sr); err != nil {
		return run{}, fmt.Errorf("server report %q: %w", lines.Text(), err)
	}
	_, _ = io.Copy(io.Discard, out)
	done = true
	if err := srv.Wait(); err != nil {
		return run{}, fmt.Errorf("server: %w", err)
	}
	// perf's own CPU time is tiny (it waits for its child) and counted
	// with the server's: ProcessState covers the waited-for children.
	st := srv.ProcessState
	cpu := st.UserTime() + st.SystemTime()
	if cgOut != "" {
		n, err := readCachegrind(cgOut)
		if err != nil {
			return run{}, err
		}
		sr.Instructions = n
	}
	r := run{
		Mode: mode, Round: round,
		RPS:   float64(lr.Requests) / lr.Seconds,
		P50us: lr.P50us, P99us: lr.P99us,
		Errors: lr.Errors, Server: sr, ServerCPU: cpu.Seconds(), Refused: lr.Refused,
	}
	if sr.Served > 0 {
		r.CPUus = float64(cpu.Microseconds()) / float64(sr.Served)
	}
	if perfOut != "" {
		counts, err := readPerfCounts(perfOut)
		if err != nil {
			return run{}, err
		}
		if sr.Served > 0 {
			r.InstrPerReq = float64(counts["instructions"]) / float64(sr.Served)
			r.CyclesPerReq = float64(counts["cycles"]) / float64(sr.Served)
		}
	}
	return r, nil
}
