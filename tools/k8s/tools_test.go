package k8s

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// toolsDir is the folder scripts/build-k8s-tools.sh printed: bin/ and
// schemas/. Without it the tests skip on a developer's machine and fail
// where DSBRIDGE_REQUIRE_TOOLS=1 (CI).
func toolsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("DSBRIDGE_K8S_TOOLS")
	if dir == "" {
		missing(t, "DSBRIDGE_K8S_TOOLS is not set (run make k8s-check, or scripts/build-k8s-tools.sh)")
	}
	for _, f := range []string{"bin/kube-apiserver", "bin/kubeconform", "schemas/deployment-apps-v1.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			missing(t, err.Error())
		}
	}
	return dir
}

// etcdBin is Debian's etcd-server.
func etcdBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("etcd")
	if err != nil {
		missing(t, "etcd not found (apt-get install etcd-server)")
	}
	return p
}

func missing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("DSBRIDGE_REQUIRE_TOOLS") == "1" {
		t.Fatal(why)
	}
	t.Skip(why)
}
