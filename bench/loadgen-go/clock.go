package main

import (
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
	_ "unsafe" // go:linkname
)

// runtime.nanotime is CLOCK_MONOTONIC read through the vDSO: the clock Node's
// process.hrtime.bigint() reads (libuv's uv_hrtime). The runtime keeps this linkname open for
// outside packages (go.dev/issue/67401).
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// nowMs is Number(process.hrtime.bigint()) / 1e6: the same int64 → float64 rounding, the same division.
func nowMs() float64 {
	return float64(nanotime()) / 1e6
}

// cpuUsage is process.cpuUsage(): user and system microseconds (getrusage RUSAGE_SELF).
func cpuUsage() (user, system int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return ru.Utime.Sec*1e6 + ru.Utime.Usec, ru.Stime.Sec*1e6 + ru.Stime.Usec
}

var pageSize = int64(os.Getpagesize())

// rssBytes is process.memoryUsage.rss(): resident pages (/proc/self/statm) × page size.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.ParseInt(f[1], 10, 64)
	return n * pageSize
}

// appendNum writes a JSON number; NaN and ±Infinity (which JSON cannot carry) as null. loadgen.ts
// turns null back into NaN where worker.ts sends NaN.
func appendNum(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
