package keepalived

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/govrrp/govrrp/internal/netlab"
)

// EnvRFC9568 names the environment variable that gives the path of a
// keepalived 2.2.8 or later, one that knows v3_checksum_as_v2 (the RFC
// 9568 message-only VRRPv3 IPv4 checksum; VRRPInstance.V3ChecksumAsV2).
// Debian 12's keepalived 2.2.7 does not; build-keepalived.sh in this
// directory builds keepalived 2.3.3 from Debian's source into
// /opt/govrrp-keepalived-2.3.3 and prints the path, and .ci/run exports it:
//
//	sudo internal/keepalived/build-keepalived.sh
//	export GOVRRP_KEEPALIVED_RFC9568=/opt/govrrp-keepalived-2.3.3/sbin/keepalived
const EnvRFC9568 = "GOVRRP_KEEPALIVED_RFC9568"

// rfc9568MinVersion is the first keepalived release with v3_checksum_as_v2
// (keepalived pull request 2234).
// DefaultRFC9568Binary is where build-keepalived.sh (run by .ci/deps)
// installs keepalived 2.3.3 by default; RFC9568Binary uses it when
// EnvRFC9568 is unset.
const DefaultRFC9568Binary = "/opt/govrrp-keepalived-2.3.3/sbin/keepalived"

var rfc9568MinVersion = [3]int{2, 2, 8}

var versionRE = regexp.MustCompile(`Keepalived v(\d+)\.(\d+)\.(\d+)`)

var rfc9568 struct {
	once sync.Once
	bin  string
	err  error
}

// RFC9568Binary returns the keepalived that EnvRFC9568 names, after
// checking that it runs and reports version 2.2.8 or later; when the
// variable is unset, the build .ci/deps makes (DefaultRFC9568Binary) if it
// is there. When there is none or the program is unusable it skips t with
// a message saying how to build one, or fails t in the privileged suite
// (GOVRRP_PRIVILEGED=1, netlab.SkipOrFail).
func RFC9568Binary(t testing.TB) string {
	t.Helper()
	rfc9568.once.Do(func() { rfc9568.bin, rfc9568.err = findRFC9568() })
	if rfc9568.err != nil {
		netlab.SkipOrFail(t, "%v", rfc9568.err)
	}
	return rfc9568.bin
}

func findRFC9568() (string, error) {
	bin := os.Getenv(EnvRFC9568)
	if bin == "" {
		if _, err := os.Stat(DefaultRFC9568Binary); err == nil {
			bin = DefaultRFC9568Binary
		}
	}
	if bin == "" {
		return "", fmt.Errorf("%s is not set: the RFC 9568 checksum form needs keepalived >= 2.2.8 (v3_checksum_as_v2); "+
			"build one with `sudo internal/keepalived/build-keepalived.sh` and set %s to the path it prints", EnvRFC9568, EnvRFC9568)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s=%s: %s --version: %v: %s", EnvRFC9568, bin, bin, err, out)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("%s=%s: no version in `%s --version`: %q", EnvRFC9568, bin, bin, out)
	}
	var v [3]int
	for i := range v {
		v[i], _ = strconv.Atoi(string(m[i+1]))
	}
	if cmpVersion(v, rfc9568MinVersion) < 0 {
		return "", fmt.Errorf("%s=%s is keepalived %d.%d.%d: v3_checksum_as_v2 needs 2.2.8 or later", EnvRFC9568, bin, v[0], v[1], v[2])
	}
	return bin, nil
}

func cmpVersion(a, b [3]int) int {
	for i := range a {
		if a[i] != b[i] {
			return a[i] - b[i]
		}
	}
	return 0
}
