// Package httpd is a small HTTP/1.1 server (RFC 9112) for the documents a
// daemon serves about itself: GET and HEAD of generated text (status,
// metrics), streamed as they are written, to a bounded number of clients.
//
// It exists for the size of the programs that use it, not for speed: a
// program that imports net/http links its server, client, TLS and
// certificate code: 3.2 MB of text and read-only data in a small program,
// 2.7 MB in vrrpd. On a kernel that maps a file's large folios whole
// (Linux 6.18 here), nearly all of a binary's pages are resident in every
// process that runs it: 2.3-2.7 MB of the RSS of vrrpd's master at 4,094
// links (issue 12).
//
// What it does:
//   - HTTP/1.0 and HTTP/1.1 requests in origin form ("GET /path?query"),
//     keep-alive for HTTP/1.1 (pipelined requests are answered in order),
//     one response at a time per connection;
//   - responses of unknown length: chunked for HTTP/1.1, delimited by the
//     connection's close for HTTP/1.0; HEAD gets the headers only;
//   - limits: Config.MaxConns connections at once (further ones wait:
//     one accepted per listener, the rest in the listen backlog), the
//     request's header size, the time to read a request, to write a
//     response, and to wait idle between requests.
//
// What it does not: request bodies (a request with one gets 413 or 501,
// and the connection is closed), TLS, HTTP/2, compression, absolute-form
// or asterisk-form targets (400), percent-decoding (Handler sees the path
// as sent), requiring a Host header (RFC 9112 section 3.2 asks for a 400
// without one; a status socket has one host, and a hand-typed request
// is served). It has no per-client limit: a client that opens MaxConns
// connections and keeps them busy holds the server up to the read and
// idle timeouts, so bind it to a unix socket or a loopback address.
package httpd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Request is what a Handler is given.
type Request struct {
	// Method is the request's method, case-sensitive (RFC 9110 section
	// 9.1): "GET", "HEAD", ...
	Method string
	// Path is the request target up to '?', as sent (not decoded);
	// Query is what follows '?', without it.
	Path, Query string
	// Proto is "HTTP/1.0" or "HTTP/1.1".
	Proto string
	// Accept is the value of the Accept header (the first one), empty
	// without one.
	Accept string
}

// Response is a Handler's answer.
type Response struct {
	// Status is the status code; 0 means 200.
	Status int
	// ContentType is sent as the Content-Type header; empty: none.
	ContentType string
	// Allow is sent as the Allow header (RFC 9110 section 10.2.1; with
	// 405); empty: none.
	Allow string
	// Body writes the response's body; nil: no body. It is not called for
	// a HEAD request. An error from it ends the response incomplete: the
	// connection is closed without the chunked body's last chunk, so that
	// an HTTP/1.1 client sees it cut rather than a complete document (an
	// HTTP/1.0 response ends at the close, and cannot show it).
	Body func(w io.Writer) error
}

// Handler answers a request. It is called on the connection's goroutine,
// one request at a time per connection, from as many connections at once
// as Config.MaxConns.
type Handler func(r *Request) Response

// Defaults of Config's zero fields.
const (
	DefaultMaxConns       = 32
	DefaultMaxHeaderBytes = 8 << 10
	DefaultReadTimeout    = 5 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	DefaultIdleTimeout    = 10 * time.Second
)

// Config configures a Server. Its zero fields take the defaults above.
type Config struct {
	// Handler answers every request; required.
	Handler Handler
	// MaxConns is how many connections the Server serves at once, on
	// all its listeners together (DefaultMaxConns); further ones wait
	// until one closes (one accepted per listener, the rest in its
	// listen backlog).
	MaxConns int
	// MaxHeaderBytes bounds a request's line and headers together
	// (DefaultMaxHeaderBytes); a larger request gets 431 (414 when the
	// request line alone is larger) and the connection is closed.
	MaxHeaderBytes int
	// ReadTimeout bounds reading a request, from its first byte
	// (DefaultReadTimeout); WriteTimeout writing its response
	// (DefaultWriteTimeout); IdleTimeout the wait for the next request
	// on a keep-alive connection, and for the first one
	// (DefaultIdleTimeout).
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// Log gets the server's own errors, not the clients': accept
	// failures (Warn) and handler panics and invalid Responses (Error),
	// each kind at most one line a second; nil: none.
	Log *slog.Logger
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("httpd: server closed")

// Server serves HTTP on listeners (Serve) until Shutdown or Close.
type Server struct {
	cfg Config

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	wg        sync.WaitGroup // Serve loops and connections
	done      chan struct{}  // closed by Shutdown and Close
	sem       chan struct{}  // a slot per connection served (MaxConns)
	lastLog   [2]time.Time   // of logWarn, logError lines
}

// The kinds of log lines, each limited to one a second.
const (
	logWarn = iota
	logError
)

// New returns a server of cfg; it serves nothing until Serve.
func New(cfg Config) *Server {
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	return &Server{
		cfg:       cfg,
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		done:      make(chan struct{}),
		sem:       make(chan struct{}, cfg.MaxConns),
	}
}

// Serve accepts connections on l and serves each on a goroutine of its
// own, at most Config.MaxConns at once (with those of the Server's other
// listeners), until Shutdown or Close (then it returns ErrServerClosed)
// or until l fails otherwise. It closes l.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.Close()
	}()
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				// EMFILE, ENFILE and the like: wait and try again, as
				// net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log(logWarn, "accept failed; retrying", "err", err, "retry_in", backoff)
				t := time.NewTimer(backoff)
				select {
				case <-t.C:
				case <-s.done:
					t.Stop()
					return ErrServerClosed
				}
				continue
			}
			return err
		}
		backoff = 0
		// A slot, then the connection is served: beyond MaxConns, it
		// waits here, and the listener's next ones in its backlog. (A
		// slot taken before Accept would be held by a listener waiting
		// for a connection while another listener's waits.)
		select {
		case s.sem <- struct{}{}:
		case <-s.done:
			nc.Close()
			return ErrServerClosed
		}
		c := &conn{srv: s, nc: nc}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			<-s.sem
			return ErrServerClosed
		}
		s.conns[c] = struct{}{}
		c.idle = true
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() { <-s.sem }()
			c.serve()
		}()
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// log logs one of the server's errors of kind logWarn or logError, at
// most one of each kind a second.
func (s *Server) log(kind int, msg string, args ...any) {
	if s.cfg.Log == nil {
		return
	}
	s.mu.Lock()
	now := time.Now()
	if now.Sub(s.lastLog[kind]) < time.Second {
		s.mu.Unlock()
		return
	}
	s.lastLog[kind] = now
	s.mu.Unlock()
	level := slog.LevelWarn
	if kind == logError {
		level = slog.LevelError
	}
	s.cfg.Log.Log(context.Background(), level, "http server: "+msg, args...)
}

// Shutdown stops the server: its listeners close at once, idle
// connections too, and connections answering a request close once the
// response is written. It waits for every connection to end, or for ctx:
// then it closes every connection and returns ctx's error at once,
// without waiting for handlers still running (their writes fail; each
// connection's goroutine ends when its handler returns).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closeLocked()
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		if c.idle {
			c.nc.Close()
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.closeAll()
		return ctx.Err()
	}
}

// Close stops the server at once: its listeners and every connection
// close. It waits for the connections' goroutines to end, so for the
// handlers running to return.
func (s *Server) Close() error {
	s.closeAll()
	s.wg.Wait()
	return nil
}

// closeAll closes s, its listeners and every connection.
func (s *Server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeLocked()
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.nc.Close()
	}
}

// closeLocked marks s closed: Serve accepts no more.
func (s *Server) closeLocked() {
	if !s.closed {
		s.closed = true
		close(s.done)
	}
}

// conn is one client connection.
type conn struct {
	srv  *Server
	nc   net.Conn
	idle bool // waiting for a request (under srv.mu)
	date [len(timeFormat)]byte
}

// setIdle records whether c waits for a request; false when the server
// is closing and c should end instead (it is idle, or it finished a
// response).
func (c *conn) setIdle(idle bool) bool {
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	c.idle = idle
	return !c.srv.closed
}

func (c *conn) serve() {
	defer func() {
		// A handler's panic ends its connection, not the program, as
		// with net/http: a status document that cannot be written must
		// not stop the protocol.
		if p := recover(); p != nil {
			buf := make([]byte, 16<<10)
			buf = buf[:runtime.Stack(buf, false)]
			c.srv.log(logError, "panic serving a request", "client", fmt.Sprint(c.nc.RemoteAddr()), "panic", fmt.Sprint(p), "stack", string(buf))
		}
		c.nc.Close()
		c.srv.mu.Lock()
		delete(c.srv.conns, c)
		c.srv.mu.Unlock()
	}()
	cfg := &c.srv.cfg
	br := bufio.NewReaderSize(c.nc, 4<<10)
	bw := bufio.NewWriterSize(c.nc, 4<<10)
	for {
		// Wait for the request's first byte for at most IdleTimeout, then
		// for the rest of it for at most ReadTimeout.
		if !c.setIdle(true) {
			return
		}
		_ = c.nc.SetReadDeadline(time.Now().Add(cfg.IdleTimeout))
		if _, err := br.Peek(1); err != nil {
			return
		}
		if !c.setIdle(false) {
			return
		}
		_ = c.nc.SetReadDeadline(time.Now().Add(cfg.ReadTimeout))
		req, keep, perr := readRequest(br, cfg.MaxHeaderBytes)
		_ = c.nc.SetWriteDeadline(time.Now().Add(cfg.WriteTimeout))
		if perr != nil {
			if perr.status == 0 {
				return // the connection failed or timed out mid-request
			}
			writeError(bw, perr)
			lingerClose(c.nc)
			return
		}
		ok, keep := c.respond(bw, &req, keep)
		if !ok {
			return
		}
		if !keep || c.srv.isClosed() {
			// A whole response, then the close (asked for, or
			// Shutdown): a client's pipelined requests unread must
			// not reset the connection before it reads the response.
			lingerClose(c.nc)
			return
		}
	}
}

// respond answers req on bw, and reports whether the response was
// written whole (false: the connection must close at once) and whether
// the connection may carry another request.
func (c *conn) respond(bw *bufio.Writer, req *Request, keep bool) (bool, bool) {
	resp := c.srv.cfg.Handler(req)
	status := resp.Status
	if status == 0 {
		status = 200
	}
	if status < 200 || status > 599 || status == 204 || status == 304 ||
		!validValue(resp.ContentType) || !validValue(resp.Allow) {
		// Not a response this server can frame (1xx, 204 and 304 have
		// no body, and none of them ends a request here), or headers
		// that would split the response.
		c.srv.log(logError, "invalid response", "path", req.Path, "status", status,
			"content_type", resp.ContentType, "allow", resp.Allow)
		status, resp = 500, Response{}
	}
	chunked := req.Proto == "HTTP/1.1"
	// The server's version, whatever the request's (RFC 9110 section
	// 6.2); chunked only for an HTTP/1.1 client.
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(strconv.Itoa(status))
	bw.WriteByte(' ')
	bw.WriteString(StatusText(status))
	bw.WriteString("\r\nDate: ")
	bw.Write(time.Now().UTC().AppendFormat(c.date[:0], timeFormat))
	bw.WriteString("\r\n")
	if resp.ContentType != "" {
		bw.WriteString("Content-Type: " + resp.ContentType + "\r\n")
	}
	if resp.Allow != "" {
		bw.WriteString("Allow: " + resp.Allow + "\r\n")
	}
	bw.WriteString("X-Content-Type-Options: nosniff\r\n")
	switch {
	case resp.Body == nil:
		bw.WriteString("Content-Length: 0\r\n")
	case chunked:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if !keep || (!chunked && resp.Body != nil) {
		bw.WriteString("Connection: close\r\n")
		keep = false
	}
	bw.WriteString("\r\n")
	if resp.Body != nil && req.Method != "HEAD" {
		var w io.Writer = bw
		cw := chunkWriter{w: bw}
		if chunked {
			w = &cw
		}
		if err := resp.Body(w); err != nil || cw.err != nil {
			bw.Flush() // what was written goes out; the end does not
			return false, false
		}
		if chunked {
			bw.WriteString("0\r\n\r\n")
		}
	}
	return bw.Flush() == nil, keep
}

// timeFormat is the Date header's format, IMF-fixdate (RFC 9110 section
// 5.6.7).
const timeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

// chunkWriter writes each Write as one chunk of a chunked body (RFC 9112
// section 7.1).
type chunkWriter struct {
	w   *bufio.Writer
	err error
}

func (cw *chunkWriter) Write(p []byte) (int, error) {
	if cw.err != nil {
		return 0, cw.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	var hex [16]byte
	cw.w.Write(strconv.AppendInt(hex[:0], int64(len(p)), 16))
	cw.w.WriteString("\r\n")
	cw.w.Write(p)
	if _, err := cw.w.WriteString("\r\n"); err != nil {
		cw.err = err
		return 0, err
	}
	return len(p), nil
}

// writeError answers a request that could not be read with e's status
// and closes (the caller returns).
func writeError(bw *bufio.Writer, e *requestError) {
	bw.WriteString("HTTP/1.1 " + strconv.Itoa(e.status) + " " + StatusText(e.status) + "\r\n")
	bw.WriteString("Date: " + time.Now().UTC().Format(timeFormat) + "\r\n")
	bw.WriteString("Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n")
	body := StatusText(e.status) + ": " + e.msg + "\n"
	bw.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	bw.WriteString(body)
	bw.Flush()
}

// lingerClose ends a connection whose request was refused, maybe before
// it was read whole: closing a TCP connection with unread data resets it,
// and the client may lose the answer before it reads it. So the server's
// side is shut first, and what the client still sends is read and
// dropped for a moment (at most lingerTime, lingerBytes), as net/http
// does.
func lingerClose(nc net.Conn) {
	cw, ok := nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	_ = nc.SetReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.CopyN(io.Discard, nc, lingerBytes)
}

const (
	lingerTime  = 500 * time.Millisecond
	lingerBytes = 256 << 10
)

// StatusText returns the reason phrase of the status codes the server and
// its handlers use (RFC 9110 section 15), "Status" for others.
func StatusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 400:
		return "Bad Request"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 413:
		return "Content Too Large"
	case 414:
		return "URI Too Long"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 503:
		return "Service Unavailable"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Status"
}

// requestError is why a request could not be read: status 0, the
// connection failed (nothing is answered); otherwise the status to answer
// with, and why.
type requestError struct {
	status int
	msg    string
}

// readRequest reads one request's line and headers from br, at most max
// bytes together, and returns it and whether the connection may carry
// another request after it (keep-alive).
func readRequest(br *bufio.Reader, max int) (Request, bool, *requestError) {
	var req Request
	n := 0
	line, err := readLine(br, &n, max)
	for err == nil && line == "" {
		// Empty lines before the request line are ignored (RFC 9112
		// section 2.2), within max.
		line, err = readLine(br, &n, max)
	}
	if err != nil {
		if err.status == 431 {
			err.status = 414
		}
		return req, false, err
	}
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !validToken(method) {
		return req, false, &requestError{400, "malformed request line"}
	}
	if len(proto) != 8 || !strings.HasPrefix(proto, "HTTP/") || proto[6] != '.' ||
		proto[5] < '0' || proto[5] > '9' || proto[7] < '0' || proto[7] > '9' {
		return req, false, &requestError{400, "malformed HTTP version"}
	}
	switch {
	case proto[5] != '1':
		return req, false, &requestError{505, "only HTTP/1.0 and HTTP/1.1"}
	case proto[7] > '1':
		proto = "HTTP/1.1" // a later HTTP/1.x is served as 1.1 (RFC 9110 section 2.5)
	}
	if !strings.HasPrefix(target, "/") || !validTarget(target) {
		return req, false, &requestError{400, "the target must be a path (origin form)"}
	}
	req.Method, req.Proto = method, proto
	req.Path, req.Query, _ = strings.Cut(target, "?")
	keep := proto == "HTTP/1.1"
	var acceptSeen bool
	for {
		line, err := readLine(br, &n, max)
		if err != nil {
			return req, false, err
		}
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return req, false, &requestError{400, "obsolete line folding"}
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !validToken(name) {
			return req, false, &requestError{400, "malformed header line"}
		}
		value = strings.Trim(value, " \t")
		if !validValue(value) {
			// A CR, NUL or other control character: a proxy may split
			// the line where this server does not (RFC 9110 section 5.5).
			return req, false, &requestError{400, "control character in a header value"}
		}
		switch {
		case strings.EqualFold(name, "Accept"):
			if !acceptSeen {
				req.Accept, acceptSeen = value, true
			}
		case strings.EqualFold(name, "Connection"):
			for tok := range strings.SplitSeq(value, ",") {
				if strings.EqualFold(strings.TrimSpace(tok), "close") {
					keep = false
				}
			}
		case strings.EqualFold(name, "Content-Length"):
			if v, err := strconv.ParseUint(value, 10, 63); err != nil {
				return req, false, &requestError{400, "malformed Content-Length"}
			} else if v > 0 {
				return req, false, &requestError{413, "requests have no body here"}
			}
		case strings.EqualFold(name, "Transfer-Encoding"):
			return req, false, &requestError{501, "requests have no body here"}
		}
	}
	return req, keep, nil
}

// readLine reads one CRLF- (or LF-) terminated line from br, counting its
// bytes in *n against max.
func readLine(br *bufio.Reader, n *int, max int) (string, *requestError) {
	var buf []byte
	for {
		frag, err := br.ReadSlice('\n')
		*n += len(frag)
		if *n > max {
			return "", &requestError{431, "request line and headers over " + strconv.Itoa(max) + " bytes"}
		}
		buf = append(buf, frag...)
		if err == nil {
			break
		}
		if err != bufio.ErrBufferFull {
			return "", &requestError{} // EOF, timeout, reset
		}
	}
	buf = buf[:len(buf)-1]
	if len(buf) > 0 && buf[len(buf)-1] == '\r' {
		buf = buf[:len(buf)-1]
	}
	return string(buf), nil
}

// validToken reports whether s is an RFC 9110 token (section 5.6.2).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validTarget reports whether s is visible ASCII: no control character,
// space or byte above 0x7e (it does not check RFC 3986's syntax).
func validTarget(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// validValue reports whether s can be a header field's value: no control
// character but horizontal tab (RFC 9110 section 5.5).
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
