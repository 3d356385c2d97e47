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
// accepts.
func TestRenderAcceptedByKeepalived(t *testing.T) {
	netlab.RequireTool(t, "keepalived")
	h := netlab.New(t, "katc", 1).Host(1)
	for _, tc := range renderCases {
		t.Run(tc.name, func(t *testing.T) {
			file, err := filepath.Abs(filepath.Join("testdata", tc.name+".conf"))
			if err != nil {
				t.Fatal(err)
			}
			if out, err := h.Run(context.Background(), "keepalived", "--config-test", "--use-file", file); err != nil {
				t.Errorf("keepalived rejects testdata/%s.conf: %v\n%s", tc.name, err, out)
			}
		})
	}
}
