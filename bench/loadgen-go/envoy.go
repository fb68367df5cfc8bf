package main

// A simulated Envoy (worker.ts SimEnvoy): CDS wildcard → EDS for the clusters received → LDS
// wildcard once clusters are warm → RDS for the route configurations the listeners name → SDS
// for the secrets clusters and listeners name; every response is ACKed at once and the
// subscriptions follow the references. Everything here runs under mu (main.go).

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

const (
	cds = 0
	eds = 1
	lds = 2
	rds = 3
	sds = 4
)

var typeURLs = [5]string{
	"type.googleapis.com/envoy.config.cluster.v3.Cluster",
	"type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
	"type.googleapis.com/envoy.config.listener.v3.Listener",
	"type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
	"type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
}

func typeIndex(url string) int {
	for i, u := range typeURLs {
		if u == url {
			return i
		}
	}
	return -1
}

// refSummary: what clusters (CDS) or listeners (LDS) refer to, as sorted name lists.
type refSummary struct {
	names   []string // EDS names (clusters) or RDS names (listeners)
	secrets []string
}

var noRefs = &refSummary{}

func sortedSet(set map[string]struct{}) []string {
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// refIndex: what a Delta proxy's held clusters (or listeners) refer to, counted per name, so a
// response changing k resources costs O(k), as it does in Envoy: the sorted summary is rebuilt
// only when a name is first referred to or no longer referred to. (Rebuilding it from every
// held resource on each response cost S5's 10 000-cluster clients ~5 ms each before they ACKed,
// which the change's time then charged to the server.)
type refIndex struct {
	isCDS   bool
	held    map[string]*refs
	names   map[string]int
	secrets map[string]int
	summary *refSummary
	dirty   bool
}

func newRefIndex(isCDS bool) *refIndex {
	return &refIndex{isCDS: isCDS, held: map[string]*refs{}, names: map[string]int{}, secrets: map[string]int{}, summary: noRefs}
}

func count(m map[string]int, keys []string, by int) bool {
	changed := false
	for _, k := range keys {
		n := m[k] + by
		if n <= 0 {
			delete(m, k)
			changed = true
		} else {
			if n == by {
				changed = true
			}
			m[k] = n
		}
	}
	return changed
}

func (x *refIndex) count(r *refs, by int) {
	src := r.routes
	if x.isCDS {
		src = r.endpoints
	}
	if count(x.names, src, by) {
		x.dirty = true
	}
	if count(x.secrets, r.secrets, by) {
		x.dirty = true
	}
}

func (x *refIndex) put(name string, r *refs) {
	old, had := x.held[name]
	if had && old == r {
		return
	}
	x.held[name] = r
	// The new references first: a name both refer to never drops to zero (a changed cluster
	// naming the same endpoints keeps the summary).
	x.count(r, 1)
	if had {
		x.count(old, -1)
	}
}

func (x *refIndex) remove(name string) {
	if old, had := x.held[name]; had {
		delete(x.held, name)
		x.count(old, -1)
	}
}

// current: the sorted summary (the same pointer until a name comes or goes).
func (x *refIndex) current() *refSummary {
	if x.dirty {
		x.summary = &refSummary{names: sortedKeys(x.names), secrets: sortedKeys(x.secrets)}
		x.dirty = false
	}
	return x.summary
}

// summarize: the references of a whole set (SotW).
func summarize(list []*refs, isCDS bool) *refSummary {
	x := newRefIndex(isCDS)
	for _, r := range list {
		x.count(r, 1)
	}
	x.dirty = true
	return x.current()
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Responses are shared by many simulated proxies (same resources, same content-hash
// versions), so their references are worked out once per worker: SotW by (type,
// version_info), Delta by (type, resource name, resource version).
type sotwKey struct {
	t       int
	version string
}
type deltaKey struct {
	t             int
	name, version string
}

var (
	sotwRefCache  = map[sotwKey]*refSummary{}
	deltaRefCache = map[deltaKey]*refs{}
)

func sameSorted(a, b []string) bool { return slices.Equal(a, b) }

func mergeSorted(a, b []string) []string {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	set := map[string]struct{}{}
	for _, n := range a {
		set[n] = struct{}{}
	}
	for _, n := range b {
		set[n] = struct{}{}
	}
	return sortedSet(set)
}

type endStatus struct {
	code    int
	details string
}

type simEnvoy struct {
	spec      nodeSpec
	node      []byte
	nodeSent  bool
	requested [5]bool
	subs      [5][]string // current subscription (sorted) of EDS, RDS and SDS; CDS and LDS are wildcard
	awaiting  [5]bool
	acked     [5]string // version
	lastNonce [5]string
	cdsRefs   *refSummary
	ldsRefs   *refSummary
	clusters  *refIndex // Delta: what the held clusters / listeners refer to
	listeners *refIndex
	rounds    []int32 // markers (churn): last round seen per marked name

	// figures
	connectAt    float64
	syncedAt     float64
	firstAck     [5]float64
	acks         [5]int
	bytes        int
	responses    int
	winLastAck   [5]float64
	winAcks      [5]int
	winBytes     int
	ended        *endStatus
	satisfiedFor int

	// transport (conn.go)
	target  string // fixed at connect(): a pooled worker's next init must not change a closing connection's
	headers []byte
	pend    []byte // gRPC-framed requests not yet handed to the connection
	closed  bool
	conn    *h2conn
}

func newSimEnvoy(spec nodeSpec) *simEnvoy {
	e := &simEnvoy{spec: spec, node: encodeNode(&spec), cdsRefs: noRefs, ldsRefs: noRefs, connectAt: math.NaN(), syncedAt: math.NaN(), satisfiedFor: -1}
	for t := range 5 {
		e.firstAck[t] = math.NaN()
		e.winLastAck[t] = math.NaN()
	}
	if markers != nil {
		e.rounds = make([]int32, len(markers.spec.Names))
		for i := range e.rounds {
			e.rounds[i] = -1
		}
	}
	return e
}

func (e *simEnvoy) connect() {
	e.connectAt = nowMs()
	e.target, e.headers = target, headerBlock
	e.request(cds, []string{})
	startConn(e)
}

// write queues one gRPC message (5-byte prefix + body) for the connection.
func (e *simEnvoy) writeMsg(build func(b []byte) []byte) {
	at := len(e.pend)
	e.pend = append(e.pend, 0, 0, 0, 0, 0)
	e.pend = build(e.pend)
	n := len(e.pend) - at - 5
	e.pend[at+1], e.pend[at+2], e.pend[at+3], e.pend[at+4] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
}

// request subscribes type t to names (sorted; [] = wildcard for CDS/LDS).
func (e *simEnvoy) request(t int, names []string) {
	first := !e.requested[t]
	old := e.subs[t]
	var node []byte
	if !e.nodeSent {
		node = e.node
	}
	e.nodeSent = true
	if mode == "sotw" {
		version, nonce := e.acked[t], e.lastNonce[t]
		e.writeMsg(func(b []byte) []byte { return appendSotwRequest(b, node, typeURLs[t], version, names, nonce) })
		// A first request is always answered; a changed one when it adds names.
		adds := false
		if !first {
			oldSet := make(map[string]struct{}, len(old))
			for _, n := range old {
				oldSet[n] = struct{}{}
			}
			for _, n := range names {
				if _, ok := oldSet[n]; !ok {
					adds = true
					break
				}
			}
		}
		e.awaiting[t] = first || adds
	} else {
		oldSet := make(map[string]struct{}, len(old))
		for _, n := range old {
			oldSet[n] = struct{}{}
		}
		newSet := make(map[string]struct{}, len(names))
		for _, n := range names {
			newSet[n] = struct{}{}
		}
		var subscribe, unsubscribe []string
		for _, n := range names {
			if _, ok := oldSet[n]; !ok {
				subscribe = append(subscribe, n)
			}
		}
		for _, n := range old {
			if _, ok := newSet[n]; !ok {
				unsubscribe = append(unsubscribe, n)
			}
		}
		e.writeMsg(func(b []byte) []byte { return appendDeltaRequest(b, node, typeURLs[t], subscribe, unsubscribe, "") })
		e.awaiting[t] = first || len(subscribe) > 0
	}
	e.requested[t] = true
	e.subs[t] = names
}

func bodyOf(r *resource) anyRef {
	if !r.any.ok {
		panic(fmt.Errorf("TypeError: resource %q has no body", r.name))
	}
	return r.any
}

// sotwRefs: SotW CDS/LDS, the references of the whole set, from the cache when this version was seen.
func (e *simEnvoy) sotwRefs(ti int, buf []byte, version string) *refSummary {
	key := sotwKey{ti, version}
	if version != "" {
		if hit := sotwRefCache[key]; hit != nil {
			return hit
		}
	}
	res := decodeSotwResponse(buf, true)
	list := make([]*refs, len(res.resources))
	for i := range res.resources {
		a := bodyOf(&res.resources[i])
		if ti == cds {
			list[i] = clusterRefs(buf, a.start, a.end)
		} else {
			list[i] = listenerRefs(buf, a.start, a.end)
		}
	}
	sum := summarize(list, ti == cds)
	if version != "" {
		if len(sotwRefCache) > 50_000 {
			clear(sotwRefCache)
		}
		sotwRefCache[key] = sum
	}
	return sum
}

// onResponse handles one response; a panic (malformed input) is reported like worker.ts's catch.
func (e *simEnvoy) onResponse(buf []byte) {
	defer func() {
		if p := recover(); p != nil {
			sendError(fmt.Sprintf("%s: %v", e.spec.id, p))
		}
	}()
	t0 := nowMs()
	lastActivity = t0
	ti := typeIndex(peekTypeURL(buf))
	if ti < 0 {
		return
	}
	withMarkers := ti == eds && e.rounds != nil
	var res decoded
	if mode == "sotw" {
		res = decodeSotwResponse(buf, withMarkers)
		if ti == cds {
			e.cdsRefs = e.sotwRefs(ti, buf, res.version)
		} else if ti == lds {
			e.ldsRefs = e.sotwRefs(ti, buf, res.version)
		}
	} else {
		res = decodeDeltaResponse(buf, ti == cds || ti == lds || withMarkers)
		if ti == cds || ti == lds {
			var held *refIndex
			if ti == cds {
				if e.clusters == nil {
					e.clusters = newRefIndex(true)
				}
				held = e.clusters
			} else {
				if e.listeners == nil {
					e.listeners = newRefIndex(false)
				}
				held = e.listeners
			}
			for i := range res.resources {
				r := &res.resources[i]
				key := deltaKey{ti, r.name, r.version}
				var rf *refs
				if r.version != "" {
					rf = deltaRefCache[key]
				}
				if rf == nil {
					a := bodyOf(r)
					if ti == cds {
						rf = clusterRefs(buf, a.start, a.end)
					} else {
						rf = listenerRefs(buf, a.start, a.end)
					}
					if r.version != "" {
						if len(deltaRefCache) > 50_000 {
							clear(deltaRefCache)
						}
						deltaRefCache[key] = rf
					}
				}
				held.put(r.name, rf)
			}
			for _, n := range res.removed {
				held.remove(n)
			}
			if ti == cds {
				e.cdsRefs = held.current()
			} else {
				e.ldsRefs = held.current()
			}
		}
	}
	e.bytes += len(buf)
	e.responses++
	// ACK at once.
	if mode == "sotw" {
		names := e.subs[ti]
		e.writeMsg(func(b []byte) []byte { return appendSotwRequest(b, nil, res.typeURL, res.version, names, res.nonce) })
	} else {
		e.writeMsg(func(b []byte) []byte { return appendDeltaRequest(b, nil, res.typeURL, nil, nil, res.nonce) })
	}
	e.acked[ti] = res.version
	e.lastNonce[ti] = res.nonce
	e.awaiting[ti] = false
	t := nowMs()
	if e.acks[ti] == 0 {
		e.firstAck[ti] = t
	}
	e.acks[ti]++
	if t0 >= windowSince {
		e.winLastAck[ti] = t
		e.winAcks[ti]++
		e.winBytes += len(buf)
	}
	if withMarkers && markers != nil {
		markers.observe(e.rounds, buf, &res, t)
	}
	e.followReferences()
	if math.IsNaN(e.syncedAt) && e.isSynced() {
		e.syncedAt = t
	}
	if awaitState != nil && e.satisfiedFor != awaitState.id && e.satisfies(awaitState.mask) {
		e.satisfiedFor = awaitState.id
		awaitState.satisfied++
		if awaitState.satisfied == len(envoys) {
			sendSatisfied(awaitState.id, t)
		}
	}
}

// followReferences subscribes to what the clusters and listeners now name, in Envoy's order.
func (e *simEnvoy) followReferences() {
	want := func(t int, names []string) {
		if !e.requested[t] {
			if len(names) > 0 {
				e.request(t, names)
			}
		} else if !sameSorted(names, e.subs[t]) {
			e.request(t, names)
		}
	}
	if e.acks[cds] > 0 {
		want(eds, e.cdsRefs.names)
	}
	// LDS once the clusters are warm (their endpoints arrived), like Envoy's init sequence.
	if !e.requested[lds] && e.acks[cds] > 0 && (!e.requested[eds] || e.acks[eds] > 0) {
		e.request(lds, []string{})
	}
	if e.acks[lds] > 0 {
		want(rds, e.ldsRefs.names)
	}
	if e.acks[cds] > 0 {
		want(sds, mergeSorted(e.cdsRefs.secrets, e.ldsRefs.secrets))
	}
}

func (e *simEnvoy) isSynced() bool {
	if !e.requested[lds] {
		return false
	}
	for t := range 5 {
		if e.awaiting[t] {
			return false
		}
		if e.requested[t] && e.acks[t] == 0 {
			return false
		}
	}
	return true
}

// satisfies: every type of mask ACKed in the window and nothing awaited (mask 0: synced).
func (e *simEnvoy) satisfies(mask int) bool {
	if mask == 0 {
		return !math.IsNaN(e.syncedAt)
	}
	for t := range 5 {
		if e.awaiting[t] {
			return false
		}
		if mask&(1<<t) != 0 && e.winAcks[t] == 0 {
			return false
		}
	}
	return true
}

func (e *simEnvoy) resetWindow() {
	for t := range 5 {
		e.winLastAck[t] = math.NaN()
		e.winAcks[t] = 0
	}
	e.winBytes = 0
}

func appendNums(b []byte, v []float64) []byte {
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendNum(b, x)
	}
	return append(b, ']')
}

func appendInts(b []byte, v []int) []byte {
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(x), 10)
	}
	return append(b, ']')
}

// appendReport writes the ClientReport (protocol.ts) as JSON; NaN as null.
func (e *simEnvoy) appendReport(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, e.spec.id)
	b = append(b, `,"connectAt":`...)
	b = appendNum(b, e.connectAt)
	b = append(b, `,"syncedAt":`...)
	b = appendNum(b, e.syncedAt)
	b = append(b, `,"firstAck":`...)
	b = appendNums(b, e.firstAck[:])
	b = append(b, `,"acks":`...)
	b = appendInts(b, e.acks[:])
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, int64(e.bytes), 10)
	b = append(b, `,"responses":`...)
	b = strconv.AppendInt(b, int64(e.responses), 10)
	b = append(b, `,"winLastAck":`...)
	b = appendNums(b, e.winLastAck[:])
	b = append(b, `,"winAcks":`...)
	b = appendInts(b, e.winAcks[:])
	b = append(b, `,"winBytes":`...)
	b = strconv.AppendInt(b, int64(e.winBytes), 10)
	b = append(b, `,"ended":`...)
	if e.ended == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"code":`...)
		b = strconv.AppendInt(b, int64(e.ended.code), 10)
		b = append(b, `,"details":`...)
		b = appendJSONString(b, e.ended.details)
		b = append(b, '}')
	}
	return append(b, '}')
}

func (e *simEnvoy) close() {
	e.closed = true
	if e.conn != nil {
		e.conn.close()
	}
}
