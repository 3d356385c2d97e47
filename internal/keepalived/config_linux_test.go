//go:build linux

package keepalived

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/govrrp/govrrp/internal/netlab"
)

// TestRenderAcceptedByKeepalived runs `keepalived --config-test` on every
// golden file inside a lab host (keepalived checks that the interfaces
// exist), so that the golden files cannot drift from what keepalived
// accepts. The cases that need keepalived 2.2.8 or later are checked with
// the build GOVRRP_KEEPALIVED_RFC9568 names (RFC9568Binary).
func TestRenderAcceptedByKeepalived(t *testing.T) {
	netlab.RequireTool(t, "keepalived")
	h := netlab.New(t, "katc", 1).Host(1)
	for _, tc := range renderCases {
		t.Run(tc.name, func(t *testing.T) {
			bin := "keepalived"
			if tc.rfc9568 {
				bin = RFC9568Binary(t)
			}
			file, err := filepath.Abs(filepath.Join("testdata", tc.name+".conf"))
			if err != nil {
				t.Fatal(err)
			}
			if out, err := h.Run(context.Background(), bin, "--config-test", "--use-file", file); err != nil {
				t.Errorf("%s rejects testdata/%s.conf: %v\n%s", bin, tc.name, err, out)
			}
		})
	}
}
