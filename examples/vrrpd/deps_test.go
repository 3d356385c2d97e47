package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestNoHTTPStack: vrrpd does not link net/http (nor the TLS and
// certificate code it brings): its status server is internal/httpd. Issue
// 12: net/http was 2.7 MB of vrrpd's text and read-only data, which
// this machine's kernel maps whole into each process (2.3-2.7 MB of the
// master's RSS at 4,094 links; BENCHMARKS.md "Status server without
// net/http").
func TestNoHTTPStack(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("go command not on PATH in CI")
		}
		t.Skip("go command not on PATH: cannot list dependencies")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps listed %d packages: %q", len(deps), deps)
	}
	for _, dep := range deps {
		if dep == "net/http" || strings.HasPrefix(dep, "net/http/") || dep == "crypto/tls" || dep == "crypto/x509" {
			t.Errorf("vrrpd links %s", dep)
		}
	}
}
