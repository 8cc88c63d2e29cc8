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
	// With -perf: the server's instructions and cycles (user and kernel,
	// warm-up included) per request served.
	InstrPerReq  float64 `json:"instructions_per_request,omitempty"`
	CyclesPerReq float64 `json:"cycles_per_request,omitempty"`
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
	perf     bool   // count instructions and cycles with perf stat
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
	if pl.perf {
		if _, err := exec.LookPath("perf"); err != nil {
			return fmt.Errorf("-perf: %w", err)
		}
	}
	if pl.dir == "" {
		tmp, err := os.MkdirTemp("", "secaudit-load-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		pl.dir = tmp
	}
	var runs []run
	for round := 1; round <= pl.rounds; round++ {
		for _, mode := range roundOrder(pl.modes, round) {
			prof := ""
			if pl.profile != "" {
				prof = fmt.Sprintf("%s.%s.round%d", pl.profile, strings.ReplaceAll(mode, "+", "-"), round)
			}
			r, err := measure(self, mode, round, pl, prof)
			if err != nil {
				return fmt.Errorf("%s round %d: %w", mode, round, err)
			}
			fmt.Fprintf(os.Stderr, "round %d %-18s %8.0f req/s  %6.1f µs CPU/req  p50 %6.0f µs  p99 %7.0f µs  events %d/%d/%d (emitted/exported/dropped)\n",
				round, mode, r.RPS, r.CPUus, r.P50us, r.P99us, r.Server.Emitted, r.Server.Exported, r.Server.Dropped)
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

func measure(self, mode string, round int, pl plan, profile string) (run, error) {
	args := []string{"-serve", mode, "-dir", pl.dir}
	if profile != "" {
		args = append(args, "-cpuprofile", profile)
	}
	prog := self
	perfOut := ""
	if pl.perf {
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

	ld := command(pl.pin, "1", self, "-load", url, "-conns", fmt.Sprint(pl.conns), "-warmup", pl.warmup.String(), "-duration", pl.duration.String(), "-miss-every", fmt.Sprint(*missEvery))
	ld.Stderr = os.Stderr
	loadOut, err := ld.Output()
	if err != nil {
		return run{}, fmt.Errorf("load: %w", err)
	}
	var lr loadReport
	if err := json.Unmarshal(loadOut, &lr); err != nil {
		return run{}, fmt.Errorf("load report %q: %w", loadOut, err)
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
	r := run{
		Mode: mode, Round: round,
		RPS:   float64(lr.Requests) / lr.Seconds,
		P50us: lr.P50us, P99us: lr.P99us,
		Errors: lr.Errors, Server: sr, ServerCPU: cpu.Seconds(),
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
