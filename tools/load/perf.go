package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// readPerfCounts reads the counts of a perf stat -x, output file: event
// name (without modifiers such as ":u") to count. An event perf could not
// count is an error.
func readPerfCounts(path string) (map[string]uint64, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	counts := map[string]uint64{}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Split(line, ",")
		if len(f) < 3 || strings.HasPrefix(line, "#") {
			continue
		}
		event, modifier, _ := strings.Cut(f[2], ":")
		if modifier != "" {
			// perf restricts what it counts (":u": user space only, when
			// perf_event_paranoid keeps the kernel from this user), so the
			// figures would not compare with those of a run that counted both.
			fmt.Fprintf(os.Stderr, "load: perf counted %s: only part of the work (run as root, or lower kernel.perf_event_paranoid)\n", f[2])
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("perf stat: %s: %q", event, f[0])
		}
		counts[event] = n
	}
	if _, ok := counts["instructions"]; !ok {
		return nil, fmt.Errorf("perf stat counted no instructions (%s): %q", path, raw)
	}
	return counts, nil
}
