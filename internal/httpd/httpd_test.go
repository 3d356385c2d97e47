package httpd

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// docs is the test handler: /doc (size from the query: "small" or
// "big"), /fail (a body that fails half-way), /slow (a body that waits
// for release), 405 for other methods than GET and HEAD, 404 elsewhere.
type docs struct {
	mu      sync.Mutex
	seen    []Request
	release chan struct{}
	started chan struct{}
}

var bigDoc = strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB

func (d *docs) handle(r *Request) Response {
	d.mu.Lock()
	d.seen = append(d.seen, *r)
	d.mu.Unlock()
	if r.Method != "GET" && r.Method != "HEAD" {
		return Response{Status: 405, Allow: "GET, HEAD"}
	}
	switch r.Path {
	case "/doc":
		body := "hello\n"
		if r.Query == "big" {
			body = bigDoc
		}
		return Response{ContentType: "text/plain", Body: func(w io.Writer) error {
			// In pieces, as the daemon's writers send them.
			for len(body) > 0 {
				n := min(len(body), 32<<10)
				if _, err := io.WriteString(w, body[:n]); err != nil {
					return err
				}
				body = body[n:]
			}
			return nil
		}}
	case "/fail":
		return Response{ContentType: "text/plain", Body: func(w io.Writer) error {
			io.WriteString(w, "partial")
			return errors.New("the document could not be written")
		}}
	case "/panic":
		panic("the handler failed")
	case "/split":
		return Response{ContentType: "text/plain\r\nSet-Cookie: x=1"}
	case "/204":
		return Response{Status: 204}
	case "/slow":
		return Response{ContentType: "text/plain", Body: func(w io.Writer) error {
			close(d.started)
			<-d.release
			_, err := io.WriteString(w, "slow done")
			return err
		}}
	}
	return Response{Status: 404, Body: func(w io.Writer) error {
		_, err := io.WriteString(w, "404 page not found\n")
		return err
	}}
}

// start serves d on a loopback listener with cfg; the server is closed
// at the test's end, and Serve must have returned ErrServerClosed.
func start(t *testing.T, d *docs, cfg Config) (*Server, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Handler = d.handle
	s := New(cfg)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v; want ErrServerClosed", err)
		}
	})
	return s, l.Addr().String()
}

// With net/http's client: GET and HEAD, chunked bodies of any size, the
// status codes and headers, one connection reused for every request.
func TestNetHTTPClient(t *testing.T) {
	d := &docs{}
	_, addr := start(t, d, Config{})
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer c.CloseIdleConnections()
	var conns, reused int
	do := func(method, path string, hdr http.Header) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, nil)
		req.Header = hdr
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) {
				conns++
				if i.Reused {
					reused++
				}
			},
		}))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s %s: body: %v", method, path, err)
		}
		return resp, string(b)
	}
	resp, body := do("GET", "/doc", http.Header{"Accept": {"text/plain;q=0.5", "application/openmetrics-text"}})
	if resp.StatusCode != 200 || body != "hello\n" || resp.Header.Get("Content-Type") != "text/plain" ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("GET /doc: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = do("GET", "/doc?big", nil)
	if resp.StatusCode != 200 || body != bigDoc || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("GET /doc?big: %d, %d bytes, %v", resp.StatusCode, len(body), resp.TransferEncoding)
	}
	resp, body = do("HEAD", "/doc?big", nil)
	if resp.StatusCode != 200 || body != "" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("HEAD /doc?big: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = do("GET", "/nope", nil)
	if resp.StatusCode != 404 || resp.Status != "404 Not Found" || body != "404 page not found\n" {
		t.Errorf("GET /nope: %q %q", resp.Status, body)
	}
	resp, _ = do("POST", "/doc", nil)
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /doc: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	if conns != 5 || reused != 4 {
		t.Errorf("%d requests on %d new connections; want all on one (keep-alive)", conns, conns-reused)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	want := []Request{
		{Method: "GET", Path: "/doc", Proto: "HTTP/1.1", Accept: "text/plain;q=0.5"},
		{Method: "GET", Path: "/doc", Query: "big", Proto: "HTTP/1.1"},
		{Method: "HEAD", Path: "/doc", Query: "big", Proto: "HTTP/1.1"},
		{Method: "GET", Path: "/nope", Proto: "HTTP/1.1"},
		{Method: "POST", Path: "/doc", Proto: "HTTP/1.1"},
	}
	if diff := cmp.Diff(want, d.seen); diff != "" {
		t.Errorf("requests the handler saw (-want +got):\n%s", diff)
	}
}

// exchange writes req on a new connection to addr and returns all the
// server sends until it closes the connection (or 10 s pass).
func exchange(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("%q: reading until the server closes: %v (got %q)", req, err, b)
	}
	return stripDates(t, string(b))
}

var dateLine = regexp.MustCompile("\r\nDate: ([^\r]*)\r\n")

// stripDates checks that every response in got has a Date header in
// IMF-fixdate (RFC 9110 section 6.6.1), within a minute of now, and
// returns got without them.
func stripDates(t *testing.T, got string) string {
	t.Helper()
	responses := strings.Count(got, "HTTP/1.1 ")
	dates := dateLine.FindAllStringSubmatch(got, -1)
	if len(dates) != responses {
		t.Errorf("%d Date headers in %d responses: %q", len(dates), responses, got)
	}
	for _, d := range dates {
		if tm, err := time.Parse(http.TimeFormat, d[1]); err != nil || time.Since(tm).Abs() > time.Minute {
			t.Errorf("Date: %q (%v)", d[1], err)
		}
	}
	return dateLine.ReplaceAllString(got, "\r\n")
}

// Raw exchanges: HTTP/1.0, pipelining, Connection: close and every kind
// of request the server refuses, with the status it refuses it with.
func TestExchanges(t *testing.T) {
	d := &docs{}
	_, addr := start(t, d, Config{MaxHeaderBytes: 256})
	for _, tc := range []struct {
		name, req, want string
	}{
		{"HTTP/1.0: delimited by the close",
			"GET /doc HTTP/1.0\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\nhello\n"},
		{"HTTP/1.1 Connection: close, chunked",
			"GET /doc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Content-Type-Options: nosniff\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n6\r\nhello\n\r\n0\r\n\r\n"},
		{"pipelined, bare LF, answered in order",
			"HEAD /doc HTTP/1.1\nHost: x\n\nGET /nope HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Content-Type-Options: nosniff\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"HTTP/1.1 404 Not Found\r\nX-Content-Type-Options: nosniff\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n13\r\n404 page not found\n\r\n0\r\n\r\n"},
		{"HTTP/1.2 served as 1.1, after empty lines",
			"\r\n\r\nGET /doc HTTP/1.2\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Content-Type-Options: nosniff\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n6\r\nhello\n\r\n0\r\n\r\n"},
		{"a response that would split the headers: 500",
			"GET /split HTTP/1.1\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 500 Internal Server Error\r\nX-Content-Type-Options: nosniff\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"},
		{"a status without a body (204): 500",
			"GET /204 HTTP/1.1\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 500 Internal Server Error\r\nX-Content-Type-Options: nosniff\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"},
		{"no body: Content-Length 0",
			"DELETE /doc HTTP/1.1\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nX-Content-Type-Options: nosniff\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"},
		{"malformed request line", "GET /doc\r\n\r\n", "400 Bad Request"},
		{"method not a token", "G(T /doc HTTP/1.1\r\n\r\n", "400 Bad Request"},
		{"absolute form", "GET http://x/doc HTTP/1.1\r\n\r\n", "400 Bad Request"},
		{"asterisk form", "OPTIONS * HTTP/1.1\r\n\r\n", "400 Bad Request"},
		{"control character in the target", "GET /d\x01oc HTTP/1.1\r\n\r\n", "400 Bad Request"},
		{"HTTP/2.0", "GET /doc HTTP/2.0\r\n\r\n", "505 HTTP Version Not Supported"},
		{"HTTP/1.x", "GET /doc HTTP/1.x\r\n\r\n", "400 Bad Request"},
		{"bare CR in a header value", "GET /doc HTTP/1.1\r\nAccept: a\rContent-Length: 10\r\n\r\n", "400 Bad Request"},
		{"NUL in a header value", "GET /doc HTTP/1.1\r\nX: a\x00b\r\n\r\n", "400 Bad Request"},
		{"not HTTP", "GET /doc FTP/1.1\r\n\r\n", "400 Bad Request"},
		{"header line without a colon", "GET /doc HTTP/1.1\r\nHost x\r\n\r\n", "400 Bad Request"},
		{"space before the colon", "GET /doc HTTP/1.1\r\nHost : x\r\n\r\n", "400 Bad Request"},
		{"obsolete line folding", "GET /doc HTTP/1.1\r\nAccept: a,\r\n b\r\n\r\n", "400 Bad Request"},
		{"a body", "GET /doc HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", "413 Content Too Large"},
		{"malformed Content-Length", "GET /doc HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "400 Bad Request"},
		{"chunked request", "GET /doc HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "501 Not Implemented"},
		{"headers over MaxHeaderBytes", "GET /doc HTTP/1.1\r\nX: " + strings.Repeat("a", 300) + "\r\n\r\n", "431 Request Header Fields Too Large"},
		{"request line over MaxHeaderBytes", "GET /" + strings.Repeat("a", 5000) + " HTTP/1.1\r\n\r\n", "414 URI Too Long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := exchange(t, addr, tc.req)
			if !strings.HasPrefix(tc.want, "HTTP/") {
				// A refusal: the status, Connection: close, a text body.
				if !strings.HasPrefix(got, "HTTP/1.1 "+tc.want+"\r\n") || !strings.Contains(got, "\r\nConnection: close\r\n") ||
					!strings.Contains(got, "\r\n\r\n"+tc.want[4:]+": ") || strings.Count(got, "HTTP/1.1 ") != 1 {
					t.Errorf("got %q; want a %s and the connection closed", got, tc.want)
				}
				return
			}
			if got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
	// Content-Length: 0 is not a body.
	if got := exchange(t, addr, "GET /doc HTTP/1.0\r\nContent-Length: 0\r\n\r\n"); !strings.HasSuffix(got, "\r\n\r\nhello\n") {
		t.Errorf("Content-Length 0: %q", got)
	}
}

// A body that fails half-way is cut: the client sees the response end
// early, never a complete document.
func TestBodyErrorCutsResponse(t *testing.T) {
	_, addr := start(t, &docs{}, Config{})
	resp, err := http.Get("http://" + addr + "/fail")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("body %q, error %v; want io.ErrUnexpectedEOF", b, err)
	}
	// On the wire: the partial chunk, then the close, without the last
	// chunk.
	if got := exchange(t, addr, "GET /fail HTTP/1.1\r\n\r\n"); !strings.HasSuffix(got, "7\r\npartial\r\n") {
		t.Errorf("raw: %q; want it to end after the partial chunk", got)
	}
}

// getOn sends a GET of /doc on c and reads its response; the connection
// stays open.
func getOn(c net.Conn, br *bufio.Reader) error {
	if _, err := io.WriteString(c, "GET /doc HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// MaxConns connections at once; a further one waits until one closes.
func TestMaxConns(t *testing.T) {
	_, addr := start(t, &docs{}, Config{MaxConns: 2, IdleTimeout: time.Hour})
	var conns []net.Conn
	for i := range 2 {
		c := dial(t, addr)
		if err := getOn(c, bufio.NewReader(c)); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	c := dial(t, addr)
	got := make(chan error, 1)
	go func() { got <- getOn(c, bufio.NewReader(c)) }()
	select {
	case err := <-got:
		t.Fatalf("a third connection was served beyond the limit of 2 (%v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	conns[0].Close()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the waiting connection was not served after another closed")
	}
}

// readUntilClosed reads c until the server closes it; an error if it has
// not within 20 s.
func readUntilClosed(c net.Conn, br io.Reader) error {
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err := io.Copy(io.Discard, br)
	return err
}

// An idle keep-alive connection, a connection that sends nothing, and
// one that sends its request too slowly are closed.
func TestTimeouts(t *testing.T) {
	_, addr := start(t, &docs{}, Config{IdleTimeout: 200 * time.Millisecond, ReadTimeout: 300 * time.Millisecond})
	t.Run("idle after a request", func(t *testing.T) {
		c := dial(t, addr)
		br := bufio.NewReader(c)
		if err := getOn(c, br); err != nil {
			t.Fatal(err)
		}
		if err := readUntilClosed(c, br); err != nil {
			t.Errorf("idle keep-alive connection: %v; want the server to close it", err)
		}
	})
	t.Run("silent", func(t *testing.T) {
		c := dial(t, addr)
		if err := readUntilClosed(c, c); err != nil {
			t.Errorf("silent connection: %v; want the server to close it", err)
		}
	})
	t.Run("slow request", func(t *testing.T) {
		c := dial(t, addr)
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			// One header byte every 50 ms: never idle, never done.
			io.WriteString(c, "GET /doc HTTP/1.1\r\nX: ")
			for {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
					if _, err := io.WriteString(c, "a"); err != nil {
						return
					}
				}
			}
		}()
		if err := readUntilClosed(c, c); err != nil {
			t.Errorf("slow request: %v; want the server to close it", err)
		}
	})
}

// Shutdown closes the idle connections at once, lets a response in
// progress finish, then returns; Serve returns ErrServerClosed.
func TestShutdown(t *testing.T) {
	d := &docs{release: make(chan struct{}), started: make(chan struct{})}
	s, addr := start(t, d, Config{IdleTimeout: time.Hour})
	idle := dial(t, addr)
	ibr := bufio.NewReader(idle)
	if err := getOn(idle, ibr); err != nil {
		t.Fatal(err)
	}
	busy := dial(t, addr)
	io.WriteString(busy, "GET /slow HTTP/1.1\r\n\r\n")
	<-d.started
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	if err := readUntilClosed(idle, ibr); err != nil {
		t.Errorf("idle connection at Shutdown: %v; want it closed", err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with a response in progress", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(d.release)
	_ = busy.SetReadDeadline(time.Now().Add(20 * time.Second))
	b, err := io.ReadAll(busy)
	if err != nil || !strings.Contains(string(b), "slow done") || !strings.HasSuffix(string(b), "0\r\n\r\n") {
		t.Errorf("the response in progress at Shutdown: %q, %v; want it whole, then the connection closed", b, err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("the listener accepts after Shutdown")
	}
}

// Shutdown's context ends: the connections still busy are closed, and
// Shutdown returns at once, even with a handler that does not return.
func TestShutdownDeadline(t *testing.T) {
	d := &docs{release: make(chan struct{}), started: make(chan struct{})}
	s, addr := start(t, d, Config{})
	// Deferred: runs before the cleanup's Close, which waits for the
	// handler.
	defer close(d.release)
	busy := dial(t, addr)
	io.WriteString(busy, "GET /slow HTTP/1.1\r\n\r\n")
	<-d.started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(ctx) }()
	select {
	case err := <-shut:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown: %v; want context.DeadlineExceeded", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Shutdown did not return after its deadline, its handler still running")
	}
	if err := readUntilClosed(busy, busy); err != nil {
		t.Errorf("busy connection after Shutdown's deadline: %v; want it closed", err)
	}
}

// MaxConns holds for the Server, on all its listeners together.
func TestMaxConnsAcrossListeners(t *testing.T) {
	s, addr1 := start(t, &docs{}, Config{MaxConns: 1, IdleTimeout: time.Hour})
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l2) }()
	defer func() {
		s.Close()
		<-served
	}()
	c1 := dial(t, addr1)
	if err := getOn(c1, bufio.NewReader(c1)); err != nil {
		t.Fatal(err)
	}
	c2 := dial(t, l2.Addr().String())
	got := make(chan error, 1)
	go func() { got <- getOn(c2, bufio.NewReader(c2)) }()
	select {
	case err := <-got:
		t.Fatalf("a connection on the second listener was served beyond the limit of 1 (%v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	c1.Close()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the waiting connection was not served after the other closed")
	}
}

// A request pipelined after one that closes the connection is read and
// dropped, not left unread: the client gets the whole response, not a
// reset (closing a TCP socket with unread data resets it).
func TestCloseAfterPipelined(t *testing.T) {
	_, addr := start(t, &docs{}, Config{})
	c := dial(t, addr)
	if _, err := io.WriteString(c, "GET /doc?big HTTP/1.1\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the server is writing the response
	if _, err := io.WriteString(c, "GET /doc HTTP/1.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // ... and has read it to the end, and closed
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != bigDoc {
		t.Errorf("%d bytes of %d, %v", len(b), len(bigDoc), err)
	}
}

// Serve after Shutdown refuses at once and closes the listener.
func TestServeAfterClose(t *testing.T) {
	s := New(Config{Handler: (&docs{}).handle})
	s.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(l); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Close: %v", err)
	}
	if _, err := l.Accept(); err == nil {
		t.Error("the listener is still open")
	}
}

// Any bytes: readRequest never panics, takes at most max bytes for a
// request's line and headers, and what it accepts is a request the
// handlers may rely on (a token method, an origin-form path of visible
// ASCII, HTTP/1.0 or 1.1); what it refuses it refuses with a status.
func FuzzReadRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /metrics?x=1 HTTP/1.0\nAccept: text/plain\n\n",
		"HEAD /status HTTP/1.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
		"GET /doc HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET http://x/ HTTP/2.0\r\n\r\n",
		"GET / HTTP/1.1\r\n a\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	const max = 512
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(strings.NewReader(string(data)), 64)
		for range 8 {
			req, _, err := readRequest(br, max)
			if err != nil {
				switch err.status {
				case 0, 400, 413, 414, 431, 501, 505:
				default:
					t.Fatalf("%q: refused with %d", data, err.status)
				}
				return
			}
			if !validToken(req.Method) || !strings.HasPrefix(req.Path, "/") || !validTarget(req.Path+req.Query) ||
				(req.Proto != "HTTP/1.0" && req.Proto != "HTTP/1.1") || strings.ContainsAny(req.Accept, "\r\n") {
				t.Fatalf("%q: accepted %+v", data, req)
			}
		}
	})
}

// A handler's panic closes its connection and is logged; the server
// goes on serving.
func TestHandlerPanic(t *testing.T) {
	var logged strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logged.Write(b)
	}), nil))
	_, addr := start(t, &docs{}, Config{Log: log})
	if got := exchange(t, addr, "GET /panic HTTP/1.1\r\n\r\n"); got != "" {
		t.Errorf("the panicking request got %q; want the connection closed", got)
	}
	if got := exchange(t, addr, "GET /doc HTTP/1.0\r\n\r\n"); !strings.HasSuffix(got, "\r\n\r\nhello\n") {
		t.Errorf("the next request: %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logged.String(), "panic serving a request") || !strings.Contains(logged.String(), "the handler failed") {
		t.Errorf("log: %q", logged.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
