package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The machine may be shared, so each run also reports how much CPU other
// processes used while wrk ran: the whole machine's busy time (/proc/stat)
// less that of the roster servers, of wrk and, on PostgreSQL, of every
// postgres process (which may include other users' of that server).

// ticksPerSecond is USER_HZ, the unit of /proc/stat and /proc/PID/stat;
// 100 on every Linux this runs on.
const ticksPerSecond = 100

type cpuSample struct {
	busy, total uint64 // all CPUs, in ticks
	at          time.Time
}

// sampleCPU reads the machine's CPU time so far.
func sampleCPU() cpuSample {
	s := cpuSample{at: time.Now()}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		if i >= 8 { // guest time is already counted in user
			break
		}
		s.total += n
		if i != 3 && i != 4 { // idle, iowait
			s.busy += n
		}
	}
	return s
}

// cores is how many CPUs were busy on average from s to t.
func (s cpuSample) cores(t cpuSample) float64 {
	return ticksToCores(t.busy-s.busy, t.at.Sub(s.at))
}

func ticksToCores(ticks uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(ticks) / ticksPerSecond / d.Seconds()
}

// procTicks is the CPU time (user and system) each process has used.
func procTicks(pids []int) map[int]uint64 {
	ticks := make(map[int]uint64, len(pids))
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		_, rest, ok := strings.Cut(string(b), ") ")
		f := strings.Fields(rest) // state ppid … utime is the 12th, stime the 13th
		if !ok || len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseUint(f[11], 10, 64)
		s, _ := strconv.ParseUint(f[12], 10, 64)
		ticks[pid] = u + s
	}
	return ticks
}

// ticksSince is the CPU time the processes in now used since then; one
// that started in between counts whole, one that ended is lost.
func ticksSince(then, now map[int]uint64) uint64 {
	var sum uint64
	for pid, t := range now {
		if t >= then[pid] {
			sum += t - then[pid]
		}
	}
	return sum
}

// peakRSS is the largest peak resident set (VmHWM, in KiB) of the
// processes so far.
func peakRSS(pids []int) int64 {
	var peak int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				peak = max(peak, kib)
			}
		}
	}
	return peak
}

// pidsNamed lists the processes whose command name is name.
func pidsNamed(name string) []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		comm, err := os.ReadFile(filepath.Join(d, "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != name {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(d)); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitQuiet waits, up to limit, for a second in which the machine's
// other work keeps less than 0.25 CPU busy, and returns the last
// second's figure. With limit 0 it only measures.
func waitQuiet(ctx context.Context, limit time.Duration) float64 {
	deadline := time.Now().Add(limit)
	for {
		s := sampleCPU()
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(time.Second):
		}
		busy := s.cores(sampleCPU())
		if busy < 0.25 || !time.Now().Before(deadline) {
			return busy
		}
	}
}
