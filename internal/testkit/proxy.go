package testkit

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy is a TCP proxy on loopback between clients and one server, for
// tests of connections that fail: told to, it cuts answers after the
// server has begun sending them, so the request was done and the client
// never hears so.
type Proxy struct {
	ln     net.Listener
	target string
	toCut  atomic.Int32 // answers still to cut
	cut    atomic.Int32 // answers cut so far
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// NewProxy listens on a free loopback port and forwards every connection
// to target (host:port). It is closed when tb ends.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.Close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is the proxy's address as an http URL.
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// CutAnswers makes the proxy cut the next n answers: when the server's
// first bytes of each arrive, they are dropped and both connections
// closed.
func (p *Proxy) CutAnswers(n int) { p.toCut.Store(int32(n)) }

// Cut is how many answers the proxy has cut so far.
func (p *Proxy) Cut() int { return int(p.cut.Load()) }

// CutAll closes every connection open through the proxy now.
func (p *Proxy) CutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(client) {
			return
		}
		p.wg.Add(1)
		go p.serve(client)
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	defer p.untrack(client)
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(server) {
		return
	}
	defer p.untrack(server)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		io.Copy(server, client)
		// The client is done sending; the answer may still come.
		if tc, ok := server.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			if p.take() {
				return // the deferred untracks close both ends
			}
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return
			}
			if tc, ok := client.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
			return
		}
	}
}

// take reports whether the answer arriving now is to be cut.
func (p *Proxy) take() bool {
	for {
		n := p.toCut.Load()
		if n <= 0 {
			return false
		}
		if p.toCut.CompareAndSwap(n, n-1) {
			p.cut.Add(1)
			return true
		}
	}
}
