package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// loadReport is what a load process prints.
type loadReport struct {
	Requests uint64  `json:"requests"` // completed in the measured window
	Errors   uint64  `json:"errors"`
	Refused  uint64  `json:"refused,omitempty"` // answered 429 (counted in Requests), with -refused-ok
	Seconds  float64 `json:"seconds"`
	P50us    float64 `json:"p50_us"`
	P99us    float64 `json:"p99_us"`
}

// histogram counts latencies in buckets 2^(i/4) µs wide (about 19 % steps).
type histogram [128]uint64

func bucket(d time.Duration) int {
	us := float64(d.Nanoseconds()) / 1e3
	i := 0
	for b := 1.0; b < us && i < len(histogram{})-1; b *= 1.189207115 {
		i++
	}
	return i
}

func (h *histogram) quantile(q float64) float64 {
	var total uint64
	for _, n := range h {
		total += n
	}
	if total == 0 {
		return 0
	}
	target := uint64(q * float64(total))
	var sum uint64
	b := 1.0
	for _, n := range h {
		sum += n
		if sum > target {
			return b
		}
		b *= 1.189207115
	}
	return b
}

// runLoad keeps conns connections busy against url for warmup, then
// duration, and reports the measured window. A 429 is an error unless
// refusedOK (the guarded modes), when it is counted as a refused request.
func runLoad(url string, conns int, warmup, duration time.Duration, refusedOK bool) error {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()

	start := time.Now()
	measureFrom := start.Add(warmup)
	end := measureFrom.Add(duration)
	var wg sync.WaitGroup
	hists := make([]histogram, conns)
	counts := make([]uint64, conns)
	errs := make([]uint64, conns)
	refused := make([]uint64, conns)
	for c := range conns {
		wg.Go(func() {
			newReq := func(path string) *http.Request {
				req, _ := http.NewRequest(http.MethodGet, url+path, nil)
				req.Header.Set("User-Agent", "secaudit-load/1.0")
				req.Header.Set("X-Request-Id", "4bf92f3577b34da6a3ce929d0e0e4736")
				req.Header.Set("X-User-Id", "42")
				req.Header.Set("Authorization", "Bearer not-a-real-token")
				return req
			}
			item, missing := newReq(itemPath), newReq(missingPath)
			for n := 1; ; n++ {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				req, want := item, http.StatusOK
				if *missEvery > 0 && n%*missEvery == 0 {
					req, want = missing, http.StatusNotFound
				}
				resp, err := client.Do(req)
				wasRefused := false
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					wasRefused = refusedOK && resp.StatusCode == http.StatusTooManyRequests
					if resp.StatusCode != want && !wasRefused {
						err = fmt.Errorf("status %d, want %d", resp.StatusCode, want)
					}
				}
				t1 := time.Now()
				if t0.Before(measureFrom) || t1.After(end) {
					continue
				}
				if err != nil {
					errs[c]++
					continue
				}
				counts[c]++
				if wasRefused {
					refused[c]++
				}
				hists[c][bucket(t1.Sub(t0))]++
			}
		})
	}
	wg.Wait()
	var rep loadReport
	var all histogram
	for c := range conns {
		rep.Requests += counts[c]
		rep.Errors += errs[c]
		rep.Refused += refused[c]
		for i, n := range hists[c] {
			all[i] += n
		}
	}
	rep.Seconds = duration.Seconds()
	rep.P50us, rep.P99us = all.quantile(0.5), all.quantile(0.99)
	return json.NewEncoder(os.Stdout).Encode(rep)
}
