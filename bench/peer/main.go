// The benchmark peer: go-control-plane's snapshot cache and ADS server, serving the snapshots
// that meshgate exported (bench/peer/README.md describes the format).
//
//	peer --listen 127.0.0.1:0 --snapshots DIR --control 127.0.0.1:0
//
// On start it loads DIR (if given), then prints one JSON line on stdout:
//
//	{"event":"listening","port":N,"controlPort":M}
//
// The control endpoint: POST /load?dir=DIR loads another export and answers after
// SetSnapshot returned for every node (with &stage=1 it only reads and decodes it, and
// POST /apply then sets it); GET /healthz; GET /stats; GET /snapshot?node=ID.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/log"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/config"
	"github.com/envoyproxy/go-control-plane/pkg/server/sotw/v3"
	xds "github.com/envoyproxy/go-control-plane/pkg/server/v3"

	// The resource types meshgate serves, and every message type its resources embed in an
	// Any (typed_config, typed_extension_protocol_options, access loggers), so that each is
	// registered in protoregistry.GlobalTypes.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/grpc/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

// The five types meshgate serves, in its ADS order. Every snapshot carries all five, each
// with a version (an empty type gets the version of an empty list, as in meshgate), so a
// wildcard request for a type with no resources still gets an (empty) answer.
var servedTypes = []string{
	resource.ClusterType,
	resource.EndpointType,
	resource.ListenerType,
	resource.RouteType,
	resource.SecretType,
}

// ---- export format ----

type exportFile struct {
	Groups []exportGroup `json:"groups"`
}

type exportGroup struct {
	Group     string           `json:"group"`
	NodeIDs   []string         `json:"nodeIds"`
	Version   string           `json:"version"`
	Resources []exportResource `json:"resources"`
}

type exportResource struct {
	TypeURL string `json:"typeUrl"`
	Name    string `json:"name"`
	Version string `json:"version"`
	Value   []byte `json:"value"` // base64 in JSON (encoding/json decodes standard base64)
}

// ---- versions, as meshgate computes them (src/xds/snapshot.ts versionOf, resource.ts contentHash) ----

// contentHash: sha256 over the parts, base64url without padding, first 22 characters.
func contentHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))[:22]
}

type nameVersion struct{ name, version string }

// typeVersion: the hash of "name\0version\n" over the resources sorted by name; an empty
// list has contentHash(""). (meshgate sorts by UTF-16 code units, Go by bytes: the same
// order for the ASCII names meshgate generates.)
func typeVersion(list []nameVersion) string {
	if len(list) == 0 {
		return contentHash("")
	}
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	var b strings.Builder
	for _, r := range list {
		b.WriteString(r.name)
		b.WriteByte(0)
		b.WriteString(r.version)
		b.WriteByte('\n')
	}
	return contentHash(b.String())
}

// ---- loading ----

type loadResult struct {
	Dir       string `json:"dir"`
	Groups    int    `json:"groups"`
	Nodes     int    `json:"nodes"`
	Resources int    `json:"resources"` // over all groups
	Distinct  int    `json:"distinct"`  // distinct decoded messages (shared across groups)
	Removed   int    `json:"removed"`   // nodes of the previous export that this one lacks (snapshot cleared)
	// With --check-bytes, over distinct resources: how many re-encode (Go, deterministic) to
	// other bytes than the export's, and the total sizes either way.
	Mismatch     int     `json:"bytesMismatch,omitempty"`
	ExportBytes  int     `json:"exportBytes,omitempty"`
	EncodedBytes int     `json:"encodedBytes,omitempty"`
	ReadMs       float64 `json:"readMs"`
	DecodeMs     float64 `json:"decodeMs"`
	SetMs        float64 `json:"setMs"`
	// When the SetSnapshot loop started and ended (Unix time, ms), to align with a client's clock.
	SetStart float64 `json:"setStart,omitempty"`
	SetEnd   float64 `json:"setEnd,omitempty"`
	Staged   bool    `json:"staged,omitempty"`
}

type internKey struct{ typeURL, name, version string }

type interned struct {
	raw []byte
	msg types.Resource
	// go-control-plane's delta version of the message: HashResource(MarshalResource(msg)),
	// exactly what Snapshot.ConstructVersionMap computes, once per distinct message.
	deltaVersion string
}

// buildSnapshots decodes an export into one go-control-plane snapshot per group. Equal
// resources (same type, name, version and bytes) in several groups decode to one shared
// message, as meshgate shares one encoded resource across groups.
func buildSnapshots(ex *exportFile, checkBytes bool) (map[string]*cache.Snapshot, *loadResult, error) {
	res := &loadResult{Groups: len(ex.Groups)}
	seenNode := map[string]string{}
	seenGroup := map[string]bool{}
	pool := map[internKey]*interned{}
	out := make(map[string]*cache.Snapshot, len(ex.Groups))
	for gi := range ex.Groups {
		g := &ex.Groups[gi]
		if g.Group == "" {
			return nil, nil, fmt.Errorf("group %d has no name", gi)
		}
		if seenGroup[g.Group] {
			return nil, nil, fmt.Errorf("group %q appears twice", g.Group)
		}
		seenGroup[g.Group] = true
		for _, n := range g.NodeIDs {
			if other, ok := seenNode[n]; ok {
				return nil, nil, fmt.Errorf("node id %q is in groups %q and %q", n, other, g.Group)
			}
			seenNode[n] = g.Group
		}
		items := map[string]map[string]types.ResourceWithTTL{}
		lists := map[string][]nameVersion{}
		deltaVersions := map[string]map[string]string{}
		for _, t := range servedTypes {
			items[t] = map[string]types.ResourceWithTTL{}
			deltaVersions[t] = map[string]string{}
		}
		for ri := range g.Resources {
			r := &g.Resources[ri]
			byName, ok := items[r.TypeURL]
			if !ok {
				return nil, nil, fmt.Errorf("group %q: resource %q has unsupported type %q", g.Group, r.Name, r.TypeURL)
			}
			if _, dup := byName[r.Name]; dup {
				return nil, nil, fmt.Errorf("group %q: duplicate %s %q", g.Group, r.TypeURL, r.Name)
			}
			k := internKey{r.TypeURL, r.Name, r.Version}
			e := pool[k]
			if e != nil && !bytes.Equal(e.raw, r.Value) {
				return nil, nil, fmt.Errorf("group %q: %s %q version %q: different bytes than in another group", g.Group, r.TypeURL, r.Name, r.Version)
			}
			if e == nil {
				msg, err := decode(r.TypeURL, r.Value)
				if err != nil {
					return nil, nil, fmt.Errorf("group %q: %s %q: %w", g.Group, r.TypeURL, r.Name, err)
				}
				if got := cache.GetResourceName(msg); got != r.Name {
					return nil, nil, fmt.Errorf("group %q: %s %q: the message names itself %q", g.Group, r.TypeURL, r.Name, got)
				}
				again, err := cache.MarshalResource(msg)
				if err != nil {
					return nil, nil, fmt.Errorf("group %q: %s %q: %w", g.Group, r.TypeURL, r.Name, err)
				}
				if checkBytes {
					if !bytes.Equal(again, r.Value) {
						res.Mismatch++
					}
					res.ExportBytes += len(r.Value)
					res.EncodedBytes += len(again)
				}
				e = &interned{raw: r.Value, msg: msg, deltaVersion: cache.HashResource(again)}
				pool[k] = e
			}
			byName[r.Name] = types.ResourceWithTTL{Resource: e.msg}
			lists[r.TypeURL] = append(lists[r.TypeURL], nameVersion{r.Name, r.Version})
			deltaVersions[r.TypeURL][r.Name] = e.deltaVersion
			res.Resources++
		}
		snap := &cache.Snapshot{}
		for _, t := range servedTypes {
			// Per-type versions (meshgate's), not one snapshot-wide version: a watch is answered
			// only when its type's version differs from what the proxy holds, so a change of one
			// type does not resend the others.
			snap.Resources[cache.GetResponseType(t)] = cache.Resources{Version: typeVersion(lists[t]), Items: items[t]}
		}
		// Delta: the per-resource versions go-control-plane tracks and sends (hex sha256 of each
		// resource's deterministic encoding). Set here, as ConstructVersionMap would compute them
		// (it leaves a non-nil map alone), once per distinct resource instead of once per group,
		// and at load rather than lazily on the first delta watch under the cache's lock.
		snap.VersionMap = deltaVersions
		out[g.Group] = snap
		res.Nodes += len(g.NodeIDs)
	}
	res.Distinct = len(pool)
	return out, res, nil
}

func decode(typeURL string, value []byte) (types.Resource, error) {
	mt, err := protoregistry.GlobalTypes.FindMessageByURL(typeURL)
	if err != nil {
		return nil, err
	}
	msg := mt.New().Interface()
	if err := proto.Unmarshal(value, msg); err != nil {
		return nil, err
	}
	return msg, nil
}

// peer holds the cache and the node ids it serves.
type peer struct {
	cache      cache.SnapshotCache
	checkBytes bool
	mu         sync.Mutex // one load at a time
	nodes      map[string]struct{}
	staged     *prepared
	last       *loadResult
	stats      counters
}

// prepared is an export read and decoded into snapshots, not yet set in the cache.
type prepared struct {
	groups []groupNodes
	res    *loadResult
}

type groupNodes struct {
	snap  *cache.Snapshot
	nodes []string
}

// prepare reads and decodes an export (everything but SetSnapshot).
func (p *peer) prepare(dir string) (*prepared, error) {
	t0 := time.Now()
	file := filepath.Join(dir, "snapshots.json")
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	var ex exportFile
	err = json.NewDecoder(bufio.NewReaderSize(f, 1<<20)).Decode(&ex)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	t1 := time.Now()
	snaps, res, err := buildSnapshots(&ex, p.checkBytes)
	if err != nil {
		return nil, err
	}
	pr := &prepared{res: res}
	for _, g := range ex.Groups {
		pr.groups = append(pr.groups, groupNodes{snap: snaps[g.Group], nodes: g.NodeIDs})
	}
	res.Dir = dir
	res.ReadMs = ms(t1.Sub(t0))
	res.DecodeMs = ms(time.Since(t1))
	// Drop the export (JSON, bytes) now, so memory measured while serving is the cache's.
	ex = exportFile{}
	debug.FreeOSMemory()
	return pr, nil
}

// apply sets every node's snapshot; it returns after SetSnapshot returned for each (that is,
// after go-control-plane queued a response on every open watch whose type version changed).
func (p *peer) apply(pr *prepared) (*loadResult, error) {
	res := pr.res
	ctx := context.Background()
	t0 := time.Now()
	next := make(map[string]struct{}, res.Nodes)
	for _, g := range pr.groups {
		for _, n := range g.nodes {
			if err := p.cache.SetSnapshot(ctx, n, g.snap); err != nil {
				return nil, fmt.Errorf("SetSnapshot %q: %w", n, err)
			}
			next[n] = struct{}{}
		}
	}
	for n := range p.nodes {
		if _, ok := next[n]; !ok {
			// A node no longer in the export has no configuration: forget its snapshot (and the
			// cache's state for it; its open streams keep what they have).
			p.cache.ClearSnapshot(n)
			res.Removed++
		}
	}
	t1 := time.Now()
	p.nodes = next
	res.SetMs = ms(t1.Sub(t0))
	res.SetStart = float64(t0.UnixMicro()) / 1000
	res.SetEnd = float64(t1.UnixMicro()) / 1000
	res.Staged = false
	p.last = res
	return res, nil
}

// load = prepare + apply; with stage, only prepare (POST /apply sets it later).
func (p *peer) load(dir string, stage bool) (*loadResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr, err := p.prepare(dir)
	if err != nil {
		return nil, err
	}
	if stage {
		p.staged = pr
		pr.res.Staged = true
		return pr.res, nil
	}
	p.staged = nil
	return p.apply(pr)
}

func (p *peer) applyStaged() (*loadResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.staged == nil {
		return nil, errors.New("nothing staged (POST /load?dir=DIR&stage=1 first)")
	}
	pr := p.staged
	p.staged = nil
	return p.apply(pr)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// ---- counters (atomic; the callbacks run on every request and response) ----

type counters struct {
	sotwStreams, deltaStreams     atomic.Int64 // open now
	requests, responses, nacks    atomic.Int64
	deltaRequests, deltaResponses atomic.Int64
}

func (p *peer) callbacks(logger *levelLogger) xds.Callbacks {
	s := &p.stats
	return xds.CallbackFuncs{
		StreamOpenFunc:        func(context.Context, int64, string) error { s.sotwStreams.Add(1); return nil },
		StreamClosedFunc:      func(int64, *core.Node) { s.sotwStreams.Add(-1) },
		DeltaStreamOpenFunc:   func(context.Context, int64, string) error { s.deltaStreams.Add(1); return nil },
		DeltaStreamClosedFunc: func(int64, *core.Node) { s.deltaStreams.Add(-1) },
		StreamRequestFunc: func(id int64, r *discoverygrpc.DiscoveryRequest) error {
			s.requests.Add(1)
			if r.GetErrorDetail() != nil {
				s.nacks.Add(1)
				logger.Warnf("NACK stream %d %s version %q: %s", id, r.GetTypeUrl(), r.GetVersionInfo(), r.GetErrorDetail().GetMessage())
			}
			return nil
		},
		StreamResponseFunc: func(context.Context, int64, *discoverygrpc.DiscoveryRequest, *discoverygrpc.DiscoveryResponse) {
			s.responses.Add(1)
		},
		StreamDeltaRequestFunc: func(id int64, r *discoverygrpc.DeltaDiscoveryRequest) error {
			s.deltaRequests.Add(1)
			if r.GetErrorDetail() != nil {
				s.nacks.Add(1)
				logger.Warnf("NACK delta stream %d %s: %s", id, r.GetTypeUrl(), r.GetErrorDetail().GetMessage())
			}
			return nil
		},
		StreamDeltaResponseFunc: func(int64, *discoverygrpc.DeltaDiscoveryRequest, *discoverygrpc.DeltaDiscoveryResponse) {
			s.deltaResponses.Add(1)
		},
	}
}

// ---- logging ----

type levelLogger struct{ level int } // 0 debug, 1 info, 2 warn, 3 error, 4 none

func (l *levelLogger) logf(lv int, tag, format string, args ...interface{}) {
	if lv >= l.level {
		fmt.Fprintf(os.Stderr, "%s %s %s\n", time.Now().Format(time.RFC3339Nano), tag, fmt.Sprintf(format, args...))
	}
}
func (l *levelLogger) Debugf(f string, a ...interface{}) { l.logf(0, "debug", f, a...) }
func (l *levelLogger) Infof(f string, a ...interface{})  { l.logf(1, "info", f, a...) }
func (l *levelLogger) Warnf(f string, a ...interface{})  { l.logf(2, "warn", f, a...) }
func (l *levelLogger) Errorf(f string, a ...interface{}) { l.logf(3, "error", f, a...) }

var _ log.Logger = (*levelLogger)(nil)

func parseLevel(s string) (int, error) {
	switch s {
	case "debug":
		return 0, nil
	case "info":
		return 1, nil
	case "warn":
		return 2, nil
	case "error":
		return 3, nil
	case "none", "silent":
		return 4, nil
	}
	return 0, fmt.Errorf("unknown log level %q (debug, info, warn, error, none)", s)
}

// ---- control endpoint ----

func writeJSON(w http.ResponseWriter, code int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (p *peer) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/load", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "POST /load?dir=DIR"})
			return
		}
		dir := r.URL.Query().Get("dir")
		if dir == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "missing ?dir="})
			return
		}
		res, err := p.load(dir, r.URL.Query().Get("stage") == "1")
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
	// Set the snapshots of the export staged by POST /load?dir=DIR&stage=1: times only the
	// cache update, without reading and decoding the export.
	mux.HandleFunc("/apply", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "POST /apply"})
			return
		}
		res, err := p.applyStaged()
		if err != nil {
			writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		last := p.last
		p.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]interface{}{"ok": true, "loaded": last})
	})
	// What the cache holds for one node: per type, the version SotW responses carry and, per
	// resource, the version Delta responses carry (go-control-plane's hash); with json=1 also
	// each resource as proto3 JSON (proto field names, as Envoy's /config_dump prints them).
	mux.HandleFunc("/snapshot", func(w http.ResponseWriter, r *http.Request) {
		node := r.URL.Query().Get("node")
		withJSON := r.URL.Query().Get("json") == "1"
		s, err := p.cache.GetSnapshot(node)
		if err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		out := map[string]interface{}{}
		for _, t := range servedTypes {
			names := map[string]string{}
			bodies := map[string]json.RawMessage{}
			for n, m := range s.GetResources(t) {
				names[n] = s.GetVersionMap(t)[n]
				if withJSON {
					b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
					if err != nil {
						writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
						return
					}
					bodies[n] = b
				}
			}
			entry := map[string]interface{}{"version": s.GetVersion(t), "resources": names}
			if withJSON {
				entry["json"] = bodies
			}
			out[t] = entry
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		s := &p.stats
		writeJSON(w, http.StatusOK, map[string]interface{}{
			"sotwStreams":    s.sotwStreams.Load(),
			"deltaStreams":   s.deltaStreams.Load(),
			"requests":       s.requests.Load(),
			"responses":      s.responses.Load(),
			"deltaRequests":  s.deltaRequests.Load(),
			"deltaResponses": s.deltaResponses.Load(),
			"nacks":          s.nacks.Load(),
			"goroutines":     runtime.NumGoroutine(),
			"gomaxprocs":     runtime.GOMAXPROCS(0),
			"heapAlloc":      m.HeapAlloc,
			"heapInuse":      m.HeapInuse,
			"sys":            m.Sys,
			"numGC":          m.NumGC,
			"pauseTotalNs":   m.PauseTotalNs,
		})
	})
	return mux
}

// ---- main ----

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "xDS (gRPC) listen address HOST:PORT")
	snapshots := flag.String("snapshots", "", "export directory (containing snapshots.json) to load at start")
	control := flag.String("control", "", "control HTTP listen address HOST:PORT (POST /load?dir=DIR[&stage=1], POST /apply, GET /healthz, GET /stats, GET /snapshot?node=ID); none if empty")
	ordered := flag.Bool("ordered-ads", false, "go-control-plane's strictly ordered SotW ADS responder (sotw.WithOrderedADS)")
	checkBytes := flag.Bool("check-bytes", false, "at load, re-encode every decoded resource and count those whose bytes differ from the export")
	logLevel := flag.String("log", "error", "log level on stderr: debug, info, warn, error, none (go-control-plane logs a line per delta watch at info, and a warning per deferred ADS answer)")
	flag.Parse()

	lv, err := parseLevel(*logLevel)
	if err != nil {
		fatal(err)
	}
	logger := &levelLogger{level: lv}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()

	// ads=true: respond to ADS requests only when they name every resource the snapshot has
	// for the type, and answer open watches in a fixed type order on SetSnapshot.
	// IDHash: one snapshot per node id.
	p := &peer{cache: cache.NewSnapshotCache(true, cache.IDHash{}, logger), checkBytes: *checkBytes}

	if *snapshots != "" {
		res, err := p.load(*snapshots, false)
		if err != nil {
			fatal(err)
		}
		logger.Infof("loaded %s: %d groups, %d nodes, %d resources", res.Dir, res.Groups, res.Nodes, res.Resources)
		if res.Mismatch > 0 {
			logger.Warnf("%d of %d distinct resources re-encode to other bytes than the export (%d bytes exported, %d re-encoded)", res.Mismatch, res.Distinct, res.ExportBytes, res.EncodedBytes)
		}
	}

	var opts []config.XDSOption
	opts = append(opts, sotw.WithLogger(logger))
	if *ordered {
		opts = append(opts, sotw.WithOrderedADS())
	}
	srv := xds.NewServer(ctx, p.cache, p.callbacks(logger), opts...)

	grpcServer := grpc.NewServer(
		grpc.MaxRecvMsgSize(64<<20),
		grpc.MaxSendMsgSize(64<<20),
		grpc.MaxConcurrentStreams(1<<20),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Millisecond, PermitWithoutStream: true}),
	)
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(grpcServer, srv)

	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		fatal(err)
	}
	ready := map[string]interface{}{"event": "listening", "port": lis.Addr().(*net.TCPAddr).Port}

	var httpServer *http.Server
	if *control != "" {
		cl, err := net.Listen("tcp", *control)
		if err != nil {
			fatal(err)
		}
		ready["controlPort"] = cl.Addr().(*net.TCPAddr).Port
		httpServer = &http.Server{Handler: p.controlHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := httpServer.Serve(cl); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fatal(err)
			}
		}()
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- grpcServer.Serve(lis) }()

	line, _ := json.Marshal(ready)
	os.Stdout.Write(append(line, '\n'))

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		logger.Infof("%v: stopping", s)
	case err := <-serveErr:
		if err != nil {
			fatal(err)
		}
	}
	stop()
	if httpServer != nil {
		_ = httpServer.Close()
	}
	grpcServer.Stop()
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "peer: %v\n", err)
	os.Exit(1)
}
