package main

// Just enough protobuf, ported from bench/lib/wire.ts: encode discovery requests by hand and
// read discovery responses one level deep, plus a few fixed paths into Cluster, Listener and
// ClusterLoadAssignment bodies. Nothing is unmarshalled: fields are scanned in place.
// Malformed input panics with the same messages wire.ts throws; the caller recovers.

import (
	"fmt"
	"strings"
)

// ---------------------------------------------------------------------------------------
// Writing

func appendVarint(b []byte, v uint64) []byte {
	for v > 0x7f {
		b = append(b, byte(v&0x7f)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendHeader(b []byte, field int, n int) []byte {
	b = appendVarint(b, uint64(field)*8+2)
	return appendVarint(b, uint64(n))
}

// bytesField: always written (even empty), like wire.ts bytesField.
func appendBytes(b []byte, field int, p []byte) []byte {
	return append(appendHeader(b, field, len(p)), p...)
}

func appendStrBytes(b []byte, field int, s string) []byte {
	return append(appendHeader(b, field, len(s)), s...)
}

// strField: omitted when empty.
func appendStr(b []byte, field int, s string) []byte {
	if s == "" {
		return b
	}
	return appendStrBytes(b, field, s)
}

type kv struct{ k, v string }

type nodeSpec struct {
	id       string
	cluster  string
	metadata []kv // in the order JSON.stringify wrote them (Object.entries order)
}

// encodeNode: envoy.config.core.v3.Node { id=1, cluster=2, metadata=3 (Struct), user_agent_name=6, user_agent_version=7 }.
func encodeNode(n *nodeSpec) []byte {
	var b []byte
	b = appendStr(b, 1, n.id)
	b = appendStr(b, 2, n.cluster)
	if len(n.metadata) > 0 {
		var entries []byte
		for _, e := range n.metadata {
			value := appendStr(nil, 3, e.v)                        // Value { string_value = 3 }
			entry := appendBytes(appendStr(nil, 1, e.k), 2, value) // map entry { key = 1, value = 2 }
			entries = appendBytes(entries, 1, entry)               // Struct { fields = 1 }
		}
		b = appendBytes(b, 3, entries)
	}
	b = appendStr(b, 6, "envoy")
	b = appendStr(b, 7, "1.40.0/bench")
	return b
}

// appendSotwRequest: DiscoveryRequest { version_info=1, node=2, resource_names=3, type_url=4, response_nonce=5 }.
func appendSotwRequest(b []byte, node []byte, typeURL, version string, names []string, nonce string) []byte {
	b = appendStr(b, 1, version)
	if node != nil {
		b = appendBytes(b, 2, node)
	}
	for _, n := range names {
		b = appendStrBytes(b, 3, n)
	}
	b = appendStr(b, 4, typeURL)
	return appendStr(b, 5, nonce)
}

// appendDeltaRequest: DeltaDiscoveryRequest { node=1, type_url=2, subscribe=3, unsubscribe=4, response_nonce=6 }.
func appendDeltaRequest(b []byte, node []byte, typeURL string, subscribe, unsubscribe []string, nonce string) []byte {
	if node != nil {
		b = appendBytes(b, 1, node)
	}
	b = appendStr(b, 2, typeURL)
	for _, n := range subscribe {
		b = appendStrBytes(b, 3, n)
	}
	for _, n := range unsubscribe {
		b = appendStrBytes(b, 4, n)
	}
	return appendStr(b, 6, nonce)
}

// ---------------------------------------------------------------------------------------
// Reading

// fieldReader is a cursor over one message's fields (wire.ts FieldReader). Only wire types
// 0, 1, 2 and 5 occur in xDS.
type fieldReader struct {
	buf      []byte
	pos      int
	limit    int
	field    int
	wireType int
	start    int
	end      int
	value    uint64
}

func newReader(buf []byte, from, limit int) fieldReader {
	return fieldReader{buf: buf, pos: from, limit: limit}
}

func (r *fieldReader) varint() uint64 {
	var v uint64
	var shift uint
	for {
		if r.pos >= r.limit {
			panic(rangeError("truncated varint"))
		}
		b := r.buf[r.pos]
		r.pos++
		if shift < 64 {
			v |= uint64(b&0x7f) << shift
		}
		if b < 0x80 {
			return v
		}
		shift += 7
	}
}

type rangeError string

func (e rangeError) Error() string { return "RangeError: " + string(e) }

// next advances to the next field; false at the end.
func (r *fieldReader) next() bool {
	if r.pos >= r.limit {
		return false
	}
	tag := r.varint()
	r.field = int(tag >> 3)
	r.wireType = int(tag & 7)
	switch r.wireType {
	case 0:
		r.value = r.varint()
	case 1:
		r.pos += 8
	case 2:
		n := r.varint()
		r.start = r.pos
		if n > uint64(r.limit-r.pos) {
			panic(rangeError("truncated field"))
		}
		r.end = r.pos + int(n)
		r.pos = r.end
	case 5:
		r.pos += 4
	default:
		panic(rangeError(fmt.Sprintf("unsupported wire type %d", r.wireType)))
	}
	return true
}

func (r *fieldReader) str() string { return string(r.buf[r.start:r.end]) }

// nameOf: field 1 (the name in Cluster, Listener, RouteConfiguration, Secret; cluster_name in a CLA).
func nameOf(buf []byte, start, end int) string {
	r := newReader(buf, start, end)
	for r.next() {
		if r.field == 1 && r.wireType == 2 {
			return r.str()
		}
	}
	return ""
}

type anyRef struct {
	ok         bool
	start, end int // bounds of the Any's value inside the response buffer
}

type resource struct {
	name    string
	version string
	any     anyRef
}

type decoded struct {
	typeURL   string
	version   string // version_info (SotW) or system_version_info (Delta)
	nonce     string
	resources []resource
	count     int
	removed   []string
}

func readAny(r *fieldReader) anyRef {
	a := newReader(r.buf, r.start, r.end)
	out := anyRef{ok: true}
	for a.next() {
		if a.field == 2 && a.wireType == 2 {
			out.start, out.end = a.start, a.end
		}
	}
	return out
}

// decodeSotwResponse: DiscoveryResponse { version_info=1, resources=2 (Any), type_url=4, nonce=5 }. Resources are listed only if wantNames.
func decodeSotwResponse(buf []byte, wantNames bool) decoded {
	r := newReader(buf, 0, len(buf))
	var out decoded
	for r.next() {
		if r.wireType != 2 {
			continue
		}
		switch r.field {
		case 1:
			out.version = r.str()
		case 2:
			out.count++
			if wantNames {
				a := readAny(&r)
				out.resources = append(out.resources, resource{name: nameOf(buf, a.start, a.end), any: a})
			}
		case 4:
			out.typeURL = r.str()
		case 5:
			out.nonce = r.str()
		}
	}
	return out
}

// decodeDeltaResponse: DeltaDiscoveryResponse { system_version_info=1, resources=2 (Resource{version=1, resource=2, name=3}), type_url=4, nonce=5, removed_resources=6 }.
func decodeDeltaResponse(buf []byte, wantBodies bool) decoded {
	r := newReader(buf, 0, len(buf))
	var out decoded
	for r.next() {
		if r.wireType != 2 {
			continue
		}
		switch r.field {
		case 1:
			out.version = r.str()
		case 2:
			res := newReader(buf, r.start, r.end)
			var rs resource
			for res.next() {
				if res.wireType != 2 {
					continue
				}
				switch {
				case res.field == 3:
					rs.name = res.str()
				case res.field == 1:
					rs.version = res.str()
				case res.field == 2 && wantBodies:
					rs.any = readAny(&res)
				}
			}
			out.count++
			out.resources = append(out.resources, rs)
		case 4:
			out.typeURL = r.str()
		case 5:
			out.nonce = r.str()
		case 6:
			out.removed = append(out.removed, r.str())
		}
	}
	return out
}

// peekTypeURL: the type URL of a response without decoding the rest (field 4 in both variants).
func peekTypeURL(buf []byte) string {
	pos := 0
	varint := func() (uint64, bool) {
		var v uint64
		var shift uint
		for pos < len(buf) {
			b := buf[pos]
			pos++
			if shift < 64 {
				v |= uint64(b&0x7f) << shift
			}
			if b < 0x80 {
				return v, true
			}
			shift += 7
		}
		return 0, false
	}
	for pos < len(buf) {
		tag, ok := varint()
		if !ok {
			return ""
		}
		wt := tag & 7
		if wt == 0 {
			if _, ok := varint(); !ok {
				return ""
			}
			continue
		}
		if wt != 2 {
			return ""
		}
		n, ok := varint()
		if !ok || n > uint64(len(buf)-pos) {
			return ""
		}
		if tag>>3 == 4 {
			return string(buf[pos : pos+int(n)])
		}
		pos += int(n)
	}
	return ""
}

// ---------------------------------------------------------------------------------------
// References inside resources (fixed paths, Envoy v3 field numbers)

type refs struct {
	endpoints []string
	routes    []string
	secrets   []string
}

// each calls fn for every message at path (length-delimited field numbers) under [start, end).
func each(buf []byte, start, end int, path []int, fn func(s, e int)) {
	if len(path) == 0 {
		fn(start, end)
		return
	}
	r := newReader(buf, start, end)
	for r.next() {
		if r.field == path[0] && r.wireType == 2 {
			each(buf, r.start, r.end, path[1:], fn)
		}
	}
}

var (
	pathTLSCert     = []int{6}
	pathValidation  = []int{7}
	pathCombined    = []int{8, 2}
	pathTSCommonTLS = []int{3, 2, 1}
	pathFilterChain = []int{3}
	pathFilterAny   = []int{3, 4}
	pathRds         = []int{3}
	pathTS          = []int{6}
	pathPort        = []int{2, 2, 1, 1, 1}
)

// tlsSecrets: SDS secret names in a CommonTlsContext (tls_certificate_sds_secret_configs=6, validation_context_sds_secret_config=7, combined_validation_context=8 → 2).
func tlsSecrets(buf []byte, start, end int, out *[]string) {
	name := func(s, e int) {
		if n := nameOf(buf, s, e); n != "" {
			*out = append(*out, n)
		}
	}
	each(buf, start, end, pathTLSCert, name)
	each(buf, start, end, pathValidation, name)
	each(buf, start, end, pathCombined, name)
}

// transportSocketSecrets: TransportSocket { typed_config = 3 (Any → value 2) } → *TlsContext { common_tls_context = 1 }.
func transportSocketSecrets(buf []byte, start, end int, out *[]string) {
	each(buf, start, end, pathTSCommonTLS, func(s, e int) { tlsSecrets(buf, s, e, out) })
}

// clusterRefs: Cluster { name=1, type=2 (EDS=3), eds_cluster_config=3 { service_name=2 }, transport_socket=24 }.
func clusterRefs(buf []byte, start, end int) *refs {
	r := newReader(buf, start, end)
	name, serviceName := "", ""
	eds := false
	var secrets []string
	for r.next() {
		switch {
		case r.field == 1 && r.wireType == 2:
			name = r.str()
		case r.field == 2 && r.wireType == 0:
			eds = r.value == 3
		case r.field == 3 && r.wireType == 2:
			c := newReader(buf, r.start, r.end)
			for c.next() {
				if c.field == 2 && c.wireType == 2 {
					serviceName = c.str()
				}
			}
		case r.field == 24 && r.wireType == 2:
			transportSocketSecrets(buf, r.start, r.end, &secrets)
		}
	}
	out := &refs{secrets: secrets}
	if eds {
		if serviceName != "" {
			out.endpoints = []string{serviceName}
		} else {
			out.endpoints = []string{name}
		}
	}
	return out
}

// listenerRefs: Listener { filter_chains=3 { filters=3 { typed_config=4 (Any) → HttpConnectionManager
// { rds=3 { route_config_name=2 } } }, transport_socket=6 } }. Only filters whose Any type is the
// HttpConnectionManager are looked into.
func listenerRefs(buf []byte, start, end int) *refs {
	out := &refs{}
	each(buf, start, end, pathFilterChain, func(fcS, fcE int) {
		each(buf, fcS, fcE, pathFilterAny, func(anyS, anyE int) {
			a := newReader(buf, anyS, anyE)
			typ := ""
			vs, ve := 0, 0
			for a.next() {
				if a.field == 1 && a.wireType == 2 {
					typ = a.str()
				} else if a.field == 2 && a.wireType == 2 {
					vs, ve = a.start, a.end
				}
			}
			if !strings.HasSuffix(typ, ".HttpConnectionManager") {
				return
			}
			each(buf, vs, ve, pathRds, func(rs, re int) {
				rr := newReader(buf, rs, re)
				for rr.next() {
					if rr.field == 2 && rr.wireType == 2 {
						out.routes = append(out.routes, rr.str())
					}
				}
			})
		})
		each(buf, fcS, fcE, pathTS, func(ts, te int) { transportSocketSecrets(buf, ts, te, &out.secrets) })
	})
	return out
}

// maxEndpointPort: the largest port in a ClusterLoadAssignment { endpoints=2 { lb_endpoints=2 {
// endpoint=1 { address=1 { socket_address=1 { port_value=3 } } } } } } (the churn marker); -1 if none.
func maxEndpointPort(buf []byte, start, end int) int64 {
	max := int64(-1)
	each(buf, start, end, pathPort, func(s, e int) {
		r := newReader(buf, s, e)
		for r.next() {
			if r.field == 3 && r.wireType == 0 && int64(r.value) > max {
				max = int64(r.value)
			}
		}
	})
	return max
}
