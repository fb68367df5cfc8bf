// The load generator worker in Go: a drop-in for bench/loadgen/worker.ts. Many simulated
// Envoys in one process, each with its own HTTP/2 connection and one ADS stream (conn.go),
// SotW or Delta, in Envoy's order (envoy.go), ACKing every response at once; references are
// read from the raw responses at fixed field paths (wire.go), markers for churn (markers.go).
//
// Started by loadgen.ts with child_process.spawn(bin, [], { stdio: [..., 'ipc'],
// serialization: 'json' }): Node's IPC channel is the socket in NODE_CHANNEL_FD carrying
// newline-delimited JSON both ways; the messages are protocol.ts's ParentMsg / WorkerMsg.
// JSON has no NaN: NaN figures go out as null and loadgen.ts turns them back into NaN.
//
// Concurrency: one goroutine per connection plus this one reading commands; all simulated-
// Envoy state, the caches, the markers and the await are under mu (GOMAXPROCS is 1 when the
// runner pins the load generator to one core, so the lock is uncontended).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"
)

var (
	mu           sync.Mutex
	workerIndex  = -1
	mode         = "sotw"
	target       = ""
	markers      *markerState
	envoys       []*simEnvoy
	lastActivity float64

	// the current measurement window and await
	windowSince = math.Inf(1)
	awaitState  *awaitT
)

type awaitT struct {
	id, mask, satisfied int
}

// ---------------------------------------------------------------------------------------
// IPC

var (
	ipcMu  sync.Mutex
	ipcOut net.Conn
)

func ipcSend(b []byte) {
	ipcMu.Lock()
	defer ipcMu.Unlock()
	if ipcOut != nil {
		_, _ = ipcOut.Write(append(b, '\n'))
	}
}

func appendJSONString(b []byte, s string) []byte {
	j, _ := json.Marshal(s)
	return append(b, j...)
}

func sendSimple(ev string) {
	ipcSend(fmt.Appendf(nil, `{"ev":%q,"worker":%d}`, ev, workerIndex))
}

func sendConnected(at float64) {
	b := fmt.Appendf(nil, `{"ev":"connected","worker":%d,"at":`, workerIndex)
	ipcSend(append(appendNum(b, at), '}'))
}

func sendSatisfied(id int, at float64) {
	b := fmt.Appendf(nil, `{"ev":"satisfied","id":%d,"worker":%d,"at":`, id, workerIndex)
	ipcSend(append(appendNum(b, at), '}'))
}

func sendError(message string) {
	b := fmt.Appendf(nil, `{"ev":"error","worker":%d,"message":`, workerIndex)
	ipcSend(append(appendJSONString(b, message), '}'))
}

func sendReport(id int) {
	b := fmt.Appendf(make([]byte, 0, 256*len(envoys)+256), `{"ev":"report","id":%d,"worker":%d,"clients":[`, id, workerIndex)
	for i, e := range envoys {
		if i > 0 {
			b = append(b, ',')
		}
		b = e.appendReport(b)
	}
	user, system := cpuUsage()
	b = fmt.Appendf(b, `],"cpu":{"user":%d,"system":%d},"rss":%d,"markers":`, user, system, rssBytes())
	if markers != nil {
		b = markers.appendReport(b)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"lastActivity":`...)
	b = appendNum(b, lastActivity)
	ipcSend(append(b, '}'))
}

// parentMsg is protocol.ts's ParentMsg, every variant's fields in one struct.
type parentMsg struct {
	Cmd       string       `json:"cmd"`
	Worker    int          `json:"worker"`
	Target    string       `json:"target"`
	Mode      string       `json:"mode"`
	Transport string       `json:"transport"`
	Clients   []clientJSON `json:"clients"`
	Markers   *markerSpec  `json:"markers"`
	Since     float64      `json:"since"`
	ID        int          `json:"id"`
	Mask      int          `json:"mask"`
	From      int          `json:"from"`
	To        int          `json:"to"`
	T         float64      `json:"t"`
}

type clientJSON struct {
	ID       string     `json:"id"`
	Cluster  string     `json:"cluster"`
	Metadata orderedKVs `json:"metadata"`
}

// orderedKVs keeps a JSON object's members in document order: JSON.stringify wrote them in
// Object.entries order, the order encodeNode (wire.ts) writes them.
type orderedKVs []kv

func (o *orderedKVs) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytesReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("metadata: not an object")
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return err
		}
		var v string
		if err := dec.Decode(&v); err != nil {
			return err
		}
		*o = append(*o, kv{k.(string), v})
	}
	return nil
}

func closeAll() {
	for _, e := range envoys {
		e.close()
	}
}

func handle(msg *parentMsg) {
	mu.Lock()
	defer mu.Unlock()
	defer func() {
		if p := recover(); p != nil {
			sendError(fmt.Sprint(p))
		}
	}()
	switch msg.Cmd {
	case "reset":
		closeAll()
		envoys = nil
		markers = nil
		windowSince = math.Inf(1)
		awaitState = nil
		lastActivity = 0
		sendSimple("ready")
	case "init":
		workerIndex = msg.Worker
		mode = msg.Mode
		target = msg.Target
		if msg.Transport != "" && msg.Transport != "http2" {
			sendError(fmt.Sprintf("the Go worker has no %q transport (http2 only)", msg.Transport))
		}
		markers = nil
		if msg.Markers != nil {
			markers = newMarkerState(*msg.Markers)
		}
		clear(sotwRefCache)
		clear(deltaRefCache)
		buildHeaderBlock()
		for _, c := range msg.Clients {
			envoys = append(envoys, newSimEnvoy(nodeSpec{id: c.ID, cluster: c.Cluster, metadata: c.Metadata}))
		}
		sendSimple("ready")
	case "connect":
		for _, e := range envoys {
			e.connect()
		}
		sendConnected(nowMs())
	case "window":
		windowSince = msg.Since
		for _, e := range envoys {
			e.resetWindow()
		}
		if markers != nil {
			markers.reset()
		}
	case "await":
		awaitState = &awaitT{id: msg.ID, mask: msg.Mask}
		for _, e := range envoys {
			if e.satisfies(msg.Mask) {
				e.satisfiedFor = msg.ID
				awaitState.satisfied++
			}
		}
		if awaitState.satisfied == len(envoys) {
			sendSatisfied(msg.ID, nowMs())
		}
	case "query":
		sendReport(msg.ID)
	case "writes":
		if markers != nil {
			markers.writes(msg.From, msg.To, msg.T)
		}
	case "close":
		closeAll()
		exitSoon()
	}
}

func exitSoon() {
	stopProfile()
	ipcMu.Lock()
	if ipcOut != nil {
		_ = ipcOut.Close()
		ipcOut = nil
	}
	ipcMu.Unlock()
	go func() {
		time.Sleep(50 * time.Millisecond)
		os.Exit(0)
	}()
}

func main() {
	fd, err := strconv.Atoi(os.Getenv("NODE_CHANNEL_FD"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen-worker: no NODE_CHANNEL_FD: start me from loadgen.ts (child_process IPC, serialization json)")
		os.Exit(2)
	}
	if m := os.Getenv("NODE_CHANNEL_SERIALIZATION_MODE"); m != "" && m != "json" {
		fmt.Fprintf(os.Stderr, "loadgen-worker: IPC serialization %q: spawn me with serialization 'json'\n", m)
		os.Exit(2)
	}
	startProfile()
	f := os.NewFile(uintptr(fd), "ipc")
	conn, err := net.FileConn(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen-worker:", err)
		os.Exit(2)
	}
	_ = f.Close()
	ipcOut = conn
	dec := json.NewDecoder(bufio.NewReaderSize(conn, 1<<16))
	for {
		var msg parentMsg
		if err := dec.Decode(&msg); err != nil {
			// The parent went away (or closed the channel): close everything and exit.
			mu.Lock()
			closeAll()
			mu.Unlock()
			exitSoon()
			select {}
		}
		handle(&msg)
	}
}

// LOADGEN_CPU_PROF=DIR (as for the Node workers' --cpu-prof): a pprof CPU profile per worker
// process, DIR/loadgen-worker-PID.pprof (go tool pprof -top bin/loadgen-worker FILE).
var profFile *os.File

func startProfile() {
	dir := os.Getenv("LOADGEN_CPU_PROF")
	if dir == "" {
		return
	}
	_ = os.MkdirAll(dir, 0o755)
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("loadgen-worker-%d.pprof", os.Getpid())))
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen-worker:", err)
		return
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen-worker:", err)
		_ = f.Close()
		return
	}
	profFile = f
}

var profOnce sync.Once

func stopProfile() {
	profOnce.Do(func() {
		if profFile != nil {
			pprof.StopCPUProfile()
			_ = profFile.Close()
		}
	})
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
