package main

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
)

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// quartiles returns the medians of the lower and upper halves of xs (the
// middle element, if any, left out of both): the middle half of the runs
// lies between them.
func quartiles(xs []float64) (q1, q3 float64) {
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s) < 2 {
		m := median(s)
		return m, m
	}
	h := len(s) / 2
	return median(s[:h]), median(s[len(s)-h:])
}

func printTable(runs []run, pl plan) {
	type agg struct{ rps, cpu, p50, p99, instr, cycles []float64 }
	by := map[string]*agg{}
	var lost []string
	for _, r := range runs {
		a := by[r.Mode]
		if a == nil {
			a = &agg{}
			by[r.Mode] = a
		}
		a.rps = append(a.rps, r.RPS)
		a.cpu = append(a.cpu, r.CPUus)
		a.p50 = append(a.p50, r.P50us)
		a.p99 = append(a.p99, r.P99us)
		a.instr = append(a.instr, r.InstrPerReq)
		a.cycles = append(a.cycles, r.CyclesPerReq)
		if r.Server.Emitted != r.Server.Exported+r.Server.Dropped || r.Server.Dropped > 0 || r.Errors > 0 || (r.Refused > 0 && !guarded(r.Mode)) {
			lost = append(lost, fmt.Sprintf("%s round %d: emitted %d exported %d dropped %d, %d request errors",
				r.Mode, r.Round, r.Server.Emitted, r.Server.Exported, r.Server.Dropped, r.Errors))
		}
	}
	// medians of a mode's runs; zero for a mode that did not run.
	type medians struct{ rps, cpu, p50, p99, instr, cycles float64 }
	med := func(mode string) medians {
		a := by[mode]
		if a == nil {
			return medians{}
		}
		return medians{median(a.rps), median(a.cpu), median(a.p50), median(a.p99), median(a.instr), median(a.cycles)}
	}
	// ratio formats x/base, or "–" without a base.
	ratio := func(x, base float64, ok bool) string {
		if !ok || base == 0 || x == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f×", x/base)
	}
	// diff formats x-base scaled by unit, or "–" without a base.
	diff := func(x, base, unit float64, ok bool) string {
		if !ok || base == 0 {
			return "–"
		}
		return fmt.Sprintf("%+.1f", (x-base)/unit)
	}
	bare, otel := med("bare"), med("otelhttp")
	// otelhttp and the modes behind it are compared with otelhttp too.
	withOtel := func(mode string) bool { return strings.HasPrefix(mode, "otelhttp") }

	placement := "unpinned"
	if pl.pin {
		placement = "pinned (server CPU 0, load CPU 1)"
	}
	fmt.Printf("%d connections, %v measured per run, %d runs per mode, %s; medians (runs in parentheses)\n\n",
		pl.conns, pl.duration, len(runs)/max(1, len(pl.modes)), placement)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "| mode\t| req/s\t| × bare\t| × otelhttp\t| server CPU µs/req\t| Δ CPU vs bare\t| Δ CPU vs otelhttp\t| p50 µs\t| p99 µs\t|")
	fmt.Fprintln(tw, "|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|")
	for _, m := range pl.modes {
		a := by[m]
		if a == nil {
			continue
		}
		x := med(m)
		fmt.Fprintf(tw, "| %s\t| %.0f (%s)\t| %s\t| %s\t| %.1f (%s)\t| %s\t| %s\t| %.0f\t| %.0f\t|\n",
			m, x.rps, join(a.rps, "%.0f"), ratio(x.rps, bare.rps, true), ratio(x.rps, otel.rps, withOtel(m)),
			x.cpu, join(a.cpu, "%.1f"), diff(x.cpu, bare.cpu, 1, true), diff(x.cpu, otel.cpu, 1, withOtel(m)), x.p50, x.p99)
	}
	_ = tw.Flush()
	printPaired(runs, pl.modes)
	if pl.perf && pl.counter == counterCPU {
		fmt.Println("\nNo instruction counts: perf stat cannot count them on this host and valgrind is not installed; compare the server CPU µs/req above.")
	}
	if pl.perf && pl.counter != counterCPU {
		cycles := pl.counter == counterPerf
		if cycles {
			fmt.Println("\nServer work per request (perf stat, user and kernel, warm-up included; medians):")
		} else {
			fmt.Println("\nServer work per request (valgrind cachegrind: user-space instructions, warm-up included, an idle run's start-up and shutdown subtracted; perf stat counts no instructions on this host; medians):")
		}
		fmt.Println()
		tw := tabwriter.NewWriter(os.Stdout, 0, 0, 1, ' ', 0)
		head := "| mode\t| k instructions\t| Δ vs bare\t| Δ vs otelhttp\t| instructions: bare ÷ mode\t| otelhttp ÷ mode\t|"
		if cycles {
			head += " k cycles\t| Δ vs bare\t| Δ vs otelhttp\t| cycles: bare ÷ mode\t| otelhttp ÷ mode\t|"
		}
		fmt.Fprintln(tw, head)
		fmt.Fprintln(tw, strings.Repeat("|---\t", strings.Count(head, "|")-1)+"|")
		for _, m := range pl.modes {
			if by[m] == nil {
				continue
			}
			x, behind := med(m), withOtel(m)
			fmt.Fprintf(tw, "| %s\t| %.1f\t| %s\t| %s\t| %s\t| %s\t|", m,
				x.instr/1000, diff(x.instr, bare.instr, 1000, true), diff(x.instr, otel.instr, 1000, behind),
				ratio(bare.instr, x.instr, true), ratio(otel.instr, x.instr, behind))
			if cycles {
				fmt.Fprintf(tw, " %.1f\t| %s\t| %s\t| %s\t| %s\t|",
					x.cycles/1000, diff(x.cycles, bare.cycles, 1000, true), diff(x.cycles, otel.cycles, 1000, behind),
					ratio(bare.cycles, x.cycles, true), ratio(otel.cycles, x.cycles, behind))
			}
			fmt.Fprintln(tw)
		}
		_ = tw.Flush()
	}
	printRefusals(runs, func(m string) float64 { return med(m).instr })
	if len(lost) == 0 {
		fmt.Println("\nNo audit event dropped; every request answered as expected (200, or 404 for the missing item; 429 only in the guarded modes).")
	} else {
		fmt.Println("\nLosses or errors:\n  " + strings.Join(lost, "\n  "))
	}
}

// printPaired prints each mode's per-round throughput ratios to bare and
// to otelhttp (see pairedRatios): median, then every round's ratio.
func printPaired(runs []run, modes []string) {
	type col struct{ base, prefix string }
	cols := []col{{"bare", ""}, {"otelhttp", "otelhttp"}}
	var lines []string
	for _, m := range modes {
		var cells []string
		for _, c := range cols {
			if m == c.base || !strings.HasPrefix(m, c.prefix) {
				continue
			}
			if rs := pairedRatios(runs, m, c.base); len(rs) > 0 {
				q1, q3 := quartiles(rs)
				cells = append(cells, fmt.Sprintf("%.2f× %s (middle half %.2f–%.2f of %d rounds: %s)",
					median(rs), c.base, q1, q3, len(rs), join(rs, "%.2f")))
			}
		}
		if len(cells) > 0 {
			lines = append(lines, fmt.Sprintf("  %-26s %s", m, strings.Join(cells, "; ")))
		}
	}
	if len(lines) > 0 {
		fmt.Println("\nThroughput paired by round (each round's ratio, then their median):")
		fmt.Println(strings.Join(lines, "\n"))
	}
}

func join(xs []float64, format string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(parts, "/")
}

// printRefusals prints what the guarded modes' runs refused and the 429
// path against a served request: secaudit-ratelimit (nearly every request
// refused) over secaudit-block (the same pipeline and traffic, every
// request served and audited) and secaudit-block-default (served, OK
// responses not audited), in instructions per request and in throughput
// paired by round.
func printRefusals(runs []run, instr func(mode string) float64) {
	var lines []string
	modes := map[string]bool{}
	for _, r := range runs {
		modes[r.Mode] = true
		if guarded(r.Mode) {
			lines = append(lines, fmt.Sprintf("  %s round %d: %d of the measured window's requests refused (429); over the whole run %d refused, %d of them quiet (no event of their own)",
				r.Mode, r.Round, r.Refused, r.Server.Refused, r.Server.Quiet))
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Println("\nRefusals (guard):\n" + strings.Join(lines, "\n"))
	const refusing = "secaudit-ratelimit"
	if !modes[refusing] {
		return
	}
	for _, served := range []string{"secaudit-block", "secaudit-block-default"} {
		if !modes[served] {
			continue
		}
		if s, r := instr(served), instr(refusing); s > 0 && r > 0 {
			fmt.Printf("  the 429 path (%s) against a request served by %s: %.1fk against %.1fk instructions per request, %.2f×\n",
				refusing, served, r/1000, s/1000, r/s)
		}
		if rs := pairedRatios(runs, refusing, served); len(rs) > 0 {
			q1, q3 := quartiles(rs)
			fmt.Printf("  throughput paired by round, %s over %s: %.2f× (middle half %.2f–%.2f of %d rounds: %s)\n",
				refusing, served, median(rs), q1, q3, len(rs), join(rs, "%.2f"))
		}
	}
}
