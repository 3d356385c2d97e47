package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/govrrp/govrrp/internal/httpd"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// unixDial dials path whatever address the HTTP client asks for.
func unixDial(path string) func(ctx context.Context, _, _ string) (net.Conn, error) {
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
}

// serve answers a request with h as the status server (internal/httpd)
// does, the body, unless HEAD, written to w; it returns the status (200
// for the Response's 0), the Content-Type and the body's error.
func serve(h httpd.Handler, method, path, accept string, w io.Writer) (int, string, error) {
	p, q, _ := strings.Cut(path, "?")
	resp := h(&httpd.Request{Method: method, Path: p, Query: q, Proto: "HTTP/1.1", Accept: accept})
	var err error
	if resp.Body != nil && method != "HEAD" {
		err = resp.Body(w)
	}
	if resp.Status == 0 {
		resp.Status = 200
	}
	return resp.Status, resp.ContentType, err
}

// get is serve of a GET of path into a buffer; a body that fails fails
// the test.
func get(t testing.TB, h httpd.Handler, path, accept string) (int, string, []byte) {
	t.Helper()
	var b bytes.Buffer
	code, ct, err := serve(h, "GET", path, accept, &b)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return code, ct, b.Bytes()
}
