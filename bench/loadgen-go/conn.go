package main

// One ADS stream on its own HTTP/2 connection (prior-knowledge h2c), per simulated Envoy.
//
// Transport choice: a raw http2.Framer + hpack over a plain net.Conn, not x/net/http2's
// Transport/ClientConn. The stream is one long POST that we only ever feed with small ACKs,
// so the ClientConn machinery (a request goroutine, a body pipe, a response-body reader, its
// own flow-control bookkeeping and locking, a write scheduler) is pure overhead multiplied
// by thousands of connections. Here each connection is one goroutine that dials, writes the
// preface, SETTINGS (64 MiB stream window, as worker.ts; push off), a connection
// WINDOW_UPDATE and one pre-encoded HEADERS block, then reads frames: DATA is split into
// gRPC messages (5-byte prefix) and handed to the simulated Envoy under the worker lock, its
// ACKs are written back from the same goroutine into a buffered writer that is flushed only
// when no complete frame is left to read. Receive windows are replenished at half, like
// nghttp2; the send side honours the server's windows and frame size.

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/url"
	"strconv"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

const (
	adsService = "/envoy.service.discovery.v3.AggregatedDiscoveryService"
	// window: Envoy's HTTP/2 windows are large (256 MiB by default); worker.ts uses 64 MiB. A
	// 64 KiB window would pace big pushes.
	window = 64 * 1024 * 1024
)

var headerBlock []byte // the request's HEADERS block (one per connection: no dynamic-table state to carry)

func buildHeaderBlock() {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	method := "StreamAggregatedResources"
	if mode == "delta" {
		method = "DeltaAggregatedResources"
	}
	for _, f := range []hpack.HeaderField{
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: "http"},
		{Name: ":authority", Value: target},
		{Name: ":path", Value: adsService + "/" + method},
		{Name: "content-type", Value: "application/grpc"},
		{Name: "te", Value: "trailers"},
		{Name: "user-agent", Value: "meshgate-bench"},
	} {
		_ = enc.WriteField(f)
	}
	headerBlock = buf.Bytes()
}

type h2conn struct {
	e  *simEnvoy
	nc net.Conn
	br *bufio.Reader
	bw *bufio.Writer
	fr *http2.Framer

	// send side (the server's windows and frame size)
	connWin, streamWin int64
	peerInitial        int64
	maxFrame           int
	backlog            []byte // gRPC bytes waiting for window
	// receive side: bytes consumed since the last WINDOW_UPDATE
	connUnacked, streamUnacked int64
	// gRPC message assembly across DATA frames
	hdr    [5]byte
	hdrN   int
	inMsg  bool
	msg    []byte
	need   int
	gotHdr bool // response headers seen
	done   bool // stream ended (trailers, reset, closed): nothing more is written
}

func startConn(e *simEnvoy) {
	go runConn(e)
}

// end records the stream's gRPC status once (not after close(), like transport.ts).
func (c *h2conn) end(code int, details string) {
	mu.Lock()
	c.endLocked(code, details)
	mu.Unlock()
}

func (c *h2conn) endLocked(code int, details string) {
	if c.done {
		return
	}
	c.done = true
	if !c.e.closed && c.e.ended == nil {
		c.e.ended = &endStatus{code, details}
	}
}

func (c *h2conn) close() {
	if c.nc != nil {
		_ = c.nc.Close()
	}
}

func runConn(e *simEnvoy) {
	c := &h2conn{e: e, connWin: 65535, streamWin: 65535, peerInitial: 65535, maxFrame: 16384}
	nc, err := net.Dial("tcp", e.target)
	if err != nil {
		c.end(14, err.Error())
		return
	}
	mu.Lock()
	if e.closed {
		mu.Unlock()
		_ = nc.Close()
		return
	}
	c.nc = nc
	e.conn = c
	first := e.pend
	e.pend = nil
	mu.Unlock()

	c.br = bufio.NewReaderSize(nc, 16<<10)
	c.bw = bufio.NewWriterSize(nc, 4<<10)
	c.fr = http2.NewFramer(c.bw, c.br)
	c.fr.SetReuseFrames()
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.MaxHeaderListSize = 1 << 20

	_, _ = c.bw.WriteString(http2.ClientPreface)
	_ = c.fr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 0}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: window})
	_ = c.fr.WriteWindowUpdate(0, window-65535)
	_ = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: e.headers, EndHeaders: true})
	c.send(first)
	_ = c.bw.Flush()

	var pend []byte
	for {
		if c.bw.Buffered() > 0 && !c.frameBuffered() {
			_ = c.bw.Flush()
		}
		f, err := c.fr.ReadFrame()
		if err != nil {
			mu.Lock()
			closed := e.closed
			mu.Unlock()
			if !closed {
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					c.end(1, "stream closed")
				} else {
					c.end(14, err.Error())
				}
			}
			_ = nc.Close()
			return
		}
		switch f := f.(type) {
		case *http2.DataFrame:
			n := int64(f.Length)
			c.connUnacked += n
			if c.connUnacked >= window/2 {
				_ = c.fr.WriteWindowUpdate(0, uint32(c.connUnacked))
				c.connUnacked = 0
			}
			if f.StreamID != 1 {
				continue
			}
			c.streamUnacked += n
			if c.streamUnacked >= window/2 && !f.StreamEnded() {
				_ = c.fr.WriteWindowUpdate(1, uint32(c.streamUnacked))
				c.streamUnacked = 0
			}
			pend = c.onData(f.Data(), pend[:0])
			c.send(pend)
			if f.StreamEnded() {
				c.end(1, "stream closed")
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID != 1 {
				continue
			}
			gs, hasStatus := "", false
			msg := ""
			for _, hf := range f.RegularFields() {
				switch hf.Name {
				case "grpc-status":
					gs, hasStatus = hf.Value, true
				case "grpc-message":
					msg = hf.Value
				}
			}
			if !c.gotHdr {
				// The response headers; grpc-status here is a trailers-only answer (an error before any message).
				c.gotHdr = true
				if hasStatus {
					code, _ := strconv.Atoi(gs)
					c.end(code, msg)
				}
			} else if f.StreamEnded() {
				code := 2
				if hasStatus {
					code, _ = strconv.Atoi(gs)
				}
				if d, err := url.PathUnescape(msg); err == nil {
					msg = d
				}
				c.end(code, msg)
			}
			if f.StreamEnded() {
				c.end(1, "stream closed")
			}
		case *http2.SettingsFrame:
			if f.IsAck() {
				continue
			}
			_ = f.ForeachSetting(func(s http2.Setting) error {
				switch s.ID {
				case http2.SettingInitialWindowSize:
					c.streamWin += int64(s.Val) - c.peerInitial
					c.peerInitial = int64(s.Val)
				case http2.SettingMaxFrameSize:
					c.maxFrame = int(s.Val)
				}
				return nil
			})
			_ = c.fr.WriteSettingsAck()
			c.sendBacklog()
		case *http2.WindowUpdateFrame:
			if f.StreamID == 0 {
				c.connWin += int64(f.Increment)
			} else if f.StreamID == 1 {
				c.streamWin += int64(f.Increment)
			}
			c.sendBacklog()
		case *http2.PingFrame:
			if !f.IsAck() {
				_ = c.fr.WritePing(true, f.Data)
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == 1 {
				if f.ErrCode == http2.ErrCodeNo {
					c.end(1, "stream closed")
				} else {
					c.end(14, "Stream closed with error code NGHTTP2_"+f.ErrCode.String())
				}
			}
		}
	}
}

// frameBuffered: a whole frame is already in the read buffer (so reading it will not block).
func (c *h2conn) frameBuffered() bool {
	n := c.br.Buffered()
	if n < 9 {
		return false
	}
	h, _ := c.br.Peek(9)
	return n >= 9+(int(h[0])<<16|int(h[1])<<8|int(h[2]))
}

// onData splits DATA into gRPC messages and hands each to the simulated Envoy; returns the
// requests (ACKs, new subscriptions) it queued, appended to out.
func (c *h2conn) onData(d []byte, out []byte) []byte {
	for len(d) > 0 {
		if !c.inMsg {
			if c.hdrN == 0 && len(d) >= 5 {
				n := int(uint32(d[1])<<24 | uint32(d[2])<<16 | uint32(d[3])<<8 | uint32(d[4]))
				if len(d)-5 >= n {
					out = c.deliver(d[5:5+n], out)
					d = d[5+n:]
					continue
				}
				c.inMsg, c.need, c.msg = true, n, make([]byte, 0, n)
				d = d[5:]
				continue
			}
			k := copy(c.hdr[c.hdrN:], d)
			c.hdrN += k
			d = d[k:]
			if c.hdrN == 5 {
				c.hdrN = 0
				n := int(uint32(c.hdr[1])<<24 | uint32(c.hdr[2])<<16 | uint32(c.hdr[3])<<8 | uint32(c.hdr[4]))
				if n == 0 {
					out = c.deliver(nil, out)
				} else {
					c.inMsg, c.need, c.msg = true, n, make([]byte, 0, n)
				}
			}
			continue
		}
		k := min(len(d), c.need-len(c.msg))
		c.msg = append(c.msg, d[:k]...)
		d = d[k:]
		if len(c.msg) == c.need {
			m := c.msg
			c.inMsg, c.msg = false, nil
			out = c.deliver(m, out)
		}
	}
	return out
}

func (c *h2conn) deliver(msg []byte, out []byte) []byte {
	mu.Lock()
	if !c.e.closed {
		c.e.onResponse(msg)
		out = append(out, c.e.pend...)
		c.e.pend = c.e.pend[:0]
	}
	mu.Unlock()
	return out
}

// send writes gRPC bytes as DATA frames within the server's windows; the rest waits.
func (c *h2conn) send(data []byte) {
	if len(data) == 0 || c.done {
		return
	}
	if len(c.backlog) > 0 {
		c.backlog = append(c.backlog, data...)
		return
	}
	c.write(data)
}

func (c *h2conn) sendBacklog() {
	if len(c.backlog) == 0 || c.done {
		return
	}
	b := c.backlog
	c.backlog = nil
	c.write(b)
}

func (c *h2conn) write(data []byte) {
	for len(data) > 0 {
		n := int64(len(data))
		n = min(n, int64(c.maxFrame), c.connWin, c.streamWin)
		if n <= 0 {
			c.backlog = append(c.backlog, data...)
			return
		}
		_ = c.fr.WriteData(1, false, data[:n])
		c.connWin -= n
		c.streamWin -= n
		data = data[n:]
	}
}
