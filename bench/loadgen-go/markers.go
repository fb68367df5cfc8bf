package main

// Churn staleness (worker.ts MarkerState): when each client first holds each change, read
// from marker ports in EDS. Same histogram as protocol.ts (histBucket).

import (
	"bytes"
	"math"
	"strconv"
)

const (
	histFine    = 100_000
	histBuckets = histFine + 59_000 + 1
)

// histBucket: 0.1 ms buckets below 10 s, 10 ms buckets from 10 s to 600 s, then one overflow bucket.
func histBucket(ms float64) int {
	if ms < 10_000 {
		return int(math.Floor(ms * 10))
	}
	return int(math.Min(histBuckets-1, histFine+math.Floor((ms-10_000)/10)))
}

type markerSpec struct {
	Names       []string `json:"names"`
	Base        int64    `json:"base"`
	IgnoreBelow int      `json:"ignoreBelow"`
}

type seenEntry struct {
	bytes []byte
	port  int64
}

type markerState struct {
	spec       markerSpec
	index      map[string]int
	seen       map[string]*seenEntry // last bytes seen per name in this worker, and their marker
	writeTimes []float64
	pending    []float64 // change, time pairs
	hist       []uint32
	count      int
	max        float64
	sum        float64
}

func newMarkerState(spec markerSpec) *markerState {
	m := &markerState{spec: spec, index: make(map[string]int, len(spec.Names)), seen: map[string]*seenEntry{}, hist: make([]uint32, histBuckets)}
	for i, n := range spec.Names {
		m.index[n] = i
	}
	m.writeTimes = make([]float64, 1024)
	for i := range m.writeTimes {
		m.writeTimes[i] = math.NaN()
	}
	return m
}

func (m *markerState) observe(rounds []int32, buf []byte, res *decoded, t float64) {
	n := len(m.spec.Names)
	for i := range res.resources {
		r := &res.resources[i]
		if !r.any.ok {
			continue
		}
		s, ok := m.index[r.name]
		if !ok {
			continue
		}
		body := buf[r.any.start:r.any.end]
		var port int64
		if c := m.seen[r.name]; c != nil && bytes.Equal(c.bytes, body) {
			port = c.port
		} else {
			port = maxEndpointPort(buf, r.any.start, r.any.end)
			m.seen[r.name] = &seenEntry{bytes: bytes.Clone(body), port: port}
		}
		round := int64(-1)
		if port >= m.spec.Base {
			round = port - m.spec.Base
		}
		for k := int64(rounds[s]) + 1; k <= round; k++ {
			m.record(int(k)*n+s, t)
		}
		if round > int64(rounds[s]) {
			rounds[s] = int32(round)
		}
	}
}

func (m *markerState) writeTime(change int) float64 {
	if change < len(m.writeTimes) {
		return m.writeTimes[change]
	}
	return math.NaN()
}

func (m *markerState) record(change int, t float64) {
	if change < m.spec.IgnoreBelow {
		return
	}
	w := m.writeTime(change)
	if math.IsNaN(w) {
		m.pending = append(m.pending, float64(change), t)
		return
	}
	m.add(t - w)
}

func (m *markerState) add(ms float64) {
	v := math.Max(0, ms)
	m.hist[histBucket(v)]++
	m.count++
	m.sum += v
	if v > m.max {
		m.max = v
	}
}

func (m *markerState) writes(from, to int, t float64) {
	if to > len(m.writeTimes) {
		size := len(m.writeTimes) * 2
		if to > size {
			size = to
		}
		grown := make([]float64, size)
		copy(grown, m.writeTimes)
		for i := len(m.writeTimes); i < size; i++ {
			grown[i] = math.NaN()
		}
		m.writeTimes = grown
	}
	for i := max(from, 0); i < to; i++ {
		m.writeTimes[i] = t
	}
	if len(m.pending) > 0 {
		var still []float64
		for i := 0; i < len(m.pending); i += 2 {
			c := int(m.pending[i])
			w := m.writeTime(c)
			if math.IsNaN(w) {
				still = append(still, m.pending[i], m.pending[i+1])
			} else {
				m.add(m.pending[i+1] - w)
			}
		}
		m.pending = still
	}
}

// reset starts a new measurement (the histogram; pending changes stay pending).
func (m *markerState) reset() {
	clear(m.hist)
	m.count = 0
	m.max = 0
	m.sum = 0
}

func (m *markerState) appendReport(b []byte) []byte {
	b = append(b, `{"hist":[`...)
	first := true
	for i, c := range m.hist {
		if c == 0 {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, ',')
		b = strconv.AppendUint(b, uint64(c), 10)
		b = append(b, ']')
	}
	b = append(b, `],"count":`...)
	b = strconv.AppendInt(b, int64(m.count), 10)
	b = append(b, `,"max":`...)
	b = appendNum(b, m.max)
	b = append(b, `,"sum":`...)
	b = appendNum(b, m.sum)
	b = append(b, `,"unresolved":`...)
	b = strconv.AppendInt(b, int64(len(m.pending)/2), 10)
	return append(b, '}')
}
